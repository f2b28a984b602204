"""Wyoming satellites: Hearth connects to a satellite on loopback, runs its pipelines and reconnects when it drops."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from asyncio.subprocess import DEVNULL
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from wyoming.audio import AudioChunk, AudioChunkConverter, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, Satellite
from wyoming.ping import Ping
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import RunSatellite
from wyoming.server import AsyncEventHandler, AsyncTcpServer
from wyoming.snd import Played

from assistant.app import build_core, load_channels
from assistant.errors import ConfigError
from assistant.server import build_server
from tests.conftest import Api, free_port, make_config, start_api

pytestmark = pytest.mark.voice

TIMEOUT = 20.0
CHANNELS = ["skills.satellite"]
VOICE = {"stt": "faster-whisper", "tts": "piper"}


class PeerHandler(AsyncEventHandler):
    """One connection from Hearth, seen from the satellite's side."""

    def __init__(self, peer: SatellitePeer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(reader, writer)
        self.peer = peer

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            info = Info(
                satellite=Satellite(self.peer.name, Attribution("", ""), True, "test satellite", None, area=None)
            )
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

    async def next_event(self, within: float = TIMEOUT) -> Event:
        async with asyncio.timeout(within):
            while True:
                event = await self.events.get()
                if event.type not in {"ping", "pong"}:
                    return event

    async def expect(self, kind: str, within: float = TIMEOUT) -> Event:
        """The next event of one type (others are skipped)."""
        async with asyncio.timeout(within):
            while True:
                event = await self.events.get()
                if event.type == kind:
                    return event

    async def collect_until(self, *types: str, within: float = 60.0) -> list[Event]:
        """Events from Hearth up to and including the first of `types`."""
        out: list[Event] = []
        async with asyncio.timeout(within):
            while True:
                event = await self.next_event(within)
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
    engines = voice or {"stt": "none", "tts": "none"}
    config = make_config(tmp_path, channels=CHANNELS, voice={**engines, "satellites": satellites})
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


async def wait_status(api: Api, predicate: Any, within: float = TIMEOUT) -> list[dict[str, Any]]:
    async with asyncio.timeout(within):
        while True:
            found = await satellites(api)
            if predicate(found):
                return found
            await asyncio.sleep(0.05)


# -- the protocol, without speech engines -----------------------------------------------------------------------------
async def test_no_satellites_configured_does_nothing(tmp_path: Path) -> None:
    config = make_config(tmp_path, channels=CHANNELS, voice={"stt": "none", "tts": "none"})
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

            # a malformed event is skipped; the connection stays and answers pings
            await peer.send(Event("audio-chunk", data={"rate": "x"}, payload=b"xx"), Ping(text="hi").event())
            assert (await peer.expect("pong")).data["text"] == "hi"

            # a satellite that streams all the time gets that error once, not in a loop
            run = RunPipeline(start_stage=PipelineStage.WAKE, end_stage=PipelineStage.TTS)
            await peer.send(run.event(), *audio_events(bytes(32000), 16000)[1:-1])
            error = Error.from_event(await peer.next_event())
            assert error.code == "stt-provider-missing"
            await peer.send(*audio_events(bytes(32000), 16000)[1:-1])
            with pytest.raises(TimeoutError):
                await peer.next_event(within=0.5)

            run = RunPipeline(start_stage=PipelineStage.INTENT, end_stage=PipelineStage.TTS)
            await peer.send(run.event())
            error = Error.from_event(await peer.next_event())
            assert error.code == "unsupported-stage"
            assert (await satellites(api))[0]["connections"] == 1  # all on the first connection
        # shutdown: Hearth pauses the satellite and closes the connection
        async with asyncio.timeout(TIMEOUT):
            while True:
                event = await peer.next_event()
                if event.type == "pause-satellite":
                    break
            while True:
                if not peer.running.is_set():
                    break
                await asyncio.sleep(0.02)
    finally:
        await peer.stop()


@pytest.mark.parametrize(
    ("satellites", "message"),
    [
        ([{"uri": "http://10.0.0.5:10700"}], "not a satellite address"),
        ([{"uri": "tcp://10.0.0.5"}], "not a satellite address"),
        ([{"uri": "tcp://10.0.0.5:10700", "area": "kitchen"}, {"uri": "tcp://10.0.0.6:10700", "area": "kitchen"}],
         "two satellites are called 'kitchen'"),
    ],
)  # fmt: skip
def test_bad_satellite_config_is_refused_at_start(tmp_path: Path, satellites: list[Any], message: str) -> None:
    config = make_config(tmp_path, channels=CHANNELS, voice={"stt": "none", "tts": "none", "satellites": satellites})
    core = build_core(config)
    try:
        with pytest.raises(ConfigError, match=message):
            build_server(core, load_channels(config))
    finally:
        core.store.close()


async def test_an_unknown_home_stops_only_that_satellite(tmp_path: Path) -> None:
    peer = SatellitePeer(free_port(), "good")
    await peer.start()
    satellites = [
        {"uri": peer.uri, "name": "good", "area": "Living Room"},
        {"uri": "tcp://127.0.0.1:9", "name": "lost", "home": "nowhere"},
    ]
    config = make_config(tmp_path, channels=CHANNELS, voice={"stt": "none", "tts": "none", "satellites": satellites})
    async with asyncio.timeout(120):
        runner, api = await start_api(config)
    try:
        found = await wait_status(api, lambda s: s and s[0]["connected"])
        assert [s["name"] for s in found] == ["good"]  # "lost" belongs to no home the caller is in
        assert found[0]["area"] == "living_room"  # matched by name
        assert "satellite-lost" not in api.core.tasks.running
    finally:
        async with asyncio.timeout(TIMEOUT):
            await api.session.close()
            await runner.cleanup()
        await peer.stop()


async def test_reconnects_with_backoff_when_the_satellite_drops(tmp_path: Path) -> None:
    peer = SatellitePeer(free_port(), "flaky")
    try:
        async with hearth(tmp_path, [peer], VOICE) as api:
            # not there yet: Hearth keeps retrying, and says so
            found = await wait_status(api, lambda s: s[0]["attempts"] >= 2)
            assert found[0]["state"] in {"retrying", "connecting"} and not found[0]["connected"]
            assert found[0]["last_error"]
            await peer.start()
            await peer.wait_running()
            await wait_status(api, lambda s: s[0]["connected"] and s[0]["connections"] == 1)

            async with api.session.ws_connect(api.url + "/api/v1/ws", headers=api.headers()) as ws:
                async with asyncio.timeout(TIMEOUT):
                    assert (await ws.receive_json())["type"] == "auth_ok"
                    await peer.stop()  # the satellite goes away (and the WebSocket says so) ...
                    while True:
                        message = await ws.receive_json()
                        if message.get("event") == "satellite.status" and not message["data"]["connected"]:
                            break
                assert message["data"]["name"] == "flaky" and message["data"]["last_error"]
            found = await wait_status(api, lambda s: not s[0]["connected"])
            assert found[0]["last_error"]
            await asyncio.sleep(1.0)
            await peer.start()  # ... and comes back on the same port
            await peer.wait_running()
            found = await wait_status(api, lambda s: s[0]["connected"] and s[0]["connections"] == 2)
            assert found[0]["attempts"] == 0 and found[0]["last_error"] is None
            # the new connection works: a spoken command goes through
            peer.drain()
            pcm, rate = await speech(api, "Turn on the lights.")
            run = RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS)
            await peer.send(run.event(), *audio_events(pcm, rate))
            events = await peer.collect_until("audio-stop", "error")
            assert "light" in next(e for e in events if e.type == "transcript").data["text"].lower()
            assert await device_on(api, "kitchen_lights")
    finally:
        await peer.stop()


