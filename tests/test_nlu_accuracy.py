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
from pathlib import Path

import pytest

from assistant.config import NluConfig
from assistant.demo import AREAS, DEVICES, SCENES
from assistant.nlu.embedded import EmbeddedNluEngine
from assistant.nlu.engine import NamedThing, NameKind
from assistant.nlu.evaluation import Scores, score
from assistant.nlu.gazetteer import Gazetteer
from assistant.nlu.training_data import TrainingData, parse_nlu_yaml

ROOT = Path(__file__).resolve().parent.parent
HELDOUT = ROOT / "tests" / "data" / "nlu_heldout.yml"
INTENT_ACCURACY_MIN = 0.90
ENTITY_F1_MIN = 0.85


def demo_vocabulary(vocab: Gazetteer) -> Gazetteer:
    """The demo home's areas, devices and scenes, as the registry would put them."""
    for area_id, name, aliases in AREAS:
        vocab.put(NamedThing(NameKind.AREA, area_id, (name, *aliases)))
    for dev_id, name, kind, area, caps, aliases, _state in DEVICES:
        capabilities = frozenset(str(c) for c in caps)
        vocab.put(NamedThing(NameKind.DEVICE, dev_id, (name, *aliases), area, str(kind), capabilities))
    for scene_id, name, _states in SCENES:
        vocab.put(NamedThing(NameKind.SCENE, scene_id, (name,)))
    return vocab


def evaluate(engine: EmbeddedNluEngine, heldout: TrainingData, demo: Gazetteer) -> Scores:
    return score(heldout.examples, heldout, lambda text: engine.parse_sync(text, demo), demo, demo.match)


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


NATURAL = ROOT / "tests" / "eval" / "natural.yml"
# Floors a little under what the engine reaches (0.950 / 0.962 / 1 when written), so other work can add data without
# tripping on noise; bench/eval_nlu.py reports the exact figures. The target is 0 destructive mistakes.
NATURAL_INTENT_MIN = 0.93
NATURAL_ENTITY_F1_MIN = 0.92
NATURAL_FALSE_DESTRUCTIVE_MAX = 1


def test_natural_set_accuracy_and_safety(trained: tuple[EmbeddedNluEngine, float]) -> None:
    engine, _ = trained
    natural = parse_nlu_yaml(NATURAL.read_text(encoding="utf-8"), NATURAL.name)
    demo = demo_vocabulary(engine.new_vocabulary())
    scores = evaluate(engine, natural, demo)
    print(
        f"\nnatural: {scores.total} utterances, intent accuracy {scores.accuracy:.3f}, entity F1 {scores.f1:.3f}, "
        f"destructive {scores.destructive_correct}/{scores.destructive_total}, "
        f"destructive for another request {scores.false_destructive}"
    )
    for line in scores.destructive_errors:
        print("  destructive:", line)
    assert scores.accuracy >= NATURAL_INTENT_MIN
    assert scores.f1 >= NATURAL_ENTITY_F1_MIN
    assert scores.false_destructive <= NATURAL_FALSE_DESTRUCTIVE_MAX
