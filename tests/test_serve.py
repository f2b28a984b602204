"""`hearth serve` as a process: Ctrl-C closes every WebSocket with 1001 and stops at once; a port or a database that
is taken is one clear line before anything loads; the page says it is reconnecting and comes back."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, async_playwright

from tests.conftest import ROOT, TIMEOUT, LiveServer, free_port, hearth, serve_subprocess

STOP_LIMIT_S = 2.0  # the bound for Ctrl-C to exit
MARGIN_S = 1.0  # process start-up of the test harness, a loaded shared machine
CHROMIUM = os.environ.get("WEBCHAT_CHROMIUM", "/usr/bin/chromium")


async def _open_socket(
    session: aiohttp.ClientSession, server: LiveServer, path: str
) -> aiohttp.ClientWebSocketResponse:
    ws = await session.ws_connect(server.url + path, headers={"Authorization": f"Bearer {server.token}"})
    hello = await ws.receive_json(timeout=TIMEOUT)
    assert hello["type"] == "auth_ok", hello
    return ws


async def _interrupt_and_watch(server: LiveServer, sockets: list[aiohttp.ClientWebSocketResponse]) -> float:
    """SIGINT the server; every socket must get a 1001 close; return seconds until the process exited."""
    started = time.monotonic()
    server.process.send_signal(signal.SIGINT)
    async with asyncio.timeout(STOP_LIMIT_S + MARGIN_S):
        for ws in sockets:
            msg = await ws.receive()
            while msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):  # live events sent before the stop
                msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.CLOSE, msg
            assert msg.data == 1001, msg
    code = await asyncio.to_thread(server.process.wait, STOP_LIMIT_S + MARGIN_S + 5)
    elapsed = time.monotonic() - started
    assert code == 0, (server.db.parent / "serve.log").read_text()
    return elapsed


async def test_ctrl_c_closes_websockets_with_going_away_and_exits_within_two_seconds(tmp_path: Path) -> None:
    with serve_subprocess(tmp_path) as server:
        async with aiohttp.ClientSession() as session:
            sockets = [await _open_socket(session, server, "/api/v1/ws") for _ in range(3)]
            # A turn first: the sockets are in use (subscribed to live events), not merely open.
            await sockets[0].send_json({"type": "conversation", "id": 1, "text": "turn on the porch light"})
            result = await sockets[0].receive_json(timeout=TIMEOUT)
            while result.get("type") != "result":
                result = await sockets[0].receive_json(timeout=TIMEOUT)
            elapsed = await _interrupt_and_watch(server, sockets)
    assert elapsed < STOP_LIMIT_S + MARGIN_S, f"took {elapsed:.2f} s to stop"
    # The lock beside the database was released: the next server starts on it at once.
    assert json.loads((tmp_path / "live.db.lock").read_text() or "null") is None


async def test_a_turn_under_way_at_ctrl_c_is_answered_before_the_close(tmp_path: Path) -> None:
    with serve_subprocess(tmp_path) as server:
        async with aiohttp.ClientSession() as session:
            ws = await _open_socket(session, server, "/api/v1/ws")
            await ws.send_json({"type": "conversation", "id": 1, "text": "turn on the porch light"})
            server.process.send_signal(signal.SIGINT)  # while the turn is on its way or under way
            answer: dict[str, Any] | None = None
            async with asyncio.timeout(STOP_LIMIT_S + MARGIN_S):
                while (msg := await ws.receive()).type == aiohttp.WSMsgType.TEXT:
                    data = json.loads(msg.data)
                    if data.get("id") == 1:
                        answer = data
            assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1001, msg
            await asyncio.to_thread(server.process.wait, STOP_LIMIT_S + MARGIN_S + 5)
    # Every turn gets an answer: done (and then durable), or refused because Hearth is stopping (and then not done).
    assert answer is not None, "the turn got no answer before the socket closed"
    with serve_subprocess(tmp_path) as again:
        async with aiohttp.ClientSession() as session:
            headers = {"Authorization": f"Bearer {again.token}"}
            async with session.get(f"{again.url}/api/v1/devices/porch_light", headers=headers) as resp:
                porch = await resp.json()
    if answer["type"] == "result":
        assert answer["reply"]["kind"] == "done", answer
        assert porch["state"]["on"] is True
    else:
        assert answer["type"] == "error" and answer["error"]["code"] == "busy", answer
        assert porch["state"].get("on") is not True


@pytest.mark.voice
async def test_ctrl_c_also_closes_the_voice_stream(tmp_path: Path) -> None:
    with serve_subprocess(tmp_path, stt="auto", start_s=180) as server:
        async with aiohttp.ClientSession() as session:
            sockets = [
                await _open_socket(session, server, "/api/v1/ws"),
                await _open_socket(session, server, "/api/v1/voice/stream"),
            ]
            await sockets[1].send_json({"type": "start"})
            assert (await sockets[1].receive_json(timeout=TIMEOUT))["type"] == "listening"
            await sockets[1].send_bytes(bytes(3200))  # 100 ms of silence: a stream under way
            elapsed = await _interrupt_and_watch(server, sockets)
    assert elapsed < STOP_LIMIT_S + MARGIN_S, f"took {elapsed:.2f} s to stop"


def _serve(db: Path, port: int, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", "serve", "--db", str(db), "--port", str(port), *extra],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=env, check=False,
    )  # fmt: skip


def test_a_port_in_use_is_one_line_before_anything_loads(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        db = tmp_path / "hearth.db"
        out = _serve(db, port)  # speech "auto": had it loaded the models first, this would take seconds
    assert out.returncode != 0
    assert out.stderr.strip() == f"hearth: port {port} is in use (another hearth serve?): stop it or use --port N"
    assert out.stdout == ""
    assert not db.exists()  # nothing was opened, let alone loaded


def test_a_database_that_a_server_owns_is_not_served_twice(live_server: LiveServer, tmp_path: Path) -> None:
    out = _serve(live_server.db, free_port())
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert f"already served by the server at {live_server.url}" in lines[0]
    assert f"pid {live_server.process.pid}" in lines[0]


# -- the page while the server stops and comes back ----------------------------------------------------------------
@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"], timeout=TIMEOUT * 1000
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.mark.browser
async def test_the_page_says_reconnecting_at_once_and_comes_back(tmp_path: Path, browser: Browser) -> None:
    port = free_port()
    with serve_subprocess(tmp_path, port=port) as server:
        page = await browser.new_page()
        page.set_default_timeout(TIMEOUT * 1000)
        await page.goto(f"{server.url}/#token={server.token}")
        await page.wait_for_selector('#conn[data-state="online"]')
        server.process.send_signal(signal.SIGINT)
        started = time.monotonic()
        await page.wait_for_selector('#conn[data-state="offline"]', timeout=STOP_LIMIT_S * 1000)
        assert time.monotonic() - started < STOP_LIMIT_S
        assert "reconnecting" in (await page.inner_text("#conn-text")).lower()
        await asyncio.to_thread(server.process.wait, STOP_LIMIT_S + MARGIN_S + 5)
    # The same server comes back on the same port and database: the page is live again without a reload.
    with serve_subprocess(tmp_path, port=port):
        await page.wait_for_selector('#conn[data-state="online"]')
        assert "live" in (await page.inner_text("#conn-text")).lower()
    assert hearth("devices", "--json", db=tmp_path / "live.db").returncode == 0  # the lock was let go both times
