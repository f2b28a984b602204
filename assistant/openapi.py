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


def json_response(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def operation(
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
    "/api/v1/health": {"get": operation("Liveness", json_response({"type": "object"}), public=True)},
    "/api/v1/openapi.json": {"get": operation("This document", json_response({"type": "object"}), public=True)},
    "/api/v1/conversation": {
        "post": operation(
            "One conversation turn",
            json_response(
                {
                    "type": "object",
                    "properties": {"conversation_id": {"type": "string"}, "reply": REF["reply"], "nlu": REF["nlu"]},
                }
            ),
            schemas.CONVERSATION_REQUEST,
        )
    },
    "/api/v1/nlu/parse": {
        "post": operation("Parse text (Rasa /model/parse shape)", json_response(REF["nlu"]), schemas.PARSE_REQUEST)
    },
    "/api/v1/devices": {
        "get": operation(
            "List devices",
            json_response({"type": "object", "properties": {"devices": {"type": "array", "items": REF["device"]}}}),
        ),
        "post": operation(
            "Add a (virtual) device", json_response(REF["device"], "Created"), schemas.DEVICE_CREATE, status="201"
        ),
    },
    "/api/v1/devices/{device_id}": {
        "get": operation("One device", json_response(REF["device"]), params=DEVICE_ID),
        "patch": operation(
            "Rename or move a device", json_response(REF["device"]), schemas.DEVICE_UPDATE, params=DEVICE_ID
        ),
    },
    "/api/v1/devices/{device_id}/command": {
        "post": operation(
            "Command a device",
            json_response({"type": "object", "properties": {"device": REF["device"], "action": schemas.ACTION}}),
            schemas.COMMAND_REQUEST,
            params=DEVICE_ID,
        )
    },
    "/api/v1/areas": {"get": operation("List areas", json_response({"type": "object"}))},
    "/api/v1/scenes": {"get": operation("List scenes", json_response({"type": "object"}))},
    "/api/v1/events": {
        "get": operation(
            "Read the event log",
            json_response({"type": "object"}),
            params=[
                {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                {"name": "type", "in": "query", "schema": {"type": "string"}},
                {"name": "order", "in": "query", "schema": {"type": "string", "enum": ["asc", "desc"]}},
            ],
        )
    },
    "/api/v1/ws": {
        "get": operation(
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
