"""The change journal: registry changes made during one turn, with what was there before (for undo)."""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Any

# One list per running turn (each turn runs in its own task, so its context is its own); None outside a turn.
_JOURNAL: ContextVar[list[dict[str, Any]] | None] = ContextVar("hearth_journal", default=None)


def start() -> Token[list[dict[str, Any]] | None]:
    """Begin recording this task's registry changes."""
    return _JOURNAL.set([])


def stop(token: Token[list[dict[str, Any]] | None]) -> list[dict[str, Any]]:
    """Stop recording; the changes made since start(), oldest first."""
    changes = _JOURNAL.get() or []
    _JOURNAL.reset(token)
    return changes


def note(kind: str, thing_id: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    """Record a change to a device, area or scene (`before` None: it was created; `after` None: removed).

    The first change to a thing in a turn keeps its `before`; later ones update only `after`."""
    changes = _JOURNAL.get()
    if changes is None:
        return
    for change in changes:
        if change["kind"] == kind and change["id"] == thing_id:
            change["after"] = after
            return
    changes.append({"kind": kind, "id": thing_id, "before": before, "after": after})
