"""The Hearth exception family: typed error codes with structured payloads, turned into HTTP and speech at the edge."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Stable, typed error codes shown to API clients and mapped to speech."""

    BAD_REQUEST = "bad_request"
    INVALID_JSON = "invalid_json"
    INVALID_TEXT = "invalid_text"
    VALIDATION = "validation_error"
    BODY_TOO_LARGE = "body_too_large"
    UNSUPPORTED_MEDIA = "unsupported_media_type"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFIRMATION_REQUIRED = "confirmation_required"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    UNKNOWN_DEVICE = "unknown_device"
    UNKNOWN_AREA = "unknown_area"
    UNKNOWN_SCENE = "unknown_scene"
    UNSUPPORTED_COMMAND = "unsupported_command"
    DEVICE_UNAVAILABLE = "device_unavailable"
    DEVICE_TIMEOUT = "device_timeout"
    NOT_TRAINED = "nlu_not_trained"
    NLU_UNAVAILABLE = "nlu_unavailable"
    NOT_BUILT = "not_built_yet"
    CONFIG = "config_error"
    BAD_AUDIO = "bad_audio"
    BUSY = "busy"
    QUESTION_CLOSED = "question_closed"
    INTERNAL = "internal_error"


_HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.INVALID_JSON: 400,
    ErrorCode.INVALID_TEXT: 400,
    ErrorCode.VALIDATION: 422,
    ErrorCode.BODY_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA: 415,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFIRMATION_REQUIRED: 409,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.CONFLICT: 409,
    ErrorCode.UNKNOWN_DEVICE: 404,
    ErrorCode.UNKNOWN_AREA: 404,
    ErrorCode.UNKNOWN_SCENE: 404,
    ErrorCode.UNSUPPORTED_COMMAND: 422,
    ErrorCode.DEVICE_UNAVAILABLE: 503,
    ErrorCode.DEVICE_TIMEOUT: 504,
    ErrorCode.NOT_TRAINED: 503,
    ErrorCode.NLU_UNAVAILABLE: 503,
    ErrorCode.NOT_BUILT: 501,
    ErrorCode.CONFIG: 500,
    ErrorCode.BAD_AUDIO: 422,
    ErrorCode.BUSY: 503,
    ErrorCode.QUESTION_CLOSED: 409,
    ErrorCode.INTERNAL: 500,
}


@dataclass
class HearthError(Exception):
    """Base of every error Hearth raises on purpose; `details` is structured, never a traceback."""

    code: ErrorCode
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS.get(self.code, 400)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": str(self.code), "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}


class ConfigError(HearthError):
    """Configuration that cannot be used; raised once, at start."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(ErrorCode.CONFIG, message, details)


class DeviceError(HearthError):
    """A device could not be found, reached or commanded."""


class NluError(HearthError):
    """The NLU engine cannot answer (for example: no trained model)."""
