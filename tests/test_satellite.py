"""Wyoming satellites: Hearth connects to a satellite on loopback, runs its pipelines and reconnects when it drops."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, Satellite
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import RunSatellite
from wyoming.server import AsyncEventHandler, AsyncTcpServer

from tests.conftest import Api, free_port, make_config, start_api

pytestmark = pytest.mark.voice

TIMEOUT = 20.0
CHANNELS = ["skills.satellite"]


class PeerHandler(AsyncEventHandler):
    """One connection from Hearth, seen from the satellite's side."""

    def __init__(self, peer: SatellitePeer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(reader, writer)
        self.peer = peer

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            info = Info(satellite=Satellite(self.peer.name, Attribution("", ""), True, "test satellite", None, area=None))
            await self.write_event(info.event())
            return True
        self.peer.events.put_nowait(event)
        if RunSatellite.is_type(event.type):
            self.peer.handler = self
            self.peer.running.set()
        return True

    async def disconnect(self) -> None:
        if self.peer.handler is self:
            self.peer.handler = None
            self.peer.running.clear()
        self.peer.disconnects += 1


class SatellitePeer:
    """A satellite built on the wyoming library's own server: it waits for `run-satellite`, then speaks on request."""

    def __init__(self, port: int, name: str = "test-peer") -> None:
        self.port = port
        self.name = name
        self.server: AsyncTcpServer | None = None
        self.handler: PeerHandler | None = None
        self.running = asyncio.Event()
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.disconnects = 0

    @property
    def uri(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.server = AsyncTcpServer("127.0.0.1", self.port)
        async with asyncio.timeout(TIMEOUT):
            await self.server.start(lambda r, w: PeerHandler(self, r, w))

    async def stop(self) -> None:
        """Drop every connection and stop listening (the satellite went away)."""
        if self.server is not None:
            async with asyncio.timeout(TIMEOUT):
                await self.server.stop()
                if self.server._server is not None:
                    await self.server._server.wait_closed()
            self.server = None
        self.handler = None
        self.running.clear()

    async def wait_running(self) -> PeerHandler:
        async with asyncio.timeout(TIMEOUT):
            await self.running.wait()
        assert self.handler is not None
        return self.handler

    async def send(self, *events: Event) -> None:
        handler = await self.wait_running()
        async with asyncio.timeout(TIMEOUT):
            for event in events:
                await handler.write_event(event)

    def drain(self) -> list[Event]:
        """Forget the events received so far (returns them)."""
        out = []
        while not self.events.empty():
            out.append(self.events.get_nowait())
        return out

    async def next_event(self, timeout: float = TIMEOUT) -> Event:
        async with asyncio.timeout(timeout):
            while True:
                event = await self.events.get()
                if event.type not in {"ping", "pong"}:
                    return event

    async def collect_until(self, *types: str, timeout: float = 60.0) -> list[Event]:
        """Events from Hearth up to and including the first of `types`."""
        out: list[Event] = []
        async with asyncio.timeout(timeout):
            while True:
                event = await self.next_event(timeout)
                out.append(event)
                if event.type in types:
                    return out


def audio_events(pcm: bytes, rate: int, samples: int = 1024) -> list[Event]:
    step = samples * 2
    chunks = [AudioChunk(rate, 2, 1, pcm[i : i + step]).event() for i in range(0, len(pcm), step)]
    return [AudioStart(rate, 2, 1).event(), *chunks, AudioStop().event()]


@contextlib.asynccontextmanager
async def hearth(tmp_path: Path, peers: list[SatellitePeer], voice: dict[str, Any] | None = None) -> AsyncIterator[Api]:
    satellites = [{"uri": p.uri, "area": "kitchen", "name": p.name} for p in peers]
    config = make_config(tmp_path, channels=CHANNELS, voice={**(voice or {}), "satellites": satellites})
    async with asyncio.timeout(120):
        runner, api = await start_api(config)
    try:
        yield api
    finally:
        async with asyncio.timeout(TIMEOUT):
            await api.session.close()
            await runner.cleanup()


async def satellites(api: Api) -> list[dict[str, Any]]:
    status, body = await api.call("GET", "/api/v1/satellites")
    assert status == 200, body
    return list(body["satellites"])


async def wait_status(api: Api, predicate: Any, timeout: float = TIMEOUT) -> list[dict[str, Any]]:
    async with asyncio.timeout(timeout):
        while True:
            found = await satellites(api)
            if predicate(found):
                return found
            await asyncio.sleep(0.05)


# -- the protocol, without speech engines -----------------------------------------------------------------------------
async def test_no_satellites_configured_does_nothing(tmp_path: Path) -> None:
    config = make_config(tmp_path, channels=CHANNELS)
    async with asyncio.timeout(120):
        runner, api = await start_api(config)
    try:
        assert await satellites(api) == []
        assert not [t for t in api.core.tasks.running if t.startswith("satellite")]
        status, doc = await api.call("GET", "/api/v1/openapi.json")
        assert status == 200 and "/api/v1/satellites" in doc["paths"]
        status, body = await api.call("GET", "/api/v1/satellites", token="hth_wrong")
        assert status == 401, body
    finally:
        async with asyncio.timeout(TIMEOUT):
            await api.session.close()
            await runner.cleanup()


async def test_connects_and_reports_missing_speech_recognition(tmp_path: Path) -> None:
    peer = SatellitePeer(free_port(), "kitchen-sat")
    await peer.start()
    try:
        async with hearth(tmp_path, [peer]) as api:
            await peer.wait_running()
            found = await wait_status(api, lambda s: s and s[0]["connected"] and s[0]["satellite_name"])
            sat = found[0]
            assert sat["name"] == "kitchen-sat" and sat["area"] == "kitchen" and sat["home_id"] == "demo"
            assert sat["user"] == "satellite:kitchen-sat" and sat["state"] == "connected"
            assert f"satellite-{peer.name}" in api.core.tasks.running
            assert [e.type for e in peer.drain()] == ["run-satellite"]

            run = RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS)
            await peer.send(run.event(), *audio_events(bytes(3200), 16000))
            error = Error.from_event(await peer.next_event())
            assert error.code == "stt-provider-missing" and "not set up" in error.text

            run = RunPipeline(start_stage=PipelineStage.INTENT, end_stage=PipelineStage.TTS)
            await peer.send(run.event())
            error = Error.from_event(await peer.next_event())
            assert error.code == "unsupported-stage"
        # shutdown: Hearth pauses the satellite and closes the connection
        async with asyncio.timeout(TIMEOUT):
            while True:
                event = await peer.next_event()
                if event.type == "pause-satellite":
                    break
            while peer.running.is_set():
                await asyncio.sleep(0.02)
    finally:
        await peer.stop()


async def test_reconnects_with_backoff_when_the_satellite_drops(tmp_path: Path) -> None:
    peer = SatellitePeer(free_port(), "flaky")
    try:
        async with hearth(tmp_path, [peer]) as api:
            # not there yet: Hearth keeps retrying, and says so
            found = await wait_status(api, lambda s: s[0]["attempts"] >= 2)
            assert found[0]["state"] in {"retrying", "connecting"} and not found[0]["connected"]
            assert found[0]["last_error"]
            await peer.start()
            await peer.wait_running()
            await wait_status(api, lambda s: s[0]["connected"] and s[0]["connections"] == 1)

            await peer.stop()  # the satellite goes away ...
            found = await wait_status(api, lambda s: not s[0]["connected"])
            assert found[0]["last_error"]
            await asyncio.sleep(1.0)
            await peer.start()  # ... and comes back on the same port
            await peer.wait_running()
            found = await wait_status(api, lambda s: s[0]["connected"] and s[0]["connections"] == 2)
            assert found[0]["attempts"] == 0
            health_status, _ = await api.call("GET", "/api/v1/health")
            assert health_status == 200
    finally:
        await peer.stop()
