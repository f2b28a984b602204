"""Scoring an NLU engine on annotated utterances: intent accuracy, entity F1, destructive-intent safety, confusions.

Entities are scored on (entity type, normalised value) per utterance, with a home's names in the vocabulary:
- device / area / scene: the annotated value when it is an id in the vocabulary, else the annotated text when it
  resolves there to exactly one thing; other annotations are not scored, and predictions overlapping them are ignored;
- device_class: the annotated value (light, cover, ...);
- rule-based types: the annotated value, or the annotated text normalised (numbers, ISO 8601 durations, HH:MM times,
  lowercase colours, names as written).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from assistant.devices import DeviceKind
from assistant.nlu.engine import NameKind, Vocabulary
from assistant.nlu.numbers import find_numbers
from assistant.nlu.result import NluResult
from assistant.nlu.text import normalise, tokenize
from assistant.nlu.training_data import Example, TrainingData
from assistant.nlu.values import LEVEL_WORDS, ValueRules, find_durations

NAMED_TYPES = frozenset({"device", "area", "scene"})
# Intents whose mistaken execution loses something: they must never be predicted for another request.
DESTRUCTIVE_INTENTS = frozenset({"delete_data", "cancel_subscription", "delete_automation", "unlock"})
_KINDS = frozenset(str(k) for k in DeviceKind)


@dataclass(slots=True)
class Scores:
    """Counts over one evaluation set."""

    total: int = 0
    correct: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    skipped_gold: int = 0
    destructive_total: int = 0  # utterances whose gold intent is destructive
    destructive_correct: int = 0
    false_destructive: int = 0  # a destructive intent predicted for a request that is not that intent
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)  # (gold, predicted) -> count
    intent_errors: list[str] = field(default_factory=list)
    entity_errors: list[str] = field(default_factory=list)
    destructive_errors: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / max(1, self.total)

    @property
    def precision(self) -> float:
        return self.tp / max(1, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return self.tp / max(1, self.tp + self.fn)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def destructive_accuracy(self) -> float:
        return self.destructive_correct / max(1, self.destructive_total)

    def add(self, other: Scores) -> None:
        """Fold another set's counts into this one (k-fold totals)."""
        self.total += other.total
        self.correct += other.correct
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.skipped_gold += other.skipped_gold
        self.destructive_total += other.destructive_total
        self.destructive_correct += other.destructive_correct
        self.false_destructive += other.false_destructive
        self.confusion.update(other.confusion)
        self.intent_errors += other.intent_errors
        self.entity_errors += other.entity_errors
        self.destructive_errors += other.destructive_errors


def norm_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return f"{float(value):g}"
    return " ".join(str(value).lower().split())


def gold_entities(
    ex: Example, data: TrainingData, vocabulary: Vocabulary, match: Callable[[str], list[Any]]
) -> tuple[list[tuple[str, str]], list[tuple[int, int]]]:
    """(entity type, normalised value) to expect, and the spans of annotations that cannot be scored.

    `match(text)` finds names in a text with the same vocabulary (a Gazetteer's match)."""
    rules = ValueRules()
    gold: list[tuple[str, str]] = []
    unscored: list[tuple[int, int]] = []
    for span in ex.entities:
        value = data.value_of(span)
        if span.entity in NAMED_TYPES:
            kind = NameKind(span.entity)
            if vocabulary.get(kind, value) is not None:
                gold.append((span.entity, value))
                continue
            found = match(span.text)
            if len(found) == 1 and found[0].entity == span.entity and found[0].text == span.text.strip():
                gold.append((span.entity, norm_value(found[0].value)))
            else:
                unscored.append((span.start, span.end))
            continue
        if span.entity == "device_class":
            if value in _KINDS:
                gold.append((span.entity, value))
            else:
                unscored.append((span.start, span.end))
            continue
        if span.explicit_value:
            gold.append((span.entity, norm_value(value)))
            continue
        tokens = tokenize(span.text)
        normalised: Any = value
        if span.entity in ("brightness", "temperature", "position"):
            numbers = find_numbers(tokens)
            if numbers:
                normalised = numbers[0].as_number
            elif normalise(span.text) in LEVEL_WORDS:
                normalised = LEVEL_WORDS[normalise(span.text)]
        elif span.entity == "duration":
            durations = find_durations(tokens, find_numbers(tokens))
            normalised = durations[0].value if durations else value
        elif span.entity == "time":
            times = [m for m in rules.mentions(span.text, tokens) if m.kind == "time"]
            normalised = times[0].value if times else value
            if not times and normalise(span.text).isdigit():
                normalised = f"{int(normalise(span.text)):02d}:00"
        elif span.entity == "name":
            normalised = span.text
        gold.append((span.entity, norm_value(normalised)))
    return gold, unscored


def score(
    examples: Iterable[Example],
    data: TrainingData,
    parse: Callable[[str], NluResult],
    vocabulary: Vocabulary,
    match: Callable[[str], list[Any]],
) -> Scores:
    """Parse every example and count what came out right."""
    scores = Scores()
    for ex in examples:
        result = parse(ex.text)
        got_intent = result.intent.name
        scores.total += 1
        scores.confusion[(ex.intent, got_intent)] += 1
        if got_intent == ex.intent:
            scores.correct += 1
        else:
            scores.intent_errors.append(f"{ex.text!r}: want {ex.intent}, got {got_intent}")
        if ex.intent in DESTRUCTIVE_INTENTS:
            scores.destructive_total += 1
            scores.destructive_correct += got_intent == ex.intent
        if got_intent in DESTRUCTIVE_INTENTS and got_intent != ex.intent:
            scores.false_destructive += 1
            scores.destructive_errors.append(f"{ex.text!r}: want {ex.intent}, got {got_intent}")
        gold, unscored = gold_entities(ex, data, vocabulary, match)
        scores.skipped_gold += len(unscored)
        predicted = [
            (e.entity, norm_value(e.value))
            for e in result.entities
            if all(e.end <= s or e.start >= t for s, t in unscored)
        ]
        want, got = Counter(gold), Counter(predicted)
        hit = want & got
        scores.tp += sum(hit.values())
        scores.fp += sum((got - hit).values())
        scores.fn += sum((want - hit).values())
        if want != got:
            scores.entity_errors.append(
                f"{ex.text!r}: missing {sorted((want - hit).elements())} extra {sorted((got - hit).elements())}"
            )
    return scores


def to_annotated(ex: Example) -> str:
    """The example back in Rasa markup (entity spans with their explicit values), for writing k-fold splits."""
    out: list[str] = []
    pos = 0
    for span in sorted(ex.entities, key=lambda s: s.start):
        if span.start < pos:
            continue  # overlapping annotations: keep the first
        out.append(ex.text[pos : span.start])
        if span.explicit_value:
            value = span.value.replace('"', '\\"')
            out.append(f'[{span.text}]{{"entity": "{span.entity}", "value": "{value}"}}')
        else:
            out.append(f"[{span.text}]({span.entity})")
        pos = span.end
    out.append(ex.text[pos:])
    return "".join(out)