# -- with the speech engines: speech in, transcript and spoken reply out ---------------------------------------------


async def speech(api: Api, text: str) -> tuple[bytes, int]:
    """`text` spoken by the server's own piper voice: (16-bit mono PCM, rate)."""
    assert api.core.tts is not None
    pieces = []
    async with asyncio.timeout(TIMEOUT):
        async for chunk in api.core.tts.synthesize(text):
            pieces.append(chunk)
    assert pieces and all(p.format.width == 2 and p.format.channels == 1 for p in pieces)
    return b"".join(p.audio for p in pieces), pieces[0].format.rate


async def device_on(api: Api, device_id: str) -> bool:
    status, body = await api.call("GET", f"/api/v1/devices/{device_id}")
    assert status == 200, body
    return bool(body["state"]["on"])


def reply_audio(events: list[Event]) -> tuple[AudioStart, bytes]:
    types = [e.type for e in events]
    start = AudioStart.from_event(events[types.index("audio-start")])
    audio = b"".join(AudioChunk.from_event(e).audio for e in events if e.type == "audio-chunk")
    return start, audio


async def test_kitchen_satellite_command_silence_and_announcement(tmp_path: Path) -> None:
    peer = SatellitePeer(free_port(), "kitchen-sat")
    await peer.start()
    try:
        async with hearth(tmp_path, [peer], VOICE) as api:
            await peer.wait_running()
            peer.drain()
            assert not await device_on(api, "kitchen_lights")
            pcm, rate = await speech(api, "Turn on the lights.")

            # a push-to-talk style run: audio-start, chunks, audio-stop
            run = RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS)
            await peer.send(run.event(), *audio_events(pcm, rate))
            events = await peer.collect_until("audio-stop", "error")
            types = [e.type for e in events]
            assert "error" not in types, events
            transcript = events[types.index("transcript")].data["text"]
            assert "light" in transcript.lower()
            said = events[types.index("synthesize")].data["text"]
            assert "kitchen" in said.lower()
            assert types.index("transcript") < types.index("synthesize") < types.index("audio-start")
            start, audio = reply_audio(events)
            assert start.rate == 22050 and start.width == 2 and len(audio) > start.rate  # more than 0.5 s of speech
            assert await device_on(api, "kitchen_lights")  # the satellite's area made "the lights" the kitchen's
            assert not await device_on(api, "living_room_lamp")
            assert not await device_on(api, "hallway_light")
            status, body = await api.call("GET", "/api/v1/events?type=command")
            assert status == 200 and body["events"][-1]["data"]["channel"] == "satellite"

            # silence, and a stream with no audio at all: a clear error each time, and the satellite stays connected
            await peer.send(run.event(), *audio_events(bytes(2 * 16000), 16000))
            error = Error.from_event(await peer.next_event())
            assert error.code == "stt-no-speech" and error.text
            await peer.send(run.event(), AudioStart(16000, 2, 1).event(), AudioStop().event())
            error = Error.from_event(await peer.next_event())
            assert error.code == "stt-no-speech"

            # an announcement (start at tts): spoken without a turn
            announce = RunPipeline(
                start_stage=PipelineStage.TTS, end_stage=PipelineStage.TTS, announce_text="Dinner is ready."
            )
            await peer.send(announce.event())
            events = await peer.collect_until("audio-stop", "error")
            assert events[0].type == "synthesize" and events[0].data["text"] == "Dinner is ready."
            assert len(reply_audio(events)[1]) > 0

            found = await satellites(api)
            assert found[0]["connected"] and found[0]["runs"] == 4 and found[0]["stage"] == "idle"
            assert found[0]["connections"] == 1
    finally:
        await peer.stop()


