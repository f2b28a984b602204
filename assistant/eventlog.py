"""The append-only event log: commands and state changes, per home, readable in order."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
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


def append_op(home_id: str, type_: str, data: dict[str, Any]) -> Callable[[sqlite3.Connection], int]:
    """A write op that appends one event; it returns the new event id."""
    ts = time.time()
    payload = dumps(data)

    def op(conn: sqlite3.Connection) -> int:
        cur = conn.execute(
            "INSERT INTO events (home_id, ts, type, data) VALUES (?, ?, ?, ?)",
            (home_id, ts, type_, payload),
        )
        return int(cur.lastrowid or 0)

    return op


class EventLog:
    """Reads of the event log."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def list(self, home_id: str, after: int = 0, limit: int = 100, type_: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT id, ts, type, data FROM events WHERE home_id = ? AND id > ?"
        params: list[Any] = [home_id, after]
        if type_:
            sql += " AND type = ?"
            params.append(type_)
        sql += " ORDER BY id LIMIT ?"
        params.append(limit)
        rows = self.store.query(sql, params)
        for row in rows:
            row["data"] = json.loads(row["data"])
        return rows
