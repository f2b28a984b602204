"""The home's structure over HTTP: create, update and delete floors, areas and scenes (validated, home-isolated)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aiohttp import web

from assistant import schemas
from assistant.control import validate_state
from assistant.core import Core
from assistant.devices import DeviceState
from assistant.errors import ErrorCode, HearthError
from assistant.eventlog import EventType, append_op
from assistant.http import CORE_KEY, json_ok, principal, read_json
from assistant.openapi import json_response, operation, register_paths
from assistant.registry import Area, Floor, Home, Scene, keep_old_name


def _home(request: web.Request) -> tuple[Core, Home]:
    core = request.app[CORE_KEY]
    return core, core.registry.home(principal(request).home_id)


def _who(request: web.Request) -> dict[str, str]:
    """Who made a change through the API, for the event log."""
    return {"user_id": principal(request).user_id, "channel": "api"}


def _clean(name: str) -> str:
    return " ".join(name.split())


def _aliases(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_clean(v) for v in values if v.strip()))


def _floor(home: Home, floor_id: str) -> Floor:
    if floor_id not in home.floors:
        raise HearthError(ErrorCode.NOT_FOUND, f"There is no floor called {floor_id!r}.", {"floor": floor_id})
    return home.floors[floor_id]


def _area(home: Home, area_id: str) -> Area:
    if area_id not in home.areas:
        raise HearthError(ErrorCode.UNKNOWN_AREA, f"There is no area called {area_id!r}.", {"area": area_id})
    return home.areas[area_id]


def _scene(home: Home, scene_id: str) -> Scene:
    if scene_id not in home.scenes:
        raise HearthError(ErrorCode.UNKNOWN_SCENE, f"There is no scene called {scene_id!r}.", {"scene": scene_id})
    return home.scenes[scene_id]


def _check_floor_ref(home: Home, floor_id: str | None) -> None:
    if floor_id is not None and floor_id not in home.floors:
        raise HearthError(ErrorCode.VALIDATION, f"floor: there is no floor called {floor_id!r}.", {"field": "floor"})


def scene_states(home: Home, raw: dict[str, dict[str, Any]]) -> dict[str, DeviceState]:
    """A scene's states, checked: every device exists in this home and every value is within its limits."""
    out: dict[str, DeviceState] = {}
    for device_id, values in raw.items():
        if device_id not in home.devices:
            raise HearthError(
                ErrorCode.VALIDATION,
                f"states: there is no device called {device_id!r}.",
                {"field": f"states.{device_id}"},
            )
        try:
            out[device_id] = DeviceState.from_dict(validate_state(home.devices[device_id].device, values))
        except HearthError as err:  # name the scene's field
            where = f"states.{device_id}"
            raise HearthError(err.code, f"{where}: {err.message}", {"field": where}) from None
    return out


async def list_floors(request: web.Request) -> web.Response:
    _, home = _home(request)
    return json_ok({"floors": [f.to_dict() for f in home.floors.values()]})


async def create_floor(request: web.Request) -> web.Response:
    body = await read_json(request, schemas.FLOOR_CREATE)
    core, home = _home(request)
    if body["id"] in home.floors:
        raise HearthError(ErrorCode.CONFLICT, f"A floor with id {body['id']!r} exists.", {"floor": body["id"]})
    floor = Floor(body["id"], _clean(body["name"]), _aliases(body.get("aliases", [])))
    change = core.registry.put_floor(home, floor)
    change.write(append_op(home.id, EventType.FLOOR_UPDATED, {**_who(request), "created": True, **floor.to_dict()}))
    await core.store.commit(core.control.log_live(home, change))
    return json_ok(floor.to_dict(), status=201)


async def update_floor(request: web.Request) -> web.Response:
    body = await read_json(request, schemas.FLOOR_UPDATE)
    core, home = _home(request)
    floor = _floor(home, request.match_info["floor_id"])
    updated = replace(
        floor,
        name=_clean(body.get("name", floor.name)),
        aliases=_aliases(body["aliases"]) if "aliases" in body else floor.aliases,
    )
    change = core.registry.put_floor(home, updated)
    change.write(append_op(home.id, EventType.FLOOR_UPDATED, {**_who(request), **updated.to_dict()}))
    await core.store.commit(core.control.log_live(home, change))
    return json_ok(updated.to_dict())


