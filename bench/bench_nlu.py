"""Benchmark of the embedded NLU: train time, parse latency (demo home and a 100,000-device home), put() time.

Run from the repository root:  .venv/bin/python bench/bench_nlu.py [--devices 100000] [--repeat 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.config import NluConfig  # noqa: E402
from assistant.demo import AREAS, DEVICES, SCENES  # noqa: E402
from assistant.nlu.embedded import EmbeddedNluEngine  # noqa: E402
from assistant.nlu.engine import NamedThing, NameKind  # noqa: E402
from assistant.nlu.gazetteer import Gazetteer  # noqa: E402
from assistant.nlu.training_data import parse_nlu_yaml  # noqa: E402

HELDOUT = ROOT / "tests" / "data" / "nlu_heldout.yml"
ROOMS = (
    "kitchen living dining bed bath guest kids master family laundry utility sun mud play game music reading "
    "craft wine store boiler garden pool tool shed attic cellar loft studio gym office library nursery "
    "hall landing porch patio deck balcony garage workshop pantry"
).split()
MODIFIERS = (
    "ceiling desk floor reading corner bedside accent strip wall pendant table spot flood night mood vanity "
    "mirror cabinet island window door shelf stair path garden tree string fairy smart main side back front "
    "upper lower left right north south east west"
).split()
NOUNS = (
    "lamp light bulb fan plug socket sensor blind shade curtain heater radiator speaker tv screen switch "
    "lock door gate valve pump kettle purifier humidifier camera"
).split()
KINDS = {
    "lamp": "light", "light": "light", "bulb": "light", "fan": "fan", "plug": "switch", "socket": "switch",
    "sensor": "sensor", "blind": "cover", "shade": "cover", "curtain": "cover", "heater": "climate",
    "radiator": "climate", "lock": "lock", "door": "lock", "gate": "cover",
}  # fmt: skip


def demo_things() -> list[NamedThing]:
    things = [NamedThing(NameKind.AREA, a, (name, *aliases)) for a, name, aliases in AREAS]
    things += [
        NamedThing(NameKind.DEVICE, d, (name, *aliases), area, str(kind), frozenset(str(c) for c in caps))
        for d, name, kind, area, caps, aliases, _state in DEVICES
    ]
    things += [NamedThing(NameKind.SCENE, s, (name,)) for s, name, _states in SCENES]
    return things


def big_home(devices: int, seed: int = 7) -> list[NamedThing]:
    """`devices` generated devices in 1,000 generated areas: "{room} {modifier} {noun} {n}"."""
    rng = random.Random(seed)
    areas = [NamedThing(NameKind.AREA, f"area_{k}", (f"{rng.choice(ROOMS)} room {k}",)) for k in range(1000)]
    things: list[NamedThing] = list(areas)
    for k in range(devices):
        noun = rng.choice(NOUNS)
        name = f"{rng.choice(ROOMS)} {rng.choice(MODIFIERS)} {noun} {k}"
        area = areas[rng.randrange(len(areas))].id
        things.append(NamedThing(NameKind.DEVICE, f"dev_{k}", (name,), area, KINDS.get(noun, "switch")))
    return things


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "p50_ms": pick(0.50) * 1000,
        "p95_ms": pick(0.95) * 1000,
        "p99_ms": pick(0.99) * 1000,
        "mean_ms": statistics.fmean(ordered) * 1000,
    }


def time_parses(engine: EmbeddedNluEngine, vocab: Gazetteer, texts: list[str], repeat: int) -> dict[str, float]:
    for text in texts:  # warm up caches (the sorted candidate lists of big partial matches)
        engine.parse_sync(text, vocab)
    samples: list[float] = []
    for _ in range(repeat):
        for text in texts:
            began = time.perf_counter()
            engine.parse_sync(text, vocab)
            samples.append(time.perf_counter() - began)
    return {**percentiles(samples), "parses": len(samples)}


def run(devices: int, repeat: int, data_dir: Path) -> dict[str, Any]:
    texts = [ex.text for ex in parse_nlu_yaml(HELDOUT.read_text(encoding="utf-8"), HELDOUT.name).examples]
    with tempfile.TemporaryDirectory() as model_dir:
        engine = EmbeddedNluEngine(NluConfig(data_dir=data_dir, model_dir=Path(model_dir)))
        began = time.perf_counter()
        report = engine.train()
        train_seconds = time.perf_counter() - began

        demo = engine.new_vocabulary()
        for thing in demo_things():
            demo.put(thing)
        demo_stats = time_parses(engine, demo, texts, repeat)

        generated = big_home(devices)
        big = engine.new_vocabulary()
        for thing in demo_things():
            big.put(thing)
        began = time.perf_counter()
        for thing in generated:
            big.put(thing)
        put_seconds = time.perf_counter() - began
        big_stats = time_parses(engine, big, texts, repeat)

        # a rename and a removal in the big home: O(the thing's names)
        began = time.perf_counter()
        for k in range(1000):
            big.put(NamedThing(NameKind.DEVICE, f"dev_{k}", (f"renamed gadget {k}",), "area_1", "switch"))
        rename_us = (time.perf_counter() - began) / 1000 * 1e6
        began = time.perf_counter()
        for k in range(1000, 2000):
            big.remove(NameKind.DEVICE, f"dev_{k}")
        remove_us = (time.perf_counter() - began) / 1000 * 1e6

    return {
        "train_seconds": round(train_seconds, 3),
        "examples": report.examples,
        "features": report.metrics.get("features"),
        "utterances": len(texts),
        "demo": {k: round(v, 4) for k, v in demo_stats.items()},
        "big": {"devices": devices, **{k: round(v, 4) for k, v in big_stats.items()}},
        "put_seconds": round(put_seconds, 3),
        "put_us_per_device": round(put_seconds / max(1, len(generated)) * 1e6, 2),
        "rename_us": round(rename_us, 2),
        "remove_us": round(remove_us, 2),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100_000, help="devices in the big home (default 100000)")
    parser.add_argument("--repeat", type=int, default=5, help="passes over the held-out utterances (default 5)")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "nlu_data")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args(argv)
    result = run(args.devices, args.repeat, args.data_dir)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    demo, big = result["demo"], result["big"]
    rows = [
        ("train", f"{result['train_seconds']:.2f} s", f"{result['examples']} examples, {result['features']} features"),
        ("parse, demo home", f"p50 {demo['p50_ms']:.3f} ms", f"p95 {demo['p95_ms']:.3f}  p99 {demo['p99_ms']:.3f} ms"),
        (
            f"parse, {big['devices']:,} devices",
            f"p50 {big['p50_ms']:.3f} ms",
            f"p95 {big['p95_ms']:.3f}  p99 {big['p99_ms']:.3f} ms",
        ),
        ("put, all devices", f"{result['put_seconds']:.2f} s", f"{result['put_us_per_device']:.1f} us per device"),
        ("rename / remove", f"{result['rename_us']:.1f} us", f"{result['remove_us']:.1f} us (one device, big home)"),
        ("max RSS", f"{result['max_rss_mb']:.0f} MB", ""),
    ]
    print(f"embedded NLU, {result['utterances']} held-out utterances x {args.repeat}")
    for name, value, note in rows:
        print(f"  {name:<24} {value:>16}   {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
