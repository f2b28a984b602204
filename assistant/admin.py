"""The owner's API: tokens, users and homes; plus the login-link exchange and "who am I"."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from assistant.access import Role
from assistant.auth import MAX_EXPIRY_DAYS, expiry
from assistant.core import Core
from assistant.errors import ErrorCode, HearthError
from assistant.http import CORE_KEY, json_ok, principal, read_json
from assistant.openapi import json_response, operation, register_paths

ROLE = {"type": "string", "enum": [str(r) for r in Role]}
USER_NAME = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"\S"}

LOGIN_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["code"],
    "additionalProperties": False,
    "properties": {"code": {"type": "string", "minLength": 1, "maxLength": 200}},
}
TOKEN_CREATE: dict[str, Any] = {
    "type": "object",
    "required": ["user"],
    "additionalProperties": False,
    "properties": {
        "user": USER_NAME,
        "label": {"type": "string", "maxLength": 100},
        "expires_days": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_EXPIRY_DAYS},
    },
}
USER_ADD: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {"name": USER_NAME, "role": ROLE},
}
USER_UPDATE: dict[str, Any] = {
    "type": "object",
    "required": ["role"],
    "additionalProperties": False,
    "properties": {"role": ROLE},
}
HOME_CREATE: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 60, "pattern": r"\S"},
        "demo": {"type": "boolean"},
    },
}

TOKEN_VIEW: dict[str, Any] = {
    "type": "object",
    "required": ["id", "user_id", "user_name", "home_id", "label", "created_at", "status"],
    "properties": {
        "id": {"type": "string"},
        "user_id": {"type": "string"},
        "user_name": {"type": "string"},
        "home_id": {"type": "string"},
        "label": {"type": "string"},
        "created_at": {"type": "number"},
        "last_used_at": {"type": ["number", "null"]},
        "expires_at": {"type": ["number", "null"]},
        "revoked_at": {"type": ["number", "null"]},
        "status": {"type": "string", "enum": ["active", "expired", "revoked"]},
        "token": {"type": "string", "description": "the secret; only in the answer that creates the token"},
    },
}
MEMBER_VIEW: dict[str, Any] = {
    "type": "object",
    "required": ["user_id", "name", "role"],
    "properties": {"user_id": {"type": "string"}, "name": {"type": "string"}, "role": ROLE},
}
SESSION_VIEW: dict[str, Any] = {
    "type": "object",
    "required": ["token", "token_id", "home_id", "user_id", "role"],
    "properties": {
        "token": {"type": "string"},
        "token_id": {"type": "string"},
        "home_id": {"type": "string"},
        "user_id": {"type": "string"},
        "role": ROLE,
        "expires_at": {"type": ["number", "null"]},
    },
}
HOME_VIEW: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "user_id", "user_name", "role"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "user_id": {"type": "string"},
        "user_name": {"type": "string"},
        "role": ROLE,
    },
}


def _core(request: web.Request) -> Core:
    return request.app[CORE_KEY]


async def login(request: web.Request) -> web.Response:
    """Exchange a login link's one-time code for a session token (public: the code is the credential)."""
    body = await read_json(request, LOGIN_REQUEST)
    core = _core(request)
    token, info, ops = core.auth.exchange_ops(body["code"])
    await core.store.write(*ops)
    role = core.auth.role(info.home_id, info.user_id) or Role.GUEST
    return json_ok(
        {
            "token": token,
            "token_id": info.id,
            "home_id": info.home_id,
            "user_id": info.user_id,
            "role": str(role),
            "expires_at": info.expires_at,
        }
    )


async def whoami(request: web.Request) -> web.Response:
    core = _core(request)
    who = principal(request)
    home = core.registry.home(who.home_id)
    member = core.auth.member(who.home_id, who.user_id)
    return json_ok(
        {"id": home.id, "name": home.name, "user_id": who.user_id, "user_name": member.name, "role": str(who.role)}
    )


async def list_tokens(request: web.Request) -> web.Response:
    core = _core(request)
    return json_ok({"tokens": [t.to_dict() for t in core.auth.tokens(principal(request).home_id)]})


async def create_token(request: web.Request) -> web.Response:
    body = await read_json(request, TOKEN_CREATE)
    core = _core(request)
    who = principal(request)
    member = _member_named(core, who.home_id, body["user"])
    label = body.get("label") or f"for {member.name}"
    token, info, ops = core.auth.new_token(member.user_id, who.home_id, label, expiry(body.get("expires_days")))
    await core.store.write(*ops)
    return json_ok({**info.to_dict(), "token": token}, status=201)


async def revoke_token(request: web.Request) -> web.Response:
    core = _core(request)
    who = principal(request)
    token_id = request.match_info["token_id"]
    await core.store.write(*core.auth.revoke_ops(token_id, who.home_id))
    core.auth.revoked(token_id)
    return json_ok(core.auth.token(token_id, who.home_id).to_dict())


async def list_users(request: web.Request) -> web.Response:
    core = _core(request)
    return json_ok({"users": [m.to_dict() for m in core.auth.members(principal(request).home_id)]})


