"""Checks at the boundary: JSON decoding with typed errors, and text that must be valid Unicode."""

from __future__ import annotations

from typing import Any

import orjson

from assistant.errors import ErrorCode, HearthError

MAX_DEPTH = 64  # deeper JSON than this is refused (orjson itself stops at 1024)


def is_valid_text(value: str) -> bool:
    """True when the string is valid Unicode (no lone surrogates), so it can be stored, logged and sent."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text(value: str, where: str = "text") -> str:
    """The string itself, or a typed 400 `invalid_text` when it is not valid Unicode."""
    if not is_valid_text(value):
        raise HearthError(
            ErrorCode.INVALID_TEXT,
            f"{where} is not valid Unicode text (it contains a lone surrogate).",
            {"field": where},
        )
    return value


def decode_json(raw: bytes | str, what: str = "The body") -> Any:
    """Decode JSON strictly: UTF-8 only, no lone surrogates, no NaN, numbers that fit a double, at most MAX_DEPTH
    levels deep. Every failure is a typed 400 (`invalid_text` for escaped lone surrogates, `invalid_json` otherwise)."""
    if isinstance(raw, str):
        if not is_valid_text(raw):
            raise HearthError(ErrorCode.INVALID_TEXT, f"{what} is not valid Unicode text.")
        raw = raw.encode("utf-8")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        reason = str(exc.msg) if hasattr(exc, "msg") else str(exc)
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise HearthError(ErrorCode.INVALID_JSON, f"{what} is not UTF-8 text.") from None
        if "surrogate" in reason:  # an escaped lone surrogate such as "\udfff"
            raise HearthError(ErrorCode.INVALID_TEXT, f"{what} is not valid Unicode text: {reason}.") from None
        if "depth" in reason:
            raise HearthError(ErrorCode.INVALID_JSON, f"{what} is nested too deeply.") from None
        raise HearthError(ErrorCode.INVALID_JSON, f"{what} is not valid JSON: {reason}.") from None
    if _depth(data) > MAX_DEPTH:
        raise HearthError(ErrorCode.INVALID_JSON, f"{what} is nested too deeply (at most {MAX_DEPTH} levels).")
    return data


def _depth(value: Any) -> int:
    """How deeply containers nest (iterative: never recurses, whatever the input)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            items: Any = item.values()
        elif isinstance(item, list):
            items = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in items)
    return deepest
