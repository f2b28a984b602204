"""Conversation flow through the real HTTP API: undo of scenes and registry changes, "which one?" answers, moving a
device, follow-ups that never move anything, corrections and compound requests as one undo step."""

from __future__ import annotations

from typing import Any

from assistant.demo import SCENES
from tests.conftest import Api


async def device(api: Api, device_id: str) -> dict[str, Any]:
    status, body = await api.call("GET", f"/api/v1/devices/{device_id}")
    assert status == 200, body
    return dict(body)


async def state(api: Api, device_id: str) -> dict[str, Any]:
    return dict((await device(api, device_id))["state"])


async def set_state(api: Api, device_id: str, wanted: dict[str, Any]) -> None:
    status, body = await api.call(
        "POST",
        f"/api/v1/devices/{device_id}/command",
        json={"name": "restore", "params": {"state": wanted}, "confirm": True},  # set-up may unlock the door
    )
    assert status == 200, body


async def test_undo_of_a_scene_restores_every_one_of_its_devices(api: Api) -> None:
    bedtime = next(states for scene_id, _, states in SCENES if scene_id == "bedtime")
    # every device of the scene starts somewhere the scene changes
    await set_state(api, "kitchen_lights", {"on": True, "brightness": 70})
    await set_state(api, "living_room_lamp", {"on": True, "brightness": 40})
    await set_state(api, "floor_lamp", {"on": True})
    await set_state(api, "desk_lamp", {"on": True})
    await set_state(api, "hallway_light", {"on": True})
    await set_state(api, "tv", {"on": True})
    await set_state(api, "front_door", {"locked": False})
    await set_state(api, "bedroom_blinds", {"position": 80})
    await set_state(api, "thermostat", {"target_temperature": 22.5})
    before = {dev: await state(api, dev) for dev in bedtime}
    out = await api.say("activate bedtime")
    assert out["reply"]["kind"] == "done", out["reply"]
    for dev, wanted in bedtime.items():
        now = await state(api, dev)
        assert all(now[k] == v for k, v in wanted.items()), (dev, now)
    out = await api.say("undo")
    assert out["reply"]["kind"] == "confirm", out["reply"]  # undoing bedtime unlocks the front door: yes first
    out = await api.say("yes")
    assert out["reply"]["kind"] == "done", out["reply"]
    assert {a["device_id"] for a in out["reply"]["actions"]} == set(bedtime)
    for dev in bedtime:
        assert await state(api, dev) == before[dev], dev


async def test_both_answers_which_one(api: Api) -> None:
    out = await api.say("turn on the lamp", area="living_room")
    assert out["reply"]["kind"] == "ask", out["reply"]
    assert set(out["reply"]["card"]["options"]) == {"living_room_lamp", "floor_lamp"}
    out = await api.say("both")
    assert out["reply"]["kind"] == "done", out["reply"]
    assert (await state(api, "living_room_lamp"))["on"] is True
    assert (await state(api, "floor_lamp"))["on"] is True
    assert (await state(api, "desk_lamp"))["on"] is False


async def test_which_one_answered_with_a_room(api: Api) -> None:
    out = await api.say("turn on the lamp")
    assert out["reply"]["kind"] == "ask", out["reply"]
    out = await api.say("the one in the office")
    assert out["reply"]["kind"] == "done", out["reply"]
    assert (await state(api, "desk_lamp"))["on"] is True
    assert (await state(api, "floor_lamp"))["on"] is False
    assert (await state(api, "living_room_lamp"))["on"] is False


async def test_which_one_answered_with_part_of_a_name(api: Api) -> None:
    out = await api.say("turn on the lamp")
    assert out["reply"]["kind"] == "ask", out["reply"]
    out = await api.say("the floor one")
    assert out["reply"]["kind"] == "done", out["reply"]
    assert (await state(api, "floor_lamp"))["on"] is True
    assert (await state(api, "desk_lamp"))["on"] is False


async def test_assign_area_moves_the_device_durably_and_undo_moves_it_back(api: Api) -> None:
    out = await api.say("move the desk lamp to the bedroom")
    assert out["reply"]["kind"] == "done", out["reply"]
    assert out["nlu"]["intent"]["name"] == "assign_area"
    assert (await device(api, "desk_lamp"))["area"] == "bedroom"
    rows = api.core.store.query("SELECT area FROM devices WHERE home_id = 'demo' AND id = 'desk_lamp'")
    assert rows[0]["area"] == "bedroom"
    out = await api.say("undo")
    assert out["reply"]["kind"] == "done", out["reply"]
    assert "office" in out["reply"]["speech"]
    assert (await device(api, "desk_lamp"))["area"] == "office"
    rows = api.core.store.query("SELECT area FROM devices WHERE home_id = 'demo' AND id = 'desk_lamp'")
    assert rows[0]["area"] == "office"


