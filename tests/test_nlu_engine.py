"""The embedded NLU engine through its public entry points: training data, gazetteer, values, parse, factory."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from assistant.config import NluConfig, load_config
from assistant.demo import AREAS, DEVICES, SCENES
from assistant.errors import ConfigError, ErrorCode, NluError
from assistant.nlu.embedded import EmbeddedNluEngine
from assistant.nlu.engine import NamedThing, NameKind
from assistant.nlu.factory import create_nlu_engine
from assistant.nlu.gazetteer import Gazetteer
from assistant.nlu.numbers import parse_number_words
from assistant.nlu.result import FALLBACK_INTENT, NluResult
from assistant.nlu.training_data import load_training_data, parse_example
from assistant.nlu.values import iso_duration

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 20

D, A, S = NameKind.DEVICE, NameKind.AREA, NameKind.SCENE


def demo_gazetteer(g: Gazetteer | None = None) -> Gazetteer:
    g = g if g is not None else Gazetteer()
    for area_id, name, aliases in AREAS:
        g.put(NamedThing(A, area_id, (name, *aliases)))
    for dev_id, name, kind, area, _caps, aliases, _state in DEVICES:
        g.put(NamedThing(D, dev_id, (name, *aliases), area, str(kind)))
    for scene_id, name, _states in SCENES:
        g.put(NamedThing(S, scene_id, (name,)))
    return g


def found(g: Gazetteer, text: str) -> list[tuple[str, object]]:
    return [(e.entity, e.value) for e in g.match(text)]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedNluEngine:
    eng = EmbeddedNluEngine(NluConfig(data_dir=ROOT / "nlu_data", model_dir=tmp_path_factory.mktemp("model")))
    eng.load_sync()  # no model yet: trains
    return eng


@pytest.fixture(scope="module")
def home(engine: EmbeddedNluEngine) -> Gazetteer:
    return demo_gazetteer(engine.new_vocabulary())


def parse(engine: EmbeddedNluEngine, vocab: Gazetteer, text: str) -> NluResult:
    return engine.parse_sync(text, vocab)


def values(result: NluResult, entity: str) -> list[object]:
    return result.values(entity)


# -- training data ------------------------------------------------------------------------------------------------
GOOD_YAML = """\
version: "3.1"
nlu:
- intent: turn_on
  examples: |
    - turn on the [kitchen lights](device)
    - [lights](device_class:light) on in the [living room]{"entity": "area", "value": "living_room"}
    - switch on [both]{"entity": "device", "role": "first"} please
- intent: greet
  examples:
  - hello there
  - text: |
      good evening
- synonym: light
  examples: |
    - lamps
    - bulbs
- lookup: color
  examples: |
    - red
    - warm white
- regex: brightness
  examples: |
    - \\b\\d{1,3} ?%
stories: []
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_loader_reads_intents_entities_synonyms_lookups_regexes(tmp_path: Path) -> None:
    write(tmp_path, "nlu.yml", GOOD_YAML)
    data = load_training_data(tmp_path)
    assert data.intents == ["greet", "turn_on"]
    assert [e.text for e in data.examples] == [
        "turn on the kitchen lights",
        "lights on in the living room",
        "switch on both please",
        "hello there",
        "good evening",
    ]
    first = data.examples[0]
    assert first.source == "nlu.yml:5"
    (span,) = first.entities
    assert (span.entity, span.value, span.text) == ("device", "kitchen lights", "kitchen lights")
    assert first.text[span.start : span.end] == "kitchen lights"
    second = data.examples[1]
    assert [(s.entity, s.value, s.explicit_value) for s in second.entities] == [
        ("device_class", "light", True),
        ("area", "living_room", True),
    ]
    assert second.text[second.entities[1].start : second.entities[1].end] == "living room"
    assert data.examples[2].entities[0].role == "first"
    assert data.synonyms == {"lamps": "light", "bulbs": "light"}
    assert data.lookups == {"color": ["red", "warm white"]}
    assert data.regexes == {"brightness": [r"\b\d{1,3} ?%"]}
    assert len(data.data_hash) == 64


