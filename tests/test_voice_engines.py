"""The local speech engines and the VAD with real models: Piper, faster-whisper tiny.en, Silero and pymicro-vad."""

from __future__ import annotations

import asyncio
import time

import pytest

from assistant.speech.audio import STT_FORMAT
from assistant.speech.engine import AudioFormat
from assistant.speech.piper import PiperTts
from assistant.speech.vad import FrameModel, MicroFrames, SileroFrames, SpeechDetector, VadEventType
from assistant.speech.whisper import FasterWhisperStt
from tests.voice_fixtures import Speaker, espeak_pcm16, noise, silence

pytestmark = pytest.mark.voice


NAMES = ("kitchen lights", "desk lamp", "porch light", "front door", "movie night", "living room")


@pytest.fixture(scope="module")
def stt() -> FasterWhisperStt:
    return FasterWhisperStt()


async def test_piper_yields_one_chunk_per_sentence_and_the_first_early(speaker: Speaker) -> None:
    tts = PiperTts(cache_sentences=0)
    async with asyncio.timeout(60):
        await tts.start()
        text = "Turned on the kitchen lights. The porch light is off. The front door is locked, as you asked."
        started = time.perf_counter()
        times: list[float] = []
        chunks = []
        async for chunk in tts.synthesize(text):
            times.append(time.perf_counter() - started)
            chunks.append(chunk)
    assert len(chunks) == 3
    assert all(c.format == AudioFormat(22050, 2, 1) for c in chunks)
    assert all(c.format.seconds(len(c.audio)) > 0.5 for c in chunks)
    assert times[0] < times[-1] / 2  # the first sentence was out well before the last was made


async def test_piper_repeats_come_from_the_cache() -> None:
    tts = PiperTts()
    async with asyncio.timeout(60):
        first = [c async for c in tts.synthesize("Okay, the garage door is open.")]
        started = time.perf_counter()
        again = [c async for c in tts.synthesize("Okay, the garage door is open.")]
        took = time.perf_counter() - started
    assert [c.audio for c in again] == [c.audio for c in first]
    assert took < 0.02


async def test_whisper_transcribes_piper_speech(stt: FasterWhisperStt, speaker: Speaker) -> None:
    async with asyncio.timeout(60):
        await stt.start()
        pcm = await speaker.pcm16("Turn on the kitchen lights.")
        result = await stt.transcribe(pcm, STT_FORMAT, NAMES)
        # the engine also takes other formats and converts them itself
        raw, fmt = await speaker.piper("Lock the front door.")
        other = await stt.transcribe(raw, fmt, NAMES)
    assert result.text.lower().strip(" .,!?") == "turn on the kitchen lights"
    assert result.audio_seconds == pytest.approx(len(pcm) / 32000)
    assert 0 < result.processing_seconds < 5
    assert other.text.lower().strip(" .,!?") == "lock the front door"


async def test_whisper_hears_nothing_in_noise(stt: FasterWhisperStt) -> None:
    async with asyncio.timeout(60):
        result = await stt.transcribe(noise(2.0, -45), STT_FORMAT, NAMES)
    assert len(result.text.split()) <= 1, result.text  # no invented command


async def test_vocabulary_bias_fixes_names_for_a_synthetic_voice(stt: FasterWhisperStt) -> None:
    """espeak-ng's voice is hard for tiny.en; the home's names as the prompt make the names come out."""
    pcm = espeak_pcm16("switch on the porch light", 150)
    async with asyncio.timeout(60):
        plain = await stt.transcribe(pcm, STT_FORMAT, ())
        biased = await stt.transcribe(pcm, STT_FORMAT, NAMES)
    assert "porch light" in biased.text.lower(), (plain.text, biased.text)


def _events(detector: SpeechDetector, pcm: bytes, frame_s: float = 0.02) -> list[tuple[VadEventType, float]]:
    step = int(frame_s * 16000) * 2
    found = []
    for offset in range(0, len(pcm), step):
        found += [(e.type, e.at) for e in detector.process(pcm[offset : offset + step])]
    return found


@pytest.mark.parametrize("model", [SileroFrames, MicroFrames])
async def test_vad_finds_start_and_end_of_speech(model: type[FrameModel], speaker: Speaker) -> None:
    speech = await speaker.pcm16("Set the thermostat to twenty one degrees.")
    spoken = len(speech) / 32000
    pcm = silence(1.0) + speech + silence(1.5)
    detector = SpeechDetector(model(), silence_s=0.5)
    events = _events(detector, pcm)
    kinds = [k for k, _ in events]
    assert kinds == [VadEventType.SPEECH_STARTED, VadEventType.SPEECH_STOPPED], events
    started, stopped = events[0][1], events[1][1]
    assert started == pytest.approx(1.0, abs=0.35)
    lag = model.lag_s
    # stopped = end of speech + trailing silence (+ the model's lag)
    assert 1.0 + spoken + 0.2 < stopped < 1.0 + spoken + 0.5 + lag + 0.35


async def test_vad_ignores_noise_and_handles_two_utterances(speaker: Speaker) -> None:
    speech = await speaker.pcm16("Turn on the desk lamp.")
    detector = SpeechDetector(SileroFrames(), silence_s=0.4)
    assert _events(detector, noise(2.0, -50)) == []
    events = _events(detector, speech + silence(0.8) + speech + silence(0.8), frame_s=0.013)
    assert [k for k, _ in events] == [VadEventType.SPEECH_STARTED, VadEventType.SPEECH_STOPPED] * 2
