"""Numbers in utterances, written as digits ("21.5") or words ("twenty one", "seventy-five", "a hundred")."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.nlu.text import Token

UNITS: dict[str, int] = {
    "zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
TENS: dict[str, int] = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
NUMBER_WORDS = frozenset(UNITS) | frozenset(TENS) | {"hundred", "point"}


@dataclass(frozen=True, slots=True)
class NumberMatch:
    """A number found in the token list: tokens [first, last) and characters [start, end)."""

    value: float
    first: int
    last: int
    start: int
    end: int

    @property
    def is_integer(self) -> bool:
        return float(self.value).is_integer()

    @property
    def as_number(self) -> int | float:
        """An int when the value is whole, else a float."""
        return int(self.value) if self.is_integer else self.value


def _below_hundred(words: list[str], i: int) -> tuple[int, int] | None:
    """(value, tokens used) for "seventy five", "twelve", "forty"; None if no number starts at i."""
    if i >= len(words):
        return None
    w = words[i]
    if w in TENS:
        value = TENS[w]
        if i + 1 < len(words) and words[i + 1] in UNITS and 0 < UNITS[words[i + 1]] < 10:
            return value + UNITS[words[i + 1]], 2
        return value, 1
    if w in UNITS and w != "oh":
        return UNITS[w], 1
    return None


def parse_number_words(words: list[str], i: int = 0) -> tuple[float, int] | None:
    """Parse a spelled-out number starting at words[i]: (value, number of words), or None."""
    n = len(words)
    value: float
    used: int
    if i < n and words[i] in ("a", "one") and i + 1 < n and words[i + 1] == "hundred":
        value, used = 100, 2
        rest = i + 2
        if rest < n and words[rest] == "and":
            tail = _below_hundred(words, rest + 1)
            if tail is not None:
                value, used = 100 + tail[0], used + 1 + tail[1]
        else:
            tail = _below_hundred(words, rest)
            if tail is not None:
                value, used = 100 + tail[0], used + tail[1]
        return value, used
    head = _below_hundred(words, i)
    if head is None:
        return None
    value, used = head
    if i + used < n and words[i + used] == "hundred" and 0 < value < 10:
        value, used = value * 100, used + 1
        tail = _below_hundred(words, i + used)
        if tail is not None:
            value, used = value + tail[0], used + tail[1]
    # "twenty one point five"
    if i + used + 1 < n and words[i + used] == "point" and words[i + used + 1] in UNITS:
        digits = []
        k = i + used + 1
        while k < n and words[k] in UNITS and UNITS[words[k]] < 10:
            digits.append(str(UNITS[words[k]]))
            k += 1
        if digits:
            value = float(f"{int(value)}.{''.join(digits)}")
            used = k - i
    return value, used


def find_numbers(tokens: list[Token]) -> list[NumberMatch]:
    """Every number in the tokens, left to right, not overlapping."""
    out: list[NumberMatch] = []
    words = [t.text for t in tokens]
    i = 0
    n = len(tokens)
    while i < n:
        tok = tokens[i]
        if tok.is_number:
            try:
                value = float(tok.text)
            except ValueError:
                i += 1
                continue
            out.append(NumberMatch(value, i, i + 1, tok.start, tok.end))
            i += 1
            continue
        if tok.text in NUMBER_WORDS or tok.text == "a":
            parsed = parse_number_words(words, i)
            if parsed is not None:
                value, used = parsed
                out.append(NumberMatch(value, i, i + used, tok.start, tokens[i + used - 1].end))
                i += used
                continue
        i += 1
    return out
