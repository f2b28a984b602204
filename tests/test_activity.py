"""The activity feed: every logged event says who or what caused it, newest first over REST and live over the socket."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import TIMEOUT, Api


async def test_events_newest_first_each_with_user_and_channel(api: Api) -> None:
    status, _ = await api.call("POST", "/api/v1/devices/porch_light/command", json={"name": "turn_on"})
    assert status == 200
    assert (await api.say("turn on the desk lamp", conversation_id="act"))["reply"]["kind"] == "done"
    assert (await api.say("undo", conversation_id="act"))["reply"]["kind"] == "done"
    status, _ = await api.call("PATCH", "/api/v1/devices/tv", json={"aliases": ["telly"]})
    assert status == 200

    status, body = await api.call("GET", "/api/v1/events?order=desc&limit=4")
    assert status == 200
    events = body["events"]
    assert [e["type"] for e in events] == ["device_updated", "undo", "command", "command"]
    assert [e["id"] for e in events] == sorted((e["id"] for e in events), reverse=True)
    _, user_id = api.core.default_principal()
    for event in events:
        assert event["data"]["user_id"] == user_id, event
        assert event["data"]["channel"] == "api", event
    assert events[1]["data"]["conversation_id"] == "act"
    status, body = await api.call("GET", "/api/v1/events?order=sideways")
    assert status == 422 and body["error"]["code"] == "validation_error"


async def test_logged_events_arrive_live_with_their_ids(api: Api) -> None:
    async with asyncio.timeout(TIMEOUT), api.session.ws_connect(api.url + "/api/v1/ws") as ws:
        await ws.send_json({"type": "auth", "token": api.token})
        assert (await ws.receive_json())["type"] == "auth_ok"
        await api.call("POST", "/api/v1/devices/porch_light/command", json={"name": "turn_on"})
        await api.say("turn off the porch light", conversation_id="live")
        status, _ = await api.call("POST", "/api/v1/areas", json={"id": "loft", "name": "Loft"})
        assert status == 201
        live: list[dict[str, Any]] = []
        while len(live) < 3:
            msg = await ws.receive_json()
            if msg["type"] == "event" and msg["event"] == "activity":
                live.append(msg["data"])
    logged = (await api.call("GET", "/api/v1/events?order=desc&limit=3"))[1]["events"]
    assert live == list(reversed(logged))
    assert [e["type"] for e in live] == ["command", "command", "area_updated"]
    assert [e["data"]["command"]["name"] for e in live[:2]] == ["turn_on", "turn_off"]
    assert live[2]["data"]["id"] == "loft"
    assert all(e["data"]["channel"] == "api" and e["data"]["user_id"] for e in live)


async def test_events_name_the_user_in_the_log_and_live(api: Api) -> None:
    home_id, _ = api.core.default_principal()
    alice = api.core.auth.ensure_user("alice", home_id, "member")
    alice_token = api.core.auth.create_token(alice, home_id, "alice's phone")
    async with asyncio.timeout(TIMEOUT), api.session.ws_connect(api.url + "/api/v1/ws") as ws:
        await ws.send_json({"type": "auth", "token": api.token})
        assert (await ws.receive_json())["type"] == "auth_ok"
        status, _ = await api.call(
            "POST", "/api/v1/devices/porch_light/command", token=alice_token, json={"name": "turn_on"}
        )
        assert status == 200
        while (msg := await ws.receive_json()).get("event") != "activity":
            pass
    assert msg["data"]["data"]["user_id"] == alice and msg["data"]["data"]["user"] == "alice"
    logged = (await api.call("GET", "/api/v1/events?order=desc&limit=1"))[1]["events"][0]
    assert logged == msg["data"]