async def test_streaming_satellite_is_endpointed_by_vad(tmp_path: Path) -> None:
    """A satellite that streams all the time (`wake` start, no audio-stop): Hearth finds the command by VAD."""
    peer = SatellitePeer(free_port(), "streamer")
    await peer.start()
    try:
        async with hearth(tmp_path, [peer], VOICE) as api:
            await peer.wait_running()
            peer.drain()
            pcm, rate = await speech(api, "Turn on the lights.")
            silence = bytes(2 * rate)  # 1 s
            stream = audio_events(silence + pcm + silence * 2, rate)[1:-1]  # chunks only
            run = RunPipeline(start_stage=PipelineStage.WAKE, end_stage=PipelineStage.TTS)
            await peer.send(run.event(), *stream)
            events = await peer.collect_until("audio-stop", "error")
            types = [e.type for e in events]
            assert "error" not in types, events
            assert types[:3] == ["voice-started", "voice-stopped", "transcript"]
            started, stopped = (events[i].data["timestamp"] for i in (0, 1))
            assert 700 <= started < stopped <= 1000 + 1000 * len(pcm) // (2 * rate) + 1500
            assert "light" in events[2].data["text"].lower()
            assert len(reply_audio(events)[1]) > 0
            assert await device_on(api, "kitchen_lights")
            # the run starts over by itself: the satellite is listening again ...
            await wait_status(api, lambda s: s[0]["runs"] == 1 and s[0]["stage"] == "listening")
            # ... but not to its own reply coming back through the microphone while it plays
            start, echo = reply_audio(events)
            await peer.send(*audio_events(echo + bytes(2 * start.rate), start.rate)[1:-1])
            with pytest.raises(TimeoutError):
                await peer.next_event(within=1.0)
            # once the satellite says the reply has played, the next command is heard
            await peer.send(Played().event())
            pcm, rate = await speech(api, "Turn off the lights.")
            await peer.send(*audio_events(silence + pcm + silence * 2, rate)[1:-1])
            events = await peer.collect_until("audio-stop", "error")
            transcript = next(e for e in events if e.type == "transcript").data["text"].lower()
            assert "off" in transcript and "light" in transcript
            assert not await device_on(api, "kitchen_lights")
    finally:
        await peer.stop()


