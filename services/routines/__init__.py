"""Routines people say ("goodnight", "I'm leaving", "movie time"): their phrases, steps, table, routes and intents.

Loaded by naming "services.routines" in the configuration's services."""

from __future__ import annotations

from typing import Any

from assistant.core import Core
from assistant.registry import Home
from assistant.store import Change
from services.routines.api import routes
from services.routines.book import MIGRATIONS, RoutineBook
from services.routines.handlers import AddRoutineStep, DefineRoutine, DeleteRoutine, DescribeRoutine, RunRoutine
from services.routines.model import Routine
from services.routines.reader import RoutineReader


def setup(core: Core) -> None:
    core.store.migrate_plugin("routines", MIGRATIONS)
    book = RoutineBook(core.store)
    book.load()
    core.extras["routines"] = book
    for handler in (RunRoutine, DefineRoutine, AddRoutineStep, DeleteRoutine, DescribeRoutine):
        core.dialogue.register(handler(book))
    core.dialogue.readers.append(RoutineReader(book))

    def revert(home: Home, change: dict[str, Any]) -> Change:
        """Undo of a routine change: put the routine back as it was, or remove the one that was created."""
        before = change.get("before")
        if before is None:
            return book.stage_delete(home.id, str(change["id"]))
        return book.stage_put(home.id, Routine.from_dict(before, builtin=bool(before.get("builtin"))))

    core.dialogue.reverters["routine"] = revert
    core.web_routes.append(routes(book))