async def add_user(request: web.Request) -> web.Response:
    body = await read_json(request, USER_ADD)
    core = _core(request)
    who = principal(request)
    user_id, ops = core.auth.member_ops(body["name"], who.home_id, Role(body.get("role", Role.MEMBER)))
    await core.store.write(*ops)
    core.auth.members_changed(who.home_id, user_id)
    return json_ok(core.auth.member(who.home_id, user_id).to_dict(), status=201)


async def update_user(request: web.Request) -> web.Response:
    body = await read_json(request, USER_UPDATE)
    core = _core(request)
    who = principal(request)
    user_id = request.match_info["user_id"]
    await core.store.write(*core.auth.set_role_ops(who.home_id, user_id, Role(body["role"])))
    core.auth.members_changed(who.home_id, user_id)
    return json_ok(core.auth.member(who.home_id, user_id).to_dict())


async def remove_user(request: web.Request) -> web.Response:
    core = _core(request)
    who = principal(request)
    user_id = request.match_info["user_id"]
    member = core.auth.member(who.home_id, user_id)
    await core.store.write(*core.auth.remove_member_ops(who.home_id, user_id))
    core.auth.members_changed(who.home_id, user_id)
    return json_ok({"removed": member.to_dict()})


async def create_home(request: web.Request) -> web.Response:
    """A new home owned by the caller; the answer carries a token for the caller in that home."""
    body = await read_json(request, HOME_CREATE)
    core = _core(request)
    who = principal(request)
    owner = core.auth.member(who.home_id, who.user_id).name
    home_id = await core.create_home(body["name"], demo=bool(body.get("demo", False)), owner=owner)
    home = core.registry.home(home_id)
    token, info, ops = core.auth.new_token(who.user_id, home_id, f"owner of {home.name}")
    await core.store.write(*ops)
    return json_ok({"id": home.id, "name": home.name, "token": token, "token_id": info.id}, status=201)


def _member_named(core: Core, home_id: str, name: str) -> Any:
    wanted = " ".join(name.split())
    for member in core.auth.members(home_id):
        if member.name == wanted:
            return member
    raise HearthError(ErrorCode.NOT_FOUND, f"{wanted} is not a member of this home.", {"user": wanted})


def _op(
    summary: str,
    schema: dict[str, Any],
    body: dict[str, Any] | None = None,
    status: str = "200",
    param: str | None = None,
    public: bool = False,
) -> dict[str, Any]:
    params = [{"name": param, "in": "path", "required": True, "schema": {"type": "string"}}] if param else None
    return operation(summary, json_response(schema), body, public=public, params=params, status=status)


def _list(key: str, item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": [key], "properties": {key: {"type": "array", "items": item}}}


PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/auth/login": {
        "post": _op("Exchange a login link's one-time code for a session token", SESSION_VIEW, LOGIN_REQUEST,
                    public=True)
    },
    "/api/v1/home": {"get": _op("The caller's home, user and role", HOME_VIEW)},
    "/api/v1/tokens": {
        "get": _op("List this home's tokens (owner)", _list("tokens", TOKEN_VIEW)),
        "post": _op("Create a token for a member (owner)", TOKEN_VIEW, TOKEN_CREATE, status="201"),
    },
    "/api/v1/tokens/{token_id}": {"delete": _op("Revoke a token at once (owner)", TOKEN_VIEW, param="token_id")},
    "/api/v1/users": {
        "get": _op("List this home's members and roles (owner)", _list("users", MEMBER_VIEW)),
        "post": _op("Add a user to this home (owner)", MEMBER_VIEW, USER_ADD, status="201"),
    },
    "/api/v1/users/{user_id}": {
        "patch": _op("Change a member's role (owner)", MEMBER_VIEW, USER_UPDATE, param="user_id"),
        "delete": _op(
            "Remove a member and revoke their tokens here (owner)",
            {"type": "object", "properties": {"removed": MEMBER_VIEW}},
            param="user_id",
        ),
    },
    "/api/v1/homes": {
        "post": _op(
            "Create a home owned by the caller (owner); the answer has a token for it",
            {
                "type": "object",
                "required": ["id", "name", "token", "token_id"],
                "properties": {k: {"type": "string"} for k in ("id", "name", "token", "token_id")},
            },
            HOME_CREATE,
            status="201",
        )
    },
}  # fmt: skip


def setup(app: web.Application) -> None:
    """Add the routes and their OpenAPI entries."""
    app.router.add_post("/api/v1/auth/login", login)
    app.router.add_get("/api/v1/home", whoami)
    app.router.add_get("/api/v1/tokens", list_tokens)
    app.router.add_post("/api/v1/tokens", create_token)
    app.router.add_delete("/api/v1/tokens/{token_id}", revoke_token)
    app.router.add_get("/api/v1/users", list_users)
    app.router.add_post("/api/v1/users", add_user)
    app.router.add_patch("/api/v1/users/{user_id}", update_user)
    app.router.add_delete("/api/v1/users/{user_id}", remove_user)
    app.router.add_post("/api/v1/homes", create_home)
    register_paths(app, PATHS)