# -- the real `wyoming-satellite` program (PyPI), with a file as its microphone ---------------------------------------
# Where `./scripts/setup test` installs it, in this repository; WYOMING_SATELLITE_PYTHON points elsewhere.
SATELLITE_PYTHON = Path(
    os.environ.get(
        "WYOMING_SATELLITE_PYTHON", str(Path(__file__).resolve().parent.parent / ".venv-satellite/bin/python")
    )
)
SETUP_HINT = "./scripts/setup test (or set WYOMING_SATELLITE_PYTHON)"

# Plays 16 kHz 16-bit mono silence in real time, like a microphone; once the file named by argv[2] exists, it plays
# the speech in argv[1] once, then silence again. Runs until the satellite stops it.
MIC_SCRIPT = """
import os, sys, time
speech, go = open(sys.argv[1], "rb").read(), sys.argv[2]
out, chunk, period, n, said = sys.stdout.buffer, 2048, 2048 / 32000, 0, False
start = time.monotonic()
while True:
    data = bytes(chunk)
    if not said and os.path.exists(go):
        said = True
        data = speech + bytes(-len(speech) % chunk)
    for i in range(0, len(data), chunk):
        out.write(data[i : i + chunk])
        out.flush()
        n += 1
        time.sleep(max(0.0, start + n * period - time.monotonic()))
"""


