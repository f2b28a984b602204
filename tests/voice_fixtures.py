"""Voice test helpers: speech made at test time (Piper, espeak-ng), a voice-enabled server, HTTP and WS clients."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import shutil
import subprocess
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from assistant.speech.audio import STT_FORMAT, convert, wav_bytes
from assistant.speech.engine import AudioFormat
from assistant.speech.piper import PiperTts
from tests.conftest import TIMEOUT, Api, make_config, start_api

VOICE = {"stt": "faster-whisper", "tts": "piper"}
ESPEAK = shutil.which("espeak-ng")


class Speaker:
    """Speech for tests, made offline with Piper's voice (the reply voice).

    Piper varies its delivery at random by default; here the noise is off, so a text always sounds the same and a
    test hears the same audio on every run (the benchmark and the espeak-ng accuracy set cover variation)."""

    def __init__(self) -> None:
        self.tts = PiperTts(noise_scale=0.0, noise_w=0.0)
        self._cache: dict[str, tuple[bytes, AudioFormat]] = {}

    async def piper(self, text: str) -> tuple[bytes, AudioFormat]:
        """Piper PCM at its own rate (22050 Hz) and its format."""
        found = self._cache.get(text)
        if found is None:
            chunks = [c async for c in self.tts.synthesize(text)]
            found = self._cache[text] = (b"".join(c.audio for c in chunks), chunks[0].format)
        return found

    async def wav(self, text: str) -> bytes:
        """A WAV file at 22050 Hz, as Piper makes it (the server must resample)."""
        return wav_bytes(*await self.piper(text))

    async def pcm16(self, text: str) -> bytes:
        """16 kHz 16-bit mono PCM."""
        pcm, fmt = await self.piper(text)
        return convert(pcm, fmt)


def espeak_pcm16(text: str, speed: int = 160) -> bytes:
    """espeak-ng's en-us voice at `speed` words per minute, as 16 kHz 16-bit mono PCM."""
    assert ESPEAK, "espeak-ng is not installed (apt-get install espeak-ng)"
    out = subprocess.run(
        [ESPEAK, "-v", "en-us", "-s", str(speed), "--stdout", text], capture_output=True, check=True, timeout=30
    ).stdout
    with wave.open(io.BytesIO(out)) as wav:
        fmt = AudioFormat(wav.getframerate(), wav.getsampwidth(), wav.getnchannels())
        pcm = wav.readframes(wav.getnframes())
    return convert(pcm, fmt)


def trim(pcm: bytes, threshold: float = 0.01) -> bytes:
    """16-bit PCM without its leading and trailing silence (samples under 1 % of full scale, like sox's `silence`
    effect at 1 %): synthesized clips carry silence at both ends that would lengthen a pause or hide a delay."""
    audio = np.frombuffer(pcm, dtype="<i2")
    loud = np.flatnonzero(np.abs(audio.astype(np.int32)) > threshold * 32768)
    if loud.size == 0:
        return b""
    return audio[loud[0] : loud[-1] + 1].tobytes()


def silence(seconds: float) -> bytes:
    return bytes(int(seconds * STT_FORMAT.rate) * 2)


def noise(seconds: float, dbfs: float = -30.0, seed: int = 1) -> bytes:
    rng = np.random.default_rng(seed)
    level = 10 ** (dbfs / 20.0)
    audio = rng.standard_normal(int(seconds * STT_FORMAT.rate)) * level
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()


_SPEAKER: Speaker | None = None


def shared_speaker() -> Speaker:
    """One Speaker per test process (its Piper voice and its cache of spoken commands are shared)."""
    global _SPEAKER
    if _SPEAKER is None:
        _SPEAKER = Speaker()
    return _SPEAKER


@contextlib.asynccontextmanager
async def voice_server(tmp_path: Path, **overrides: Any) -> AsyncIterator[Api]:
    """The real server with local STT and TTS (models load once per process, then are shared)."""
    runner, client = await start_api(make_config(tmp_path, voice=dict(VOICE), **overrides))
    try:
        yield client
    finally:
        await client.session.close()
        await runner.cleanup()


async def post_voice(
    api: Api, data: bytes | None = None, content_type: str | None = None, token: str | None = None, **kw: Any
) -> tuple[int, Any]:
    """POST /api/v1/voice with raw bytes and an explicit Content-Type (query options as keyword arguments)."""
    headers = api.headers(token)
    if content_type is not None:
        headers["Content-Type"] = content_type
    params = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in kw.pop("params", {}).items()}
    async with asyncio.timeout(TIMEOUT * 3):
        async with api.session.post(api.url + "/api/v1/voice", data=data, headers=headers, params=params, **kw) as resp:
            body = await resp.json() if "json" in resp.headers.get("Content-Type", "") else await resp.text()
            return resp.status, body