async def delete_floor(request: web.Request) -> web.Response:
    core, home = _home(request)
    floor = _floor(home, request.match_info["floor_id"])
    change = core.registry.delete_floor(home, floor.id)
    change.write(append_op(home.id, EventType.FLOOR_UPDATED, {**_who(request), "id": floor.id, "deleted": True}))
    await core.store.commit(core.control.log_live(home, change))
    return web.Response(status=204)


async def create_area(request: web.Request) -> web.Response:
    body = await read_json(request, schemas.AREA_CREATE)
    core, home = _home(request)
    if body["id"] in home.areas:
        raise HearthError(ErrorCode.CONFLICT, f"An area with id {body['id']!r} exists.", {"area": body["id"]})
    _check_floor_ref(home, body.get("floor"))
    area = Area(body["id"], _clean(body["name"]), _aliases(body.get("aliases", [])), body.get("floor"))
    change = core.registry.put_area(home, area)
    change.write(append_op(home.id, EventType.AREA_UPDATED, {**_who(request), "created": True, **area.to_dict()}))
    await core.store.commit(core.control.log_live(home, change))
    return json_ok(area.to_dict(), status=201)


async def get_area(request: web.Request) -> web.Response:
    _, home = _home(request)
    return json_ok(_area(home, request.match_info["area_id"]).to_dict())


async def update_area(request: web.Request) -> web.Response:
    body = await read_json(request, schemas.AREA_UPDATE)
    core, home = _home(request)
    area = _area(home, request.match_info["area_id"])
    if "floor" in body:
        _check_floor_ref(home, body["floor"])
    updated = replace(
        area,
        name=_clean(body.get("name", area.name)),
        aliases=_aliases(body["aliases"]) if "aliases" in body else area.aliases,
        floor=body["floor"] if "floor" in body else area.floor,
    )
    if "name" in body and "aliases" not in body and updated.name.lower() != area.name.lower():
        updated.aliases = keep_old_name(area.name, area.aliases, updated.name)
    change = core.registry.put_area(home, updated)
    change.write(append_op(home.id, EventType.AREA_UPDATED, {**_who(request), **updated.to_dict()}))
    await core.store.commit(core.control.log_live(home, change))
    return json_ok(updated.to_dict())


async def delete_area(request: web.Request) -> web.Response:
    core, home = _home(request)
    area = _area(home, request.match_info["area_id"])
    inside = home.find(area=area.id)
    if inside:
        raise HearthError(
            ErrorCode.CONFLICT,
            f"The {area.name} still has {len(inside)} device{'s' if len(inside) != 1 else ''}; move them first.",
            {"area": area.id, "devices": [d.id for d in inside[:20]]},
        )
    change = core.registry.delete_area(home, area.id)
    change.write(append_op(home.id, EventType.AREA_UPDATED, {**_who(request), "id": area.id, "deleted": True}))
    await core.store.commit(core.control.log_live(home, change))
    return web.Response(status=204)


async def create_scene(request: web.Request) -> web.Response:
    body = await read_json(request, schemas.SCENE_CREATE)
    core, home = _home(request)
    if body["id"] in home.scenes:
        raise HearthError(ErrorCode.CONFLICT, f"A scene with id {body['id']!r} exists.", {"scene": body["id"]})
    scene = Scene(body["id"], _clean(body["name"]), scene_states(home, body["states"]))
    change = core.registry.put_scene(home, scene)
    created = {"created": True, "id": scene.id, "name": scene.name}
    change.write(append_op(home.id, EventType.SCENE_UPDATED, {**_who(request), **created}))
    await core.store.commit(core.control.log_live(home, change))
    return json_ok(scene.to_dict(), status=201)


async def get_scene(request: web.Request) -> web.Response:
    _, home = _home(request)
    return json_ok(_scene(home, request.match_info["scene_id"]).to_dict())


