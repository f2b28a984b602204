"""The append-only event log: commands and state changes, per home, readable in order."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from assistant.store import Store, dumps


class EventType:
    """Event names written to the log."""

    COMMAND = "command"
    STATE_CHANGED = "state_changed"
    AVAILABILITY = "availability"
    DEVICE_ADDED = "device_added"
    DEVICE_UPDATED = "device_updated"
    UNDO = "undo"
    AREA_UPDATED = "area_updated"
    FLOOR_UPDATED = "floor_updated"
    SCENE_UPDATED = "scene_updated"
    SCENE = "scene_activated"


@dataclass(slots=True)
class EventOp:
    """A write op that appends one event; once committed, `row()` is the event as `GET /api/v1/events` lists it."""

    home_id: str
    type: str
    data: dict[str, Any]
    ts: float = field(default_factory=time.time)
    id: int = 0

    def __call__(self, conn: sqlite3.Connection) -> int:
        cur = conn.execute(
            "INSERT INTO events (home_id, ts, type, data) VALUES (?, ?, ?, ?)",
            (self.home_id, self.ts, self.type, dumps(self.data)),
        )
        self.id = int(cur.lastrowid or 0)
        return self.id

    def row(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "ts": self.ts, "data": self.data}


def append_op(home_id: str, type_: str, data: dict[str, Any]) -> EventOp:
    """A write op that appends one event; it returns the new event id."""
    return EventOp(home_id, type_, data)


def committed_events(ops: Iterable[object]) -> list[dict[str, Any]]:
    """The events that these ops wrote (call after the commit), in order."""
    return [op.row() for op in ops if isinstance(op, EventOp) and op.id]


class EventLog:
    """Reads of the event log."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._names: dict[str, str] = {}

    def list(
        self,
        home_id: str,
        after: int = 0,
        limit: int = 100,
        type_: str | None = None,
        newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        sql = "SELECT id, ts, type, data FROM events WHERE home_id = ? AND id > ?"
        params: list[Any] = [home_id, after]
        if type_:
            sql += " AND type = ?"
            params.append(type_)
        sql += " ORDER BY id DESC LIMIT ?" if newest_first else " ORDER BY id LIMIT ?"
        params.append(limit)
        rows = self.store.query(sql, params)
        for row in rows:
            row["data"] = json.loads(row["data"])
        self.name_users(rows)
        return rows

    def name_users(self, rows: Iterable[dict[str, Any]]) -> None:
        """Add the user's name (`data.user`) to rows that carry a `user_id`, so readers need not look it up."""
        rows = list(rows)
        ids = {row["data"]["user_id"] for row in rows if isinstance(row["data"].get("user_id"), str)}
        missing = ids - self._names.keys()
        if missing:
            marks = ",".join("?" * len(missing))
            found = self.store.query(f"SELECT id, name FROM users WHERE id IN ({marks})", list(missing))
            self._names.update({r["id"]: r["name"] for r in found})  # names never change; the cache stays small
        for row in rows:
            name = self._names.get(row["data"].get("user_id") or "")
            if name is not None:
                row["data"]["user"] = name
