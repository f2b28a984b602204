"""Targets through the public API: relative changes, whole-home and group targets, floors, unknown names, aliases,
a class in a room, and questions about state and history."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api


async def state(api: Api, device_id: str) -> dict[str, Any]:
    status, body = await api.call("GET", f"/api/v1/devices/{device_id}")
    assert status == 200, body
    return dict(body["state"])


async def on_devices(api: Api) -> set[str]:
    status, body = await api.call("GET", "/api/v1/devices")
    assert status == 200
    return {d["id"] for d in body["devices"] if d["state"].get("on")}


async def test_brighter_dimmer_more_are_stepped_and_clamped(api: Api) -> None:
    await api.say("turn on the kitchen lights", "rel")
    r = await api.say("brighter", "rel")
    assert "already at full brightness" in r["reply"]["speech"]
    assert r["reply"]["actions"] == []
    r = await api.say("a bit dimmer", "rel")
    assert (await state(api, "kitchen_lights"))["brightness"] == 90, r
    await api.say("more", "rel")  # more of the same: dimmer again, by the same step
    assert (await state(api, "kitchen_lights"))["brightness"] == 80
    await api.say("turn it up", "rel")  # "it" is the kitchen lights, not the thermostat
    assert (await state(api, "kitchen_lights"))["brightness"] == 100
    assert (await state(api, "thermostat"))["target_temperature"] == 20.0
    r = await api.say("turn the volume up", "rel")  # not a level Hearth has: the lights stay as they are
    assert r["reply"]["actions"] == [] and "volume" in r["reply"]["speech"], r
    assert (await state(api, "kitchen_lights"))["brightness"] == 100
    for _ in range(6):
        await api.say("a lot dimmer", "rel")
    assert (await state(api, "kitchen_lights"))["brightness"] == 1
    r = await api.say("dimmer", "rel")
    assert "as dim as" in r["reply"]["speech"]


async def test_warmer_means_the_white_of_a_tunable_light_in_context_else_the_heating(api: Api) -> None:
    await api.say("turn on the bedroom ceiling light", "warm")
    await api.say("make it warmer", "warm")
    assert (await state(api, "bedroom_ceiling_light"))["color_temp"] == 2400
    await api.say("more", "warm")  # warmer again, not brighter
    assert (await state(api, "bedroom_ceiling_light"))["color_temp"] == 2000
    assert (await state(api, "bedroom_ceiling_light"))["brightness"] == 100
    await api.say("a little cooler", "warm")
    assert (await state(api, "bedroom_ceiling_light"))["color_temp"] == 2300
    assert (await state(api, "thermostat"))["target_temperature"] == 20.0
    await api.say("make the living room warmer", "heat")
    assert (await state(api, "thermostat"))["target_temperature"] == 21.0
    await api.say("a bit more", "heat")
    assert (await state(api, "thermostat"))["target_temperature"] == 21.5


async def test_blinds_halfway_and_a_bit(api: Api) -> None:
    r = await api.say("open the blinds halfway", "blinds")
    assert (await state(api, "bedroom_blinds"))["position"] == 50, r
    assert (await state(api, "garage_door"))["position"] == 0  # "blinds" is not the garage door
    await api.say("close them a bit", "blinds")
    assert (await state(api, "bedroom_blinds"))["position"] == 30
    await api.say("open the bedroom blinds all the way", "blinds")
    r = await api.say("open them a bit", "blinds")
    assert "already fully open" in r["reply"]["speech"]


async def test_lights_off_everywhere_and_everything_in_a_room(api: Api) -> None:
    await api.say("turn on every light", "all")
    await api.say("turn on the coffee maker and the tv", "all")
    await api.say("turn on the coffee maker", "all")
    r = await api.say("lights off everywhere", "all", area="kitchen")
    assert r["reply"]["kind"] == "done", r
    assert not {d for d in await on_devices(api) if "light" in d or "lamp" in d}
    await api.say("turn on the kitchen lights", "all")
    r = await api.say("turn off everything in the kitchen", "all")
    assert {a["device_id"] for a in r["reply"]["actions"]} == {"kitchen_lights", "coffee_maker"}
    assert (await state(api, "front_door"))["locked"] is True


async def test_everything_never_touches_the_locks(api: Api) -> None:
    r = await api.say("turn off everything", "locks")
    assert r["reply"]["kind"] in {"done", "answer"}, r
    assert all(a["device_id"] != "front_door" for a in r["reply"]["actions"])
    assert (await state(api, "front_door"))["locked"] is True


async def test_all_the_lamps_and_every_light_downstairs(api: Api) -> None:
    r = await api.say("turn on all the lamps", "lamps")
    assert {a["device_id"] for a in r["reply"]["actions"]} == {"living_room_lamp", "floor_lamp", "desk_lamp"}
    await api.say("turn off all the lamps", "lamps")
    r = await api.say("turn on every light downstairs", "lamps")
    assert {a["device_id"] for a in r["reply"]["actions"]} == {
        "kitchen_lights", "living_room_lamp", "floor_lamp", "hallway_light", "porch_light",
    }  # fmt: skip
    r = await api.say("which lights are on upstairs", "lamps")
    assert r["reply"]["speech"] == "None of the lights upstairs are on."


async def test_floors_through_the_api(api: Api) -> None:
    status, body = await api.call("GET", "/api/v1/areas")
    assert status == 200
    floors = {a["id"]: a["floor"] for a in body["areas"]}
    assert floors["bedroom"] == "upstairs" and floors["kitchen"] == "downstairs"


async def test_unknown_name_is_said_plainly(api: Api) -> None:
    await api.say("turn on the kitchen lights", "sauna")
    r = await api.say("turn on the sauna", "sauna")
    assert r["reply"]["speech"].startswith("I don't know a device called sauna."), r
    assert r["reply"]["kind"] == "error" and r["reply"]["error_code"] == "unknown_device"
    assert not r["reply"]["expects_answer"]
    r = await api.say("switch off the porch lite", "sauna")
    assert "porch light" in r["reply"]["speech"] or r["reply"]["kind"] == "done"
    r = await api.say("turn on the garden hose", "sauna")
    assert r["reply"]["speech"].startswith("I don't know a device called garden hose")
    assert "Which room" not in r["reply"]["speech"]
    assert (await state(api, "kitchen_lights"))["on"] is True  # nothing else was touched


async def test_rename_keeps_the_old_name(api: Api) -> None:
    r = await api.say("rename the tv to telly", "rename")
    assert r["reply"]["kind"] == "done"
    r = await api.say("turn on the tv", "other")
    assert r["reply"]["actions"][0]["device_id"] == "tv", r
    r = await api.say("turn off the telly", "other")
    assert r["reply"]["actions"][0]["device_id"] == "tv", r
    status, body = await api.call("PATCH", "/api/v1/devices/desk_lamp", json={"name": "reading lamp"})
    assert status == 200 and "desk lamp" in body["aliases"]
    r = await api.say("turn on the desk lamp", "other")
    assert r["reply"]["actions"][0]["device_id"] == "desk_lamp"
    # the user removes the old name
    status, body = await api.call("PATCH", "/api/v1/devices/desk_lamp", json={"aliases": []})
    assert status == 200 and body["aliases"] == []
    r = await api.say("turn off the desk lamp", "fresh")
    assert r["reply"]["actions"] == []
    # or by voice
    r = await api.say("stop calling the telly the tv", "rename")
    assert r["reply"]["kind"] == "done", r
    _, tv = await api.call("GET", "/api/v1/devices/tv")
    assert "TV" not in tv["aliases"] and tv["name"] == "telly"
    r = await api.say("turn on the tv", "fresh2")
    assert r["reply"]["actions"] == [], r


async def test_area_alias_by_voice_and_api(api: Api) -> None:
    r = await api.say("call the bedroom the nest", "alias")
    assert r["reply"]["kind"] == "done", r
    r = await api.say("turn on the fan in the nest", "alias")
    assert [a["device_id"] for a in r["reply"]["actions"]] == ["ceiling_fan"], r
    status, body = await api.call("PATCH", "/api/v1/areas/office", json={"aliases": ["study", "den"]})
    assert status == 200 and body["aliases"] == ["study", "den"]
    r = await api.say("turn on the lights in the den", "alias")
    assert [a["device_id"] for a in r["reply"]["actions"]] == ["desk_lamp"], r
    status, body = await api.call("GET", "/api/v1/areas/bedroom")
    assert status == 200 and body["aliases"] == ["nest"]


async def test_a_class_in_a_room_is_that_rooms_device_of_that_class(api: Api) -> None:
    r = await api.say("turn on the fan in the bedroom", "cls")
    assert [a["device_id"] for a in r["reply"]["actions"]] == ["ceiling_fan"]
    await api.call("POST", "/api/v1/devices", json={"id": "bath_fan", "name": "bathroom extractor fan",
                                                    "kind": "switch", "area": "bathroom"})  # fmt: skip
    r = await api.say("turn on the fan in the bathroom", "cls")
    assert [a["device_id"] for a in r["reply"]["actions"]] == ["bath_fan"], r
    assert (await state(api, "bedroom_ceiling_light"))["on"] is False


async def test_whats_on_and_how_warm_inside(api: Api) -> None:
    await api.say("turn on the tv", "q")
    await api.say("turn on the porch light", "q")
    r = await api.say("what's on right now", "q")
    assert r["reply"]["speech"] == "The porch light and the TV are on."
    await api.say("turn on the floor lamp", "q")
    r = await api.say("which lights are on in the living room", "q")
    assert r["reply"]["speech"] == "The floor lamp is on in the living room."
    r = await api.say("how warm is it inside", "q")
    assert r["reply"]["speech"].startswith("It's 21 degrees inside on average")
    assert (
        "the thermostat reads 20.5" in r["reply"]["speech"] and "the bathroom sensor reads 21.5" in r["reply"]["speech"]
    )
    assert r["reply"]["card"]["average"] == 21.0


async def test_who_turned_on_the_kitchen_lights(api: Api) -> None:
    r = await api.say("who turned on the kitchen lights", "who")
    assert "no record" in r["reply"]["speech"]
    await api.say("turn on the kitchen lights", "who2")
    r = await api.say("who turned on the kitchen lights", "who")
    assert r["reply"]["speech"].startswith("You turned on the kitchen lights just now"), r
    assert "through the app" in r["reply"]["speech"]
    assert r["reply"]["card"]["channel"] == "api" and r["reply"]["card"]["user"] == "demo"
    # another user's change is named
    other = api.core.auth.ensure_user("sam", "demo")
    token = api.core.auth.create_token(other, "demo", "test")
    await api.say("turn off the kitchen lights", "sam", token=token)
    r = await api.say("who turned off the kitchen lights", "who")
    assert r["reply"]["speech"].startswith("Sam turned off the kitchen lights"), r


async def test_who_says_when_a_device_was_changed_at_the_device_itself(api: Api) -> None:
    await api.say("turn on the porch light", "phys")
    adapter = api.core.control.adapters["virtual"]
    await adapter.physical_change("demo", "porch_light", on=False)  # type: ignore[attr-defined]
    r = await api.say("who turned off the porch light", "phys")
    assert r["reply"]["speech"].startswith("The porch light changed at the device itself"), r
    r = await api.say("who turned on the porch light", "phys")
    assert r["reply"]["speech"].startswith("You turned on the porch light"), r


async def test_targets_work_over_the_websocket(api: Api) -> None:
    import asyncio

    async with api.session.ws_connect(api.url + "/api/v1/ws") as ws:
        await ws.send_json({"type": "auth", "token": api.token})
        async with asyncio.timeout(10):
            await ws.receive_json()
            for n, text in enumerate(("turn on every light downstairs", "a bit dimmer")):
                await ws.send_json({"type": "conversation", "id": n, "text": text, "conversation_id": "ws"})
                while True:
                    msg = await ws.receive_json()
                    if msg.get("type") == "result" and msg.get("id") == n:
                        break
    assert (await state(api, "hallway_light"))["brightness"] == 90
    assert (await state(api, "bedroom_ceiling_light"))["on"] is False
