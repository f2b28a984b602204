"""Start and stop of `./scripts/serve` as a user runs it: seconds from launch to the first healthy answer, and from
Ctrl-C (SIGINT) to exit, over a few rounds; also `./scripts/setup` alone.

    .venv/bin/python -m bench.bench_start --rounds 5                 # this checkout
    .venv/bin/python -m bench.bench_start --repo /path/to/other/checkout --no-speech

Nothing has changed between rounds, so this measures the "second start" a developer sees every day. The first round
of a fresh checkout also installs packages and is reported apart (round 0).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLL_S = 0.02
LIMIT_S = 300.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return bool(resp.status == 200 and json.loads(resp.read()).get("status") == "ok")
    except (OSError, ValueError):
        return False


def one_round(repo: Path, env: dict[str, str], workdir: Path) -> dict[str, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/v1/health"
    log = (workdir / "serve.log").open("ab")
    began = time.monotonic()
    proc = subprocess.Popen(
        ["./scripts/serve", "--port", str(port), "--db", str(workdir / "bench.db"), "--quiet"],
        cwd=repo, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        while not healthy(url):
            if proc.poll() is not None or time.monotonic() - began > LIMIT_S:
                log.flush()
                raise RuntimeError("serve did not start:\n" + (workdir / "serve.log").read_text()[-3000:])
            time.sleep(POLL_S)
        started = time.monotonic() - began
        stop_began = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        stopped = time.monotonic() - stop_began
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    return {"start_s": round(started, 3), "stop_s": round(stopped, 3)}


def time_setup(repo: Path, env: dict[str, str]) -> float:
    began = time.monotonic()
    subprocess.run(["./scripts/setup"], cwd=repo, env=env, check=True, capture_output=True, timeout=LIMIT_S)
    return round(time.monotonic() - began, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=ROOT, help="checkout whose scripts/serve is measured")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-speech", action="store_true", help="HEARTH_VOICE__STT/TTS=none (no model loading)")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
    if args.no_speech:
        env.update(HEARTH_VOICE__STT="none", HEARTH_VOICE__TTS="none")
    with tempfile.TemporaryDirectory(prefix="bench-start-") as tmp:
        workdir = Path(tmp)
        first = one_round(args.repo, env, workdir)  # may install or train; reported apart
        rounds = [one_round(args.repo, env, workdir) for _ in range(args.rounds)]
        setups = [time_setup(args.repo, env) for _ in range(args.rounds)]
    starts = [r["start_s"] for r in rounds]
    stops = [r["stop_s"] for r in rounds]
    print(
        json.dumps(
            {
                "repo": str(args.repo),
                "speech": not args.no_speech,
                "round0": first,
                "start_s": {"median": statistics.median(starts), "min": min(starts), "max": max(starts)},
                "stop_s": {"median": statistics.median(stops), "max": max(stops)},
                "setup_s": {"median": statistics.median(setups), "max": max(setups)},
                "rounds": rounds,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
