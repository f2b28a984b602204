"""State integrity under bad input: validate, commit, then memory and the bus; a failed change leaves no trace."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from wyoming.audio import AudioStop
from wyoming.event import Event
from wyoming.info import AsrModel, AsrProgram, Attribution, Describe, Info
from wyoming.server import AsyncEventHandler, AsyncTcpServer

from assistant.speech.audio import wav_bytes
from tests.conftest import TIMEOUT, Api, free_port, hearth, make_config, start_api
from tests.voice_fixtures import VoiceWs, noise, post_voice

SURROGATE = "x\udfff"


async def snapshot(api: Api) -> dict[str, Any]:
    """What a client can see of the home: devices (with state), event ids, and the WebSocket-free rest."""
    status, devices = await api.call("GET", "/api/v1/devices")
    assert status == 200, devices
    status, events = await api.call("GET", "/api/v1/events", params={"limit": "1000"})
    assert status == 200, events
    return {"devices": devices["devices"], "events": [e["id"] for e in events["events"]]}


async def still_works(api: Api) -> None:
    """Later requests for the home keep working: a command, a turn, a rename."""
    status, body = await api.call("POST", "/api/v1/devices/desk_lamp/command", json={"name": "turn_on"})
    assert status == 200, body
    reply = await api.say("turn off the desk lamp", conversation_id="after")
    assert reply["reply"]["kind"] == "done", reply
    status, body = await api.call("PATCH", "/api/v1/devices/tv", json={"aliases": ["telly"]})
    assert status == 200 and body["aliases"] == ["telly"], body


@pytest.mark.parametrize(
    "state",
    [
        {"brightness": 10**30},
        {"on": "yes", "brightness": [1]},
        {"brightness": 1e300},
        {"brightness": -1},
        {"on": 1},
        {"current_temperature": 99},  # a sensor reading: clients never write those
        {"locked": True},  # a light has no lock
        {"color": SURROGATE},
        {"bogus": 1},
    ],
)
async def test_restore_validates_every_field_and_leaves_no_trace(api: Api, state: dict[str, Any]) -> None:
    before = await snapshot(api)
    status, body = await api.call(
        "POST", "/api/v1/devices/kitchen_lights/command", json={"name": "restore", "params": {"state": state}}
    )
    assert status in (400, 422), body
    assert body["error"]["code"] in {"validation_error", "unsupported_command", "invalid_text"}, body
    assert await snapshot(api) == before
    await still_works(api)


async def test_restore_of_a_valid_state_is_kept_in_the_documented_shape(api: Api) -> None:
    status, body = await api.call(
        "POST",
        "/api/v1/devices/kitchen_lights/command",
        json={"name": "restore", "params": {"state": {"on": True, "brightness": 40.0, "color": " Red "}}},
    )
    assert status == 200, body
    assert body["device"]["state"] == {"on": True, "brightness": 40, "color": "red"}
    status, body = await api.call(
        "POST", "/api/v1/devices/thermostat/command", json={"name": "restore", "params": {"state": {"on": True}}}
    )
    assert status == 422 and body["error"]["code"] == "unsupported_command", body


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("POST", "/api/v1/devices", {"id": "lamp2", "name": SURROGATE, "kind": "light"}),
        ("POST", "/api/v1/devices", {"id": "lamp2", "name": "lamp", "kind": "light", "aliases": [SURROGATE]}),
        ("PATCH", "/api/v1/devices/desk_lamp", {"name": SURROGATE}),
        ("PATCH", "/api/v1/devices/desk_lamp", {"aliases": ["ok", SURROGATE]}),
        ("POST", "/api/v1/conversation", {"text": f"turn on the kitchen lights {SURROGATE}"}),
        ("POST", "/api/v1/conversation", {"text": "call the desk lamp \ud800"}),
        ("POST", "/api/v1/nlu/parse", {"text": SURROGATE}),
        ("POST", "/api/v1/devices/kitchen_lights/command", {"name": "set_color", "params": {"color": SURROGATE}}),
    ],
)
async def test_text_that_is_not_unicode_is_refused_at_the_boundary(
    api: Api, method: str, path: str, payload: dict[str, Any]
) -> None:
    before = await snapshot(api)
    status, body = await api.call(method, path, json=payload)  # aiohttp sends the surrogate as a \\u escape
    assert status == 400, body
    assert body["error"]["code"] == "invalid_text", body
    assert await snapshot(api) == before
    assert not before["devices"][0]["state"]["on"]
    await still_works(api)


def _fail_writes(db: Path, table: str) -> None:
    """Make the database refuse inserts into `table` (a real SQLite failure at commit time, like a full disk)."""
    with sqlite3.connect(db) as conn:
        conn.execute(
            f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )


def _allow_writes(db: Path, table: str) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(f"DROP TRIGGER refuse_{table}")


async def next_event(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    async with asyncio.timeout(TIMEOUT):
        while True:
            msg = await ws.receive_json()
            if msg["type"] == "event":
                return msg


async def test_a_failed_commit_leaves_no_trace_in_memory_store_bus_or_device(api: Api) -> None:
    db = api.core.store.path
    async with asyncio.timeout(TIMEOUT), api.session.ws_connect(api.url + "/api/v1/ws") as ws:
        await ws.send_json({"type": "auth", "token": api.token})
        assert (await ws.receive_json())["type"] == "auth_ok"
        before = await snapshot(api)

        _fail_writes(db, "events")
        status, body = await api.call("POST", "/api/v1/devices/kitchen_lights/command", json={"name": "turn_on"})
        assert status == 500 and body["error"]["code"] == "internal_error", body
        status, body = await api.call(
            "POST", "/api/v1/conversation", json={"text": "turn on the floor lamp", "conversation_id": "c1"}
        )
        assert status == 500 and body["error"]["code"] == "internal_error", body
        status, body = await api.call("PATCH", "/api/v1/devices/desk_lamp", json={"name": "reading lamp"})
        assert status == 500, body
        status, body = await api.call("POST", "/api/v1/devices", json={"id": "new", "name": "new", "kind": "fan"})
        assert status == 500, body
        _allow_writes(db, "events")

        assert await snapshot(api) == before  # memory (REST) and the event log unchanged
        status, parsed = await api.call("POST", "/api/v1/nlu/parse", json={"text": "turn on the reading lamp"})
        assert not any(e["value"] == "desk_lamp" for e in parsed["entities"]), parsed  # the NLU never learnt it
        # The conversation did not remember the failed turn: "it" has nothing to refer to.
        reply = await api.say("turn it off", conversation_id="c1")
        assert reply["reply"]["actions"] == [], reply
        # The devices were put back: the next change starts from the recorded state, and the bus only ever
        # carried committed changes.
        status, body = await api.call("POST", "/api/v1/devices/kitchen_lights/command", json={"name": "turn_off"})
        assert status == 200, body
        assert body["action"]["before"]["on"] is False
        event = await next_event(ws)  # nothing from the failed changes: first the reply to "turn it off"
        assert event["event"] == "conversation.reply" and event["data"]["text"] == "turn it off", event
        event = await next_event(ws)
        assert event["event"] == "device.status" and event["data"]["device_id"] == "kitchen_lights"
        assert event["data"]["state"]["on"] is False
    await still_works(api)


async def test_what_was_acknowledged_is_what_a_restart_shows(tmp_path: Path) -> None:
    runner, api = await start_api(make_config(tmp_path))
    try:
        await api.call(
            "POST", "/api/v1/devices/kitchen_lights/command", json={"name": "restore", "params": {"state": {"on": 7}}}
        )
        await api.call("PATCH", "/api/v1/devices/desk_lamp", json={"name": SURROGATE})
        await api.say("turn on the floor lamp")
        live = await snapshot(api)
    finally:
        await api.session.close()
        await runner.cleanup()
    runner, again = await start_api(make_config(tmp_path))
    try:
        assert (await snapshot(again)) == live
    finally:
        await again.session.close()
        await runner.cleanup()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ('{"text": "turn on the lamp", "conversation_id": ' + "1" * 5000 + "}", "invalid_json"),
        ('{"text": "x", "conversation_id": "c", "area": ' + "[" * 5000 + "]" * 5000 + "}", "invalid_json"),
        ('{"text": "x", "area": ' + "[" * 100 + "]" * 100 + "}", "invalid_json"),
        ('{"text": "turn on the kitchen lights \\udfff"}', "invalid_text"),
    ],
)
async def test_hostile_json_gets_a_typed_400(api: Api, raw: str, code: str) -> None:
    status, body = await api.call("POST", "/api/v1/conversation", data=raw)
    assert status == 400, body
    assert body["error"]["code"] == code, body
    status, body = await api.call(
        "POST",
        "/api/v1/devices/kitchen_lights/command",
        data='{"name": "set_brightness", "params": {"brightness": ' + "9" * 4500 + "}}",
    )
    assert status == 400 and body["error"]["code"] == "invalid_json", body


async def test_a_url_or_header_over_the_limit_gets_the_json_error_shape(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiohttp.server")
    for path, headers in [
        ("/api/v1/devices/" + "a" * 20000, api.headers()),
        ("/api/v1/devices", {**api.headers(), "X-Big": "b" * 20000}),
    ]:
        async with asyncio.timeout(TIMEOUT), aiohttp.ClientSession() as fresh:
            async with fresh.get(api.url + path, headers=headers) as resp:
                assert 400 <= resp.status < 500
                assert resp.content_type == "application/json"
                body = await resp.json()
                assert set(body["error"]) >= {"code", "message"}, body
    # A client's mistake is not the server's error: no ERROR line with a traceback per bad request in the log.
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    await still_works(api)


@pytest.mark.parametrize("authenticated", [False, True])
async def test_websocket_survives_hostile_json(api: Api, authenticated: bool) -> None:
    hostile = [
        "[" * 100_000 + "]" * 100_000,
        '{"type": "conversation", "text": "hi", "x": ' + "[" * 200 + "]" * 200 + "}",
        '{"type": "conversation", "text": "turn on the kitchen lights", "id": ' + "1" * 5000 + "}",
        '{"type": "conversation", "text": "turn on the kitchen lights \\udfff", "id": 3}',
    ]
    async with asyncio.timeout(TIMEOUT), api.session.ws_connect(api.url + "/api/v1/ws") as ws:
        if not authenticated:
            await ws.send_str(hostile[0][:60_000])
            msg = await ws.receive_json()
            assert msg["type"] == "error" and msg["error"]["code"] in {"invalid_json", "unauthorized"}, msg
            closing = await ws.receive()
            assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            assert ws.close_code == 4401
            return
        await ws.send_json({"type": "auth", "token": api.token})
        assert (await ws.receive_json())["type"] == "auth_ok"
        for raw in hostile:
            await ws.send_str(raw[:60_000])
            msg = await ws.receive_json()
            assert msg["type"] == "error", msg
            assert msg["error"]["code"] in {"invalid_json", "invalid_text"}, msg
        # The session is still there and the light was never switched.
        await ws.send_json({"type": "ping", "id": 1})
        assert (await ws.receive_json())["type"] == "pong"
    status, device = await api.call("GET", "/api/v1/devices/kitchen_lights")
    assert status == 200
    assert device["state"]["on"] is False


def test_cli_arguments_that_are_not_utf8_get_one_clear_line(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    result = hearth("say", "turn on the kitchen lights \udcff", db=db)  # the byte 0xff on the command line
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not valid UTF-8" in lines[0], result.stderr
    assert not db.exists()  # nothing was written


@pytest.mark.parametrize(
    ("device", "command", "field", "before"),
    [
        ("front_door", {"name": "unlock"}, "locked", True),
        ("front_door", {"name": "restore", "params": {"state": {"locked": False}}}, "locked", True),
        ("garage_door", {"name": "open"}, "position", 0),
        ("garage_door", {"name": "set_position", "params": {"position": 30}}, "position", 0),
        ("garage_door", {"name": "restore", "params": {"state": {"position": 100}}}, "position", 0),
    ],
)
async def test_rest_commands_that_let_people_in_need_confirm(
    api: Api, device: str, command: dict[str, Any], field: str, before: Any
) -> None:
    start = await snapshot(api)
    status, body = await api.call("POST", f"/api/v1/devices/{device}/command", json=command)
    assert status == 409, body
    assert body["error"]["code"] == "confirmation_required", body
    assert await snapshot(api) == start
    status, body = await api.call("POST", f"/api/v1/devices/{device}/command", json={**command, "confirm": True})
    assert status == 200, body
    assert body["device"]["state"][field] != before
    assert body["action"]["before"][field] == before


async def test_closing_locking_and_blinds_need_no_confirm(api: Api) -> None:
    for device, command in [
        ("garage_door", {"name": "close"}),
        ("front_door", {"name": "lock"}),
        ("bedroom_blinds", {"name": "open"}),
    ]:
        status, body = await api.call("POST", f"/api/v1/devices/{device}/command", json=command)
        assert status == 200, body


async def test_the_same_policy_holds_in_conversation_undo_and_on_the_websocket(api: Api) -> None:
    reply = await api.say("unlock the front door", conversation_id="p")
    assert reply["reply"]["kind"] == "confirm", reply
    reply = await api.say("yes", conversation_id="p")
    assert reply["reply"]["kind"] == "done", reply
    reply = await api.say("lock the front door", conversation_id="p")
    assert reply["reply"]["kind"] == "done", reply
    # Undoing the lock would unlock the door: the same question first.
    reply = await api.say("undo that", conversation_id="p")
    assert reply["reply"]["kind"] == "confirm", reply
    _, device = await api.call("GET", "/api/v1/devices/front_door")
    assert device["state"]["locked"] is True
    reply = await api.say("yes", conversation_id="p")
    assert reply["reply"]["kind"] == "done" and reply["reply"]["intent"] == "undo", reply
    _, device = await api.call("GET", "/api/v1/devices/front_door")
    assert device["state"]["locked"] is False
    async with asyncio.timeout(TIMEOUT), api.session.ws_connect(api.url + "/api/v1/ws") as ws:
        await ws.send_json({"type": "auth", "token": api.token})
        assert (await ws.receive_json())["type"] == "auth_ok"
        await ws.send_json({"type": "conversation", "id": 1, "text": "open the garage door", "conversation_id": "w"})
        while (msg := await ws.receive_json())["type"] != "result":
            pass
        assert msg["reply"]["kind"] == "confirm", msg
    _, device = await api.call("GET", "/api/v1/devices/garage_door")
    assert device["state"]["position"] == 0


class _SurrogateStt(AsyncEventHandler):
    """A Wyoming speech-to-text server (the edge of the system) whose transcript is not valid Unicode."""

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            credit = Attribution(name="Hearth tests", url="http://127.0.0.1/")
            model = AsrModel(
                name="fake", description="fake", attribution=credit, installed=True, languages=["en"], version="1"
            )
            program = AsrProgram(
                name="fake", description="fake", attribution=credit, installed=True, version="1", models=[model]
            )
            await self.write_event(Info(asr=[program]).event())
        elif AudioStop.is_type(event.type):
            # What a remote server may send: JSON with an escaped lone surrogate (ensure_ascii keeps it writable).
            line = json.dumps({"type": "transcript", "data": {"text": f"turn on the kitchen lights {SURROGATE}"}})
            self.writer.write(line.encode("ascii") + b"\n")
            await self.writer.drain()
            return False
        return True


async def test_a_voice_transcript_that_is_not_unicode_is_refused(tmp_path: Path) -> None:
    port = free_port()
    server = AsyncTcpServer("127.0.0.1", port)
    await server.start(lambda reader, writer: _SurrogateStt(reader, writer))
    voice = {"stt": "wyoming", "stt_uri": f"tcp://127.0.0.1:{port}", "tts": "none"}
    runner, api = await start_api(make_config(tmp_path, voice=voice))
    try:
        before = await snapshot(api)
        status, body = await post_voice(api, wav_bytes(noise(1.0)), "audio/wav")
        assert status == 400 and body["error"]["code"] == "invalid_text", body
        assert await snapshot(api) == before  # the kitchen lights stayed off, nothing was recorded
        await still_works(api)
    finally:
        await api.session.close()
        await runner.cleanup()
        await server.stop()


async def test_the_voice_stream_survives_hostile_json(voice_api: Api) -> None:
    client = await VoiceWs.connect(voice_api)
    for raw in [
        "[" * 30_000 + "]" * 30_000,
        '{"type": "start", "rate": ' + "1" * 5000 + "}",
        '{"type": "start", "conversation_id": "c\\udfff"}',
        '{"type": "start", "x": ' + "[" * 100 + "]" * 100 + "}",
    ]:
        await client.ws.send_str(raw)
        err = await client.until("error")
        assert err["error"]["code"] in {"invalid_json", "invalid_text", "validation_error"}, err
    await client.ws.send_json({"type": "ping"})
    await client.until("pong")  # the socket is still open
    await client.close()
