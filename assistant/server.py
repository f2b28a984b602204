"""The HTTP API: conversation, devices, areas, scenes, events, NLU parse, health; plus channels' routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

from aiohttp import web

from assistant import __version__, admin, home_api, schemas
from assistant.channel import Channel
from assistant.core import Core
from assistant.devices import Capability, Command, Device, DeviceKind
from assistant.errors import ErrorCode, HearthError
from assistant.eventlog import EventType, append_op
from assistant.http import (
    CORE_KEY,
    api_middleware,
    json_ok,
    json_protocol_errors,
    principal,
    read_json,
    run_turn,
)
from assistant.openapi import openapi_document
from assistant.registry import keep_old_name
from assistant.websocket import WS_HUB_KEY, WebSocketHub

LOG = logging.getLogger(__name__)

DEFAULT_CAPABILITIES: dict[DeviceKind, list[Capability]] = {
    DeviceKind.LIGHT: [Capability.ON_OFF, Capability.BRIGHTNESS],
    DeviceKind.SWITCH: [Capability.ON_OFF],
    DeviceKind.FAN: [Capability.ON_OFF],
    DeviceKind.CLIMATE: [Capability.SETPOINT, Capability.TEMPERATURE],
    DeviceKind.LOCK: [Capability.LOCK],
    DeviceKind.COVER: [Capability.POSITION],
    DeviceKind.SENSOR: [Capability.TEMPERATURE],
}


def _core(request: web.Request) -> Core:
    return request.app[CORE_KEY]


async def health(request: web.Request) -> web.Response:
    core = _core(request)
    nlu = core.nlu.health()
    adapters = {name: adapter.health() for name, adapter in core.control.adapters.items()}
    body = {"status": "ok" if core.started else "starting", "version": __version__, "nlu": nlu, "adapters": adapters}
    return json_ok(body)


async def openapi(request: web.Request) -> web.Response:
    return json_ok(openapi_document(request.app))


async def conversation(request: web.Request) -> web.Response:
    body = await read_json(request, schemas.CONVERSATION_REQUEST)
    who = principal(request)
    return json_ok(await run_turn(_core(request), who.home_id, who.user_id, body, "api"))


async def nlu_parse(request: web.Request) -> web.Response:
    body = await read_json(request, schemas.PARSE_REQUEST)
    core = _core(request)
    home = core.registry.home(principal(request).home_id)
    result = await core.nlu.parse(" ".join(body["text"].split()), home.vocabulary)
    return json_ok(result.to_dict())


async def list_devices(request: web.Request) -> web.Response:
    core = _core(request)
    home = core.registry.home(principal(request).home_id)
    return json_ok({"devices": [e.view(home.areas) for e in home.devices.values()]})


async def get_device(request: web.Request) -> web.Response:
    core = _core(request)
    home = core.registry.home(principal(request).home_id)
    return json_ok(home.entry(request.match_info["device_id"]).view(home.areas))


async def command_device(request: web.Request) -> web.Response:
    body = await read_json(request, schemas.COMMAND_REQUEST)
    core = _core(request)
    who = principal(request)
    home = core.registry.home(who.home_id)
    device_id = request.match_info["device_id"]
    home.entry(device_id)  # 404 before anything else
    action = await core.control.command(
        home,
        device_id,
        Command.from_dict(body),
        confirmed=body.get("confirm") is True,
        user_id=who.user_id,
        channel="api",
    )
    return json_ok({"device": home.entry(device_id).view(home.areas), "action": action.to_dict()})


async def create_device(request: web.Request) -> web.Response:
    body = await read_json(request, schemas.DEVICE_CREATE)
    core = _core(request)
    home = core.registry.home(principal(request).home_id)
    if body["id"] in home.devices:
        raise HearthError(ErrorCode.VALIDATION, f"A device with id {body['id']!r} exists.", {"device": body["id"]})
    kind = DeviceKind(body["kind"])
    caps = body.get("capabilities") or DEFAULT_CAPABILITIES[kind]
    device = Device(
        home.id, body["id"], " ".join(body["name"].split()), kind, body.get("area"),
        frozenset(Capability(c) for c in caps), body.get("adapter", "virtual"), tuple(body.get("aliases", ())),
        f"virtual:{body['id']}",
    )  # fmt: skip
    adapter = core.control.adapter_for(device)
    change = core.registry.put_device(device)
    who = {"user_id": principal(request).user_id, "channel": "api"}
    change.write(append_op(home.id, EventType.DEVICE_ADDED, {**device.to_dict(), **who}))
    await core.store.commit(change)
    await adapter.attach(device, home.entry(device.id).state)
    core.control.publish(home, [device.id], change.ops)
    return json_ok(home.entry(device.id).view(home.areas), status=201)


async def update_device(request: web.Request) -> web.Response:
    body = await read_json(request, schemas.DEVICE_UPDATE)
    core = _core(request)
    home = core.registry.home(principal(request).home_id)
    device = home.device(request.match_info["device_id"])
    changes: dict = {}
    if "name" in body:
        changes["name"] = " ".join(body["name"].split())
    if "area" in body:
        changes["area"] = body["area"]
    if "aliases" in body:
        changes["aliases"] = tuple(body["aliases"])
    elif "name" in body and changes["name"].lower() != device.name.lower():
        changes["aliases"] = keep_old_name(device.name, device.aliases, changes["name"])
    updated = replace(device, **changes)
    change = core.registry.put_device(updated)
    who = {"user_id": principal(request).user_id, "channel": "api"}
    change.write(append_op(home.id, EventType.DEVICE_UPDATED, {"device_id": device.id, **body, **who}))
    change.then(lambda: core.control.publish(home, [device.id], change.ops))
    if updated.name != device.name:
        change.then(lambda: core.control.renamed(updated))  # the device's own network learns the name too
    await core.store.commit(change)
    return json_ok(home.entry(device.id).view(home.areas))


async def list_areas(request: web.Request) -> web.Response:
    home = _core(request).registry.home(principal(request).home_id)
    return json_ok({"areas": [a.to_dict() for a in home.areas.values()]})


async def list_scenes(request: web.Request) -> web.Response:
    home = _core(request).registry.home(principal(request).home_id)
    return json_ok({"scenes": [s.to_dict() for s in home.scenes.values()]})


def _int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HearthError(ErrorCode.VALIDATION, f"{name} must be a whole number.", {"field": name}) from None
    if not low <= value <= high:
        raise HearthError(ErrorCode.VALIDATION, f"{name} must be between {low} and {high}.", {"field": name})
    return value


async def list_events(request: web.Request) -> web.Response:
    core = _core(request)
    after = _int_query(request, "after", 0, 0, 2**62)
    limit = _int_query(request, "limit", 100, 1, 1000)
    type_ = request.query.get("type")
    order = request.query.get("order", "asc")
    if order not in ("asc", "desc"):
        raise HearthError(ErrorCode.VALIDATION, "order must be asc or desc.", {"field": "order"})
    events = core.events.list(principal(request).home_id, after, limit, type_, newest_first=order == "desc")
    return json_ok({"events": events})


def build_server(core: Core, channels: Sequence[Channel] = ()) -> web.Application:
    """The aiohttp application around a core; the core starts and stops with it."""
    limit = max(core.config.server.max_body_bytes, core.config.server.max_audio_bytes)
    app = web.Application(middlewares=[api_middleware], client_max_size=limit)
    json_protocol_errors(app)
    app[CORE_KEY] = core
    hub = app[WS_HUB_KEY] = WebSocketHub(core)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await core.start()
        yield
        await hub.close_all()
        await core.stop()

    app.cleanup_ctx.append(lifecycle)
    # WebSockets are closed (1001) as shutdown begins, before aiohttp waits for open requests to finish.
    app.on_response_prepare.append(hub.track)
    app.on_shutdown.append(hub.close_all)
    app.router.add_get("/api/v1/health", health)
    app.router.add_get("/api/v1/openapi.json", openapi)
    app.router.add_post("/api/v1/conversation", conversation)
    app.router.add_post("/api/v1/nlu/parse", nlu_parse)
    app.router.add_get("/api/v1/devices", list_devices)
    app.router.add_post("/api/v1/devices", create_device)
    app.router.add_get("/api/v1/devices/{device_id}", get_device)
    app.router.add_patch("/api/v1/devices/{device_id}", update_device)
    app.router.add_post("/api/v1/devices/{device_id}/command", command_device)
    app.router.add_get("/api/v1/areas", list_areas)
    app.router.add_get("/api/v1/scenes", list_scenes)
    app.router.add_get("/api/v1/events", list_events)
    home_api.add_routes(app)
    for add_routes in core.web_routes:
        add_routes(app)
    app.router.add_get("/api/v1/ws", app[WS_HUB_KEY].handle)
    admin.setup(app)
    for channel in channels:
        channel.setup(app, core)
    return app
