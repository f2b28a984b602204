"""The routines of every home: built-in ones overlaid with each home's own (changed, added, deleted), in SQLite."""

from __future__ import annotations

import json
import time

from assistant import journal
from assistant.errors import ErrorCode, HearthError
from assistant.registry import WriteOp
from assistant.store import Change, Store, dumps
from services.routines.model import BUILTIN, Routine

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "routines: each home's own and changed routines; deleted built-ins are kept as tombstones",
        """
        CREATE TABLE routines (
            home_id TEXT NOT NULL,
            id TEXT NOT NULL,
            routine TEXT,
            deleted INTEGER NOT NULL DEFAULT 0,
            updated_at REAL NOT NULL,
            PRIMARY KEY (home_id, id)
        );
        """,
    ),
]


class RoutineBook:
    """Each home's routines and the index of their phrases; the store is the truth, memory follows commits."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._own: dict[str, dict[str, Routine | None]] = {}  # home -> id -> routine (None: a deleted built-in)
        self._cache: dict[str, tuple[dict[str, Routine], dict[str, str], frozenset[str]]] = {}

    def load(self) -> None:
        self._own.clear()
        self._cache.clear()
        for row in self.store.query("SELECT home_id, id, routine, deleted FROM routines"):
            own = self._own.setdefault(row["home_id"], {})
            own[row["id"]] = None if row["deleted"] else Routine.from_dict(json.loads(row["routine"]))

    def _view(self, home_id: str) -> tuple[dict[str, Routine], dict[str, str], frozenset[str]]:
        cached = self._cache.get(home_id)
        if cached is None:
            routines = {r.id: r for r in BUILTIN}
            for routine_id, routine in self._own.get(home_id, {}).items():
                if routine is None:
                    routines.pop(routine_id, None)
                else:
                    routines[routine_id] = routine
            phrases = {key: r.id for r in routines.values() for key in r.keys}
            firsts = frozenset(key.split(" ", 1)[0] for key in phrases)
            cached = self._cache[home_id] = (routines, phrases, firsts)
        return cached

    def all(self, home_id: str) -> list[Routine]:
        return list(self._view(home_id)[0].values())

    def get(self, home_id: str, routine_id: str) -> Routine:
        found = self._view(home_id)[0].get(routine_id)
        if found is None:
            raise HearthError(
                ErrorCode.NOT_FOUND, f"There is no routine called {routine_id!r}.", {"routine": routine_id}
            )
        return found

    def first_words(self, home_id: str) -> frozenset[str]:
        """The first words of every phrase (a cheap test before a phrase is normalised)."""
        return self._view(home_id)[2]

    def by_phrase(self, home_id: str, key: str) -> Routine | None:
        routines, phrases, _ = self._view(home_id)
        routine_id = phrases.get(key)
        return routines[routine_id] if routine_id is not None else None

    def check(self, home_id: str, routine: Routine) -> None:
        """Refuse a routine whose phrases another routine already answers to."""
        if not routine.keys:
            raise HearthError(ErrorCode.VALIDATION, "A routine needs a name or phrase made of words.")
        _, phrases, _ = self._view(home_id)
        for key in sorted(routine.keys):
            owner = phrases.get(key)
            if owner is not None and owner != routine.id:
                raise HearthError(
                    ErrorCode.CONFLICT,
                    f"The routine {owner!r} already answers to {key!r}.",
                    {"routine": owner, "phrase": key},
                )

    def put_op(self, home_id: str, routine: Routine) -> WriteOp:
        row = (home_id, routine.id, dumps(routine.to_dict() | {"builtin": False}), time.time())
        return lambda c: c.execute(
            "INSERT INTO routines VALUES (?, ?, ?, 0, ?) ON CONFLICT (home_id, id) DO UPDATE SET "
            "routine = excluded.routine, deleted = 0, updated_at = excluded.updated_at",
            row,
        )

    def delete_op(self, home_id: str, routine_id: str) -> WriteOp:
        row = (home_id, routine_id, time.time())
        return lambda c: c.execute(
            "INSERT INTO routines VALUES (?, ?, NULL, 1, ?) ON CONFLICT (home_id, id) DO UPDATE SET "
            "routine = NULL, deleted = 1, updated_at = excluded.updated_at",
            row,
        )

    def stage_put(self, home_id: str, routine: Routine) -> Change:
        """The write, and the memory update that follows its commit (noted in the turn's journal, for undo)."""
        old = self._view(home_id)[0].get(routine.id)
        journal.note("routine", routine.id, old.to_dict() if old else None, routine.to_dict())
        return Change([self.put_op(home_id, routine)]).then(lambda: self.committed_put(home_id, routine))

    def stage_delete(self, home_id: str, routine_id: str) -> Change:
        old = self._view(home_id)[0].get(routine_id)
        if old is not None:
            journal.note("routine", routine_id, old.to_dict(), None)
        return Change([self.delete_op(home_id, routine_id)]).then(lambda: self.committed_delete(home_id, routine_id))

    def committed_put(self, home_id: str, routine: Routine) -> None:
        """After the commit: memory follows."""
        self._own.setdefault(home_id, {})[routine.id] = routine
        self._cache.pop(home_id, None)

    def committed_delete(self, home_id: str, routine_id: str) -> None:
        self._own.setdefault(home_id, {})[routine_id] = None
        self._cache.pop(home_id, None)
