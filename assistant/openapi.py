"""The OpenAPI 3.1 document, generated from the live routes and the request/response schemas."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from assistant import __version__, schemas

OPENAPI_PATHS_KEY: web.AppKey[dict[str, dict[str, Any]]] = web.AppKey("openapi_paths", dict)

_ERR = {
    "description": "Error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _op(
    summary: str,
    response: dict[str, Any],
    body: dict[str, Any] | None = None,
    public: bool = False,
    params: list[dict[str, Any]] | None = None,
    status: str = "200",
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {status: response, "4XX": _ERR}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if public:
        op["security"] = []
    if params:
        op["parameters"] = params
    return op


DEVICE_ID = [{"name": "device_id", "in": "path", "required": True, "schema": {"type": "string"}}]
REF = {
    "device": {"$ref": "#/components/schemas/DeviceView"},
    "reply": {"$ref": "#/components/schemas/Reply"},
    "nlu": {"$ref": "#/components/schemas/NluResult"},
}

CORE_PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/health": {"get": _op("Liveness", _json({"type": "object"}), public=True)},
    "/api/v1/openapi.json": {"get": _op("This document", _json({"type": "object"}), public=True)},
    "/api/v1/conversation": {
        "post": _op(
            "One conversation turn",
            _json(
                {
                    "type": "object",
                    "properties": {"conversation_id": {"type": "string"}, "reply": REF["reply"], "nlu": REF["nlu"]},
                }
            ),
            schemas.CONVERSATION_REQUEST,
        )
    },
    "/api/v1/nlu/parse": {
        "post": _op("Parse text (Rasa /model/parse shape)", _json(REF["nlu"]), schemas.PARSE_REQUEST)
    },
    "/api/v1/devices": {
        "get": _op(
            "List devices",
            _json({"type": "object", "properties": {"devices": {"type": "array", "items": REF["device"]}}}),
        ),
        "post": _op("Add a (virtual) device", _json(REF["device"], "Created"), schemas.DEVICE_CREATE, status="201"),
    },
    "/api/v1/devices/{device_id}": {
        "get": _op("One device", _json(REF["device"]), params=DEVICE_ID),
        "patch": _op("Rename or move a device", _json(REF["device"]), schemas.DEVICE_UPDATE, params=DEVICE_ID),
    },
    "/api/v1/devices/{device_id}/command": {
        "post": _op(
            "Command a device",
            _json({"type": "object", "properties": {"device": REF["device"], "action": schemas.ACTION}}),
            schemas.COMMAND_REQUEST,
            params=DEVICE_ID,
        )
    },
    "/api/v1/areas": {"get": _op("List areas", _json({"type": "object"}))},
    "/api/v1/scenes": {"get": _op("List scenes", _json({"type": "object"}))},
    "/api/v1/events": {
        "get": _op(
            "Read the event log",
            _json({"type": "object"}),
            params=[
                {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                {"name": "type", "in": "query", "schema": {"type": "string"}},
                {"name": "order", "in": "query", "schema": {"type": "string", "enum": ["asc", "desc"]}},
            ],
        )
    },
    "/api/v1/ws": {
        "get": _op(
            "WebSocket: conversation turns and live events (authenticate with the first message)",
            {"description": "Switching Protocols"},
            public=True,
        )
    },
}


def register_paths(app: web.Application, paths: dict[str, dict[str, Any]]) -> None:
    """Channels add the routes they serve to the document."""
    if OPENAPI_PATHS_KEY not in app:
        app[OPENAPI_PATHS_KEY] = {}
    app[OPENAPI_PATHS_KEY].update(paths)


def _with_error_statuses(paths: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every operation lists the errors any request can meet: 401 unless it is public, and the other 4xx (bad JSON,
    bad text, a URL too long) in the Error shape. Plug-ins' routes get them too, whatever they declared."""
    out: dict[str, dict[str, Any]] = {}
    for path, operations in paths.items():
        out[path] = {}
        for method, op in operations.items():
            if not isinstance(op, dict) or "responses" not in op:
                out[path][method] = op
                continue
            responses = dict(op["responses"])
            if op.get("security") != []:
                responses.setdefault("401", {**_ERR, "description": "No valid bearer token"})
            responses.setdefault("4XX", _ERR)
            out[path][method] = {**op, "responses": responses}
    return out


def openapi_document(app: web.Application) -> dict[str, Any]:
    paths = dict(CORE_PATHS)
    if OPENAPI_PATHS_KEY in app:
        extra: dict[str, dict[str, Any]] = app[OPENAPI_PATHS_KEY]
        paths.update(extra)
    paths = _with_error_statuses(paths)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Hearth",
            "version": __version__,
            "description": "Local voice-first smart-home assistant",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "DeviceView": schemas.DEVICE_VIEW,
                "Reply": schemas.REPLY,
                "NluResult": schemas.NLU_RESULT,
                "Error": schemas.ERROR,
            },
        },
    }
