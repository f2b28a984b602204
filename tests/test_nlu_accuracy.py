"""Held-out accuracy of the embedded NLU: intent accuracy and entity F1 on tests/data/nlu_heldout.yml.

Trained on nlu_data/ (a fresh model in a temporary directory). Entities are scored on (entity type, normalised
value) per utterance, with the demo home's names loaded into the Gazetteer:
- device / area / scene: only when the annotated text resolves in the demo vocabulary (to a demo id, or to an
  ambiguous mention with candidates); predictions overlapping an annotation that does not resolve are not counted;
- device_class: the annotated value (light, cover, ...);
- rule-based types: the annotated value, or the annotated text normalised (brightness/temperature as numbers,
  duration as ISO 8601, time as HH:MM, colour lowercase, name as written).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from assistant.config import NluConfig
from assistant.demo import AREAS, DEVICES, SCENES
from assistant.devices import DeviceKind
from assistant.nlu.embedded import EmbeddedNluEngine
from assistant.nlu.engine import NamedThing, NameKind
from assistant.nlu.gazetteer import Gazetteer
from assistant.nlu.numbers import find_numbers
from assistant.nlu.text import normalise, tokenize
from assistant.nlu.training_data import Example, TrainingData, parse_nlu_yaml
from assistant.nlu.values import ValueRules, find_durations

ROOT = Path(__file__).resolve().parent.parent
HELDOUT = ROOT / "tests" / "data" / "nlu_heldout.yml"
INTENT_ACCURACY_MIN = 0.90
ENTITY_F1_MIN = 0.85
NAMED_TYPES = frozenset({"device", "area", "scene"})


def demo_vocabulary(vocab: Gazetteer) -> Gazetteer:
    """The demo home's areas, devices and scenes, as the registry would put them."""
    for area_id, name, aliases in AREAS:
        vocab.put(NamedThing(NameKind.AREA, area_id, (name, *aliases)))
    for dev_id, name, kind, area, _caps, aliases, _state in DEVICES:
        vocab.put(NamedThing(NameKind.DEVICE, dev_id, (name, *aliases), area, str(kind)))
    for scene_id, name, _states in SCENES:
        vocab.put(NamedThing(NameKind.SCENE, scene_id, (name,)))
    return vocab


@dataclass
class Scores:
    """Counts for the held-out report."""

    total: int = 0
    correct: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    skipped_gold: int = 0
    intent_errors: list[str] = field(default_factory=list)
    entity_errors: list[str] = field(default_factory=list)

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


def _norm_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return f"{float(value):g}"
    return " ".join(str(value).lower().split())


def gold_entities(
    ex: Example, data: TrainingData, demo: Gazetteer
) -> tuple[list[tuple[str, str]], list[tuple[int, int]]]:
    """(entity type, normalised value) to expect, and the spans of annotations that cannot be scored."""
    rules = ValueRules()
    gold: list[tuple[str, str]] = []
    unscored: list[tuple[int, int]] = []
    for span in ex.entities:
        value = data.value_of(span)
        if span.entity in NAMED_TYPES:
            kind = NameKind(span.entity)
            if demo.get(kind, value) is not None:
                gold.append((span.entity, value))
                continue
            found = demo.match(span.text)
            if len(found) == 1 and found[0].entity == span.entity and found[0].text == span.text.strip():
                gold.append((span.entity, _norm_value(found[0].value)))
            else:
                unscored.append((span.start, span.end))
            continue
        if span.entity == "device_class":
            if value in {str(k) for k in DeviceKind}:
                gold.append((span.entity, value))
            else:
                unscored.append((span.start, span.end))
            continue
        if span.explicit_value:
            gold.append((span.entity, _norm_value(value)))
            continue
        tokens = tokenize(span.text)
        normalised: Any = value
        if span.entity in ("brightness", "temperature"):
            numbers = find_numbers(tokens)
            levels = {"half": 50, "full": 100, "max": 100}
            if numbers:
                normalised = numbers[0].as_number
            elif normalise(span.text) in levels:
                normalised = levels[normalise(span.text)]
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
        gold.append((span.entity, _norm_value(normalised)))
    return gold, unscored


def evaluate(engine: EmbeddedNluEngine, heldout: TrainingData, demo: Gazetteer) -> Scores:
    scores = Scores()
    for ex in heldout.examples:
        result = engine.parse_sync(ex.text, demo)
        scores.total += 1
        if result.intent.name == ex.intent:
            scores.correct += 1
        else:
            scores.intent_errors.append(f"{ex.text!r}: want {ex.intent}, got {result.intent.name}")
        gold, unscored = gold_entities(ex, heldout, demo)
        scores.skipped_gold += len(unscored)
        predicted = [
            (e.entity, _norm_value(e.value))
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


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[EmbeddedNluEngine, float]:
    model_dir = tmp_path_factory.mktemp("nlu-model")
    engine = EmbeddedNluEngine(NluConfig(data_dir=ROOT / "nlu_data", model_dir=model_dir))
    began = time.perf_counter()
    report = engine.train()
    seconds = time.perf_counter() - began
    assert report.examples > 0 and report.intents >= 30
    return engine, seconds


def test_training_takes_seconds(trained: tuple[EmbeddedNluEngine, float]) -> None:
    _, seconds = trained
    print(f"\ntrain seconds: {seconds:.2f}")
    assert seconds < 30


def test_heldout_accuracy(trained: tuple[EmbeddedNluEngine, float]) -> None:
    engine, _ = trained
    heldout = parse_nlu_yaml(HELDOUT.read_text(encoding="utf-8"), HELDOUT.name)
    assert len(heldout.examples) >= 100
    demo = demo_vocabulary(engine.new_vocabulary())
    scores = evaluate(engine, heldout, demo)
    print(
        f"\nheld-out: {scores.total} utterances, intent accuracy {scores.accuracy:.3f}; "
        f"entities P {scores.precision:.3f} R {scores.recall:.3f} F1 {scores.f1:.3f} "
        f"(tp {scores.tp} fp {scores.fp} fn {scores.fn}, {scores.skipped_gold} annotations outside the demo home)"
    )
    for line in scores.intent_errors:
        print("  intent:", line)
    for line in scores.entity_errors:
        print("  entity:", line)
    assert scores.accuracy >= INTENT_ACCURACY_MIN
    assert scores.f1 >= ENTITY_F1_MIN
