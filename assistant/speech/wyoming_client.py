"""WyomingStt and WyomingTts: the speech seams served by external Wyoming servers (wyoming-faster-whisper, -piper).

Each call opens one connection (tcp://host:port or unix://path), does one exchange and closes it:
- STT: transcribe (language en, the home's names as transcript_names) -> audio-start -> audio-chunk... -> audio-stop;
  the server answers transcript.
- TTS: synthesize; the server answers audio-start -> audio-chunk... -> audio-stop.
A server that cannot be reached is BUSY (503) for that request; at start it is only logged, so Hearth comes up even
when the speech server starts later.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import AsyncIterator, Sequence
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # wyoming.audio imports audioop (deprecated in 3.11)
    from wyoming.audio import AudioChunk as WyAudioChunk
    from wyoming.audio import AudioStart, AudioStop
from wyoming.asr import Transcribe
from wyoming.asr import Transcript as WyTranscript
from wyoming.client import AsyncClient
from wyoming.error import Error as WyError
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeVoice

from assistant.errors import ConfigError, ErrorCode, HearthError
from assistant.speech.engine import AudioChunk, AudioFormat, SttEngine, Transcript, TtsEngine

LOG = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0
SEND_CHUNK_S = 0.5  # audio sent to the STT server in pieces of this length


def _client(uri: str) -> AsyncClient:
    try:
        return AsyncClient.from_uri(uri, connect_timeout=CONNECT_TIMEOUT_S, read_timeout=READ_TIMEOUT_S)
    except ValueError as exc:
        raise ConfigError(f"Wyoming URI {uri!r}: {exc}", uri=uri) from exc


def check_uri(uri: str, key: str) -> str:
    if not uri:
        raise ConfigError(f"{key} must be set (for example tcp://127.0.0.1:10300)", key=key)
    _client(uri)
    return uri


def _unreachable(uri: str, exc: BaseException) -> HearthError:
    return HearthError(
        ErrorCode.BUSY, "The speech server cannot be reached; try again in a moment.", {"uri": uri, "reason": str(exc)}
    )


async def describe(uri: str) -> Info | None:
    """The server's Info, or None when it does not answer."""
    try:
        async with _client(uri) as client:
            await client.write_event(Describe().event())
            while True:
                event = await client.read_event()
                if event is None:
                    return None
                if Info.is_type(event.type):
                    return Info.from_event(event)
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return None


class WyomingStt(SttEngine):
    """Speech to text by a Wyoming ASR server."""

    name = "wyoming"

    def __init__(self, uri: str, *, model: str | None = None) -> None:
        self.uri = check_uri(uri, "voice.stt_uri")
        self.model = model

    async def start(self) -> None:
        if await describe(self.uri) is None:
            LOG.warning("the Wyoming STT server at %s does not answer (yet)", self.uri)

    async def stop(self) -> None:
        return None

    async def transcribe(self, pcm: bytes, fmt: AudioFormat, vocabulary: Sequence[str] = ()) -> Transcript:
        started = time.perf_counter()
        request = Transcribe(name=self.model, language="en", transcript_names=list(vocabulary) or None)
        step = max(fmt.width * fmt.channels, int(fmt.bytes_per_second * SEND_CHUNK_S))
        step -= step % (fmt.width * fmt.channels)
        try:
            async with _client(self.uri) as client:
                await client.write_event(request.event())
                await client.write_event(AudioStart(fmt.rate, fmt.width, fmt.channels).event())
                for offset in range(0, len(pcm), step):
                    chunk = WyAudioChunk(fmt.rate, fmt.width, fmt.channels, pcm[offset : offset + step])
                    await client.write_event(chunk.event())
                await client.write_event(AudioStop().event())
                while True:
                    event = await client.read_event()
                    if event is None:
                        raise HearthError(ErrorCode.BUSY, "The speech server closed the connection.", {"uri": self.uri})
                    if WyTranscript.is_type(event.type):
                        text = WyTranscript.from_event(event).text or ""
                        break
                    if WyError.is_type(event.type):
                        raise HearthError(ErrorCode.BUSY, f"The speech server failed: {WyError.from_event(event).text}")
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            raise _unreachable(self.uri, exc) from exc
        return Transcript(text.strip(), "en", fmt.seconds(len(pcm)), time.perf_counter() - started)

    def describe(self) -> dict[str, Any]:
        return {"engine": self.name, "uri": self.uri}


class WyomingTts(TtsEngine):
    """Text to speech by a Wyoming TTS server; audio chunks are passed on as they arrive."""

    name = "wyoming"

    def __init__(self, uri: str, *, voice: str | None = None) -> None:
        self.uri = check_uri(uri, "voice.tts_uri")
        self.voice = voice

    async def start(self) -> None:
        if await describe(self.uri) is None:
            LOG.warning("the Wyoming TTS server at %s does not answer (yet)", self.uri)

    async def stop(self) -> None:
        return None

    async def synthesize(self, text: str) -> AsyncIterator[AudioChunk]:
        voice = SynthesizeVoice(name=self.voice) if self.voice else None
        fmt: AudioFormat | None = None
        try:
            async with _client(self.uri) as client:
                await client.write_event(Synthesize(text=" ".join(text.split()), voice=voice).event())
                while True:
                    event = await client.read_event()
                    if event is None:
                        raise HearthError(ErrorCode.BUSY, "The speech server closed the connection.", {"uri": self.uri})
                    if AudioStart.is_type(event.type):
                        start = AudioStart.from_event(event)
                        fmt = AudioFormat(start.rate, start.width, start.channels)
                    elif WyAudioChunk.is_type(event.type):
                        chunk = WyAudioChunk.from_event(event)
                        chunk_fmt = AudioFormat(chunk.rate, chunk.width, chunk.channels)
                        if chunk.audio:
                            yield AudioChunk(chunk.audio, fmt or chunk_fmt)
                    elif AudioStop.is_type(event.type):
                        return
                    elif WyError.is_type(event.type):
                        raise HearthError(ErrorCode.BUSY, f"The speech server failed: {WyError.from_event(event).text}")
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            raise _unreachable(self.uri, exc) from exc

    def describe(self) -> dict[str, Any]:
        return {"engine": self.name, "uri": self.uri}