def test_loader_reads_the_shipped_data() -> None:
    data = load_training_data(ROOT / "nlu_data")
    assert len(data.examples) > 500
    assert len(data.intents) >= 30


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("nlu:\n- intent: greet\n  examples: |\n    - hi\n   bad: [\n", "bad.yml:", "invalid YAML"),
        ("nlu:\n- intent: dance\n  examples: |\n    - hi\n", "bad.yml:2", "unknown intent 'dance'"),
        (
            "nlu:\n- intent: greet\n  examples: |\n    - hi\n    - hello [x](colour)\n",
            "bad.yml:5",
            "unknown entity 'colour'",
        ),
        (
            "nlu:\n- intent: turn_on\n  examples: |\n    - on\n    - [lamps](device_class=light) on\n",
            "bad.yml:5",
            '{"entity": "device_class", "value": "light"}',
        ),
        ("nlu:\n- intent: greet\n  examples: |\n    - hi\n    hello\n", "bad.yml:5", "must start with '- '"),
        ("nlu:\n- intent: greet\n  examples: |\n    - hi [x]{entity: area}\n", "bad.yml:4", "not valid JSON"),
        ("nlu:\n- intent: greet\n  examples: |\n    - hi [there(area)\n", "bad.yml:4", "malformed"),
        ("nlu:\n- regex: r\n  examples: |\n    - ([a-z\n", "bad.yml:4", "does not compile"),
        ("nlu:\n- examples: |\n    - hi\n", "bad.yml:2", "exactly one of intent"),
        ("nlu:\n- intent: greet\n", "bad.yml:2", "has no examples"),
        ("nlu: 3\n", "bad.yml:1", "must be a list"),
        ("- just a list\n", "bad.yml:1", "top level"),
    ],
)
def test_loader_rejects_malformed_files_naming_file_and_line(tmp_path: Path, text: str, where: str, words: str) -> None:
    write(tmp_path, "good.yml", GOOD_YAML)
    write(tmp_path, "bad.yml", text)
    with pytest.raises(NluError) as info:
        load_training_data(tmp_path)
    err = info.value
    assert err.code is ErrorCode.VALIDATION
    assert where in err.message and words in err.message, err.message


def test_loader_rejects_an_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(NluError) as info:
        load_training_data(tmp_path)
    assert info.value.code is ErrorCode.VALIDATION


def test_parse_example_legacy_value_syntax() -> None:
    ex = parse_example("set it to [fifty percent](brightness:50) now", "set_brightness")
    assert ex.text == "set it to fifty percent now"
    (span,) = ex.entities
    assert (span.value, span.start, span.end) == ("50", 10, 23)


# -- gazetteer ----------------------------------------------------------------------------------------------------
def test_gazetteer_exact_names_aliases_areas_scenes() -> None:
    g = demo_gazetteer()
    assert found(g, "turn on the kitchen lights") == [("device", "kitchen_lights")]
    assert found(g, "switch on the television") == [("device", "tv")]
    assert found(g, "is the front door lock locked") == [("device", "front_door")]
    assert found(g, "lights in the lounge") == [("device_class", "light"), ("area", "living_room")]
    assert found(g, "activate movie night") == [("scene", "movie_night")]
    assert found(g, "bedtime mode please") == [("scene", "bedtime")]
    assert found(g, "start the scene good morning") == [("scene", "good_morning")]
    [e] = g.match("Turn off the Coffee-Maker!")
    assert (e.start, e.end, e.text) == (13, 25, "Coffee-Maker")


def test_gazetteer_normalises_case_punctuation_plurals_articles_and_spelling() -> None:
    g = demo_gazetteer()
    assert found(g, "the KITCHEN LIGHT") == [("device", "kitchen_lights")]
    assert found(g, "my desk lamps") == [("device", "desk_lamp")]
    assert found(g, "turn the t.v. off") == [("device", "tv")]
    assert found(g, "the living-room lamp") == [("device", "living_room_lamp")]
    assert found(g, "the livingroom lamp") == [("device", "living_room_lamp")]
    assert found(g, "turn on the kichen lights") == [("device", "kitchen_lights")]
    assert found(g, "switch off the desk lamb") == [("device", "desk_lamp")]
    assert found(g, "set the thermostst") == [("device", "thermostat")]
    assert found(g, "make me a coffee") == []  # "make" is not "maker"