async def test_and_the_kitchen_repeats_the_action_and_never_moves_a_device(api: Api) -> None:
    await api.say("turn on the porch light")
    out = await api.say("and the kitchen")
    assert out["nlu"]["intent"]["name"] != "assign_area"
    assert out["reply"]["kind"] == "done", out["reply"]
    assert (await state(api, "kitchen_lights"))["on"] is True
    assert (await device(api, "porch_light"))["area"] == "porch"
    out = await api.say("undo")
    assert (await state(api, "kitchen_lights"))["on"] is False
    assert (await state(api, "porch_light"))["on"] is True
    assert (await device(api, "porch_light"))["area"] == "porch"


async def test_undo_of_a_rename_brings_the_old_name_back(api: Api) -> None:
    out = await api.say("rename the porch light to front light")
    assert out["reply"]["kind"] == "done", out["reply"]
    assert (await device(api, "porch_light"))["name"] == "front light"
    out = await api.say("undo")
    assert out["reply"]["kind"] == "done", out["reply"]
    assert (await device(api, "porch_light"))["name"] == "porch light"
    out = await api.say("undo")
    assert "nothing to undo" in out["reply"]["speech"].lower()


async def test_undo_survives_a_restart_of_the_conversation_cache(api: Api) -> None:
    await api.say("move the floor lamp to the kitchen")
    api.core.dialogue.conversations.forget()  # the history comes back from SQLite
    out = await api.say("undo")
    assert out["reply"]["kind"] == "done", out["reply"]
    assert (await device(api, "floor_lamp"))["area"] == "living_room"


async def test_correction_is_one_turn_and_one_undo_step(api: Api) -> None:
    await api.say("turn on the tv")
    out = await api.say("no, I meant the coffee maker")
    assert out["reply"]["kind"] == "done", out["reply"]
    assert (await state(api, "tv"))["on"] is False
    assert (await state(api, "coffee_maker"))["on"] is True
    out = await api.say("undo")
    assert out["reply"]["kind"] == "done", out["reply"]
    assert (await state(api, "tv"))["on"] is False
    assert (await state(api, "coffee_maker"))["on"] is False
    out = await api.say("undo")
    assert "nothing to undo" in out["reply"]["speech"].lower()


async def test_compound_request_runs_each_part_and_risky_part_waits(api: Api) -> None:
    out = await api.say("unlock the front door and turn on the porch light")
    reply = out["reply"]
    assert reply["kind"] == "confirm" and reply["expects_answer"] and reply["question_id"], reply
    assert "porch light" in reply["speech"].lower() and "unlock" in reply["speech"].lower()
    assert (await state(api, "porch_light"))["on"] is True
    assert (await state(api, "front_door"))["locked"] is True
    out = await api.say("yes", reply_to=reply["question_id"])
    assert out["reply"]["kind"] == "done", out["reply"]
    assert (await state(api, "front_door"))["locked"] is False


async def test_compound_with_different_intents_is_one_undo_step(api: Api) -> None:
    await set_state(api, "tv", {"on": True})
    out = await api.say("turn off the tv and turn on the floor lamp")
    assert out["reply"]["kind"] == "done", out["reply"]
    assert "tv" in out["reply"]["speech"].lower() and "floor lamp" in out["reply"]["speech"].lower()
    assert (await state(api, "tv"))["on"] is False
    assert (await state(api, "floor_lamp"))["on"] is True
    await api.say("undo")
    assert (await state(api, "tv"))["on"] is True
    assert (await state(api, "floor_lamp"))["on"] is False


async def test_new_request_replaces_the_open_question(api: Api) -> None:
    asked = (await api.say("turn on the lights"))["reply"]
    assert asked["kind"] == "ask"
    out = await api.say("open the bedroom blinds")
    assert out["reply"]["kind"] == "done", out["reply"]
    assert (await state(api, "bedroom_blinds"))["position"] == 100
    assert (await state(api, "bedroom_ceiling_light"))["on"] is False
    stale = (await api.say("the kitchen", reply_to=asked["question_id"]))["reply"]
    assert stale["error_code"] == "question_closed"
    assert (await state(api, "kitchen_lights"))["on"] is False


async def test_undo_of_defining_and_deleting_a_routine(api: Api) -> None:
    out = await api.say("when I say reading time turn on the floor lamp")
    assert out["reply"]["kind"] == "done", out["reply"]
    status, _ = await api.call("GET", "/api/v1/routines/reading_time")
    assert status == 200
    out = await api.say("undo")
    assert out["reply"]["kind"] == "done", out["reply"]
    status, _ = await api.call("GET", "/api/v1/routines/reading_time")
    assert status == 404
    out = await api.say("delete the movie time routine")
    assert out["reply"]["kind"] == "done", out["reply"]
    status, _ = await api.call("GET", "/api/v1/routines/movie_time")
    assert status == 404
    out = await api.say("undo")
    assert out["reply"]["kind"] == "done", out["reply"]
    status, body = await api.call("GET", "/api/v1/routines/movie_time")
    assert status == 200, body
    out = await api.say("movie time")
    assert (await state(api, "tv"))["on"] is True, out["reply"]
