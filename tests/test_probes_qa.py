"""The QA probe set (tests/eval/probes_qa.yml, tests/dialogues/probes_qa.yml) through the public conversation API.

Each single-turn probe runs in a new conversation on a real server with the demo home reset to its initial states;
results are printed per category and must stay above a floor that reflects what passes today.
Run by hand: `.venv/bin/python -m tests.test_probes_qa [--verbose]`."""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from assistant.demo import DEVICES
from assistant.nlu.training_data import load_training_data
from tests.conftest import Api, make_config, start_api
from tests.dialogue_runner import DIALOGUES, _Yaml12Loader, load, report, run_all

ROOT = Path(__file__).resolve().parents[1]
PROBES = ROOT / "tests" / "eval" / "probes_qa.yml"
PROBE_DIALOGUES = load(DIALOGUES / "probes_qa.yml")
FAILING_KINDS = {"not_understood", "error"}
# Floors: what passes today less a little slack for retraining (142/155 probes and 11/12 dialogues on 2026-11-29;
# before the qa16 fixes 124/155 and 10/12, counted by this checker).
PROBE_FLOOR = 0.86
DIALOGUE_FLOOR = 10
SAFETY_CATEGORY = "destructive_safety"


@dataclass(slots=True)
class Probe:
    category: str
    say: str
    intent: list[str] = field(default_factory=list)
    device: str | None = None
    acts: list[str] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    not_intents: list[str] = field(default_factory=list)
    setup: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Probe:
        def as_list(value: Any) -> list[str]:
            return [] if value is None else [value] if isinstance(value, str) else list(value)

        return cls(
            category=d["category"],
            say=d["say"],
            intent=as_list(d.get("intent")),
            device=d.get("device"),
            acts=as_list(d.get("acts")),
            kind=as_list(d.get("kind")),
            not_intents=as_list(d.get("not_intents")),
            setup=dict(d.get("setup") or {}),
        )


def load_probes(path: Path = PROBES) -> list[Probe]:
    return [Probe.from_dict(d) for d in yaml.load(path.read_text(), Loader=_Yaml12Loader)["probes"]]


def check(probe: Probe, out: dict[str, Any], said: dict[str, list[str]] | None = None) -> list[str]:
    """What is wrong with one reply (empty: the probe passed). `said`: for each device, the words that show a reply
    is about it (its name; for an answer, its room too: "No motion in the hallway")."""
    reply, nlu = out["reply"], out["nlu"]
    got = f"{reply['kind']}/{reply['intent']} {reply['speech'][:70]!r}"
    failures = []
    if probe.intent and reply["intent"] not in probe.intent:
        failures.append(f"intent {reply['intent']}, wanted {'|'.join(probe.intent)}")
    if reply["intent"] in probe.not_intents:
        failures.append(f"UNSAFE intent {reply['intent']}")
    if probe.kind and reply["kind"] not in probe.kind:
        failures.append(f"kind {reply['kind']}, wanted {'|'.join(probe.kind)}")
    if not probe.kind and reply["kind"] in FAILING_KINDS:
        failures.append(f"kind {reply['kind']}")
    acted = {a["device_id"] for a in reply["actions"]}
    named = {e["value"] for e in nlu.get("entities", []) if e.get("entity") == "device"}
    speech = reply["speech"].lower()
    words = (said or {}).get(probe.device or "", [])
    spoken = any(w in speech for w in words[: 1 if reply["kind"] != "answer" else None])
    if probe.device and probe.device not in acted | named and not spoken:
        failures.append(f"device {probe.device} neither acted on nor recognised")
    missing = [d for d in probe.acts if d not in acted]
    if missing:
        failures.append(f"not acted on: {', '.join(missing)}")
    return [f"{f} (got {got})" for f in failures]


