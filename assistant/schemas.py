"""JSON schemas of request bodies, used to validate requests and to write the OpenAPI document."""

from __future__ import annotations

from typing import Any

from assistant.devices import Capability, CommandName, DeviceKind

ID = {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,64}$"}
TEXT = {"type": "string", "minLength": 1, "maxLength": 1000}

CONVERSATION_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["text"],
    "additionalProperties": False,
    "properties": {
        "text": TEXT,
        "conversation_id": ID,
        "area": {"anyOf": [ID, {"type": "null"}]},
        "language": {"type": "string", "enum": ["en"]},
        "reply_to": {"anyOf": [ID, {"type": "null"}]},
    },
}

PARSE_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["text"],
    "additionalProperties": False,
    "properties": {"text": {"type": "string", "maxLength": 1000}},
}

COMMAND_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "enum": [str(c) for c in CommandName]},
        "params": {"type": "object", "maxProperties": 10},
        "confirm": {
            "type": "boolean",
            "description": "true when the user has confirmed a command that lets people in (unlock; opening a "
            "garage door, gate or door); without it such a command gets 409 confirmation_required",
        },
    },
}

NAME = {"type": "string", "minLength": 1, "maxLength": 60}
DEVICE_CREATE: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "kind"],
    "additionalProperties": False,
    "properties": {
        "id": ID,
        "name": NAME,
        "kind": {"type": "string", "enum": [str(k) for k in DeviceKind]},
        "area": {"anyOf": [ID, {"type": "null"}]},
        "capabilities": {
            "type": "array",
            "items": {"type": "string", "enum": [str(c) for c in Capability]},
        },
        "aliases": {"type": "array", "items": NAME, "maxItems": 10},
        "adapter": {"type": "string", "enum": ["virtual"]},
    },
}

DEVICE_UPDATE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "name": NAME,
        "area": {"anyOf": [ID, {"type": "null"}]},
        "aliases": {"type": "array", "items": NAME, "maxItems": 10},
    },
}

STATE = {
    "type": "object",
    "properties": {
        "on": {"type": "boolean"},
        "brightness": {"type": "integer"},
        "color": {"type": "string"},
        "color_temp": {"type": "integer"},
        "target_temperature": {"type": "number"},
        "current_temperature": {"type": "number"},
        "humidity": {"type": "number"},
        "locked": {"type": "boolean"},
        "position": {"type": "integer"},
        "motion": {"type": "boolean"},
    },
}

DEVICE_VIEW = {
    "type": "object",
    "required": ["id", "name", "kind", "capabilities", "state", "available"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "kind": {"type": "string", "enum": [str(k) for k in DeviceKind]},
        "area": {"type": ["string", "null"]},
        "area_name": {"type": "string"},
        "capabilities": {"type": "array", "items": {"type": "string"}},
        "adapter": {"type": "string"},
        "aliases": {"type": "array", "items": {"type": "string"}},
        "address": {"type": "string"},
        "state": STATE,
        "available": {"type": "boolean"},
    },
}

ACTION = {
    "type": "object",
    "properties": {
        "device_id": {"type": "string"},
        "command": {"type": "object"},
        "before": STATE,
        "after": STATE,
    },
}

REPLY = {
    "type": "object",
    "required": ["speech", "kind", "expects_answer"],
    "properties": {
        "speech": {"type": "string"},
        "kind": {"type": "string"},
        "card": {"type": ["object", "null"]},
        "actions": {"type": "array", "items": ACTION},
        "expects_answer": {"type": "boolean"},
        "intent": {"type": ["string", "null"]},
        "conversation_id": {"type": "string"},
        "error_code": {"type": ["string", "null"]},
        "question_id": {"type": ["string", "null"]},
    },
}

NLU_RESULT = {
    "type": "object",
    "required": ["text", "intent", "entities", "intent_ranking"],
    "properties": {
        "text": {"type": "string"},
        "intent": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "confidence": {"type": "number"}},
        },
        "entities": {"type": "array", "items": {"type": "object"}},
        "intent_ranking": {"type": "array", "items": {"type": "object"}},
    },
}

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
        }
    },
}

ALIASES = {"type": "array", "items": NAME, "maxItems": 10}
FLOOR_REF = {"anyOf": [ID, {"type": "null"}]}

FLOOR_CREATE: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name"],
    "additionalProperties": False,
    "properties": {"id": ID, "name": NAME, "aliases": ALIASES},
}

FLOOR_UPDATE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {"name": NAME, "aliases": ALIASES},
}

AREA_CREATE: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name"],
    "additionalProperties": False,
    "properties": {"id": ID, "name": NAME, "aliases": ALIASES, "floor": FLOOR_REF},
}

AREA_UPDATE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {"name": NAME, "aliases": ALIASES, "floor": FLOOR_REF},
}

SCENE_STATES = {
    "type": "object",
    "minProperties": 1,
    "maxProperties": 200,
    "propertyNames": {"pattern": "^[A-Za-z0-9_.:-]{1,64}$"},
    "additionalProperties": {**STATE, "additionalProperties": False, "minProperties": 1},
}

SCENE_CREATE: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "states"],
    "additionalProperties": False,
    "properties": {"id": ID, "name": NAME, "states": SCENE_STATES},
}

SCENE_UPDATE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {"name": NAME, "states": SCENE_STATES},
}

FLOOR_VIEW = {
    "type": "object",
    "required": ["id", "name", "aliases"],
    "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "aliases": {"type": "array"}},
}
AREA_VIEW = {
    "type": "object",
    "required": ["id", "name", "aliases", "floor"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "aliases": {"type": "array", "items": {"type": "string"}},
        "floor": {"type": ["string", "null"]},
    },
}
SCENE_VIEW = {
    "type": "object",
    "required": ["id", "name", "states"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "states": {"type": "object", "additionalProperties": STATE},
    },
}