def test_gazetteer_partial_names_unique_ambiguous_and_area_preference() -> None:
    g = demo_gazetteer()
    [lamp] = g.match("turn off the lamp")
    assert (lamp.entity, lamp.value) == ("device", "lamp")
    assert lamp.candidates == ["desk_lamp", "floor_lamp", "living_room_lamp"]
    assert found(g, "the bedroom light") == [("device", "bedroom_ceiling_light")]
    assert found(g, "the office lamp") == [("device", "desk_lamp")]  # the lamp in the office
    assert found(g, "the lamp in the office") == [("device", "desk_lamp"), ("area", "office")]
    [lamp, area] = g.match("the lamp in the living room")
    assert lamp.candidates == ["floor_lamp", "living_room_lamp"] and area.value == "living_room"
    [door] = g.match("open the door")
    assert door.candidates == ["front_door", "garage_door"]


def test_gazetteer_class_words() -> None:
    g = demo_gazetteer()
    assert found(g, "turn off all the lights") == [("device_class", "light")]
    assert found(g, "close the blinds") == [("device_class", "cover")]
    assert found(g, "dim the lamps") == [("device_class", "light")]
    assert found(g, "turn on the fan") == [("device_class", "fan")]
    assert found(g, "turn the heating up") == [("device_class", "climate")]
    assert found(g, "lock all the locks") == [("device_class", "lock")]
    assert found(g, "are the sensors ok") == [("device_class", "sensor")]
    assert found(g, "i bought a new lock") == [("device_class", "lock")]
    # a device named exactly so wins; without one, "thermostat" is the climate class
    assert found(g, "set the thermostat") == [("device", "thermostat")]
    assert found(Gazetteer(), "set the thermostat") == [("device_class", "climate")]


def test_gazetteer_pronouns_and_verbs_are_not_entities() -> None:
    g = demo_gazetteer()
    assert found(g, "turn it off") == []
    assert found(g, "switch them on") == []
    assert found(g, "lock the shed") == []
    assert found(g, "please light up the porch") == [("area", "porch")]


def test_gazetteer_put_rename_and_remove_take_effect_at_once() -> None:
    g = demo_gazetteer()
    g.put(NamedThing(D, "desk_lamp", ("reading light",), "office", "light"))
    assert found(g, "turn on the reading light") == [("device", "desk_lamp")]
    assert found(g, "turn on the desk lamp") == [("device", "lamp")]  # now only a partial mention of two lamps
    assert g.get(D, "desk_lamp") == NamedThing(D, "desk_lamp", ("reading light",), "office", "light")
    g.remove(D, "desk_lamp")
    assert g.get(D, "desk_lamp") is None
    assert found(g, "turn on the reading light") == [("device", "light")]
    assert "desk_lamp" not in {t.id for t in g.things(D)}
    g.remove(D, "no_such_device")  # harmless
    g.put(NamedThing(A, "office", ("workroom",)))
    assert found(g, "lights in the workroom") == [("device_class", "light"), ("area", "office")]
    assert found(g, "lights in the office") == [("device_class", "light")]


def test_gazetteer_removing_everything_leaves_nothing_to_match() -> None:
    g = demo_gazetteer()
    for kind in NameKind:
        for thing in g.things(kind):
            g.remove(kind, thing.id)
    assert len(g) == 0
    assert found(g, "turn on the kichen lights in the living room for movie night") == [("device_class", "light")]


def test_gazetteer_caps_candidates_and_stays_fast_with_many_devices() -> None:
    g = demo_gazetteer()
    began = time.perf_counter()
    for k in range(5000):
        g.put(NamedThing(D, f"lamp_{k:05d}", (f"spare lamp {k}",), "office", "light"))
    put_seconds = time.perf_counter() - began
    [lamp] = g.match("turn on the lamp")
    assert lamp.candidates is not None and len(lamp.candidates) == 20
    assert lamp.candidates == sorted(lamp.candidates) and lamp.candidates[0] == "desk_lamp"
    assert found(g, "turn on spare lamp 42") == [("device", "lamp_00042")]
    assert found(g, "turn on lamp 4321") == [("device", "lamp_04321")]
    began = time.perf_counter()
    for _ in range(200):
        g.match("turn on the kitchen lights and the lamp in the office")
    per_match = (time.perf_counter() - began) / 200
    assert put_seconds < 5 and per_match < 0.005


