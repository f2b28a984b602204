"""Reads routine phrases ("goodnight") and routine edits said aloud ("when I say X, Y", "delete the X routine")."""

from __future__ import annotations

import re

from assistant.nlu.result import Entity, IntentScore, NluResult
from assistant.readings import UtteranceReader
from assistant.registry import Home
from services.routines.book import RoutineBook
from services.routines.model import LEADING, phrase_key, subject_word

# The verbs a command starts with: where "when I say <phrase> <command>" switches from the phrase to the command.
COMMAND_VERBS = frozenset(
    """turn switch lock unlock open close shut set dim brighten make start stop activate run play put power lower
    raise close""".split()
)
_WHEN = re.compile(r"^(?:when(?:ever)? (?:i|we) say) (?P<rest>.+)$")
_ADD = re.compile(r"^(?:add|also) (?P<command>.+?) to (?:the )?(?:routine )?(?P<name>.+?)(?: routine)?$")
_DELETE = re.compile(r"^(?:delete|remove|forget|get rid of) (?:the )?(?:routine )?(?P<name>.+?)(?: routine)?$")
_DESCRIBE = re.compile(r"^what (?:does|do) (?:the )?(?:routine )?(?P<name>.+?)(?: routine)? do$")


_FIRST = re.compile(r"[a-z0-9']+")
_EDIT_WORDS = frozenset({"when", "whenever", "add", "also", "delete", "remove", "forget", "get", "what"})


def _reading(text: str, intent: str, **values: str) -> NluResult:
    entities = [Entity(name, value, 0, len(text), text=value, extractor="routines") for name, value in values.items()]
    score = IntentScore(intent, 1.0)
    return NluResult(text, score, entities, [score])


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


class RoutineReader(UtteranceReader):
    """A dictionary probe for the phrase; a few fixed sentence shapes for editing routines by voice."""

    def __init__(self, book: RoutineBook) -> None:
        self.book = book

    def read(self, text: str, home: Home, nlu: NluResult) -> NluResult | None:
        first = _FIRST.match(text.lower())
        word = subject_word(first.group(0).replace("'", "")) if first else ""
        if word in LEADING or word in self.book.first_words(home.id):
            routine = self.book.by_phrase(home.id, phrase_key(text))
            if routine is not None:
                return _reading(text, "run_routine", routine=routine.id)
        if word not in _EDIT_WORDS:
            return None
        said = _words(text)
        found = _WHEN.match(said)
        if found:
            words = found["rest"].replace(",", " ").split()
            cut = next((k for k, w in enumerate(words) if w in COMMAND_VERBS and k > 0), None)
            if cut is None:
                return None
            phrase, command = " ".join(words[:cut]), " ".join(words[cut:])
            return _reading(text, "define_routine", routine_phrase=phrase, command=command)
        edits = ((_ADD, "add_routine_step"), (_DELETE, "delete_routine"), (_DESCRIBE, "describe_routine"))
        for pattern, intent in edits:
            found = pattern.match(said)
            if found and ("routine" in said or self.book.by_phrase(home.id, phrase_key(found["name"]))):
                values = {"routine_name": found["name"]}
                if intent == "add_routine_step":
                    values["command"] = found["command"]
                return _reading(text, intent, **values)
        return None
