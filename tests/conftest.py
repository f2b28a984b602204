"""Shared fixtures: a trained model, real servers on loopback (in process and as a subprocess), tokens."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from assistant.app import build_core, load_channels
from assistant.config import Config, load_config
from assistant.core import Core
from assistant.server import build_server

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session", autouse=True)
def trained_model() -> None:
    """Train the NLU once per session (skipped when the saved model matches nlu_data)."""
    from assistant.nlu.factory import create_nlu_engine

    engine = create_nlu_engine(load_config(env={}).nlu)
    asyncio.run(engine.load())


def make_config(tmp_path: Path, **overrides: Any) -> Config:
    base: dict[str, Any] = {
        "store": {"path": str(tmp_path / "hearth.db")},
        "virtual_latency_ms": 1.0,
        "voice": {"stt": "none", "tts": "none"},  # tests that want speech say so
    }
    base.update(overrides)
    return load_config(env={}, overrides=base)


@dataclass
class Api:
    """A real Hearth server on loopback with an authenticated client."""

    url: str
    token: str
    core: Core
    session: aiohttp.ClientSession
    app: Any = None

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    async def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> tuple[int, Any]:
        async with asyncio.timeout(TIMEOUT):
            async with self.session.request(method, self.url + path, headers=self.headers(token), **kw) as resp:
                ctype = resp.headers.get("Content-Type", "")
                body = await resp.json() if "json" in ctype else await resp.text()
                return resp.status, body

    async def say(
        self, text: str, conversation_id: str = "test", token: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        status, body = await self.call(
            "POST",
            "/api/v1/conversation",
            token,
            json={"text": text, "conversation_id": conversation_id, **extra},
        )
        assert status == 200, body
        return body


async def start_api(config: Config) -> tuple[Any, Api]:
    from aiohttp import web

    core = build_core(config)
    app = build_server(core, load_channels(config))
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    home_id, user_id = core.default_principal()
    token = core.auth.create_token(user_id, home_id, "test")
    session = aiohttp.ClientSession()
    return runner, Api(f"http://127.0.0.1:{port}", token, core, session, app)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    """The real server (demo home, SQLite in tmp) in this test's event loop."""
    runner, client = await start_api(make_config(tmp_path))
    try:
        yield client
    finally:
        await client.session.close()
        await runner.cleanup()


@dataclass
class LiveServer:
    url: str
    token: str
    db: Path
    process: subprocess.Popen[bytes]


def hearth(
    *args: str,
    db: Path | None,
    timeout: float = 60,
    stdin: str | None = None,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real `hearth` CLI (with `--db` unless db is None; from `cwd`, still with this tree's code)."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    db_args = [] if db is None else ["--db", str(db)]
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args, *db_args],
        capture_output=True, text=True, timeout=timeout, input=stdin, env=full_env, cwd=cwd, check=False,
    )  # fmt: skip


@contextlib.contextmanager
def running(
    cmd: list[str],
    log_path: Path,
    ready_url: str,
    start_s: float,
    env: dict[str, str] | None = None,
    cwd: Path = ROOT,
    ready: Callable[[bytes], bool] = lambda body: True,
) -> Iterator[subprocess.Popen[bytes]]:
    """A server as a subprocess (its output in `log_path`), yielded once GET `ready_url` answers 200 with a body that
    `ready` accepts; RuntimeError with the log's tail if it exits or is not ready within `start_s`; stopped after."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + start_s
        try:
            while True:
                try:
                    with urllib.request.urlopen(ready_url, timeout=2) as resp:
                        if resp.status == 200 and ready(resp.read()):
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{cmd[0]} did not start: {log_path.read_text()[-4000:]}")
                time.sleep(0.1)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=20)


@contextlib.contextmanager
def serve_subprocess(
    tmp_path: Path, stt: str = "none", tts: str = "none", start_s: float = 60, port: int | None = None
) -> Iterator[LiveServer]:
    """`hearth serve` as a subprocess on a free loopback port (its log in tmp_path/serve.log), with a token for the
    demo user; stopped afterwards."""
    db = tmp_path / "live.db"
    result = hearth("token", "create", "--user", "demo", db=db)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    port = port or free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HEARTH_VOICE__STT": stt, "HEARTH_VOICE__TTS": tts}
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "assistant.cli", "serve", "--db", str(db), "--port", str(port), "--quiet"]
    with running(cmd, tmp_path / "serve.log", url + "/api/v1/health", start_s, env=env) as proc:
        yield LiveServer(url, token, db, proc)


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """`hearth serve` (no speech) as a subprocess, with a token for the demo user."""
    with serve_subprocess(tmp_path) as server:
        yield server


@pytest.fixture(scope="session")
def speaker() -> Any:
    """Piper as a deterministic test speaker (loaded once per session)."""
    from tests.voice_fixtures import shared_speaker

    return shared_speaker()


@pytest.fixture
async def voice_api(tmp_path: Path) -> AsyncIterator[Api]:
    """The real server with local speech (faster-whisper, Piper) in this test's event loop."""
    from tests.voice_fixtures import voice_server

    async with voice_server(tmp_path) as client:
        yield client