def test_gazetteer_survives_odd_text() -> None:
    g = demo_gazetteer()
    for text in ["", "   ", "🙂🙂", "İİİ kitchen lights", "ﷺ ‮rtl‬ lamp", "a" * 5000, "lamp " * 500]:
        for e in g.match(text):
            assert text[e.start : e.end] == e.text


# -- numbers and values ---------------------------------------------------------------------------------------------
def test_number_words() -> None:
    assert parse_number_words("seventy five".split()) == (75, 2)
    assert parse_number_words("twenty one point five".split()) == (21.5, 4)
    assert parse_number_words("a hundred".split()) == (100, 2)
    assert parse_number_words("one hundred and twenty".split()) == (120, 4)
    assert parse_number_words("twelve".split()) == (12, 1)
    assert parse_number_words("lamp".split()) is None


def test_iso_durations() -> None:
    assert iso_duration(600) == "PT10M"
    assert iso_duration(5400) == "PT1H30M"
    assert iso_duration(90) == "PT1M30S"
    assert iso_duration(7 * 86400) == "P7D"


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        ("dim the kitchen lights to 50%", "brightness", 50),
        ("set the desk lamp to 50 percent", "brightness", 50),
        ("brightness fifty percent", "brightness", 50),
        ("dim the floor lamp to seventy-five", "brightness", 75),
        ("set the lights to half brightness", "brightness", 50),
        ("put the porch light at full brightness", "brightness", 100),
        ("set the thermostat to 21 degrees", "temperature", 21),
        ("set the thermostat to twenty one", "temperature", 21),
        ("heat the living room to 21.5", "temperature", 21.5),
        ("set the heating to seventy degrees", "temperature", 70),
        ("make the kitchen lights warm white", "color", "warm white"),
        ("turn the desk lamp red", "color", "red"),
        ("turn off the lights in 10 minutes", "duration", "PT10M"),
        ("turn on the fan for half an hour", "duration", "PT30M"),
        ("turn on the fan for an hour and a half", "duration", "PT1H30M"),
        ("every day at 7 am turn on the porch light", "time", "07:00"),
        ("at 10:30 pm lock the front door", "time", "22:30"),
        ("close the blinds at sunset", "time", "sunset"),
        ("turn on the coffee maker at noon", "time", "12:00"),
        ("upgrade me to pro", "tier", "professional"),
        ("move me to the business plan", "tier", "enterprise"),
        ("am i on the basic plan", "tier", "free"),
        ("rename the desk lamp to reading light", "name", "reading light"),
        ("call the floor lamp Corner Lamp", "name", "Corner Lamp"),
        ("name it Bob please", "name", "Bob"),
    ],
)
def test_rule_values(engine: EmbeddedNluEngine, home: Gazetteer, text: str, entity: str, value: object) -> None:
    result = parse(engine, home, text)
    assert values(result, entity) == [value], (result.intent.name, [e.to_dict() for e in result.entities])


def test_temperatures_are_not_brightness_and_vice_versa(engine: EmbeddedNluEngine, home: Gazetteer) -> None:
    result = parse(engine, home, "set the thermostat to 70")
    assert values(result, "temperature") == [70] and values(result, "brightness") == []
    result = parse(engine, home, "set the desk lamp brightness to 70")
    assert values(result, "brightness") == [70] and values(result, "temperature") == []
    assert values(parse(engine, home, "feel free to turn on the tv"), "tier") == []


def test_rename_is_understood_immediately(engine: EmbeddedNluEngine, home: Gazetteer) -> None:
    result = parse(engine, home, "rename the porch light to front light")
    assert result.intent.name == "rename_device"
    assert values(result, "device") == ["porch_light"] and values(result, "name") == ["front light"]
    vocab = demo_gazetteer(engine.new_vocabulary())
    vocab.put(NamedThing(D, "porch_light", ("front light",), "porch", "light"))
    result = parse(engine, vocab, "turn on the front light")
    assert result.intent.name == "turn_on" and values(result, "device") == ["porch_light"]


