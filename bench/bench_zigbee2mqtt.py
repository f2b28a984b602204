"""Zigbee2MQTT: text command -> `/set` publish seen at a real mosquitto, and state messages ingested per second."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiomqtt
import uvloop

from adapters.zigbee2mqtt.tests.bridge import Bridge
from adapters.zigbee2mqtt.tests.broker import Mosquitto
from assistant.app import build_core
from assistant.config import load_config
from assistant.turn import Turn

# The bridge's side of a burst, in its own process (as Zigbee2MQTT is): `n` sensor reports, each a new reading.
PUBLISHER = """
import sys, orjson, paho.mqtt.client as mqtt
port, n = int(sys.argv[1]), int(sys.argv[2])
client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-publisher")
client.connect("127.0.0.1", port)
client.loop_start()
for i in range(n):
    info = client.publish("zigbee2mqtt/climate sensor", orjson.dumps({"temperature": round(-20.0 + (i % 600) / 10, 1),
                                                                      "humidity": 50, "linkquality": 120}))
info.wait_for_publish(60)
client.disconnect()
client.loop_stop()
"""


def _value(i: int) -> float:
    return round(-20.0 + (i % 600) / 10, 1)  # each differs from the one before


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def wait_for(check: Any) -> None:
    async with asyncio.timeout(120):
        while not check():  # noqa: ASYNC110 (polling the core's state from outside, as a client would)
            await asyncio.sleep(0.01)


async def run(rounds: int, messages: int, folder: Path, nodelay: bool) -> dict[str, Any]:
    broker = Mosquitto(folder / "mosquitto", "set_tcp_nodelay true\n" if nodelay else "")
    broker.start()
    bridge = Bridge(broker.port)
    await bridge.start()
    config = load_config(
        env={},
        overrides={
            "store": {"path": str(folder / "hearth.db")},
            "demo": False,
            "voice": {"stt": "none", "tts": "none"},
            "log_level": "WARNING",
            "adapters": ["adapters.zigbee2mqtt"],
            "zigbee2mqtt": {"host": "127.0.0.1", "port": broker.port},
        },
    )
    core = build_core(config)
    await core.start()
    try:
        home_id, user_id = core.default_principal()
        home = core.registry.home(home_id)
        await wait_for(lambda: len(home.devices) == 8 and all(e.available for e in home.devices.values()))
        # 1. text command -> the /set message arriving at a separate subscriber of the broker
        arrived: asyncio.Queue[float] = asyncio.Queue()
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="bench-observer") as observer:
            await observer.subscribe("zigbee2mqtt/sofa lamp/set")

            async def listen() -> None:
                async for _ in observer.messages:
                    arrived.put_nowait(time.perf_counter())

            listener = asyncio.get_running_loop().create_task(listen())
            await asyncio.sleep(0.2)
            latencies: list[float] = []
            turns: list[float] = []
            for i in range(rounds):
                text = "turn on the sofa lamp" if i % 2 == 0 else "turn off the sofa lamp"
                start = time.perf_counter()
                reply = await core.converse(Turn(text, home_id, user_id, "bench"))
                done = time.perf_counter()
                async with asyncio.timeout(5):
                    seen = await arrived.get()
                assert reply.actions, reply.speech
                latencies.append((seen - start) * 1000)
                turns.append((done - start) * 1000)
            listener.cancel()
        # 2. state ingestion: the bridge (now another process, as Zigbee2MQTT is) publishes sensor reports as fast as
        # it can; the simulated bridge leaves first so that this process only runs Hearth
        await bridge.stop()
        sensor = home.entry("climate_sensor")
        before = _count(core, home_id)
        last = _value(messages - 1)
        start = time.perf_counter()
        publisher = await asyncio.create_subprocess_exec(
            sys.executable, "-c", PUBLISHER, str(broker.port), str(messages)
        )
        async with asyncio.timeout(120):
            await publisher.wait()
        published = time.perf_counter()
        await wait_for(lambda: sensor.state.current_temperature == last and _count(core, home_id) - before >= messages)
        ended = time.perf_counter()
        logged = _count(core, home_id) - before
    finally:
        await core.stop()
        await bridge.stop()
        broker.stop()
    return {
        "command_to_publish_ms": {
            "rounds": rounds,
            "p50": round(statistics.median(latencies), 2),
            "p99": round(percentile(latencies, 0.99), 2),
        },
        "turn_reply_ms": {"p50": round(statistics.median(turns), 2), "p99": round(percentile(turns, 0.99), 2)},
        "ingestion": {
            "messages": messages,
            "publish_s": round(published - start, 2),
            "applied_s": round(ended - start, 2),
            "messages_per_s": round(messages / (ended - start)),
            "events_logged": logged,
        },
    }


def _count(core: Any, home_id: str) -> int:
    row = core.store.query_one("SELECT COUNT(*) AS n FROM events WHERE home_id = ?", (home_id,))
    return int(row["n"]) if row else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--nodelay", action="store_true", help="mosquitto with set_tcp_nodelay true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        loop = uvloop.new_event_loop()  # as `hearth serve` runs
        try:
            result = loop.run_until_complete(run(args.rounds, args.messages, Path(tmp), args.nodelay))
        finally:
            loop.close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
