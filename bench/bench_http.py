"""POST /api/v1/conversation over loopback with keep-alive, measured with wrk against a real `hearth serve`."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LUA = r"""
local bodies = {
BODIES
}
local n = 0
local bad = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer TOKEN"
request = function()
  n = n + 1
  -- 64 conversations, each walking the utterances in order ("turn it off" follows "turn on ..."); requests in
  -- flight at once are in different conversations, as with 32 different people or rooms.
  local body = string.format(bodies[(math.floor(n / 64) % #bodies) + 1], n % 64)
  return wrk.format(nil, "/api/v1/conversation", nil, body)
end
response = function(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("non200 %d\n", summary.errors.status))
  io.write(string.format("p50_us %d\np99_us %d\n", latency:percentile(50), latency:percentile(99)))
end
"""


def lua_bodies() -> str:
    """The benchmark's utterances as Lua strings (with a %d for the conversation id)."""
    from bench.bench_turn import UTTERANCES

    bodies = (
        json.dumps({"text": u, "conversation_id": "c@"}).replace("%", "%%").replace("@", "%d") for u in UTTERANCES
    )
    return ",\n".join(f"  [[{body}]]" for body in bodies)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        cli = [sys.executable, "-m", "assistant.cli"]
        token = subprocess.run(
            [*cli, "token", "create", "--user", "demo", "--db", str(db)], capture_output=True, text=True, check=True,
            cwd=ROOT,
        ).stdout.strip()  # fmt: skip
        port = free_port()
        env = {**os.environ, "HEARTH_LOG_LEVEL": "WARNING"}
        server = subprocess.Popen(
            [*cli, "serve", "--db", str(db), "--port", str(port), "--quiet"], cwd=ROOT, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(600):
                try:
                    urllib.request.urlopen(url + "/api/v1/health", timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            script = Path(tmp) / "post.lua"
            script.write_text(LUA.replace("TOKEN", token).replace("BODIES", lua_bodies()))
            cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "-s", str(script), url]
            subprocess.run([*cmd[:3], "-d3s", *cmd[4:]], capture_output=True, check=True)  # warm-up
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        finally:
            server.terminate()
            server.wait(timeout=20)
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
        non200 = int(re.search(r"non200 (\d+)", out).group(1))  # type: ignore[union-attr]
        p50 = int(re.search(r"p50_us (\d+)", out).group(1)) / 1000  # type: ignore[union-attr]
        p99 = int(re.search(r"p99_us (\d+)", out).group(1)) / 1000  # type: ignore[union-attr]
        result = {
            "command": " ".join(cmd[:-1]),
            "turns_per_s": rps,
            "non_200": non200,
            "latency_p50_ms": p50,
            "latency_p99_ms": p99,
        }
        print(out)
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