async def update_scene(request: web.Request) -> web.Response:
    body = await read_json(request, schemas.SCENE_UPDATE)
    core, home = _home(request)
    scene = _scene(home, request.match_info["scene_id"])
    states = scene_states(home, body["states"]) if "states" in body else scene.states
    updated = Scene(scene.id, _clean(body.get("name", scene.name)), states)
    change = core.registry.put_scene(home, updated)
    change.write(append_op(home.id, EventType.SCENE_UPDATED, {**_who(request), "id": scene.id, "name": updated.name}))
    await core.store.commit(core.control.log_live(home, change))
    return json_ok(updated.to_dict())


async def delete_scene(request: web.Request) -> web.Response:
    core, home = _home(request)
    scene = _scene(home, request.match_info["scene_id"])
    change = core.registry.delete_scene(home, scene.id)
    change.write(append_op(home.id, EventType.SCENE_UPDATED, {**_who(request), "id": scene.id, "deleted": True}))
    await core.store.commit(core.control.log_live(home, change))
    return web.Response(status=204)


def _param(name: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}]


def _deleted(summary: str, name: str) -> dict[str, Any]:
    return operation(summary, {"description": "Deleted"}, params=_param(name), status="204")


def _created(summary: str, view: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    return operation(summary, json_response(view, "Created"), body, status="201")


PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/floors": {
        "get": operation("List floors", json_response({"type": "object", "properties": {"floors": {"type": "array"}}})),
        "post": _created("Add a floor", schemas.FLOOR_VIEW, schemas.FLOOR_CREATE),
    },
    "/api/v1/floors/{floor_id}": {
        "patch": operation(
            "Rename a floor or change its aliases",
            json_response(schemas.FLOOR_VIEW),
            schemas.FLOOR_UPDATE,
            params=_param("floor_id"),
        ),
        "delete": _deleted("Delete a floor (its areas stay, on no floor)", "floor_id"),
    },
    "/api/v1/areas": {
        "get": operation("List areas", json_response({"type": "object", "properties": {"areas": {"type": "array"}}})),
        "post": _created("Add an area", schemas.AREA_VIEW, schemas.AREA_CREATE),
    },
    "/api/v1/areas/{area_id}": {
        "get": operation("One area", json_response(schemas.AREA_VIEW), params=_param("area_id")),
        "patch": operation(
            "Rename an area, change its aliases or floor (a new name keeps the old one as an alias)",
            json_response(schemas.AREA_VIEW),
            schemas.AREA_UPDATE,
            params=_param("area_id"),
        ),
        "delete": _deleted("Delete an empty area (409 while devices are in it)", "area_id"),
    },
    "/api/v1/scenes": {
        "get": operation("List scenes", json_response({"type": "object", "properties": {"scenes": {"type": "array"}}})),
        "post": _created("Add a scene: device states by device id", schemas.SCENE_VIEW, schemas.SCENE_CREATE),
    },
    "/api/v1/scenes/{scene_id}": {
        "get": operation("One scene", json_response(schemas.SCENE_VIEW), params=_param("scene_id")),
        "patch": operation(
            "Rename a scene or replace its states",
            json_response(schemas.SCENE_VIEW),
            schemas.SCENE_UPDATE,
            params=_param("scene_id"),
        ),
        "delete": _deleted("Delete a scene", "scene_id"),
    },
}


def add_routes(app: web.Application) -> None:
    """Floors, areas and scenes: create, read, update, delete (listing areas and scenes stays in server.py)."""
    app.router.add_get("/api/v1/floors", list_floors)
    app.router.add_post("/api/v1/floors", create_floor)
    app.router.add_patch("/api/v1/floors/{floor_id}", update_floor)
    app.router.add_delete("/api/v1/floors/{floor_id}", delete_floor)
    app.router.add_post("/api/v1/areas", create_area)
    app.router.add_get("/api/v1/areas/{area_id}", get_area)
    app.router.add_patch("/api/v1/areas/{area_id}", update_area)
    app.router.add_delete("/api/v1/areas/{area_id}", delete_area)
    app.router.add_post("/api/v1/scenes", create_scene)
    app.router.add_get("/api/v1/scenes/{scene_id}", get_scene)
    app.router.add_patch("/api/v1/scenes/{scene_id}", update_scene)
    app.router.add_delete("/api/v1/scenes/{scene_id}", delete_scene)
    register_paths(app, PATHS)
