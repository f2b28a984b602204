"""Routines people say ("goodnight", "I'm leaving", "movie time"): their phrases, steps, table, routes and intents.

Loaded by naming "services.routines" in the configuration's services."""

from __future__ import annotations

from assistant.core import Core
from services.routines.api import routes
from services.routines.book import MIGRATIONS, RoutineBook
from services.routines.handlers import AddRoutineStep, DefineRoutine, DeleteRoutine, DescribeRoutine, RunRoutine
from services.routines.reader import RoutineReader


def setup(core: Core) -> None:
    core.store.migrate_plugin("routines", MIGRATIONS)
    book = RoutineBook(core.store)
    book.load()
    core.extras["routines"] = book
    for handler in (RunRoutine, DefineRoutine, AddRoutineStep, DeleteRoutine, DescribeRoutine):
        core.dialogue.register(handler(book))
    core.dialogue.readers.append(RoutineReader(book))
    core.web_routes.append(routes(book))
