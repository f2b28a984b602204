"""The HTTP and WebSocket API: auth and home isolation, bad input, the event log, the OpenAPI document."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from tests.conftest import TIMEOUT, Api


async def test_health_is_public_and_the_rest_needs_a_token(api: Api) -> None:
    async with api.session.get(api.url + "/api/v1/health") as resp:
        assert resp.status == 200
        assert (await resp.json())["status"] == "ok"
    for method, path in [
        ("GET", "/api/v1/devices"),
        ("POST", "/api/v1/conversation"),
        ("GET", "/api/v1/events"),
        ("GET", "/api/v1/areas"),
        ("POST", "/api/v1/nlu/parse"),
        ("GET", "/api/v1/scenes"),
    ]:
        async with api.session.request(method, api.url + path) as resp:
            assert resp.status == 401, path
            assert (await resp.json())["error"]["code"] == "unauthorized"
        status, _ = await api.call(method, path, token="hth_not-a-real-token")
        assert status == 401, path


async def test_two_homes_cannot_see_or_command_each_other(api: Api) -> None:
    alice = await api.core.seed_demo("alices_home", "Alice's flat", user="alice")
    alice_token = api.core.auth.create_token(alice, "alices_home")
    api.core.registry.home("alices_home")
    # A device that only the demo home has.
    status, _ = await api.call("POST", "/api/v1/devices", json={"id": "safe_lock", "name": "safe", "kind": "lock"})
    assert status == 201
    status, body = await api.call("GET", "/api/v1/devices/safe_lock", token=alice_token)
    assert status == 404 and body["error"]["code"] == "unknown_device"
    status, body = await api.call(
        "POST", "/api/v1/devices/safe_lock/command", token=alice_token, json={"name": "unlock"}
    )
    assert status == 404
    # Same ids in both homes: Alice's command changes only her kitchen.
    status, body = await api.call(
        "POST",
        "/api/v1/devices/kitchen_lights/command",
        token=alice_token,
        json={"name": "turn_on"},
    )
    assert status == 200 and body["device"]["state"]["on"] is True
    assert (await api.call("GET", "/api/v1/devices/kitchen_lights"))[1]["state"]["on"] is False
    out = await api.say("turn on the floor lamp", token=alice_token)
    assert out["reply"]["kind"] == "done"
    assert (await api.call("GET", "/api/v1/devices/floor_lamp"))[1]["state"]["on"] is False
    ids = {d["id"] for d in (await api.call("GET", "/api/v1/devices", token=alice_token))[1]["devices"]}
    assert "safe_lock" not in ids
    # Her events are hers alone.
    demo_events = (await api.call("GET", "/api/v1/events"))[1]["events"]
    assert all(e["data"].get("device_id") != "floor_lamp" for e in demo_events if e["type"] == "command")
    alice_events = (await api.call("GET", "/api/v1/events?type=command", token=alice_token))[1]["events"]
    assert {e["data"]["device_id"] for e in alice_events} == {"kitchen_lights", "floor_lamp"}


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b"{not json", {"Content-Type": "application/json"}, 400, "invalid_json"),
        (b"", {"Content-Type": "application/json"}, 400, "invalid_json"),
        (b"\xff\xfe\x00", {"Content-Type": "application/json"}, 400, "invalid_json"),
        (b"[1, 2]", {"Content-Type": "application/json"}, 422, "validation_error"),
        (b'{"text": 5}', {"Content-Type": "application/json"}, 422, "validation_error"),
        (b'{"text": ""}', {"Content-Type": "application/json"}, 422, "validation_error"),
        (
            b'{"text": "hi", "extra": 1}',
            {"Content-Type": "application/json"},
            422,
            "validation_error",
        ),
        (
            json.dumps({"text": "x" * 1001}).encode(),
            {"Content-Type": "application/json"},
            422,
            "validation_error",
        ),
        (
            b'{"text": "hi", "conversation_id": "../../etc"}',
            {"Content-Type": "application/json"},
            422,
            "validation_error",
        ),
        (b'{"text": "hi"}', {"Content-Type": "application/xml"}, 415, "unsupported_media_type"),
        (b"[" * 100_000, {"Content-Type": "application/json"}, 413, "body_too_large"),
        (b"[" * 50_000, {"Content-Type": "application/json"}, 400, "invalid_json"),
    ],
)
async def test_bad_conversation_bodies_get_clear_4xx(
    api: Api, body: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    got, answer = await _raw(api, "POST", "/api/v1/conversation", body, headers)
    assert got == status, answer
    assert answer["error"]["code"] == code
    assert answer["error"]["message"]


async def _raw(api: Api, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    async with asyncio.timeout(TIMEOUT):
        async with api.session.request(method, api.url + path, data=body, headers={**api.headers(), **headers}) as r:
            return r.status, await r.json()


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "/api/v1/devices/no_such_device", None, 404, "unknown_device"),
        (
            "POST",
            "/api/v1/devices/no_such_device/command",
            {"name": "turn_on"},
            404,
            "unknown_device",
        ),
        (
            "POST",
            "/api/v1/devices/kitchen_lights/command",
            {"name": "explode"},
            422,
            "validation_error",
        ),
        (
            "POST",
            "/api/v1/devices/kitchen_lights/command",
            {"name": "set_brightness", "params": {"brightness": 300}},
            422,
            "validation_error",
        ),
        (
            "POST",
            "/api/v1/devices/kitchen_lights/command",
            {"name": "set_brightness", "params": {"brightness": "hi"}},
            422,
            "validation_error",
        ),
        (
            "POST",
            "/api/v1/devices/desk_lamp/command",
            {"name": "set_brightness", "params": {"brightness": 50}},
            422,
            "unsupported_command",
        ),
        (
            "POST",
            "/api/v1/devices/front_door/command",
            {"name": "turn_on"},
            422,
            "unsupported_command",
        ),
        ("GET", "/api/v1/events?limit=abc", None, 422, "validation_error"),
        ("GET", "/api/v1/events?limit=100000", None, 422, "validation_error"),
        ("GET", "/api/v1/nothing/here", None, 404, "not_found"),
        ("DELETE", "/api/v1/devices", None, 405, "method_not_allowed"),
        (
            "POST",
            "/api/v1/devices",
            {"id": "x y", "name": "n", "kind": "light"},
            422,
            "validation_error",
        ),
        (
            "POST",
            "/api/v1/devices",
            {"id": "kitchen_lights", "name": "n", "kind": "light"},
            422,
            "validation_error",
        ),
        (
            "POST",
            "/api/v1/devices",
            {"id": "newlamp", "name": "n", "kind": "light", "area": "moon"},
            404,
            "unknown_area",
        ),
        ("PATCH", "/api/v1/devices/desk_lamp", {}, 422, "validation_error"),
        ("POST", "/api/v1/nlu/parse", {"txt": "hi"}, 422, "validation_error"),
    ],
)
async def test_bad_requests_get_typed_errors(
    api: Api, method: str, path: str, body: Any, status: int, code: str
) -> None:
    got, answer = await api.call(method, path, json=body) if body is not None else await api.call(method, path)
    assert got == status, answer
    assert answer["error"]["code"] == code
    # nothing changed
    assert (await api.call("GET", "/api/v1/devices/kitchen_lights"))[1]["state"]["on"] is False


async def test_unicode_and_hostile_text_is_handled(api: Api) -> None:
    for text in [
        "allume la lumière 💡",
        "\u202eturn on\u202c",
        "'; DROP TABLE devices; --",
        "<script>alert(1)</script>",
        "turn on the kitchen lights " * 30,
        "\x00\x01",
    ]:
        out = await api.say(text[:1000])
        assert out["reply"]["speech"]
        assert "Traceback" not in out["reply"]["speech"]
    status, body = await api.call("GET", "/api/v1/devices")
    assert status == 200 and len(body["devices"]) == 16


async def test_command_api_and_event_log(api: Api) -> None:
    status, body = await api.call(
        "POST",
        "/api/v1/devices/kitchen_lights/command",
        json={"name": "set_brightness", "params": {"brightness": 40}},
    )
    assert status == 200, body
    assert body["action"]["before"]["on"] is False and body["action"]["after"]["brightness"] == 40
    status, body = await api.call("GET", "/api/v1/events?type=command")
    assert status == 200
    last = body["events"][-1]
    assert last["data"]["device_id"] == "kitchen_lights"
    assert last["data"]["command"] == {"name": "set_brightness", "params": {"brightness": 40}}
    after = last["id"]
    status, body = await api.call("GET", f"/api/v1/events?after={after}")
    assert body["events"] == []


async def test_areas_scenes_and_parse(api: Api) -> None:
    areas = (await api.call("GET", "/api/v1/areas"))[1]["areas"]
    assert {a["id"] for a in areas} == {
        "kitchen",
        "living_room",
        "bedroom",
        "office",
        "hallway",
        "bathroom",
        "garage",
        "porch",
    }
    scenes = (await api.call("GET", "/api/v1/scenes"))[1]["scenes"]
    assert {s["id"] for s in scenes} == {"movie_night", "good_morning", "bedtime"}
    status, body = await api.call("POST", "/api/v1/nlu/parse", json={"text": "dim the kitchen lights to 40%"})
    assert status == 200
    assert set(body) >= {"text", "intent", "entities", "intent_ranking"}
    assert body["intent"]["name"] == "set_brightness"
    ents = {(e["entity"], e["value"]) for e in body["entities"]}
    assert ("device", "kitchen_lights") in ents and ("brightness", 40) in ents


async def test_openapi_document_is_valid_and_lists_every_route(api: Api) -> None:
    from openapi_spec_validator import validate

    async with api.session.get(api.url + "/api/v1/openapi.json") as resp:
        assert resp.status == 200
        doc = await resp.json()
    validate(doc)
    routes = _routes(api)
    assert ("POST", "/api/v1/conversation") in routes
    for method, path in routes:
        assert path in doc["paths"], path
        assert method.lower() in doc["paths"][path], (method, path)


def _routes(api: Api) -> set[tuple[str, str]]:
    out = set()
    for route in api.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if not path or not path.startswith("/api/") or route.method == "HEAD":
            continue
        out.add((route.method, path))
    return out


async def test_websocket_turns_and_live_events(api: Api) -> None:
    async with asyncio.timeout(TIMEOUT), api.session.ws_connect(api.url + "/api/v1/ws") as ws:
        await ws.send_json({"type": "auth", "token": api.token})
        assert (await ws.receive_json())["type"] == "auth_ok"
        await ws.send_json(
            {
                "type": "conversation",
                "id": 7,
                "text": "turn on the desk lamp",
                "conversation_id": "w",
            }
        )
        seen: dict[str, Any] = {}
        while "result" not in seen or "status" not in seen:
            msg = await ws.receive_json()
            if msg["type"] == "result":
                seen["result"] = msg
            elif msg["type"] == "event" and msg["event"] == "device.status":
                seen["status"] = msg
        assert seen["result"]["id"] == 7 and seen["result"]["reply"]["kind"] == "done"
        assert seen["status"]["data"]["device_id"] == "desk_lamp" and seen["status"]["data"]["state"]["on"] is True
        # Another client's change arrives live too.
        await api.call("POST", "/api/v1/devices/porch_light/command", json={"name": "turn_on"})
        while True:
            msg = await ws.receive_json()
            if msg["type"] == "event" and msg["event"] == "device.status":
                assert msg["data"]["device_id"] == "porch_light"
                break
        # Bad messages get errors and the socket stays open.
        await ws.send_str("{oops")
        while (msg := await ws.receive_json())["type"] == "event":  # live events may still be on their way
            pass
        assert msg["error"]["code"] == "invalid_json"
        await ws.send_json({"type": "conversation", "id": 8, "text": ""})
        err = await ws.receive_json()
        assert err["type"] == "error" and err["id"] == 8
        await ws.send_json({"type": "ping", "id": 9})
        while (msg := await ws.receive_json())["type"] != "pong":
            pass


async def test_websocket_rejects_bad_tokens(api: Api) -> None:
    async with asyncio.timeout(TIMEOUT), api.session.ws_connect(api.url + "/api/v1/ws") as ws:
        await ws.send_json({"type": "auth", "token": "hth_wrong"})
        msg = await ws.receive_json()
        assert msg["type"] == "error" and msg["error"]["code"] == "unauthorized"
        closing = await ws.receive()
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code == 4401
