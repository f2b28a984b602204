"""WyomingStt and WyomingTts against a Wyoming server on loopback that runs the real local engines behind it."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from wyoming.audio import AudioChunk as WyChunk
    from wyoming.audio import AudioStart, AudioStop
from wyoming.asr import Transcribe, Transcript
from wyoming.event import Event
from wyoming.info import AsrModel, AsrProgram, Attribution, Describe, Info, TtsProgram, TtsVoice
from wyoming.server import AsyncEventHandler, AsyncTcpServer
from wyoming.tts import Synthesize

from assistant.errors import ErrorCode, HearthError
from assistant.speech.audio import STT_FORMAT
from assistant.speech.engine import AudioFormat
from assistant.speech.piper import PiperTts
from assistant.speech.whisper import FasterWhisperStt
from assistant.speech.wyoming_client import WyomingStt, WyomingTts
from tests.conftest import free_port, make_config, start_api
from tests.voice_fixtures import Speaker, device_state, post_voice

pytestmark = pytest.mark.voice

ATTRIBUTION = Attribution(name="Hearth tests", url="http://127.0.0.1/")


class EngineHandler(AsyncEventHandler):
    """A minimal wyoming-faster-whisper + wyoming-piper: real engines behind the Wyoming protocol."""

    def __init__(self, stt: FasterWhisperStt, tts: PiperTts, seen: list[Transcribe], *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.stt = stt
        self.tts = tts
        self.seen = seen
        self.request: Transcribe | None = None
        self.fmt = STT_FORMAT
        self.audio = bytearray()

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            asr = AsrProgram(
                name="hearth-whisper", description="test", attribution=ATTRIBUTION, installed=True, version="1",
                models=[AsrModel(name="tiny.en", description="tiny.en", attribution=ATTRIBUTION, installed=True,
                                 languages=["en"], version="1")],
            )  # fmt: skip
            tts = TtsProgram(
                name="hearth-piper", description="test", attribution=ATTRIBUTION, installed=True, version="1",
                voices=[TtsVoice(name="en_US-joe-medium", description="joe", attribution=ATTRIBUTION,
                                 installed=True, languages=["en_US"], version="1")],
            )  # fmt: skip
            await self.write_event(Info(asr=[asr], tts=[tts]).event())
        elif Transcribe.is_type(event.type):
            self.request = Transcribe.from_event(event)
            self.seen.append(self.request)
        elif AudioStart.is_type(event.type):
            start = AudioStart.from_event(event)
            self.fmt = AudioFormat(start.rate, start.width, start.channels)
            self.audio.clear()
        elif WyChunk.is_type(event.type):
            self.audio += WyChunk.from_event(event).audio
        elif AudioStop.is_type(event.type):
            names = (self.request.transcript_names or []) if self.request else []
            heard = await self.stt.transcribe(bytes(self.audio), self.fmt, names)
            await self.write_event(Transcript(text=heard.text, language="en").event())
            return False
        elif Synthesize.is_type(event.type):
            text = Synthesize.from_event(event).text
            started = False
            async for chunk in self.tts.synthesize(text):
                fmt = chunk.format
                if not started:
                    await self.write_event(AudioStart(fmt.rate, fmt.width, fmt.channels).event())
                    started = True
                for offset in range(0, len(chunk.audio), 8192):  # several chunks per sentence, as wyoming-piper does
                    piece = chunk.audio[offset : offset + 8192]
                    await self.write_event(WyChunk(fmt.rate, fmt.width, fmt.channels, piece).event())
            await self.write_event(AudioStop().event())
            return False
        return True


@pytest.fixture
async def wyoming_uri() -> AsyncIterator[tuple[str, list[Transcribe]]]:
    stt, tts = FasterWhisperStt(), PiperTts()
    await stt.start()
    await tts.start()
    seen: list[Transcribe] = []
    port = free_port()
    server = AsyncTcpServer("127.0.0.1", port)
    await server.start(lambda reader, writer: EngineHandler(stt, tts, seen, reader, writer))
    try:
        yield f"tcp://127.0.0.1:{port}", seen
    finally:
        await server.stop()


async def test_wyoming_stt_transcribes_with_the_names(
    wyoming_uri: tuple[str, list[Transcribe]], speaker: Speaker
) -> None:
    uri, seen = wyoming_uri
    stt = WyomingStt(uri)
    raw, fmt = await speaker.piper("Turn on the kitchen lights.")
    async with asyncio.timeout(60):
        await stt.start()
        result = await stt.transcribe(raw, fmt, ["kitchen lights", "desk lamp"])
    assert result.text.lower().strip(" .,!?") == "turn on the kitchen lights"
    assert result.audio_seconds == pytest.approx(fmt.seconds(len(raw)))
    assert seen[-1].language == "en" and seen[-1].transcript_names == ["kitchen lights", "desk lamp"]


async def test_wyoming_tts_streams_the_audio(wyoming_uri: tuple[str, list[Transcribe]]) -> None:
    tts = WyomingTts(wyoming_uri[0])
    async with asyncio.timeout(60):
        chunks = [c async for c in tts.synthesize("Turned on the kitchen lights. The porch light is off.")]
    assert len(chunks) > 2
    assert {c.format for c in chunks} == {AudioFormat(22050, 2, 1)}
    assert sum(len(c.audio) for c in chunks) / (2 * 22050) > 1.5


async def test_an_unreachable_wyoming_server_is_a_503() -> None:
    uri = f"tcp://127.0.0.1:{free_port()}"
    stt, tts = WyomingStt(uri), WyomingTts(uri)
    async with asyncio.timeout(30):
        await stt.start()  # only logged: the server may come up later
        with pytest.raises(HearthError) as info:
            await stt.transcribe(bytes(32000), STT_FORMAT, ())
        assert info.value.code == ErrorCode.BUSY and info.value.http_status == 503
        with pytest.raises(HearthError):
            _ = [c async for c in tts.synthesize("Hello.")]


async def test_hearth_configured_with_wyoming_speech_end_to_end(
    wyoming_uri: tuple[str, list[Transcribe]], speaker: Speaker, tmp_path: Path
) -> None:
    uri = wyoming_uri[0]
    voice = {"stt": "wyoming", "tts": "wyoming", "stt_uri": uri, "tts_uri": uri}
    runner, api = await start_api(make_config(tmp_path, voice=voice))
    try:
        status, body = await post_voice(api, await speaker.wav("Turn on the floor lamp."), "audio/wav")
        assert status == 200, body
        assert (await device_state(api, "floor_lamp"))["on"] is True, body["transcript"]
        assert body["audio_base64"] and body["reply"]["speech"] == "Turned on the floor lamp."
        status, info = await api.call("GET", "/api/v1/voice")
        assert info["stt"] == {"engine": "wyoming", "uri": uri} and info["tts"]["engine"] == "wyoming"
    finally:
        await api.session.close()
        await runner.cleanup()
