"""HTTP plumbing: typed app keys, JSON bodies with size limits and schema checks, error and auth middlewares."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import fastjsonschema
import jsonschema
import jsonschema.protocols
import orjson
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

from assistant import access
from assistant.auth import Principal
from assistant.core import Core
from assistant.errors import ErrorCode, HearthError
from assistant.turn import Turn
from assistant.validation import decode_json

LOG = logging.getLogger(__name__)

CORE_KEY: web.AppKey[Core] = web.AppKey("core", Core)
PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal", Principal)
PUBLIC_PATHS = frozenset(
    {"/api/v1/health", "/api/v1/openapi.json", "/api/v1/ws", "/api/v1/voice/stream", "/api/v1/auth/login"}
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_HTTP_CODES: dict[int, ErrorCode] = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.BODY_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA,
}


def error_response(err: HearthError) -> web.Response:
    return web.json_response(err.to_dict(), status=err.http_status)


class _JsonErrorRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering requests it cannot even parse (a URL or header over the limit,
    broken HTTP) with Hearth's JSON error shape instead of plain text."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status >= 500:
            super().handle_error(request, status, exc, message)  # logs; raises if a response was already started
        else:  # the client's mistake: one debug line, not an ERROR with a traceback for every bad request
            self.logger.debug("bad request from %s: %s", request.remote, exc or message)
            if request.writer.output_size > 0:
                raise ConnectionError("Response is sent already, cannot send another response with the error message")
        if isinstance(exc, LineTooLong):
            limit = exc.args[1] if len(exc.args) > 1 else "the limit"
            err = HearthError(
                ErrorCode.BAD_REQUEST,
                f"The URL or a header is too long (at most {limit} bytes each).",
                {"limit": limit},
            )
        elif isinstance(exc, BadHttpMessage):
            err = HearthError(ErrorCode.BAD_REQUEST, "The request is not valid HTTP.")
        elif status >= 500:
            err = HearthError(ErrorCode.INTERNAL, "Something went wrong on the server.")
        else:
            err = HearthError(_HTTP_CODES.get(status, ErrorCode.BAD_REQUEST), message or "Bad request.")
        resp = web.Response(body=orjson.dumps(err.to_dict()), status=status, content_type="application/json")
        resp.force_close()
        return resp


class _JsonErrorServer(Server):
    def __call__(self) -> RequestHandler:
        return _JsonErrorRequestHandler(self, loop=self._loop, **self._kwargs)


def json_protocol_errors(app: web.Application) -> None:
    """Make the servers this app creates (web.run_app, AppRunner) answer protocol errors in JSON too. aiohttp has
    no public hook for these, so the server its factory returns gets our connection handler (aiohttp is pinned)."""
    make = app._make_handler

    def make_handler(*args: Any, **kwargs: Any) -> Server:
        server = make(*args, **kwargs)
        server.__class__ = _JsonErrorServer
        return server

    setattr(app, "_make_handler", make_handler)  # noqa: B010


def json_ok(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


async def read_body(request: web.Request, limit: int) -> bytes:
    """The raw body, refused with 413 when larger than `limit` (checked before and while reading)."""
    if request.content_length is not None:
        if request.content_length > limit:
            raise HearthError(ErrorCode.BODY_TOO_LARGE, f"The body is larger than {limit} bytes.", {"limit": limit})
        return await request.read()  # the length is known and within the limit
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            raise HearthError(
                ErrorCode.BODY_TOO_LARGE,
                f"The body is larger than {limit} bytes.",
                {"limit": limit},
            )
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw: bytes | str, schema: dict[str, Any]) -> dict[str, Any]:
    """Decode and validate a JSON object; typed 400/422 errors with a clear message."""
    if not raw.strip():
        raise HearthError(ErrorCode.INVALID_JSON, "The body is empty; a JSON object is required.")
    return check_schema(decode_json(raw), schema)


def check_schema(data: Any, schema: dict[str, Any], what: str = "The body") -> dict[str, Any]:
    """A decoded JSON object checked against a schema; typed 422 errors naming the field."""
    if not isinstance(data, dict):
        raise HearthError(ErrorCode.VALIDATION, f"{what} must be a JSON object.")
    try:
        _compiled(schema)(data)
        return data
    except fastjsonschema.JsonSchemaException:
        pass  # invalid: let jsonschema explain it in the clearest words
    errors = sorted(_validator(schema).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        err = errors[0]
        where = ".".join(str(p) for p in err.absolute_path) or "body"
        raise HearthError(ErrorCode.VALIDATION, f"{where}: {_short(err.message)}", {"field": where})
    return data


_VALIDATORS: dict[int, jsonschema.protocols.Validator] = {}
_COMPILED: dict[int, Callable[[Any], Any]] = {}


def _compiled(schema: dict[str, Any]) -> Callable[[Any], Any]:
    """A compiled checker for the fast path (valid bodies)."""
    found = _COMPILED.get(id(schema))
    if found is None:
        found = _COMPILED[id(schema)] = fastjsonschema.compile(schema)
    return found


def _validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    """One compiled validator per schema (schemas are module constants)."""
    found = _VALIDATORS.get(id(schema))
    if found is None:
        found = _VALIDATORS[id(schema)] = jsonschema.Draft202012Validator(schema)
    return found


def _short(message: str) -> str:
    return message if len(message) <= 200 else message[:197] + "..."


async def read_json(request: web.Request, schema: dict[str, Any]) -> dict[str, Any]:
    core = request.app[CORE_KEY]
    ctype = request.content_type
    if ctype not in ("application/json", "application/octet-stream", "text/plain") and request.body_exists:
        raise HearthError(ErrorCode.UNSUPPORTED_MEDIA, "Send the body as application/json.")
    raw = await read_body(request, core.config.server.max_body_bytes)
    return parse_json(raw, schema)


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticates (every /api/ route needs a token, except health, the OpenAPI document, the login-link exchange
    and the WebSockets, which check their own), checks the role's permission for the route (assistant/access.py),
    and makes every error leave as typed JSON: nothing unexpected leaks a traceback."""
    try:
        path = request.path
        if path.startswith("/api/") and path not in PUBLIC_PATHS:
            core = request.app[CORE_KEY]
            who = core.auth.verify(bearer(request.headers.get("Authorization")))
            resource = request.match_info.route.resource
            if resource is not None:  # no route: the handler answers 404 or 405
                access.require(who.role, access.route_permission(request.method, resource.canonical))
            if who.home_id not in core.registry.homes:
                await core.adopt_homes()  # created by another process (the CLI) a moment ago
            request[PRINCIPAL] = who
        # Device commands in this request are checked against the caller's role; a keep-alive connection runs its
        # requests in one task, so the actor is reset afterwards and never carries over to the next request.
        acting = access.act_as(request[PRINCIPAL].role if PRINCIPAL in request else None)
        try:
            return await handler(request)
        finally:
            access.stop_acting(acting)
    except HearthError as err:
        return error_response(err)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, ErrorCode.BAD_REQUEST if exc.status < 500 else ErrorCode.INTERNAL)
        message = exc.reason if exc.status != 413 else "The body is too large."
        if exc.status == 404:
            message = f"There is nothing at {request.path}."
        elif exc.status == 405:
            message = f"{request.method} is not allowed on {request.path}."
        return error_response(HearthError(code, message))
    except Exception:
        LOG.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(HearthError(ErrorCode.INTERNAL, "Something went wrong on the server."))


async def run_turn(core: Core, home_id: str, user_id: str, body: dict[str, Any], channel: str) -> dict[str, Any]:
    """One conversation turn from a JSON body (REST and WebSocket share this)."""
    turn = Turn(
        text=body["text"],
        home_id=home_id,
        user_id=user_id,
        conversation_id=body.get("conversation_id") or uuid.uuid4().hex,
        channel=channel,
        area=body.get("area"),
        reply_to=body.get("reply_to"),
    )
    reply, nlu = await core.dialogue.handle(turn)
    return {
        "conversation_id": reply.conversation_id,
        "reply": reply.to_dict(),
        "nlu": nlu.to_dict(),
    }
