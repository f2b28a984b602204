"""The WebSocket API: conversation turns and live events for the authenticated user's home."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from typing import Any

from aiohttp import WSMsgType, web

from assistant import access, schemas
from assistant.auth import Auth, Principal
from assistant.core import Core
from assistant.errors import ErrorCode, HearthError
from assistant.http import bearer, check_schema, run_turn
from assistant.validation import decode_json

LOG = logging.getLogger(__name__)

AUTH_TIMEOUT_S = 10.0
MAX_MESSAGE = 64 * 1024
CLOSE_UNAUTHORIZED = 4401
CLOSE_GOING_AWAY = 1001
ANSWER_GRACE_S = 1.0  # how long shutdown lets turns under way finish and be answered
CLOSE_WAIT_S = 0.5  # then how long it waits for clients to answer the close frames


def error_message(err: HearthError, msg_id: Any = None) -> dict[str, Any]:
    """A typed error as a WebSocket message (with the id of the message it answers, if any)."""
    out: dict[str, Any] = {"type": "error", **err.to_dict()}
    if msg_id is not None:
        out["id"] = msg_id
    return out


async def authenticate(ws: web.WebSocketResponse, request: web.Request, auth: Auth) -> Principal | None:
    """Who is on this socket: the Authorization header of the upgrade, or else the first message
    {"type": "auth", "token": ...} (browsers cannot send headers). On failure the client gets a typed error and the
    socket is closed with 4401; None is returned."""
    header = bearer(request.headers.get("Authorization"))
    try:
        if header:
            who = auth.verify(header)
        else:
            async with asyncio.timeout(AUTH_TIMEOUT_S):
                msg = await ws.receive()
            data = None
            if msg.type == WSMsgType.TEXT:
                with contextlib.suppress(HearthError):
                    data = decode_json(msg.data, "The message")
            if not isinstance(data, dict) or data.get("type") != "auth":
                raise HearthError(ErrorCode.UNAUTHORIZED, 'Send {"type": "auth", "token": "..."} first.')
            who = auth.verify(str(data.get("token") or ""))
        auth.track(ws, who)  # revocation and expiry close this socket with 4401
        access.act_as(who.role)  # device commands from this socket are checked against this role
        return who
    except TimeoutError:
        err = HearthError(ErrorCode.UNAUTHORIZED, "No authentication arrived in time.")
    except HearthError as exc:
        err = exc
    if not ws.closed:
        await ws.send_json(error_message(err))
        await ws.close(code=CLOSE_UNAUTHORIZED, message=b"unauthorized")
    return None


async def end_session(ws: web.WebSocketResponse, reason: str) -> None:
    """Tell the client why, then close with 4401 (its token was revoked or expired)."""
    if ws.closed:
        return
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_json(error_message(HearthError(ErrorCode.UNAUTHORIZED, reason)))
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.close(code=CLOSE_UNAUTHORIZED, message=reason.encode()[:120])


class WebSocketHub:
    """Serves /api/v1/ws; knows every open WebSocket of the app (any route), so that shutdown closes them all; closes
    sockets whose token is revoked or expires (4401)."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
        self.closing = False
        self._answering: set[asyncio.Future[None]] = set()  # messages being answered right now
        core.auth.session_closer = self._end_session

    def _end_session(self, connection: object, reason: str) -> None:
        if isinstance(connection, web.WebSocketResponse):
            self.core.tasks.spawn(end_session(connection, reason), "ws-end-session")

    async def track(self, request: web.Request, response: web.StreamResponse) -> None:
        """on_response_prepare hook: remember each WebSocket as it opens, whichever channel serves it."""
        if isinstance(response, web.WebSocketResponse):
            self.sockets.add(response)

    async def close_all(self, app: web.Application | None = None) -> None:
        """Shutdown: turns already under way finish and are answered (bounded), new ones are refused, then every
        open socket is closed with 1001 (going away) so that clients know to reconnect."""
        self.closing = True
        if self._answering:
            await asyncio.wait(list(self._answering), timeout=ANSWER_GRACE_S)
        closing = [
            asyncio.ensure_future(ws.close(code=CLOSE_GOING_AWAY, message=b"server shutting down"))
            for ws in list(self.sockets)
            if not ws.closed
        ]
        self.sockets.clear()
        if closing:
            _, late = await asyncio.wait(closing, timeout=CLOSE_WAIT_S)
            for task in late:
                task.cancel()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_MESSAGE)
        await ws.prepare(request)
        try:
            who = await authenticate(ws, request, self.core.auth)
            if who is None:
                return ws
            if who.home_id not in self.core.registry.homes:
                await self.core.adopt_homes()  # created by another process (the CLI) a moment ago
            await ws.send_json({"type": "auth_ok", "home_id": who.home_id, "user_id": who.user_id})
            sub = self.core.bus.subscribe(who.home_id)
            forward = self.core.tasks.spawn(self._forward(ws, sub), f"ws-forward-{id(ws)}")
            try:
                await self._serve(ws, who)
            finally:
                forward.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await forward
                sub.close()
        finally:
            self.sockets.discard(ws)
        return ws

    async def _forward(self, ws: web.WebSocketResponse, sub: Any) -> None:
        while not ws.closed:
            event = await sub.get()
            try:
                await ws.send_json({"type": "event", "event": event.type, "data": event.data})
            except ConnectionError:
                return

    async def _serve(self, ws: web.WebSocketResponse, who: Principal) -> None:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                if msg.type == WSMsgType.BINARY:
                    await ws.send_json(error_message(HearthError(ErrorCode.BAD_REQUEST, "Send JSON text messages.")))
                continue
            msg_id: Any = None
            self.core.auth.touch(who)
            answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._answering.add(answered)
            try:
                data = decode_json(msg.data, "The message")
                if not isinstance(data, dict):
                    raise HearthError(ErrorCode.VALIDATION, "A message must be a JSON object.")
                msg_id = data.pop("id", None)
                kind = data.pop("type", None)
                if kind == "ping":
                    await ws.send_json({"type": "pong", "id": msg_id})
                elif kind == "conversation":
                    body = check_schema(data, schemas.CONVERSATION_REQUEST, "The message")
                    if self.closing:
                        raise HearthError(ErrorCode.BUSY, "Hearth is shutting down; try again in a moment.")
                    result = await run_turn(self.core, who.home_id, who.user_id, body, "websocket")
                    await ws.send_json({"type": "result", "id": msg_id, **result})
                else:
                    raise HearthError(ErrorCode.VALIDATION, f"Unknown message type {kind!r}.")
            except HearthError as err:
                await ws.send_json(error_message(err, msg_id))
            except ConnectionError:
                return
            except Exception:
                LOG.exception("websocket message failed")
                await ws.send_json(error_message(HearthError(ErrorCode.INTERNAL, "Something went wrong."), msg_id))
            finally:
                self._answering.discard(answered)
                answered.set_result(None)


WS_HUB_KEY: web.AppKey[WebSocketHub] = web.AppKey("ws_hub", WebSocketHub)
