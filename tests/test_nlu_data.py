"""The training data stays well-formed Rasa 3.x YAML with enough varied examples, and the held-out set stays unseen."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from assistant.nlu.result import ENTITIES, INTENTS
from assistant.nlu.training_data import load_training_data, parse_nlu_yaml

ROOT = Path(__file__).resolve().parent.parent
MIN_EXAMPLES = 25
DEVICE_INTENTS = {"turn_on", "turn_off", "set_brightness", "set_color", "set_temperature", "query_state"}


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w%\s]", "", text.lower()).split())


def test_every_file_is_rasa_3_yaml() -> None:
    for path in sorted((ROOT / "nlu_data").glob("*.yml")):
        doc = yaml.safe_load(path.read_text())
        assert doc["version"] == "3.1", path
        assert set(doc) <= {"version", "nlu"}, path
        for item in doc["nlu"]:
            assert len({"intent", "synonym", "lookup", "regex"} & set(item)) == 1, (path, item)
            assert isinstance(item["examples"], str), (path, item)


def test_every_intent_has_enough_examples_and_only_known_labels() -> None:
    data = load_training_data(ROOT / "nlu_data")  # rejects unknown intents and entities itself
    counts = {intent: len(examples) for intent, examples in data.by_intent().items()}
    assert set(counts) == set(INTENTS)
    for intent, count in counts.items():
        assert count >= (60 if intent in DEVICE_INTENTS else MIN_EXAMPLES), (intent, count)
    used = {span.entity for ex in data.examples for span in ex.entities}
    assert used == set(ENTITIES)
    assert not data.conflicts, data.conflicts[:5]


EVAL_SETS = [ROOT / "tests" / "data" / "nlu_heldout.yml", ROOT / "tests" / "eval" / "natural.yml"]


@pytest.mark.parametrize("held_path", EVAL_SETS)
def test_evaluation_sets_are_not_in_the_training_data(held_path: Path) -> None:
    train = {_norm(ex.text) for ex in load_training_data(ROOT / "nlu_data").examples}
    held = parse_nlu_yaml(held_path.read_text(), str(held_path)).examples
    assert len(held) >= 8 * len(INTENTS)
    assert {ex.intent for ex in held} == set(INTENTS)
    overlap = [ex.text for ex in held if _norm(ex.text) in train]
    assert overlap == []


def test_natural_set_is_large_and_natural() -> None:
    path = ROOT / "tests" / "eval" / "natural.yml"
    held = parse_nlu_yaml(path.read_text(), str(path)).examples
    assert len(held) >= 300
    assert len({_norm(ex.text) for ex in held}) == len(held)  # no duplicates
    # it carries the entity gaps the issue names: typos, another word form, positions, an area in a question
    texts = " ".join(ex.text.lower() for ex in held)
    for needle in ("kitchin", "celing fan", "lounge lamp", "halfway", "quarter", "how humid is the bathroom"):
        assert needle in texts, needle