class EventService:
    """The satellite's `--event-uri` service: what the satellite was told (transcript, synthesize, audio-stop, ...)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.server = AsyncTcpServer("127.0.0.1", self.port)

    async def start(self) -> None:
        service = self

        class Handler(AsyncEventHandler):
            async def handle_event(self, event: Event) -> bool:
                service.events.put_nowait(event)
                return True

        async with asyncio.timeout(TIMEOUT):
            await self.server.start(Handler)

    async def wait_for(self, kind: str, within: float = 60.0) -> tuple[Event, list[Event]]:
        seen: list[Event] = []
        async with asyncio.timeout(within):
            while True:
                event = await self.events.get()
                seen.append(event)
                if event.type == kind:
                    return event, seen


def to_16k(pcm: bytes, rate: int) -> bytes:
    converter = AudioChunkConverter(rate=16000, width=2, channels=1)
    return converter.convert(AudioChunk(rate, 2, 1, pcm)).audio


def tail(path: Path) -> str:
    return path.read_text(errors="replace")[-4000:] if path.exists() else f"{path} is missing"


def file_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


@pytest.fixture
def satellite_python() -> Path:
    """The Python of a separate environment with `wyoming-satellite` (it pins an older wyoming than Hearth's)."""
    if not SATELLITE_PYTHON.exists():
        pytest.skip(f"wyoming-satellite is not installed: {SETUP_HINT}")
    probe = subprocess.run([SATELLITE_PYTHON, "-c", "import wyoming_satellite"], capture_output=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"{SATELLITE_PYTHON} cannot import wyoming_satellite: {SETUP_HINT}")
    return SATELLITE_PYTHON


async def test_wyoming_satellite_program(tmp_path: Path, satellite_python: Path) -> None:
    events = EventService()
    await events.start()
    port = free_port()
    speech_file, go_file, snd_file = tmp_path / "speech.raw", tmp_path / "go", tmp_path / "reply.raw"
    mic, log = tmp_path / "mic.py", tmp_path / "satellite.log"
    mic.write_text(MIC_SCRIPT)
    satellite_uri = f"tcp://127.0.0.1:{port}"
    config = make_config(
        tmp_path,
        channels=CHANNELS,
        voice={**VOICE, "satellites": [{"uri": satellite_uri, "area": "kitchen", "name": "kitchen-pi"}]},
    )
    async with asyncio.timeout(120):
        runner, api = await start_api(config)
    proc: asyncio.subprocess.Process | None = None
    try:
        pcm, rate = await speech(api, "Turn on the lights.")
        speech_file.write_bytes(to_16k(pcm, rate))
        with log.open("wb") as stderr:
            proc = await asyncio.create_subprocess_exec(
                str(satellite_python), "-m", "wyoming_satellite",
                "--uri", satellite_uri, "--name", "Kitchen Pi", "--area", "Kitchen", "--no-zeroconf", "--debug",
                "--mic-command", f"{sys.executable} {mic} {speech_file} {go_file}",
                "--snd-command", f"sh -c 'cat >> {snd_file}'",
                "--event-uri", f"tcp://127.0.0.1:{events.port}",
                stdout=DEVNULL, stderr=stderr, start_new_session=True,
            )  # fmt: skip
        # Hearth retries until the program listens, connects, and the satellite starts streaming its microphone
        await events.wait_for("run-satellite")
        await events.wait_for("run-pipeline")
        await wait_status(api, lambda s: s[0]["connected"] and s[0]["satellite_name"] == "Kitchen Pi", 30)
        go_file.touch()  # now say the command
        transcript, _ = await events.wait_for("transcript")
        assert "light" in transcript.data["text"].lower()
        _, seen = await events.wait_for("audio-stop")
        types = [e.type for e in seen]
        assert "synthesize" in types and "audio-start" in types
        assert await device_on(api, "kitchen_lights")
        async with asyncio.timeout(TIMEOUT):
            while True:
                if file_size(snd_file) >= 22050:  # the reply reached the satellite's speaker
                    break
                await asyncio.sleep(0.05)
    finally:
        print(tail(log))  # shown when the test fails
        if proc is not None and proc.returncode is None:
            os.killpg(proc.pid, signal.SIGTERM)
            async with asyncio.timeout(TIMEOUT):
                await proc.wait()
        async with asyncio.timeout(TIMEOUT):
            await api.session.close()
            await runner.cleanup()
            await events.server.stop()
