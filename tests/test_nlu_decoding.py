"""Capability-aware decoding and calibration of the embedded NLU, through parse() against a live vocabulary."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from assistant.config import NluConfig
from assistant.demo import AREAS, DEVICES, SCENES
from assistant.nlu.embedded import EmbeddedNluEngine
from assistant.nlu.engine import NamedThing, NameKind
from assistant.nlu.evaluation import DESTRUCTIVE_INTENTS
from assistant.nlu.gazetteer import Gazetteer
from assistant.nlu.result import FALLBACK_INTENT, NluResult
from tests.conftest import Api

ROOT = Path(__file__).resolve().parent.parent
D, A, S = NameKind.DEVICE, NameKind.AREA, NameKind.SCENE


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedNluEngine:
    eng = EmbeddedNluEngine(NluConfig(data_dir=ROOT / "nlu_data", model_dir=tmp_path_factory.mktemp("model")))
    eng.load_sync()
    return eng


def demo_home(engine: EmbeddedNluEngine) -> Gazetteer:
    """The demo home as the registry puts it: devices with their kind and capabilities."""
    g = engine.new_vocabulary()
    for area_id, name, aliases in AREAS:
        g.put(NamedThing(A, area_id, (name, *aliases)))
    for dev_id, name, kind, area, caps, aliases, _state in DEVICES:
        g.put(NamedThing(D, dev_id, (name, *aliases), area, str(kind), frozenset(str(c) for c in caps)))
    for scene_id, name, _states in SCENES:
        g.put(NamedThing(S, scene_id, (name,)))
    return g


@pytest.fixture(scope="module")
def home(engine: EmbeddedNluEngine) -> Gazetteer:
    return demo_home(engine)


def parse(engine: EmbeddedNluEngine, home: Gazetteer, text: str) -> NluResult:
    return engine.parse_sync(text, home)


def pairs(result: NluResult) -> set[tuple[str, object]]:
    return {(e.entity, e.value) for e in result.entities}


@pytest.mark.parametrize(
    ("text", "intent", "value"),
    [
        ("desk lamp 60", "set_brightness", ("brightness", 60)),
        ("kitchen lights 40", "set_brightness", ("brightness", 40)),
        ("thermostat 21", "set_temperature", ("temperature", 21)),
        ("set the floor lamp to 25", "set_brightness", ("brightness", 25)),
    ],
)
def test_a_bare_number_follows_what_the_device_can_do(
    engine: EmbeddedNluEngine, home: Gazetteer, text: str, intent: str, value: tuple[str, object]
) -> None:
    result = parse(engine, home, text)
    assert result.intent.name == intent
    assert value in pairs(result)


def test_the_same_words_change_reading_with_the_device(engine: EmbeddedNluEngine, home: Gazetteer) -> None:
    # identical words, only the device differs: a light is dimmed, a thermostat is set
    assert parse(engine, home, "desk lamp 22").intent.name == "set_brightness"
    assert parse(engine, home, "thermostat 22").intent.name == "set_temperature"
    # a rename that makes the lamp a thermostat-named climate device changes the reading at once
    other = demo_home(engine)
    other.put(NamedThing(D, "desk_lamp", ("desk heater",), "office", "climate", frozenset({"setpoint"})))
    assert parse(engine, other, "desk heater 22").intent.name == "set_temperature"


def test_a_light_is_never_locked_and_a_door_is_narrowed_to_the_lock(engine: EmbeddedNluEngine, home: Gazetteer) -> None:
    for text in ("lock the desk lamp", "lock the porch light"):
        result = parse(engine, home, text)
        assert all(s.name != "lock" or s.confidence < 0.1 for s in result.intent_ranking), text
    # "the door" fits the front door and the garage door; only the front door has a lock
    result = parse(engine, home, "please unlock the door")
    assert result.intent.name == "unlock"
    assert ("device", "front_door") in pairs(result)


def test_another_name_for_the_room_finds_the_device_named_after_it(engine: EmbeddedNluEngine, home: Gazetteer) -> None:
    # the living room is also called the lounge; it holds two lamps, one named "living room lamp"
    result = parse(engine, home, "lounge lamp on")
    assert result.intent.name == "turn_on"
    assert ("device", "living_room_lamp") in pairs(result)


def test_positions_for_covers(engine: EmbeddedNluEngine, home: Gazetteer) -> None:
    result = parse(engine, home, "open the bedroom blinds halfway")
    assert result.intent.name == "open_cover"
    assert ("position", 50) in pairs(result)
    result = parse(engine, home, "lower the bedroom blinds a quarter of the way")
    assert result.intent.name == "close_cover"
    assert ("position", 25) in pairs(result)
    # the same fraction is no position outside covers, and a time is still a time
    assert "position" not in {e.entity for e in parse(engine, home, "at a quarter past seven").entities}


@pytest.mark.parametrize(
    "text",
    [
        "I'd like a copy of what you store about me",
        "can I see everything you've recorded about me",
        "how do I export my data",
        "cancel my netflix subscription",
        "delete my email account",
        "lock the front door",
        "what do you do with my recordings",
    ],
)
def test_no_destructive_intent_for_a_request_that_is_not(engine: EmbeddedNluEngine, home: Gazetteer, text: str) -> None:
    assert parse(engine, home, text).intent.name not in DESTRUCTIVE_INTENTS


def test_destructive_intents_still_work_when_clear(engine: EmbeddedNluEngine, home: Gazetteer) -> None:
    assert parse(engine, home, "delete all my data").intent.name == "delete_data"
    assert parse(engine, home, "cancel my subscription").intent.name == "cancel_subscription"
    assert parse(engine, home, "unlock the front door").intent.name == "unlock"


def test_out_of_domain_questions_are_out_of_scope_without_device_entities(
    engine: EmbeddedNluEngine, home: Gazetteer
) -> None:
    result = parse(engine, home, "what's the weather like in the kitchen of my dreams")
    assert result.intent.name in ("out_of_scope", FALLBACK_INTENT)
    if result.intent.name == "out_of_scope":
        assert not {"device", "area", "device_class"} & {e.entity for e in result.entities}


def test_the_ranking_is_exposed_in_rasa_shape(engine: EmbeddedNluEngine, home: Gazetteer) -> None:
    body = parse(engine, home, "turn on the kitchen lights").to_dict()
    assert {"text", "intent", "entities", "intent_ranking"} <= set(body)
    ranking = body["intent_ranking"]
    assert ranking[0]["name"] == "turn_on" and len(ranking) > 1
    assert all(a["confidence"] >= b["confidence"] for a, b in itertools.pairwise(ranking))
    assert "uncertain" not in body  # a clear command is not asked about


def test_a_weak_guess_at_a_state_change_is_marked_uncertain(engine: EmbeddedNluEngine, home: Gazetteer) -> None:
    # "the X" alone is no command: never a confident state change (an answer or follow-up is `inform`)
    for text in ("the front door", "the porch light", "the garage door", "desk lamp please"):
        result = parse(engine, home, text)
        changes_state = result.intent.name in {"turn_on", "turn_off", "lock", "open_cover", "close_cover"}
        assert result.intent.name not in DESTRUCTIVE_INTENTS and (result.uncertain or not changes_state), (
            text,
            result.to_dict(),
        )


async def test_an_uncertain_state_change_is_asked_before_it_is_done(api: Api) -> None:
    out = await api.say("desk lamp please")
    assert out["nlu"].get("uncertain") is True, out["nlu"]
    assert out["reply"]["kind"] == "confirm", out["reply"]
    status, body = await api.call("GET", "/api/v1/devices/desk_lamp")
    assert status == 200 and body["state"]["on"] is False  # nothing done on a guess
    out = await api.say("yes")
    assert out["reply"]["kind"] == "done", out["reply"]
    status, body = await api.call("GET", "/api/v1/devices/desk_lamp")
    assert body["state"]["on"] is True


async def test_a_clear_command_is_done_at_once(api: Api) -> None:
    out = await api.say("could you switch on the desk lamp please")
    assert "uncertain" not in out["nlu"]
    assert out["reply"]["kind"] == "done", out["reply"]
