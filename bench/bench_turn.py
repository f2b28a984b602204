"""In-process text turn latency (NLU + dialogue + virtual device command + durable write), demo home vs 100k devices."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from assistant.app import build_core
from assistant.config import load_config
from assistant.devices import Capability, Device, DeviceKind, DeviceState
from assistant.registry import Area
from assistant.store import Change
from assistant.turn import Turn

# Varied commands that each complete in one turn (no question back), over many intents and devices.
UTTERANCES = [
    "turn on the kitchen lights",
    "turn it off",
    "set the floor lamp to 40 percent",
    "switch off the floor lamp",
    "make the kitchen lights blue",
    "turn off the kitchen lights",
    "set the thermostat to 21 degrees",
    "is the front door locked",
    "turn on the desk lamp",
    "turn off the desk lamp",
    "could you switch on the tv",
    "tv off please",
    "dim the living room lamp to twenty percent",
    "turn the living room lamp off",
    "what's the temperature in the bathroom",
    "lock the front door",
    "close the bedroom blinds",
    "open the bedroom blinds",
    "start the coffee maker",
    "stop the coffee maker",
    "put the hallway light on",
    "hallway light off",
    "set the bedroom ceiling light to 70%",
    "switch the bedroom ceiling light off",
    "is there any motion in the hallway",
    "turn on the ceiling fan",
    "turn off the ceiling fan",
    "make it warmer",
    "set the heating to 19",
    "porch light on",
    "porch light off",
    "what's the humidity in the bathroom",
]
NOUNS = ["lamp", "light", "socket", "fan", "heater", "plug", "strip", "bulb", "spot", "switch"]
WORDS = ["amber", "north", "upper", "corner", "oak", "blue", "quiet", "garden", "loft", "east", "west", "side"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def add_devices(core: Any, home_id: str, count: int) -> None:
    """Grow a home to `count` extra devices in 1000 extra rooms (names people might really use)."""
    home = core.registry.home(home_id)
    rooms = Change()
    for i in range(1000):
        rooms.add(core.registry.put_area(home, Area(f"room_{i}", f"room {i}")))
    core.store.commit_sync(rooms)  # devices are checked against committed areas
    change = Change()
    for i in range(count):
        name = f"{WORDS[i % len(WORDS)]} {NOUNS[(i // len(WORDS)) % len(NOUNS)]} {i}"
        device = Device(
            home_id, f"dev_{i}", name, DeviceKind.LIGHT, f"room_{i % 1000}",
            frozenset({Capability.ON_OFF, Capability.BRIGHTNESS}), "virtual",
        )  # fmt: skip
        change.add(core.registry.put_device(device, DeviceState(on=False, brightness=100)))
        if len(change.ops) > 20000:
            core.store.commit_sync(change)
            change = Change()
    core.store.commit_sync(change)
    await core.control.attach(core.registry.home(home_id).devices.values())


async def measure(core: Any, home_id: str, user_id: str, rounds: int) -> list[float]:
    times: list[float] = []
    for i in range(rounds):
        text = UTTERANCES[i % len(UTTERANCES)]
        turn = Turn(text, home_id, user_id, f"bench-{home_id}")
        started = time.perf_counter()
        reply, _ = await core.dialogue.handle(turn)
        times.append((time.perf_counter() - started) * 1000)
        assert reply.kind in ("done", "answer"), (text, reply.speech)
    return times


async def main(rounds: int, big: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(env={}, overrides={"store": {"path": str(Path(tmp) / "bench.db")}})
        config = replace(config, channels=())
        core = build_core(config)
        await core.start()
        home_id, user_id = core.default_principal()
        await measure(core, home_id, user_id, 50)  # warm-up
        demo = await measure(core, home_id, user_id, rounds)
        result: dict[str, Any] = {"rounds": rounds, "virtual_latency_ms": config.virtual_latency_ms}
        result["demo"] = summary(demo)
        if big:
            big_user = await core.seed_demo("big", "Big home", user="big")
            started = time.perf_counter()
            await add_devices(core, "big", big)
            result["big_setup_s"] = round(time.perf_counter() - started, 1)
            await measure(core, "big", big_user, 50)
            large = await measure(core, "big", big_user, rounds)
            result[f"devices_{big + 16}"] = summary(large)
            result["ratio_p50"] = round(statistics.median(large) / statistics.median(demo), 2)
        await core.stop()
        return result


def summary(times: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(percentile(times, 0.95), 2),
        "p99_ms": round(percentile(times, 0.99), 2),
        "mean_ms": round(statistics.fmean(times), 2),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--big", type=int, default=100_000, help="devices in the large home (0 to skip)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.rounds, args.big)), indent=2))
