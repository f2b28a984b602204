"""Multi-turn behaviour through the real HTTP API: ask back, confirm, cancel, undo, "it", default area, scenes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api


async def state(api: Api, device_id: str) -> dict[str, Any]:
    status, body = await api.call("GET", f"/api/v1/devices/{device_id}")
    assert status == 200, body
    return body["state"]


async def test_turn_on_then_it_off(api: Api) -> None:
    out = await api.say("turn on the kitchen lights")
    assert out["reply"]["kind"] == "done"
    assert out["nlu"]["intent"]["name"] == "turn_on"
    assert (await state(api, "kitchen_lights"))["on"] is True
    assert [a["device_id"] for a in out["reply"]["actions"]] == ["kitchen_lights"]
    out = await api.say("turn it off")
    assert out["reply"]["kind"] == "done", out["reply"]
    assert (await state(api, "kitchen_lights"))["on"] is False


async def test_ambiguous_device_asks_back_and_next_turn_fills(api: Api) -> None:
    out = await api.say("turn on the lamp")
    reply = out["reply"]
    assert reply["kind"] == "ask" and reply["expects_answer"] is True
    assert "floor lamp" in reply["speech"] and "desk lamp" in reply["speech"]
    out = await api.say("the floor lamp")
    assert out["reply"]["kind"] == "done", out["reply"]
    assert (await state(api, "floor_lamp"))["on"] is True
    assert (await state(api, "desk_lamp"))["on"] is False


async def test_ask_back_by_ordinal(api: Api) -> None:
    out = await api.say("switch on the lamp")
    options = out["reply"]["card"]["options"]
    out = await api.say("the second one")
    assert out["reply"]["kind"] == "done", out["reply"]
    assert (await state(api, options[1]))["on"] is True


async def test_default_area_from_the_turn(api: Api) -> None:
    out = await api.say("turn on the lights", area="living_room")
    assert out["reply"]["kind"] == "done", out["reply"]
    assert (await state(api, "living_room_lamp"))["on"] is True
    assert (await state(api, "floor_lamp"))["on"] is True
    assert (await state(api, "kitchen_lights"))["on"] is False


async def test_lights_without_room_asks_which(api: Api) -> None:
    out = await api.say("turn on the lights")
    assert out["reply"]["kind"] == "ask", out["reply"]
    out = await api.say("the kitchen")
    assert out["reply"]["kind"] == "done", out["reply"]
    assert (await state(api, "kitchen_lights"))["on"] is True
    assert (await state(api, "desk_lamp"))["on"] is False


async def test_unlock_needs_confirmation_yes(api: Api) -> None:
    out = await api.say("unlock the front door")
    assert out["reply"]["kind"] == "confirm"
    assert (await state(api, "front_door"))["locked"] is True
    out = await api.say("yes")
    assert out["reply"]["kind"] == "done"
    assert (await state(api, "front_door"))["locked"] is False


async def test_unlock_denied_changes_nothing(api: Api) -> None:
    await api.say("unlock the front door")
    out = await api.say("no")
    assert out["reply"]["kind"] == "cancelled"
    assert (await state(api, "front_door"))["locked"] is True
    out = await api.say("yes")  # nothing pending any more
    assert (await state(api, "front_door"))["locked"] is True


async def test_garage_door_open_is_confirmed(api: Api) -> None:
    out = await api.say("open the garage door")
    assert out["reply"]["kind"] == "confirm"
    await api.say("yes please")
    assert (await state(api, "garage_door"))["position"] == 100


async def test_cancel_drops_pending(api: Api) -> None:
    await api.say("turn on the lamp")
    out = await api.say("cancel")
    assert out["reply"]["kind"] == "cancelled"
    for lamp in ("living_room_lamp", "floor_lamp", "desk_lamp"):
        assert (await state(api, lamp))["on"] is False


async def test_undo_restores_previous_state(api: Api) -> None:
    await api.say("set the kitchen lights to 30 percent")
    assert (await state(api, "kitchen_lights")) == {"on": True, "brightness": 30, "color": "white"}
    out = await api.say("undo that")
    assert out["reply"]["kind"] == "done", out["reply"]
    assert (await state(api, "kitchen_lights")) == {
        "on": False,
        "brightness": 100,
        "color": "white",
    }
    out = await api.say("undo")
    assert "nothing to undo" in out["reply"]["speech"].lower()


async def test_scene_and_undo_of_scene(api: Api) -> None:
    out = await api.say("start movie night")
    assert out["reply"]["kind"] == "done", out["reply"]
    assert (await state(api, "tv"))["on"] is True
    assert (await state(api, "living_room_lamp"))["brightness"] == 20
    await api.say("undo")
    assert (await state(api, "tv"))["on"] is False


async def test_colour_temperature_and_queries(api: Api) -> None:
    await api.say("make the kitchen lights blue")
    assert (await state(api, "kitchen_lights"))["color"] == "blue"
    await api.say("set the thermostat to 22 degrees")
    assert (await state(api, "thermostat"))["target_temperature"] == 22.0
    out = await api.say("is the front door locked")
    assert out["reply"]["kind"] == "answer"
    assert "locked" in out["reply"]["speech"]
    out = await api.say("what's the temperature in the bathroom")
    assert "21.5 degrees" in out["reply"]["speech"]


async def test_unbuilt_intent_is_honest(api: Api) -> None:
    out = await api.say("turn on the porch light every day at sunset")
    assert out["reply"]["kind"] == "not_built", out
    assert "can't" in out["reply"]["speech"]
    assert (await state(api, "porch_light"))["on"] is False
    out = await api.say("upgrade me to premium")
    assert out["reply"]["kind"] == "not_built"


async def test_gibberish_is_not_understood(api: Api) -> None:
    out = await api.say("flibber jabber wocky")
    assert out["reply"]["kind"] in {"not_understood", "answer"}
    assert out["reply"]["actions"] == []


async def test_unavailable_device_is_reported_plainly(api: Api) -> None:
    adapter = api.core.control.adapters["virtual"]
    await adapter.set_available("demo", "desk_lamp", False)  # type: ignore[attr-defined]
    out = await api.say("turn on the desk lamp")
    assert out["reply"]["kind"] == "error"
    assert "not responding" in out["reply"]["speech"]
    status, body = await api.call("POST", "/api/v1/devices/desk_lamp/command", json={"name": "turn_on"})
    assert status == 503 and body["error"]["code"] == "device_unavailable"
    dev = (await api.call("GET", "/api/v1/devices/desk_lamp"))[1]
    assert dev["available"] is False


async def test_renamed_device_is_understood_at_once(api: Api) -> None:
    status, _ = await api.call("PATCH", "/api/v1/devices/desk_lamp", json={"name": "reading light"})
    assert status == 200
    out = await api.say("turn on the reading light")
    assert out["reply"]["kind"] == "done", out["reply"]
    assert (await state(api, "desk_lamp"))["on"] is True


async def test_added_device_is_understood_at_once(api: Api) -> None:
    status, body = await api.call(
        "POST",
        "/api/v1/devices",
        json={"id": "patio_heater", "name": "patio heater", "kind": "switch", "area": "porch"},
    )
    assert status == 201, body
    out = await api.say("switch on the patio heater")
    assert out["reply"]["kind"] == "done", out["reply"]
    assert (await state(api, "patio_heater"))["on"] is True


async def test_rename_by_voice(api: Api) -> None:
    out = await api.say("rename the desk lamp to study lamp")
    assert out["reply"]["kind"] == "done", out["reply"]
    out = await api.say("turn on the study lamp")
    assert out["reply"]["kind"] == "done", out["reply"]
    assert (await state(api, "desk_lamp"))["on"] is True


async def test_conversations_are_separate(api: Api) -> None:
    await api.say("turn on the kitchen lights", conversation_id="a")
    out = await api.say("turn it off", conversation_id="b")
    assert out["reply"]["kind"] == "ask"  # "b" has no context
    assert (await state(api, "kitchen_lights"))["on"] is True


async def test_missing_value_is_asked_for_and_a_spoken_number_fills_it(api: Api) -> None:
    out = await api.say("set the brightness of the kitchen lights")
    assert out["reply"]["kind"] == "ask", out["reply"]
    out = await api.say("fifty")
    assert out["reply"]["kind"] == "done", out["reply"]
    assert (await state(api, "kitchen_lights"))["brightness"] == 50
    out = await api.say("change the thermostat temperature")
    assert out["reply"]["kind"] == "ask", out["reply"]
    out = await api.say("twenty one")
    assert (await state(api, "thermostat"))["target_temperature"] == 21.0


async def test_privacy_answer_states_the_real_retention(api: Api) -> None:
    out = await api.say("what data do you keep about me")
    assert out["reply"]["kind"] == "not_built", out
    assert f"{api.core.config.store.retention_days} days" in out["reply"]["speech"]


@pytest.mark.parametrize(
    ("text", "device", "range_word"),
    [
        ("dim the floor lamp to 150 percent", "floor_lamp", "brightness"),
        ("set the floor lamp to 150%", "floor_lamp", "brightness"),
        ("open the bedroom blinds to 250 percent", "bedroom_blinds", "position"),
    ],
)
async def test_an_out_of_range_percentage_is_refused_with_the_range(
    api: Api, text: str, device: str, range_word: str
) -> None:
    before = await state(api, device)
    out = await api.say(text)
    assert out["reply"]["kind"] == "error", out
    assert "0 to 100 percent" in out["reply"]["speech"] and range_word in out["reply"]["speech"]
    assert await state(api, device) == before