async def speak(api: Api, speaker: Speaker, text: str, **params: Any) -> dict[str, Any]:
    """Say `text` with Piper's voice to the server (a 22050 Hz WAV) and return the answer (200 expected)."""
    params.setdefault("speak", False)
    status, body = await post_voice(api, await speaker.wav(text), "audio/wav", params=params)
    assert status == 200, body
    return body


async def device_state(api: Api, device_id: str) -> dict[str, Any]:
    status, body = await api.call("GET", f"/api/v1/devices/{device_id}")
    assert status == 200, body
    state: dict[str, Any] = body["state"]
    return state


@dataclass
class StreamLog:
    """Everything a voice WebSocket sent, in order: JSON events and binary audio."""

    events: list[dict[str, Any]] = field(default_factory=list)
    audio: bytearray = field(default_factory=bytearray)

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def first(self, kind: str) -> dict[str, Any]:
        return next(e for e in self.events if e["type"] == kind)


class VoiceWs:
    """A client of /api/v1/voice/stream."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.log = StreamLog()

    @classmethod
    async def connect(cls, api: Api, header_auth: bool = True) -> VoiceWs:
        url = api.url.replace("http", "ws", 1) + "/api/v1/voice/stream"
        headers = api.headers() if header_auth else {}
        async with asyncio.timeout(TIMEOUT):
            ws = await api.session.ws_connect(url, headers=headers, max_msg_size=8 * 1024 * 1024)
            client = cls(ws)
            if not header_auth:
                await ws.send_json({"type": "auth", "token": api.token})
            ok = await client.next_event()
        assert ok["type"] == "auth_ok", ok
        client.log.events.clear()
        return client

    async def next_event(self, wait: float = TIMEOUT) -> dict[str, Any]:
        """The next JSON event (binary audio on the way is collected into log.audio)."""
        async with asyncio.timeout(wait):
            while True:
                msg = await self.ws.receive()
                if msg.type == aiohttp.WSMsgType.BINARY:
                    self.log.audio += msg.data
                    continue
                if msg.type != aiohttp.WSMsgType.TEXT:
                    raise ConnectionError(f"socket ended: {msg.type} {msg.data!r}")
                event: dict[str, Any] = json.loads(msg.data)
                self.log.events.append(event)
                return event

    async def until(self, kind: str, wait: float = TIMEOUT) -> dict[str, Any]:
        while True:
            event = await self.next_event(wait)
            if event["type"] == kind:
                return event

    async def start(self, **options: Any) -> dict[str, Any]:
        await self.ws.send_json({"type": "start", **options})
        return await self.until("listening")

    async def send_audio(self, pcm: bytes, frame_s: float = 0.02, pace: float = 0.0) -> None:
        """Send PCM in frames of `frame_s`; `pace` = seconds to sleep per second of audio (1.0 = real time)."""
        step = int(frame_s * STT_FORMAT.rate) * 2
        for offset in range(0, len(pcm), step):
            await self.ws.send_bytes(pcm[offset : offset + step])
            if pace:
                await asyncio.sleep(frame_s * pace)

    async def close(self) -> None:
        await self.ws.close()


DATA = Path(__file__).resolve().parent / "data" / "voice"


def load_commands(name: str = "heldout_commands.txt") -> list[str]:
    """A command list from tests/data/voice (comments and blank lines skipped)."""
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def nlu_key(result: Any) -> tuple[str, tuple[tuple[str, str], ...]]:
    """What must come out right: the intent and every (entity, value)."""
    return result.intent.name, tuple(sorted((e.entity, str(e.value)) for e in result.entities))


@dataclass
class Accuracy:
    """Share of spoken commands whose intent and entities match those of the written text."""

    right: int = 0
    total: int = 0
    misses: list[tuple[str, str]] = field(default_factory=list)  # (said, heard)
    stt_seconds: list[float] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.right / self.total if self.total else 0.0


async def spoken_accuracy(core: Any, home_id: str, texts: list[str], speed: int) -> Accuracy:
    """Speak each text with espeak-ng at `speed` wpm, transcribe it through the VoicePipeline, parse both, compare."""
    from assistant.speech.pipeline import VoicePipeline

    pipeline = VoicePipeline.of(core)
    vocabulary = core.registry.home(home_id).vocabulary
    score = Accuracy()
    for text in texts:
        gold = nlu_key(await core.nlu.parse(text, vocabulary))
        pcm = await asyncio.to_thread(espeak_pcm16, text, speed)
        heard = await pipeline.transcribe(pcm, home_id=home_id)
        score.stt_seconds.append(heard.processing_seconds)
        got = nlu_key(await core.nlu.parse(" ".join(heard.text.split()), vocabulary))
        score.total += 1
        if got == gold:
            score.right += 1
        else:
            score.misses.append((text, heard.text))
    return score
