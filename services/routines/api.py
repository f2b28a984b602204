"""Routines over HTTP: list, create, read, change, delete (JSON-schema validated, per home, in the OpenAPI document)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from assistant.errors import ErrorCode, HearthError
from assistant.http import CORE_KEY, json_ok, principal, read_json
from assistant.openapi import json_response, operation, register_paths
from assistant.registry import Home
from services.routines.book import RoutineBook
from services.routines.model import Routine

ID = {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,64}$"}
NAME = {"type": "string", "minLength": 1, "maxLength": 60}
STEP = {
    "oneOf": [
        {"type": "object", "required": ["scene"], "additionalProperties": False, "properties": {"scene": ID}},
        {
            "type": "object",
            "required": ["say"],
            "additionalProperties": False,
            "properties": {"say": {"type": "string", "minLength": 1, "maxLength": 200}},
        },
    ]
}
PHRASES = {"type": "array", "items": NAME, "maxItems": 10}
STEPS = {"type": "array", "items": STEP, "minItems": 1, "maxItems": 20}
ROUTINE_CREATE: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "steps"],
    "additionalProperties": False,
    "properties": {"id": ID, "name": NAME, "phrases": PHRASES, "steps": STEPS},
}
ROUTINE_UPDATE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {"name": NAME, "phrases": PHRASES, "steps": STEPS},
}
ROUTINE_VIEW = {
    "type": "object",
    "required": ["id", "name", "phrases", "steps", "builtin"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "phrases": {"type": "array", "items": {"type": "string"}},
        "steps": {"type": "array", "items": STEP},
        "builtin": {"type": "boolean"},
    },
}
ROUTINE_ID = [{"name": "routine_id", "in": "path", "required": True, "schema": {"type": "string"}}]


def _home(request: web.Request) -> Home:
    return request.app[CORE_KEY].registry.home(principal(request).home_id)


def _check_scenes(home: Home, routine: Routine) -> None:
    for n, step in enumerate(routine.steps):
        if step.scene is not None and step.scene not in home.scenes:
            raise HearthError(
                ErrorCode.VALIDATION,
                f"steps.{n}.scene: there is no scene called {step.scene!r}.",
                {"field": f"steps.{n}.scene"},
            )


def routes(book: RoutineBook) -> Any:
    """The route adder the core calls with the application."""

    async def list_routines(request: web.Request) -> web.Response:
        home = _home(request)
        return json_ok({"routines": [r.to_dict() for r in book.all(home.id)]})

    async def create_routine(request: web.Request) -> web.Response:
        body = await read_json(request, ROUTINE_CREATE)
        home = _home(request)
        if any(r.id == body["id"] for r in book.all(home.id)):
            raise HearthError(ErrorCode.CONFLICT, f"A routine with id {body['id']!r} exists.", {"routine": body["id"]})
        routine = Routine.from_dict(body)
        _check_scenes(home, routine)
        book.check(home.id, routine)
        await request.app[CORE_KEY].store.commit(book.stage_put(home.id, routine))
        return json_ok(routine.to_dict(), status=201)

    async def get_routine(request: web.Request) -> web.Response:
        return json_ok(book.get(_home(request).id, request.match_info["routine_id"]).to_dict())

    async def update_routine(request: web.Request) -> web.Response:
        body = await read_json(request, ROUTINE_UPDATE)
        home = _home(request)
        current = book.get(home.id, request.match_info["routine_id"])
        routine = Routine.from_dict({**current.to_dict(), **body})
        _check_scenes(home, routine)
        book.check(home.id, routine)
        await request.app[CORE_KEY].store.commit(book.stage_put(home.id, routine))
        return json_ok(routine.to_dict())

    async def delete_routine(request: web.Request) -> web.Response:
        home = _home(request)
        routine = book.get(home.id, request.match_info["routine_id"])
        await request.app[CORE_KEY].store.commit(book.stage_delete(home.id, routine.id))
        return web.Response(status=204)

    def add(app: web.Application) -> None:
        app.router.add_get("/api/v1/routines", list_routines)
        app.router.add_post("/api/v1/routines", create_routine)
        app.router.add_get("/api/v1/routines/{routine_id}", get_routine)
        app.router.add_patch("/api/v1/routines/{routine_id}", update_routine)
        app.router.add_delete("/api/v1/routines/{routine_id}", delete_routine)
        created = operation(
            "Add a routine: phrases that start it and its steps",
            json_response(ROUTINE_VIEW, "Created"),
            ROUTINE_CREATE,
            status="201",
        )
        deleted = operation(
            "Delete a routine (a built-in one too)", {"description": "Deleted"}, params=ROUTINE_ID, status="204"
        )
        register_paths(
            app,
            {
                "/api/v1/routines": {
                    "get": operation("List the home's routines", json_response({"type": "object"})),
                    "post": created,
                },
                "/api/v1/routines/{routine_id}": {
                    "get": operation("One routine", json_response(ROUTINE_VIEW), params=ROUTINE_ID),
                    "patch": operation(
                        "Change a routine's name, phrases or steps",
                        json_response(ROUTINE_VIEW),
                        ROUTINE_UPDATE,
                        params=ROUTINE_ID,
                    ),
                    "delete": deleted,
                },
            },
        )

    return add
