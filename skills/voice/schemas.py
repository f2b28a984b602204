"""JSON schemas of the voice endpoints' messages and their OpenAPI paths."""

from __future__ import annotations

from typing import Any

from assistant import schemas

AREA = {"anyOf": [schemas.ID, {"type": "null"}]}
RATE = {"type": "integer", "minimum": 8000, "maximum": 48000}
CHANNELS = {"type": "integer", "minimum": 1, "maximum": 2}

VOICE_JSON_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["audio_base64"],
    "additionalProperties": False,
    "properties": {
        "audio_base64": {"type": "string", "minLength": 1},
        "content_type": {"type": "string", "maxLength": 100},
        "rate": RATE,
        "channels": CHANNELS,
        "conversation_id": schemas.ID,
        "area": AREA,
        "speak": {"type": "boolean"},
    },
}

STREAM_START: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "conversation_id": schemas.ID,
        "area": AREA,
        "rate": RATE,
        "channels": CHANNELS,
        "speak": {"type": "boolean"},
        "silence_s": {"type": "number", "minimum": 0.1, "maximum": 3.0},
        "continuous": {"type": "boolean"},
    },
}

TIMINGS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "audio_s": {"type": "number"},
        "stt_ms": {"type": "number"},
        "turn_ms": {"type": "number"},
        "command_ms": {"type": "number"},
        "tts_first_ms": {"type": ["number", "null"]},
        "first_audio_ms": {"type": ["number", "null"]},
        "tts_ms": {"type": ["number", "null"]},
        "speculative": {"type": "boolean"},
        "end_reason": {
            "type": "string",
            "description": "streams: what ended the utterance (vad, understood, limit, client); empty for uploads",
        },
    },
}

SPEECH_EVIDENCE: dict[str, Any] = {
    "type": ["object", "null"],
    "description": "How sure recognition was of the chosen reading, and the other readings it heard (null when "
    "nothing was heard or the n-best choice is off)",
    "properties": {
        "confidence": {"type": "number", "description": "share of the readings that mean what the chosen one means"},
        "alternatives": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"text": {"type": "string"}, "intent": {"type": "string"}, "share": {"type": "number"}},
            },
        },
        "unsure_words": {"type": "array", "items": {"type": "string"}},
    },
}

VOICE_RESPONSE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "transcript": {"type": "string", "description": "the reading chosen from the recogniser's n-best"},
        "speech": SPEECH_EVIDENCE,
        "conversation_id": {"type": "string"},
        "reply": {"$ref": "#/components/schemas/Reply"},
        "nlu": {"anyOf": [{"$ref": "#/components/schemas/NluResult"}, {"type": "null"}]},
        "audio_base64": {"type": ["string", "null"], "description": "WAV of the spoken reply"},
        "content_type": {"type": "string", "enum": ["audio/wav"]},
        "timings": TIMINGS,
    },
}

_ERROR = {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_OBJECT = {"type": "object"}
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_QUERY = [
    {"name": "conversation_id", "in": "query", "schema": schemas.ID},
    {"name": "area", "in": "query", "schema": schemas.ID},
    {"name": "rate", "in": "query", "schema": RATE, "description": "sample rate of raw PCM (default 16000)"},
    {"name": "channels", "in": "query", "schema": CHANNELS, "description": "channels of raw PCM (default 1)"},
    {"name": "speak", "in": "query", "schema": {"type": "boolean"}, "description": "synthesize the reply (default)"},
]

OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/voice": {
        "get": {
            "summary": "Whether voice is enabled, which engines serve it, and the speech queue",
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": _OBJECT}}}},
        },
        "post": {
            "summary": "One spoken turn: audio in (WAV, or raw 16-bit PCM), transcript, reply and reply audio out",
            "parameters": _QUERY,
            "requestBody": {
                "required": True,
                "content": {
                    "audio/wav": _BINARY,
                    "application/octet-stream": _BINARY,
                    "audio/L16": _BINARY,
                    "application/json": {"schema": VOICE_JSON_REQUEST},
                },
            },
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": VOICE_RESPONSE}}},
                "4XX": _ERROR,
                "501": _ERROR,
            },
        },
    },
    "/api/v1/voice/stream": {
        "get": {
            "summary": "WebSocket: stream microphone PCM; VAD finds the end of speech; the reply comes back as events "
            "and binary audio (authenticate with the Authorization header or a first auth message)",
            "responses": {"101": {"description": "Switching Protocols"}, "4XX": _ERROR, "501": _ERROR},
        }
    },
}
