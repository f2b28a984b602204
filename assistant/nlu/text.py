"""Tokenising and normalising utterances and names, keeping character offsets into the original text."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

# Acronyms written with dots ("t.v."), numbers with a decimal part ("21.5"), words with inner apostrophes.
_TOKEN_RE = re.compile(r"(?:[^\W_]\.){2,}|\d+(?:\.\d+)?|[^\W_]+(?:['\u2019][^\W_]+)*")

# Words that never start or end a name: articles, possessives, quantifiers. Dropped from names and text alike.
ARTICLES: frozenset[str] = frozenset(
    {"the", "a", "an", "my", "our", "your", "their", "his", "her", "this", "that", "these", "those"}
    | {"all", "every", "each", "some", "any"}
)


@dataclass(frozen=True, slots=True)
class Token:
    """One word of an utterance: its folded surface form, its matching key and where it sits."""

    text: str  # lowercased, punctuation stripped ("t.v." -> "tv", "don't" -> "dont")
    key: str  # singular form used to match names ("lights" -> "light")
    start: int
    end: int

    @property
    def is_number(self) -> bool:
        return self.text[:1].isdigit()


def fold(text: str) -> str:
    """Lowercase without changing the length (so offsets stay valid for every Unicode input)."""
    if text.isascii():
        return text.lower()
    out = []
    for ch in text:
        low = ch.lower()
        out.append(low if len(low) == 1 else ch)
    return "".join(out)


@functools.lru_cache(maxsize=65536)
def singular(word: str) -> str:
    """A crude English singular: lights -> light, switches -> switch, batteries -> battery, glass stays."""
    n = len(word)
    if n <= 3 or word[-1] != "s" or word[0].isdigit():
        return word
    if word.endswith("ies") and n > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes", "zes")):
        return word[:-2]
    if word.endswith(("ss", "us", "is")):
        return word
    return word[:-1]


def _norm(raw: str) -> str:
    if "." in raw and not raw[0].isdigit():
        raw = raw.replace(".", "")
    if "'" in raw or "\u2019" in raw:
        raw = raw.replace("'", "").replace("\u2019", "")
    return raw


def tokenize(text: str) -> list[Token]:
    """The words of `text` with offsets into it."""
    folded = fold(text)
    tokens: list[Token] = []
    for m in _TOKEN_RE.finditer(folded):
        norm = _norm(m.group())
        if norm:
            tokens.append(Token(norm, singular(norm), m.start(), m.end()))
    return tokens


def name_keys(name: str) -> tuple[str, ...]:
    """The matching keys of a name, articles dropped: "The Living-Room Lamps" -> ("living", "room", "lamp")."""
    return tuple(t.key for t in tokenize(name) if t.text not in ARTICLES)


def normalise(text: str) -> str:
    """Lowercase words joined by single spaces, punctuation and articles dropped ("the Desk-Lamp!" -> "desk lamp")."""
    return " ".join(t.text for t in tokenize(text) if t.text not in ARTICLES)
