"""Rule-based entity values: brightness, temperature, colour, duration, time, tier and a device's new name.

Values are normalised: brightness an int percent 0-100; temperature an int (or float for "21.5") in the unit spoken,
never converted; colour a lowercase name; duration an ISO 8601 duration string ("PT10M", "PT1H30M", "P7D"); time
"HH:MM" on a 24-hour clock, or the word for solar times ("sunset", "sunrise", "dusk", "dawn"); tier one of free,
premium, professional, enterprise; name the new name as spoken.

Numbers are found before the intent is known: one followed by %/percent is brightness, one followed by degrees is a
temperature, and a bare number is decided afterwards (`resolve`) from the intent, the words around it and the class
of the devices mentioned.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from assistant.nlu.numbers import NumberMatch, find_numbers
from assistant.nlu.result import Entity
from assistant.nlu.text import ARTICLES, Token, fold, tokenize

COLORS: tuple[str, ...] = (
    "red", "green", "blue", "yellow", "orange", "purple", "pink", "white", "warm white", "cool white",
    "cold white", "soft white", "daylight", "candlelight", "cyan", "magenta", "teal", "turquoise", "lavender",
    "lilac", "violet", "indigo", "amber", "gold", "lime", "mint", "coral", "peach", "salmon", "crimson",
    "maroon", "rose", "sky blue", "light blue", "dark blue", "navy", "aqua", "light green", "dark green",
)  # fmt: skip

TIERS: tuple[str, ...] = ("free", "premium", "professional", "enterprise")
TIER_WORDS: dict[str, str] = {
    "free": "free", "basic": "free", "premium": "premium", "professional": "professional", "pro": "professional",
    "enterprise": "enterprise", "business": "enterprise",
}  # fmt: skip
WEAK_TIER_WORDS = frozenset({"free", "basic", "business"})  # tiers only when the talk is about plans
PLAN_WORDS = frozenset(
    "plan plans tier tiers subscription subscriptions subscribe subscribed upgrade downgrade account membership "
    "pricing package edition trial version paying".split()
)
BILLING_INTENTS = frozenset({"current_plan", "upgrade_plan", "cancel_subscription", "value_report"})

BRIGHTNESS_WORDS = frozenset(
    "brightness brightnes bright brighter brighten brightest dim dimmer dimmed dimm darker dark percent".split()
)
TEMPERATURE_WORDS = frozenset(
    "temperature temp degrees degree thermostat heat heating heater warm warmer cool cooler cold colder hot hotter "
    "ac celsius fahrenheit climate".split()
)
LEVEL_WORDS: dict[str, int] = {"half": 50, "full": 100, "max": 100, "maximum": 100}
# How far a cover opens, or a light's level, said as a fraction: "halfway", "a quarter", "three quarters".
FRACTIONS: dict[tuple[str, ...], int] = {
    ("halfway",): 50, ("half", "way"): 50, ("midway",): 50, ("quarter",): 25, ("a", "quarter"): 25,
    ("one", "quarter"): 25, ("three", "quarters"): 75, ("three", "quarter"): 75, ("third",): 33,
    ("a", "third"): 33, ("two", "thirds"): 67, ("all", "the", "way"): 100,
}  # fmt: skip
COVER_INTENTS = frozenset({"open_cover", "close_cover"})

_PERCENT_RE = re.compile(r"\s*(?:%|percent\b|per\s?cent\b|pct\b)")
_DEGREES_RE = re.compile(r"\s*(?:°\s*[cf]?\b|°|degrees?\b(?:\s*(?:celsius|fahrenheit|c|f)\b)?|celsius\b|fahrenheit\b)")
_CLOCK_RE = re.compile(
    r"(?<![\w.:])(?P<h>\d{1,2})(?::(?P<m>[0-5]\d))?\s*(?P<ap>a\.?\s?m\.?|p\.?\s?m\.?)(?![\w])"
    r"|(?<![\w.:])(?P<h24>[01]?\d|2[0-3]):(?P<m24>[0-5]\d)(?![\w:])"
)
_TIME_WORDS: dict[str, str] = {
    "noon": "12:00", "midday": "12:00", "midnight": "00:00",
    "sunset": "sunset", "sunrise": "sunrise", "dusk": "dusk", "dawn": "dawn",
}  # fmt: skip
_PM_AFTER: tuple[tuple[str, ...], ...] = (
    ("in", "the", "evening"), ("in", "the", "afternoon"), ("at", "night"), ("tonight",),
)  # fmt: skip
_AM_AFTER: tuple[tuple[str, ...], ...] = (("in", "the", "morning"),)
_DURATION_UNITS: dict[str, int] = {
    "second": 1, "seconds": 1, "sec": 1, "secs": 1, "minute": 60, "minutes": 60, "min": 60, "mins": 60,
    "hour": 3600, "hours": 3600, "hr": 3600, "hrs": 3600, "day": 86400, "days": 86400,
    "week": 604800, "weeks": 604800,
}  # fmt: skip

# Which placeholder each mention kind becomes when an utterance is delexicalised for the intent classifier.
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "number": ("__number__",),
    "fraction": ("__number__",),
    "brightness": ("__number__", "percent"),
    "temperature": ("__number__", "degrees"),
    "time": ("__time__",),
    "duration": ("__duration__",),
    "color": ("__color__",),
    "tier": ("__tier__",),
}


@dataclass(slots=True)
class Mention:
    """A rule-based value found in an utterance before the intent is known."""

    kind: str  # number | brightness | temperature | level | fraction | time | duration | color | tier
    value: Any
    start: int
    end: int
    weak: bool = False  # a tier word that only counts when the talk is about plans

    @property
    def placeholder(self) -> tuple[str, ...] | None:
        if self.kind == "tier" and self.weak:
            return None
        return PLACEHOLDERS.get(self.kind)


class ValueRules:
    """The rule-based extractors, with the colour and tier words (built in, plus lookups and synonyms from data)."""

    def __init__(self, colors: Iterable[str] = (), tier_words: Mapping[str, str] | None = None) -> None:
        self._colors: dict[tuple[str, ...], str] = {}
        for color in (*COLORS, *colors):
            key = tuple(t.text for t in tokenize(color))
            if key:
                self._colors[key] = " ".join(key)
        self._max_color = max(len(k) for k in self._colors)
        self._tiers = dict(TIER_WORDS)
        for word, tier in (tier_words or {}).items():
            if tier in TIERS and len(word.split()) == 1:
                self._tiers[fold(word.strip())] = tier

    def mentions(self, text: str, tokens: list[Token]) -> list[Mention]:
        """Times, durations, numbers, colours and tiers in the utterance, not overlapping each other."""
        folded = fold(text)
        numbers = find_numbers(tokens)
        found: list[Mention] = []
        found += find_times(folded, tokens, numbers)
        found += find_durations(tokens, numbers)
        found += find_number_mentions(folded, tokens, numbers)
        found += self.find_colors(tokens)
        found += self.find_tiers(tokens)
        return _non_overlapping(found)

    def find_colors(self, tokens: list[Token]) -> list[Mention]:
        out: list[Mention] = []
        n = len(tokens)
        i = 0
        while i < n:
            for size in range(min(self._max_color, n - i), 0, -1):
                key = tuple(t.text for t in tokens[i : i + size])
                color = self._colors.get(key)
                if color is None:
                    continue
                if size > 1 and key[0] in LIGHT_WORDS and i > 0 and tokens[i - 1].text not in BEFORE_SHADE:
                    # "the kitchen light blue": "light" ends the device's name, the colour is "blue"
                    continue
                out.append(Mention("color", color, tokens[i].start, tokens[i + size - 1].end))
                i += size - 1
                break
            i += 1
        return out

    def find_tiers(self, tokens: list[Token]) -> list[Mention]:
        out: list[Mention] = []
        for t in tokens:
            tier = self._tiers.get(t.text)
            if tier is not None:
                out.append(Mention("tier", tier, t.start, t.end, weak=t.text in WEAK_TIER_WORDS))
        return out


LIGHT_WORDS = frozenset({"light", "lights"})
# Words after which "light blue" is a shade, not a device followed by a colour ("make it light blue").
BEFORE_SHADE = frozenset(
    {"to", "it", "them", "into", "make", "turn", "be", "is", "are", "a", "of", "color", "colour", "in", "and", "or"}
    | {"go"}
)


def _non_overlapping(found: list[Mention]) -> list[Mention]:
    """Earlier extractors win ties (time, duration, number, colour, tier), longer spans win overlaps."""
    order = {id(m): k for k, m in enumerate(found)}
    chosen: list[Mention] = []
    for m in sorted(found, key=lambda m: (m.start - m.end, order[id(m)])):
        if all(m.end <= c.start or m.start >= c.end for c in chosen):
            chosen.append(m)
    chosen.sort(key=lambda m: m.start)
    return chosen


def _token_range(tokens: list[Token], start: int, end: int) -> tuple[int, int]:
    first = next((k for k, t in enumerate(tokens) if t.end > start), len(tokens))
    last = first
    while last < len(tokens) and tokens[last].start < end:
        last += 1
    return first, last


def _words(tokens: list[Token], i: int, n: int) -> tuple[str, ...]:
    return tuple(t.text for t in tokens[i : i + n])


def find_times(folded: str, tokens: list[Token], numbers: list[NumberMatch]) -> list[Mention]:
    """Clock times ("7 am", "10:30 pm", "18:45", "seven thirty pm", "at 7") and named times ("noon", "sunset")."""
    out: list[Mention] = []
    for m in _CLOCK_RE.finditer(folded):
        if m.group("h") is not None:
            hour, minute = int(m.group("h")), int(m.group("m") or 0)
            if 1 <= hour <= 12:
                out.append(Mention("time", _clock(hour, minute, m.group("ap").startswith("p")), m.start(), m.end()))
            continue
        hour, minute = int(m.group("h24")), int(m.group("m24"))
        end = m.end()
        _, last = _token_range(tokens, m.start(), end)
        daypart, used = _daypart(tokens, last)
        if used:
            end = tokens[last + used - 1].end
        value = _clock(hour, minute, daypart) if daypart is not None and 1 <= hour <= 12 else f"{hour:02d}:{minute:02d}"
        out.append(Mention("time", value, m.start(), end))
    taken = [(m.start, m.end) for m in out]
    for t in tokens:
        if t.text in _TIME_WORDS:
            out.append(Mention("time", _TIME_WORDS[t.text], t.start, t.end))
    # spelled-out clock times ("seven thirty pm", "7 o'clock") and "at 7"
    by_first = {num.first: num for num in numbers}
    for num in numbers:
        if any(s <= num.start < e for s, e in taken) or not num.is_integer:
            continue
        hour, minute = int(num.value), 0
        k, end = num.last, num.end
        nxt = by_first.get(k)
        if nxt is not None and nxt.is_integer and 0 <= nxt.value < 60 and not tokens[k].is_number:
            minute, k, end = int(nxt.value), nxt.last, nxt.end
        after = tokens[k].text if k < len(tokens) else ""
        pm: bool | None = None
        if after in ("am", "pm"):
            pm, end, k = after == "pm", tokens[k].end, k + 1
        elif after == "oclock":
            end, k = tokens[k].end, k + 1
        daypart, used = _daypart(tokens, k)
        if used:
            pm, end = daypart, tokens[k + used - 1].end
        at_before = num.first > 0 and tokens[num.first - 1].text in ("at", "until", "till")
        explicit = pm is not None or after == "oclock"
        twelve_hour = 1 <= hour <= 12 and (explicit or (at_before and _bare_time_ok(folded, num, tokens)))
        spoken_24 = at_before and 13 <= hour <= 23 and minute > 0 and not tokens[num.first].is_number
        if twelve_hour or spoken_24:
            out.append(Mention("time", _clock(hour, minute, pm), num.start, end))
    return out


def _daypart(tokens: list[Token], k: int) -> tuple[bool | None, int]:
    """("in the evening" -> pm, 3 tokens) at token k, or (None, 0)."""
    for phrase in _PM_AFTER + _AM_AFTER:
        if _words(tokens, k, len(phrase)) == phrase:
            return phrase in _PM_AFTER, len(phrase)
    return None, 0


def _bare_time_ok(folded: str, num: NumberMatch, tokens: list[Token]) -> bool:
    """ "at 7" is a time unless a unit follows ("at 7 percent", "at 7 degrees")."""
    rest = folded[num.end :]
    if _PERCENT_RE.match(rest) or _DEGREES_RE.match(rest):
        return False
    nxt = tokens[num.last].text if num.last < len(tokens) else ""
    return nxt not in _DURATION_UNITS


def _clock(hour: int, minute: int, pm: bool | None) -> str:
    if pm is True and hour < 12:
        hour += 12
    elif pm is False and hour == 12:
        hour = 0
    return f"{hour:02d}:{minute:02d}"


def find_durations(tokens: list[Token], numbers: list[NumberMatch]) -> list[Mention]:
    """ "10 minutes", "an hour", "half an hour", "one and a half hours", "2 hours and 30 minutes" -> ISO 8601."""
    out: list[Mention] = []
    by_first = {num.first: num for num in numbers}
    n = len(tokens)
    i = 0
    while i < n:
        total = 0.0
        start_tok = i
        k = i
        matched_any = False
        while k < n:
            parsed = _duration_part(tokens, by_first, k)
            if parsed is None:
                break
            seconds, k = parsed
            total += seconds
            matched_any = True
            if k + 1 < n and tokens[k].text == "and" and _duration_part(tokens, by_first, k + 1) is not None:
                k += 1
                continue
            break
        if matched_any:
            out.append(Mention("duration", iso_duration(total), tokens[start_tok].start, tokens[k - 1].end))
            i = k
        else:
            i += 1
    return out


def _duration_part(tokens: list[Token], by_first: dict[int, NumberMatch], k: int) -> tuple[float, int] | None:
    """(seconds, next token index) for one "<quantity> <unit> [and a half]" at token k."""
    n = len(tokens)
    words = [t.text for t in tokens]
    qty: float
    if k + 2 < n and words[k] == "half" and words[k + 1] in ("a", "an"):
        qty, k = 0.5, k + 2
    elif k + 2 < n and words[k] == "a" and words[k + 1] == "couple" and words[k + 2] == "of":
        qty, k = 2.0, k + 3
    elif k < n and words[k] in ("a", "an") and k + 1 < n and words[k + 1] in _DURATION_UNITS:
        qty, k = 1.0, k + 1
    elif k in by_first:
        num = by_first[k]
        qty, k = num.value, num.last
        if k + 3 < n and words[k : k + 3] == ["and", "a", "half"] and words[k + 3] in _DURATION_UNITS:
            qty, k = qty + 0.5, k + 3
    else:
        return None
    if k >= n or words[k] not in _DURATION_UNITS:
        return None
    unit = _DURATION_UNITS[words[k]]
    k += 1
    if k + 2 < n and words[k : k + 3] == ["and", "a", "half"]:
        qty, k = qty + 0.5, k + 3
    return qty * unit, k


def iso_duration(seconds: float) -> str:
    """Seconds as an ISO 8601 duration: 600 -> "PT10M", 5400 -> "PT1H30M", 604800 -> "P7D"."""
    total = round(seconds)
    if total <= 0:
        return "PT0S"
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    out = "P"
    if days:
        out += f"{days}D"
    if hours or minutes or secs:
        out += "T"
        if hours:
            out += f"{hours}H"
        if minutes:
            out += f"{minutes}M"
        if secs:
            out += f"{secs}S"
    return out


def find_number_mentions(folded: str, tokens: list[Token], numbers: list[NumberMatch]) -> list[Mention]:
    """Numbers with a unit (brightness %, temperature degrees), bare numbers, and level words (half, full, max)."""
    out: list[Mention] = []
    for num in numbers:
        rest = folded[num.end :]
        m = _PERCENT_RE.match(rest)
        if m:
            out.append(Mention("brightness", num.as_number, num.start, num.end + m.end()))
            continue
        m = _DEGREES_RE.match(rest)
        if m:
            out.append(Mention("temperature", num.as_number, num.start, num.end + m.end()))
            continue
        if num.last - num.first == 1 and tokens[num.first].text == "one":
            continue  # "this one", "have a good one": a bare "one" is hardly ever a value
        out.append(Mention("number", num.as_number, num.start, num.end))
    words = [t.text for t in tokens]
    taken: set[int] = set()
    for k in range(len(tokens)):
        for size in (3, 2, 1):
            fraction = FRACTIONS.get(tuple(words[k : k + size]))
            if fraction is None or k + size > len(tokens):
                continue
            nxt = words[k + size] if k + size < len(words) else ""
            if nxt in ("past", "to", "of", "hour") and "way" not in words[k : k + size]:
                if nxt != "of" or k + size + 1 >= len(words) or words[k + size + 1] != "the":
                    continue  # "a quarter past seven", "a quarter of an hour"; but "a quarter of the way" counts
            out.append(Mention("fraction", fraction, tokens[k].start, tokens[k + size - 1].end))
            taken.update(range(k, k + size))
            break
    for k, t in enumerate(tokens):
        level = LEVEL_WORDS.get(t.text)
        if level is None or k in taken:
            continue
        nxt = tokens[k + 1].text if k + 1 < len(tokens) else ""
        if t.text == "half" and nxt in ("a", "an", "past", "hour", "way"):
            continue
        out.append(Mention("level", level, t.start, t.end))
    return out


def resolve(
    mentions: list[Mention],
    tokens: list[Token],
    intent: str,
    device_classes: set[str],
) -> list[Entity]:
    """Turn mentions into entities now that the intent is known (bare numbers, level words, weak tiers)."""
    words = {t.text for t in tokens}
    bright_ctx = bool(words & BRIGHTNESS_WORDS)
    temp_ctx = bool(words & TEMPERATURE_WORDS) or "climate" in device_classes
    plan_ctx = intent in BILLING_INTENTS or bool(words & PLAN_WORDS)
    out: list[Entity] = []
    cover = intent in COVER_INTENTS
    for m in mentions:
        kind, value = m.kind, m.value
        if cover and kind in ("number", "brightness", "level", "fraction"):
            kind = "position"
        elif kind == "number":
            kind = _number_kind(intent, bright_ctx, temp_ctx, device_classes)
        elif kind in ("level", "fraction"):
            kind = "brightness" if intent == "set_brightness" or bright_ctx else ""
        elif kind == "tier" and m.weak and not plan_ctx:
            kind = ""
        if kind in ("brightness", "position"):
            if not isinstance(value, int | float) or not math.isfinite(value):
                continue
            # out of range is kept, so the handler's slot check says what the range is instead of acting on a guess
            value = round(value)
        elif kind == "temperature" and (not isinstance(value, int | float) or not -50 <= value <= 150):
            continue
        if not kind:
            continue
        out.append(Entity(kind, value, m.start, m.end, confidence=1.0, extractor="rules"))
    return out


def _number_kind(intent: str, bright_ctx: bool, temp_ctx: bool, classes: set[str]) -> str:
    if intent == "set_temperature":
        return "temperature"
    if intent == "set_brightness":
        return "brightness"
    if bright_ctx and not temp_ctx:
        return "brightness"
    if temp_ctx and not bright_ctx:
        return "temperature"
    if intent == "create_automation":
        if "climate" in classes:
            return "temperature"
        if "light" in classes and bright_ctx:
            return "brightness"
    return ""


# -- the new name in rename_device ------------------------------------------------------------------------------
_RENAME_VERBS = frozenset({"rename", "renaem", "call", "name", "nickname", "relabel", "label", "dub", "title"})
_NAME_MARKERS = ("called", "named", "renamed", "relabeled", "relabelled", "labeled", "labelled", "titled", "dubbed")
_NAME_PHRASES: tuple[tuple[str, ...], ...] = (("goes", "by"), ("go", "by"), ("known", "as"))
_NAME_NOUNS: tuple[tuple[str, ...], ...] = (("the", "name"), ("a", "new", "name"), ("new", "name"), ("name", "is"))
_PRONOUNS: tuple[tuple[str, ...], ...] = (
    ("this", "one"), ("that", "one"), ("it",), ("this",), ("that",), ("them",),
)  # fmt: skip
_QUOTES = " \"'\u201c\u201d\u2018\u2019"
_TRAILING: tuple[tuple[str, ...], ...] = (
    ("from", "now", "on"),
    ("please",),
    ("instead",),
    ("now",),
    ("thanks",),
    ("thank", "you"),
)


def find_new_name(text: str, tokens: list[Token], named: list[Entity]) -> Entity | None:
    """The new name in "rename X to NAME", "call X NAME", "name it NAME", "X should be called NAME"...

    `named` are the device mentions already found (they mark where X ends)."""
    words = [t.text for t in tokens]
    n = len(words)
    ends = {e.end for e in named if e.entity in ("device", "device_class")}
    start_tok: int | None = None
    verb = next((k for k, w in enumerate(words) if w in _RENAME_VERBS), None)
    # "called NAME", "renamed (to) NAME", "goes by NAME"
    for k, w in enumerate(words):
        if w in _NAME_MARKERS:
            start_tok = k + 1
            if start_tok < n and words[start_tok] in ("to", "as"):
                start_tok += 1
            break
        if any(tuple(words[k : k + len(p)]) == p for p in _NAME_PHRASES):
            start_tok = k + 2
            break
    # "rename X to NAME", "change the name of X to NAME", "label X as NAME"
    if start_tok is None:
        anchor = verb if verb is not None else next((k for k, w in enumerate(words) if w == "name"), None)
        if anchor is not None:
            for k in range(anchor + 1, n):
                if words[k] in ("to", "as"):
                    start_tok = k + 1
                    break
    # "give X the name NAME", "a new name NAME"
    if start_tok is None:
        for phrase in _NAME_NOUNS:
            size = len(phrase)
            hit = next((k for k in range(n - size + 1) if tuple(words[k : k + size]) == phrase), None)
            if hit is not None:
                start_tok = hit + size
                break
    # "call it NAME", "name the porch light NAME", "from now on the thermostat is NAME"
    if start_tok is None and verb is not None:
        k = verb + 1
        for phrase in _PRONOUNS:
            if tuple(words[k : k + len(phrase)]) == phrase:
                start_tok = k + len(phrase)
                break
        else:
            for j in range(k, min(n, k + 6)):
                if tokens[j].end in ends:
                    start_tok = j + 1
                    break
            else:
                # an object the vocabulary does not know ("call the game console xbox"): the last word is the name
                if n - k >= 2 and words[k] in ARTICLES:
                    start_tok = n - 1
    if start_tok is None:
        for j, w in enumerate(words):
            if w == "is" and j > 0 and tokens[j - 1].end in ends:
                start_tok = j + 1 + (1 if j + 1 < n and words[j + 1] == "now" else 0)
                break
    if start_tok is None:
        return None
    last = n
    stripped = True
    while stripped and last > start_tok:
        stripped = False
        for phrase in _TRAILING:
            size = len(phrase)
            if last - size >= start_tok and tuple(words[last - size : last]) == phrase:
                last -= size
                stripped = True
                break
    while start_tok < last and words[start_tok] in ARTICLES | {"be"}:
        start_tok += 1
    if start_tok >= last:
        return None
    start, end = tokens[start_tok].start, tokens[last - 1].end
    spoken = text[start:end].strip(_QUOTES)
    if not spoken:
        return None
    start = text.index(spoken, start)
    return Entity("name", spoken, start, start + len(spoken), confidence=0.9, extractor="rules")
