"""Tokens (revocation, expiry, last use), roles, login links and homes, through the HTTP API and the WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.conftest import TIMEOUT, Api

WS_CLOSED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED)


@contextlib.asynccontextmanager
async def socket(api: Api, token: str) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """An authenticated /api/v1/ws connection."""
    async with asyncio.timeout(TIMEOUT):
        ws = await api.session.ws_connect(api.url + "/api/v1/ws")
        await ws.send_json({"type": "auth", "token": token})
        assert (await ws.receive_json())["type"] == "auth_ok"
    try:
        yield ws
    finally:
        await ws.close()


async def closed_with(ws: aiohttp.ClientWebSocketResponse, within: float = TIMEOUT) -> tuple[int | None, list[Any]]:
    """Read until the server closes the socket; return the close code and the messages seen before it."""
    seen = []
    async with asyncio.timeout(within):
        while True:
            msg = await ws.receive()
            if msg.type == aiohttp.WSMsgType.CLOSE:
                return int(msg.data), seen  # the code in the server's close frame
            if msg.type in WS_CLOSED:
                return ws.close_code, seen
            if msg.type == aiohttp.WSMsgType.TEXT:
                seen.append(msg.json())


async def new_token(api: Api, user: str = "demo", **extra: Any) -> dict[str, Any]:
    status, body = await api.call("POST", "/api/v1/tokens", json={"user": user, **extra})
    assert status == 201, body
    assert body["token"].startswith("hth_") and body["status"] == "active"
    return body


async def member(api: Api, name: str, role: str) -> str:
    """A new user of the demo home with `role`; returns a token for them."""
    status, body = await api.call("POST", "/api/v1/users", json={"name": name, "role": role})
    assert status == 201, body
    assert body["role"] == role
    return str((await new_token(api, name))["token"])


# -- revocation and expiry -------------------------------------------------------------------------------------
async def test_revoked_token_is_refused_at_once_on_rest(api: Api) -> None:
    made = await new_token(api, label="kitchen tablet")
    assert made["label"] == "kitchen tablet" and made["created_at"] <= time.time()
    status, _ = await api.call("GET", "/api/v1/devices", token=made["token"])
    assert status == 200  # now cached as verified
    status, body = await api.call("DELETE", f"/api/v1/tokens/{made['id']}")
    assert status == 200 and body["status"] == "revoked" and body["revoked_at"]
    status, body = await api.call("GET", "/api/v1/devices", token=made["token"])
    assert status == 401 and body["error"]["code"] == "unauthorized"
    assert "revoked" in body["error"]["message"]
    status, _ = await api.call("GET", "/api/v1/devices")  # the owner's own token still works
    assert status == 200


async def test_revocation_closes_an_open_websocket_with_4401(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    # At once, not by the once-a-second check for other processes' changes: that check is switched off here.
    monkeypatch.setattr(api.core.auth, "sync", lambda now=None: False)
    made = await new_token(api)
    async with socket(api, made["token"]) as ws, socket(api, api.token) as other:
        await ws.send_json({"type": "ping", "id": 1})
        assert (await ws.receive_json())["type"] == "pong"
        status, _ = await api.call("DELETE", f"/api/v1/tokens/{made['id']}")
        assert status == 200
        code, seen = await closed_with(ws)
        assert code == 4401
        assert seen[-1]["type"] == "error" and seen[-1]["error"]["code"] == "unauthorized"
        # Another token's socket stays open.
        await other.send_json({"type": "ping", "id": 2})
        async with asyncio.timeout(TIMEOUT):
            while (await other.receive_json())["type"] != "pong":
                pass


async def test_revocation_closes_an_open_voice_stream_too(voice_api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    api = voice_api
    monkeypatch.setattr(api.core.auth, "sync", lambda now=None: False)  # at once, not by the periodic check
    made = await new_token(api)
    async with asyncio.timeout(TIMEOUT), api.session.ws_connect(api.url + "/api/v1/voice/stream") as ws:
        await ws.send_json({"type": "auth", "token": made["token"]})
        assert (await ws.receive_json())["type"] == "auth_ok"
        assert (await api.call("DELETE", f"/api/v1/tokens/{made['id']}"))[0] == 200
        code, seen = await closed_with(ws)
        assert code == 4401 and seen[-1]["error"]["code"] == "unauthorized"


async def test_expired_token_is_refused_and_its_socket_closed(api: Api) -> None:
    made = await new_token(api, expires_days=2.0 / 86400)  # two seconds
    assert made["expires_at"] == pytest.approx(time.time() + 2, abs=1)
    status, _ = await api.call("GET", "/api/v1/areas", token=made["token"])
    assert status == 200
    async with socket(api, made["token"]) as ws:
        code, seen = await closed_with(ws, within=6)
        assert code == 4401 and "expired" in seen[-1]["error"]["message"]
    status, body = await api.call("GET", "/api/v1/areas", token=made["token"])
    assert status == 401 and "expired" in body["error"]["message"]
    listed = {t["id"]: t for t in (await api.call("GET", "/api/v1/tokens"))[1]["tokens"]}
    assert listed[made["id"]]["status"] == "expired"
    async with asyncio.timeout(TIMEOUT), api.session.ws_connect(api.url + "/api/v1/ws") as ws:
        await ws.send_json({"type": "auth", "token": made["token"]})
        assert (await ws.receive_json())["error"]["code"] == "unauthorized"
        code, _ = await closed_with(ws)
        assert code == 4401


async def test_last_use_is_recorded_without_a_write_per_request(api: Api) -> None:
    made = await new_token(api)
    before = time.time()
    for _ in range(5):
        assert (await api.call("GET", "/api/v1/areas", token=made["token"]))[0] == 200
    listed = {t["id"]: t for t in (await api.call("GET", "/api/v1/tokens"))[1]["tokens"]}
    assert listed[made["id"]]["last_used_at"] >= before

    def stored() -> Any:
        row = api.core.store.query_one("SELECT last_used_at FROM api_tokens WHERE id = ?", (made["id"],))
        return row["last_used_at"] if row else None

    for _ in range(100):  # written within a few seconds of the first use
        if stored() is not None:
            break
        await asyncio.sleep(0.1)
    first = stored()
    await asyncio.sleep(1.2)
    assert (await api.call("GET", "/api/v1/areas", token=made["token"]))[0] == 200
    await asyncio.sleep(2.5)  # two more upkeep rounds: still not written again within the minute
    assert stored() == first


# -- roles -----------------------------------------------------------------------------------------------------
async def test_guest_can_use_the_home_but_not_unlock_configure_or_manage(api: Api) -> None:
    guest = await member(api, "gus", "guest")
    assert (await api.call("GET", "/api/v1/devices", token=guest))[0] == 200
    status, body = await api.call("POST", "/api/v1/devices/desk_lamp/command", token=guest, json={"name": "turn_on"})
    assert status == 200 and body["device"]["state"]["on"] is True
    status, body = await api.call(
        "POST", "/api/v1/devices/front_door/command", token=guest, json={"name": "unlock", "confirm": True}
    )
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, body = await api.call(
        "POST",
        "/api/v1/devices/garage_door/command",
        token=guest,
        json={"name": "set_position", "params": {"position": 50}, "confirm": True},
    )
    assert status == 403
    # In conversation too: the door stays locked.
    for text in ("unlock the front door", "open the garage door"):
        answer = await api.say(text, "g", token=guest)  # refused at once, without asking to confirm first
        assert answer["reply"]["kind"] == "error" and answer["reply"]["error_code"] == "forbidden", answer
        assert "guest" in answer["reply"]["speech"]
    assert (await api.say("turn off the desk lamp", "g", token=guest))["reply"]["kind"] == "done"
    assert (await api.call("GET", "/api/v1/devices/front_door"))[1]["state"]["locked"] is True
    assert (await api.call("GET", "/api/v1/devices/garage_door"))[1]["state"]["position"] == 0
    for method, path, body in [
        ("POST", "/api/v1/devices", {"id": "x", "name": "x", "kind": "switch"}),
        ("PATCH", "/api/v1/devices/desk_lamp", {"name": "lamp"}),
        ("POST", "/api/v1/floors", {"id": "up", "name": "upstairs"}),
        ("DELETE", "/api/v1/scenes/bedtime", None),
        ("GET", "/api/v1/tokens", None),
        ("POST", "/api/v1/tokens", {"user": "gus"}),
        ("GET", "/api/v1/users", None),
        ("POST", "/api/v1/users", {"name": "eve"}),
        ("POST", "/api/v1/homes", {"name": "Eve's"}),
    ]:
        status, answer = await api.call(method, path, token=guest, json=body)
        assert status == 403 and answer["error"]["code"] == "forbidden", (method, path)
    status, who = await api.call("GET", "/api/v1/home", token=guest)
    assert status == 200 and who["role"] == "guest" and who["user_name"] == "gus" and who["id"] == "demo"


async def test_member_can_unlock_and_configure_but_not_manage(api: Api) -> None:
    mem = await member(api, "mia", "member")
    status, body = await api.call(
        "POST", "/api/v1/devices/front_door/command", token=mem, json={"name": "unlock", "confirm": True}
    )
    assert status == 200 and body["device"]["state"]["locked"] is False
    status, _ = await api.call("PATCH", "/api/v1/devices/desk_lamp", token=mem, json={"name": "reading lamp"})
    assert status == 200
    for method, path in [("GET", "/api/v1/tokens"), ("GET", "/api/v1/users")]:
        assert (await api.call(method, path, token=mem))[0] == 403


async def test_owner_manages_users_and_a_home_keeps_an_owner(api: Api) -> None:
    guest = await member(api, "gil", "guest")
    status, users = await api.call("GET", "/api/v1/users")
    assert status == 200
    by_name = {u["name"]: u for u in users["users"]}
    assert by_name["demo"]["role"] == "owner" and by_name["gil"]["role"] == "guest"
    status, body = await api.call("POST", "/api/v1/users", json={"name": "gil"})
    assert status == 409 and body["error"]["code"] == "conflict"
    status, body = await api.call("POST", "/api/v1/users", json={"name": "x", "role": "admin"})
    assert status == 422 and body["error"]["code"] == "validation_error"
    # Promotion takes effect on the next request.
    gil = by_name["gil"]["user_id"]
    status, body = await api.call("PATCH", f"/api/v1/users/{gil}", json={"role": "member"})
    assert status == 200 and body["role"] == "member"
    assert (await api.call("PATCH", "/api/v1/devices/desk_lamp", token=guest, json={"name": "lamp two"}))[0] == 200
    # The last owner cannot step down or leave.
    me = by_name["demo"]["user_id"]
    status, body = await api.call("PATCH", f"/api/v1/users/{me}", json={"role": "guest"})
    assert status == 409
    assert (await api.call("DELETE", f"/api/v1/users/{me}"))[0] == 409
    # Removing a member revokes their tokens and closes their sockets.
    async with socket(api, guest) as ws:
        assert (await api.call("DELETE", f"/api/v1/users/{gil}"))[0] == 200
        code, _ = await closed_with(ws)
        assert code == 4401
    assert (await api.call("GET", "/api/v1/devices", token=guest))[0] == 401


async def test_demotion_closes_the_members_open_websocket(api: Api) -> None:
    """A socket keeps the role it authenticated with, so losing a permission must end it (the client reconnects)."""
    mem = await member(api, "meg", "member")
    meg = {u["name"]: u for u in (await api.call("GET", "/api/v1/users"))[1]["users"]}["meg"]["user_id"]
    async with socket(api, mem) as ws:
        assert (await api.call("PATCH", f"/api/v1/users/{meg}", json={"role": "guest"}))[0] == 200
        code, seen = await closed_with(ws)
        assert code == 4401 and "role" in seen[-1]["error"]["message"]
    async with socket(api, mem) as ws:  # the same token connects again, now as a guest
        await ws.send_json({"type": "ping", "id": 1})
        async with asyncio.timeout(TIMEOUT):
            while (await ws.receive_json())["type"] != "pong":
                pass


async def test_token_api_validates_and_stays_in_its_home(api: Api) -> None:
    for body in [{}, {"user": ""}, {"user": "demo", "expires_days": 0}, {"user": "demo", "extra": 1}]:
        status, answer = await api.call("POST", "/api/v1/tokens", json=body)
        assert status == 422 and answer["error"]["code"] == "validation_error", body
    status, answer = await api.call("POST", "/api/v1/tokens", json={"user": "nobody"})
    assert status == 404
    assert (await api.call("DELETE", "/api/v1/tokens/t_nope"))[0] == 404
    # Another home's tokens are invisible and cannot be revoked from here.
    alice = await api.core.seed_demo("alices_home", "Alice's flat", user="alice")
    alice_token = api.core.auth.create_token(alice, "alices_home", "alice")
    alice_id = api.core.auth.tokens("alices_home")[0].id
    listed = (await api.call("GET", "/api/v1/tokens"))[1]["tokens"]
    assert all(t["home_id"] == "demo" for t in listed) and alice_id not in {t["id"] for t in listed}
    assert (await api.call("DELETE", f"/api/v1/tokens/{alice_id}"))[0] == 404
    assert (await api.call("GET", "/api/v1/devices", token=alice_token))[0] == 200
    assert (await api.call("GET", "/api/v1/users", token=alice_token))[1]["users"] == [
        {"user_id": alice, "name": "alice", "role": "owner"}
    ]


async def test_owner_creates_a_home_empty_or_with_the_demo(api: Api) -> None:
    status, home = await api.call("POST", "/api/v1/homes", json={"name": "Beach hut"})
    assert status == 201, home
    status, devices = await api.call("GET", "/api/v1/devices", token=home["token"])
    assert status == 200 and devices["devices"] == []
    status, who = await api.call("GET", "/api/v1/home", token=home["token"])
    assert who["id"] == home["id"] and who["name"] == "Beach hut" and who["role"] == "owner"
    status, demo = await api.call("POST", "/api/v1/homes", json={"name": "Showroom", "demo": True})
    assert status == 201
    out = await api.say("turn on the kitchen lights", token=demo["token"])
    assert out["reply"]["kind"] == "done"
    assert (await api.call("GET", "/api/v1/devices/kitchen_lights"))[1]["state"]["on"] is False  # not the demo home


# -- login links -----------------------------------------------------------------------------------------------
async def test_login_code_works_once_and_expires(api: Api) -> None:
    home_id, user_id = api.core.default_principal()
    code = api.core.auth.create_login_code(user_id, home_id)
    async with api.session.post(api.url + "/api/v1/auth/login", json={"code": code}) as resp:
        assert resp.status == 200
        session = await resp.json()
    assert session["home_id"] == home_id and session["role"] == "owner"
    assert session["expires_at"] > time.time() + 29 * 86400
    assert (await api.call("GET", "/api/v1/devices", token=session["token"]))[0] == 200
    async with api.session.post(api.url + "/api/v1/auth/login", json={"code": code}) as resp:
        assert resp.status == 401 and (await resp.json())["error"]["code"] == "unauthorized"
    stale = api.core.auth.create_login_code(user_id, home_id, ttl_s=0.5)
    await asyncio.sleep(0.7)
    async with api.session.post(api.url + "/api/v1/auth/login", json={"code": stale}) as resp:
        assert resp.status == 401
    for body in ({"code": "hth_not-a-code"}, {"code": ""}, {}):
        async with api.session.post(api.url + "/api/v1/auth/login", json=body) as resp:
            assert resp.status in (401, 422)


async def test_one_login_code_gives_one_token_under_concurrent_use(api: Api) -> None:
    home_id, user_id = api.core.default_principal()
    code = api.core.auth.create_login_code(user_id, home_id)

    async def use() -> int:
        async with api.session.post(api.url + "/api/v1/auth/login", json={"code": code}) as resp:
            return resp.status

    async with asyncio.timeout(TIMEOUT):
        statuses = await asyncio.gather(*(use() for _ in range(8)))
    assert sorted(statuses) == [200] + [401] * 7


# -- homes on the WebSocket ------------------------------------------------------------------------------------
async def _next_event(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(TIMEOUT):
        while True:
            msg = await ws.receive_json()
            if msg["type"] == "event" and msg["event"] == kind:
                return dict(msg["data"])


async def test_live_events_reach_only_the_sockets_of_their_home(api: Api) -> None:
    alice = await api.core.seed_demo("alices_home", "Alice's flat", user="alice")
    alice_token = api.core.auth.create_token(alice, "alices_home")
    async with socket(api, api.token) as demo_ws, socket(api, alice_token) as alice_ws:
        # device.status: the demo home's change reaches the demo socket only.
        await api.call("POST", "/api/v1/devices/porch_light/command", json={"name": "turn_on"})
        assert (await _next_event(demo_ws, "device.status"))["device_id"] == "porch_light"
        await api.call("POST", "/api/v1/devices/tv/command", token=alice_token, json={"name": "turn_on"})
        # Events are queued per socket in publish order, so a leaked porch_light event would arrive first.
        got = await _next_event(alice_ws, "device.status")
        assert got["device_id"] == "tv" and got["device"]["id"] == "tv"
        # conversation.reply: likewise.
        await api.say("turn on the desk lamp", "mine")
        assert (await _next_event(demo_ws, "conversation.reply"))["text"] == "turn on the desk lamp"
        await api.say("turn off the tv", "hers", token=alice_token)
        assert (await _next_event(alice_ws, "conversation.reply"))["text"] == "turn off the tv"
        # And the demo socket never saw Alice's tv.
        await api.call("POST", "/api/v1/devices/hallway_light/command", json={"name": "turn_on"})
        while (event := await _next_event(demo_ws, "device.status"))["device_id"] != "hallway_light":
            assert event["device_id"] != "tv", event