# -- parse ----------------------------------------------------------------------------------------------------------
async def test_parse_understands_commands(engine: EmbeddedNluEngine, home: Gazetteer) -> None:
    async with asyncio.timeout(TIMEOUT):
        result = await engine.parse("please turn on the kitchen lights", home)
    assert result.intent.name == "turn_on" and result.intent.confidence > 0.5
    assert values(result, "device") == ["kitchen_lights"]
    assert 1 < len(result.intent_ranking) <= 10
    assert result.intent_ranking[0].name == "turn_on"
    assert NluResult.from_dict(json.loads(json.dumps(result.to_dict()))).to_dict() == result.to_dict()
    result = parse(engine, home, "dim the lamp in the office to 30%")
    assert result.intent.name == "set_brightness"
    assert values(result, "device") == ["desk_lamp"] and values(result, "brightness") == [30]


def test_parse_falls_back_like_rasa(engine: EmbeddedNluEngine, home: Gazetteer) -> None:
    threshold = engine.config.threshold
    result = parse(engine, home, "xyzzy plugh qwerty")
    assert result.is_fallback
    assert result.intent.confidence == threshold
    assert result.intent_ranking[0].name == FALLBACK_INTENT
    assert result.intent_ranking[0].confidence == threshold
    assert len(result.intent_ranking) <= 10
    assert result.intent_ranking[1].confidence < threshold
    config = engine.config
    strict = EmbeddedNluEngine(NluConfig(data_dir=config.data_dir, model_dir=config.model_dir, threshold=1.0))
    strict.load_sync()
    result = parse(strict, home, "turn on the kitchen lights")
    assert result.is_fallback and result.intent_ranking[1].name == "turn_on"
    assert values(result, "device") == ["kitchen_lights"]  # entities are kept, as in Rasa


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_parse_empty_text(engine: EmbeddedNluEngine, home: Gazetteer, text: str) -> None:
    result = parse(engine, home, text)
    assert result.is_fallback and result.entities == [] and result.text == text


@pytest.mark.parametrize(
    "text",
    ["🙂 turn on the lamp 🙂", "İSTANBUL kitchen lights", "cafe\u0301 lights", "منزل", "\x00\x01 lamp", "ǅ" * 50],
)
def test_parse_unicode(engine: EmbeddedNluEngine, home: Gazetteer, text: str) -> None:
    result = parse(engine, home, text)
    for e in result.entities:
        assert text[e.start : e.end] == e.text


def test_parse_very_long_text(engine: EmbeddedNluEngine, home: Gazetteer) -> None:
    text = "turn on the kitchen lights and the lamp " * 500
    began = time.perf_counter()
    result = parse(engine, home, text)
    assert time.perf_counter() - began < 2
    assert result.text == text and result.entities


def test_parse_is_fast(engine: EmbeddedNluEngine, home: Gazetteer) -> None:
    texts = ["turn on the kitchen lights", "set the thermostat to 21 degrees", "what can you do", "lamp off"]
    parse(engine, home, texts[0])
    began = time.perf_counter()
    for _ in range(50):
        for text in texts:
            parse(engine, home, text)
    assert (time.perf_counter() - began) / 200 < 0.005


def test_parse_before_load_is_an_error(tmp_path: Path) -> None:
    eng = EmbeddedNluEngine(NluConfig(model_dir=tmp_path))
    with pytest.raises(NluError) as info:
        eng.parse_sync("hello", eng.new_vocabulary())
    assert info.value.code is ErrorCode.NOT_TRAINED


# -- load / train ---------------------------------------------------------------------------------------------------
SMALL_DATA = """\
nlu:
- intent: turn_on
  examples: |
    - turn on the [lamp](device)
    - switch on the [kitchen lights](device)
    - lights on
- intent: turn_off
  examples: |
    - turn off the [lamp](device)
    - switch off the [kitchen lights](device)
    - lights off
- intent: greet
  examples: |
    - hello
    - hi there
"""