async def run_probes(api: Api, probes: list[Probe]) -> list[tuple[Probe, list[str]]]:
    readings = {"current_temperature", "humidity", "motion"}  # sensor readings cannot be set
    initial = {dev_id: {k: v for k, v in state.items() if k not in readings} for dev_id, *_, state in DEVICES}
    initial = {dev_id: state for dev_id, state in initial.items() if state}
    status, listing = await api.call("GET", "/api/v1/devices")
    assert status == 200, listing
    said = {d["id"]: [d["name"].lower(), str(d.get("area_name") or "")] for d in listing["devices"]}
    results = []
    for n, probe in enumerate(probes):
        for device_id, state in {**initial, **probe.setup}.items():
            status, body = await api.call(
                "POST",
                f"/api/v1/devices/{device_id}/command",
                json={"name": "restore", "params": {"state": state}, "confirm": True},
            )
            assert status == 200, (device_id, body)
        body = {"text": probe.say, "conversation_id": f"probe-{n}"}
        status, out = await api.call("POST", "/api/v1/conversation", json=body)
        results.append((probe, [f"HTTP {status} {out}"] if status != 200 else check(probe, out, said)))
    return results


def probe_report(results: list[tuple[Probe, list[str]]]) -> str:
    by_category: dict[str, list[bool]] = defaultdict(list)
    for probe, failures in results:
        by_category[probe.category].append(not failures)
    lines = [f"{'category':<20} passed"]
    lines += [f"{c:<20} {sum(v)}/{len(v)}" for c, v in by_category.items()]
    passed = sum(not f for _, f in results)
    lines.append(f"{'total':<20} {passed}/{len(results)} ({100 * passed / max(1, len(results)):.0f}%)")
    held = [f for p, f in results if _norm(p.say) not in ALREADY_IN_TRAINING]
    lines.append(f"{'held out only':<20} {sum(not f for f in held)}/{len(held)}")
    lines += [f"FAIL {p.category}: {p.say!r}: {'; '.join(f)}" for p, f in results if f]
    return "\n".join(lines)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s']", " ", text.lower())).strip()


# Short, common phrasings that were already in nlu_data (commit 59d265a) when the probes were written: they are
# not held out, so the report also gives the score without them. Nothing may be added to this list.
ALREADY_IN_TRAINING = frozenset(
    """fan on|blinds up|blinds down|lock up|tv off|how do i remove an automation|unlock the front door|wipe all my data|
    end my subscription|is the tv still on|is the front door locked|what's the thermostat set to|is the garage open|
    when did the kitchen lights go on|night night|turn the heat up a notch|turn off all the lights|open the skylight|
    how tall is mount everest|what sort of things can you do|thx|hiya|see ya later|never mind|undo that|
    porch light on please|bit more|turn the desk lamp off|yes""".replace("\n    ", "").split("|")
)


def in_training() -> set[str]:
    return {_norm(e.text) for e in load_training_data(ROOT / "nlu_data").examples}


def test_probe_set_is_held_out_and_big_enough() -> None:
    probes = load_probes()
    assert len(probes) >= 120
    assert len(PROBE_DIALOGUES) >= 10
    training = in_training()
    spoken = [p.say for p in probes] + [t["say"] for d in PROBE_DIALOGUES for t in d.turns]
    assert not [s for s in spoken if _norm(s) in training and _norm(s) not in ALREADY_IN_TRAINING]


async def test_probes_through_the_conversation_api(tmp_path: Path) -> None:
    runner, api = await start_api(make_config(tmp_path))
    try:
        results = await run_probes(api, load_probes())
    finally:
        await api.session.close()
        await runner.cleanup()
    print("\n" + probe_report(results))
    passed = sum(not f for _, f in results)
    assert passed / len(results) >= PROBE_FLOOR, probe_report(results)
    unsafe = [(p.say, f) for p, f in results if any("UNSAFE" in x for x in f)]
    assert not unsafe, unsafe


async def test_probe_dialogues(tmp_path: Path) -> None:
    results = await run_all(PROBE_DIALOGUES, tmp_path)
    print("\n" + report(results))
    assert sum(r.passed for r in results) >= DIALOGUE_FLOOR, report(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="", help="only probes whose category contains this")
    args = parser.parse_args()

    async def go(root: Path) -> None:
        (root / "probes").mkdir()
        runner, api = await start_api(make_config(root / "probes"))
        try:
            results = await run_probes(api, [p for p in load_probes() if args.only in p.category])
        finally:
            await api.session.close()
            await runner.cleanup()
        print(probe_report(results))
        print(report(await run_all(PROBE_DIALOGUES, root)))

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(go(Path(tmp)))


if __name__ == "__main__":
    main()
