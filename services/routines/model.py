"""A routine: a name, the phrases that start it, and its steps (a scene, or a sentence said as a command)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

WORD = re.compile(r"[a-z0-9]+")
ARTICLES = frozenset({"a", "an", "the"})
LEADING = frozenset({"hey", "ok", "okay", "hearth", "well", "so"})  # polite or wake words before a phrase
TRAILING = frozenset({"please", "hearth", "now", "then"})


# Who says it does not change the routine: "I'm off to bed" and "we're off to bed" are one phrase.
SUBJECTS = {"im": "i", "were": "i", "we": "i", "ive": "i", "weve": "i"}
_SUBJECT_BE = {("i", "am"): "i", ("we", "are"): "i", ("i", "have"): "i", ("we", "have"): "i"}


def subject_word(word: str) -> str:
    """The form a first word takes in a phrase key ("we're" and "i'm" are both "i")."""
    return SUBJECTS.get(word, word)


def _same_speaker(words: list[str]) -> list[str]:
    out: list[str] = []
    for w in words:
        if out and (out[-1], w) in _SUBJECT_BE:
            out[-1] = _SUBJECT_BE[(out[-1], w)]
            continue
        out.append(w)
    return [subject_word(w) for w in out]


def phrase_key(text: str) -> str:
    """How a phrase is compared: lowercase words, no punctuation or articles, polite fillers dropped, the speaker
    ("I", "we") made one."""
    words = [w for w in WORD.findall(text.lower().replace("'", "").replace("\u2019", "")) if w not in ARTICLES]
    words = _same_speaker(words)
    start, end = 0, len(words)
    while start < end and words[start] in LEADING:
        start += 1
    while end > start and words[end - 1] in TRAILING:
        end -= 1
    return " ".join(words[start:end])


@dataclass(frozen=True, slots=True)
class Step:
    """One step: activate a scene (by id), or say a command as if the user said it."""

    scene: str | None = None
    say: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Step:
        return cls(scene=data.get("scene"), say=data.get("say"))

    def to_dict(self) -> dict[str, Any]:
        return {"scene": self.scene} if self.scene is not None else {"say": self.say}


@dataclass(frozen=True, slots=True)
class Routine:
    """A routine of one home; `builtin` ones come with Hearth and can be changed or deleted like any other."""

    id: str
    name: str
    phrases: tuple[str, ...]
    steps: tuple[Step, ...]
    builtin: bool = False
    keys: frozenset[str] = field(default=frozenset(), compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", frozenset(k for k in (phrase_key(p) for p in (self.name, *self.phrases)) if k))

    @classmethod
    def from_dict(cls, data: dict[str, Any], builtin: bool = False) -> Routine:
        return cls(
            id=str(data["id"]),
            name=" ".join(str(data["name"]).split()),
            phrases=tuple(" ".join(str(p).split()) for p in data.get("phrases") or ()),
            steps=tuple(Step.from_dict(s) for s in data.get("steps") or ()),
            builtin=builtin,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "phrases": list(self.phrases),
            "steps": [s.to_dict() for s in self.steps],
            "builtin": self.builtin,
        }


# Routines every home starts with. Steps are sentences, so they work in any home; a scene step that the home does
# not have is skipped.
BUILTIN: tuple[Routine, ...] = (
    Routine.from_dict({
        "id": "goodnight", "name": "goodnight",
        "phrases": ["good night", "night night", "i'm going to bed", "i'm off to bed", "time for bed"],
        "steps": [{"scene": "bedtime"}, {"say": "turn off all the lights"}, {"say": "lock all the locks"}],
    }, builtin=True),
    Routine.from_dict({
        "id": "leaving", "name": "I'm leaving",
        "phrases": ["i am leaving", "we're leaving", "i'm heading out", "i'm going out", "leaving now",
                    "i'm off", "see you later"],
        "steps": [{"say": "turn off everything"}, {"say": "lock all the locks"}],
    }, builtin=True),
    Routine.from_dict({
        "id": "home", "name": "I'm home",
        "phrases": ["i am home", "we're home", "i'm back", "we're back", "honey i'm home"],
        "steps": [{"say": "turn on the hallway light"}],
    }, builtin=True),
    Routine.from_dict({
        "id": "movie_time", "name": "movie time",
        "phrases": ["it's movie time", "let's watch a movie", "start movie time"],
        "steps": [{"scene": "movie_night"}],
    }, builtin=True),
)  # fmt: skip