async def test_load_trains_when_missing_or_stale_and_reuses_otherwise(tmp_path: Path) -> None:
    data_dir, model_dir = tmp_path / "data", tmp_path / "models"
    write(data_dir, "nlu.yml", SMALL_DATA)
    eng = EmbeddedNluEngine(NluConfig(data_dir=data_dir, model_dir=model_dir))
    async with asyncio.timeout(TIMEOUT):
        await eng.load()
    meta_path = model_dir / "embedded" / "meta.json"
    first = json.loads(meta_path.read_text())
    assert (model_dir / "embedded" / "model.npz").is_file()
    vocab = eng.new_vocabulary()
    assert eng.parse_sync("hello", vocab).intent.name == "greet"

    again = EmbeddedNluEngine(NluConfig(data_dir=data_dir, model_dir=model_dir))
    async with asyncio.timeout(TIMEOUT):
        await again.load()
    assert json.loads(meta_path.read_text())["trained_at"] == first["trained_at"]  # loaded, not retrained
    assert again.parse_sync("turn off the lamp", again.new_vocabulary()).intent.name == "turn_off"

    write(data_dir, "more.yml", "nlu:\n- intent: goodbye\n  examples: |\n    - bye\n    - see you later\n")
    stale = EmbeddedNluEngine(NluConfig(data_dir=data_dir, model_dir=model_dir))
    async with asyncio.timeout(TIMEOUT):
        await stale.load()
    meta = json.loads(meta_path.read_text())
    assert meta["data_hash"] != first["data_hash"] and "goodbye" in meta["labels"]


def test_load_retrains_over_a_broken_model(tmp_path: Path) -> None:
    data_dir, model_dir = tmp_path / "data", tmp_path / "models"
    write(data_dir, "nlu.yml", SMALL_DATA)
    EmbeddedNluEngine(NluConfig(data_dir=data_dir, model_dir=model_dir)).load_sync()
    meta_path = model_dir / "embedded" / "meta.json"
    meta = json.loads(meta_path.read_text())
    del meta["features"]
    meta_path.write_text(json.dumps(meta))
    eng = EmbeddedNluEngine(NluConfig(data_dir=data_dir, model_dir=model_dir))
    eng.load_sync()
    assert "features" in json.loads(meta_path.read_text())
    assert eng.parse_sync("hi there", eng.new_vocabulary()).intent.name == "greet"


def test_train_report(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    write(data_dir, "nlu.yml", SMALL_DATA)
    eng = EmbeddedNluEngine(NluConfig(data_dir=data_dir, model_dir=tmp_path / "m"))
    report = eng.train()
    assert report.examples == 8 and report.intents == 3 and report.seconds < 30
    assert report.model_path == tmp_path / "m" / "embedded" / "model.npz"
    assert report.metrics["features"] > 0


def test_load_without_data_or_model_is_an_error(tmp_path: Path) -> None:
    eng = EmbeddedNluEngine(NluConfig(data_dir=tmp_path / "none", model_dir=tmp_path / "m"))
    with pytest.raises(NluError) as info:
        eng.load_sync()
    assert info.value.code is ErrorCode.NOT_TRAINED


def test_vocabulary_made_before_load_gets_the_trained_word_lists(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    write(data_dir, "nlu.yml", SMALL_DATA + "- synonym: light\n  examples: |\n    - luminaires\n")
    eng = EmbeddedNluEngine(NluConfig(data_dir=data_dir, model_dir=tmp_path / "m"))
    vocab = eng.new_vocabulary()
    assert found(vocab, "the luminaires") == []
    eng.load_sync()
    assert found(vocab, "the luminaires") == [("device_class", "light")]


# -- factory --------------------------------------------------------------------------------------------------------
def test_factory() -> None:
    engine = create_nlu_engine(NluConfig(engine="embedded"))
    assert isinstance(engine, EmbeddedNluEngine) and engine.name == "embedded"
    rasa = create_nlu_engine(NluConfig(engine="rasa"))
    assert rasa.name == "rasa"
    with pytest.raises(ConfigError) as info:
        create_nlu_engine(NluConfig(engine="spacy"))
    assert "embedded" in info.value.message and info.value.details["valid"] == ["embedded", "rasa"]


@pytest.mark.parametrize(
    ("text", "colour"),
    [
        ("make the kitchen light blue", "blue"),
        ("make it light blue", "light blue"),
        ("set the lamp to light blue", "light blue"),
    ],
)
def test_light_before_a_colour_belongs_to_the_device_unless_it_is_a_shade(text: str, colour: str) -> None:
    engine = EmbeddedNluEngine(load_config(env={}).nlu)
    asyncio.run(engine.load())
    vocab = engine.new_vocabulary()
    vocab.put(NamedThing(NameKind.DEVICE, "kitchen_lights", ("kitchen lights",), "kitchen", "light"))
    result = engine.parse_sync(text, vocab)
    assert result.intent.name == "set_color"
    assert [e.value for e in result.entities if e.entity == "color"] == [colour]
