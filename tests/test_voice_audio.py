"""Audio parsing and validation, the speech pool, and the engine factory (no models loaded)."""

from __future__ import annotations

import asyncio
import importlib.util
import struct
import threading
import time

import numpy as np
import pytest

from assistant.config import VoiceConfig, load_config
from assistant.errors import ConfigError, ErrorCode, HearthError
from assistant.speech.audio import AudioLimits, decode_wav, load_clip, loudest_dbfs, pcm_to_float, wav_bytes
from assistant.speech.engine import AudioFormat
from assistant.speech.factory import create_stt, create_tts
from assistant.speech.piper import split_sentences
from assistant.speech.pool import SpeechPool
from assistant.speech.whisper import dedupe


def tone(seconds: float, rate: int = 16000, freq: float = 440.0, level: float = 0.3, channels: int = 1) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    mono = (np.sin(2 * np.pi * freq * t) * level * 32767).astype("<i2")
    return np.repeat(mono[:, None], channels, axis=1).tobytes()


def wav_header(fmt_body: bytes, data: bytes, extra: bytes = b"") -> bytes:
    chunks = b"fmt " + struct.pack("<I", len(fmt_body)) + fmt_body + extra + b"data" + struct.pack("<I", len(data))
    return b"RIFF" + struct.pack("<I", 4 + len(chunks) + len(data)) + b"WAVE" + chunks + data


def fmt_chunk(tag: int, channels: int, rate: int, bits: int) -> bytes:
    block = channels * bits // 8
    return struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)


def bad(call: object) -> HearthError:
    assert callable(call)
    with pytest.raises(HearthError) as info:
        call()
    return info.value


# -- WAV and raw PCM ---------------------------------------------------------------------------------------------
def test_wav_16k_mono_passes_through_unchanged() -> None:
    pcm = tone(1.0)
    clip = load_clip(wav_bytes(pcm, AudioFormat(16000, 2, 1)), "audio/wav")
    assert clip.pcm == pcm
    assert clip.seconds == pytest.approx(1.0)


def test_other_rates_and_stereo_are_resampled_and_downmixed() -> None:
    for rate, channels in [(44100, 2), (22050, 1), (8000, 1), (48000, 2)]:
        clip = load_clip(wav_bytes(tone(1.5, rate, channels=channels), AudioFormat(rate, 2, channels)), "audio/wav")
        assert (clip.source_rate, clip.source_channels) == (rate, channels)
        assert clip.seconds == pytest.approx(1.5, abs=0.01)
        audio = pcm_to_float(clip.pcm)
        spectrum = np.abs(np.fft.rfft(audio))
        peak_hz = np.argmax(spectrum) * 16000 / audio.size
        assert peak_hz == pytest.approx(440, abs=5), (rate, peak_hz)  # the tone survives resampling


def test_wave_format_extensible_pcm_is_accepted() -> None:
    guid = struct.pack("<H", 1) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    body = fmt_chunk(0xFFFE, 1, 16000, 16) + struct.pack("<HHI", 22, 16, 4) + guid
    clip = load_clip(wav_header(body, tone(0.5)), "application/octet-stream")
    assert clip.seconds == pytest.approx(0.5)


def test_streamed_wav_with_a_wrong_data_size_is_read_to_its_end() -> None:
    data = wav_header(fmt_chunk(1, 1, 16000, 16), b"")[:-4] + struct.pack("<I", 0xFFFFFFFF) + tone(0.5)
    samples, rate = decode_wav(data)
    assert rate == 16000 and samples.shape == (8000, 1)


def test_not_wav_unsupported_encodings_and_media_have_clear_errors() -> None:
    err = bad(lambda: load_clip(b"this is not audio at all", "audio/wav"))
    assert err.code == ErrorCode.BAD_AUDIO and "not a WAV file" in err.message and err.http_status == 422
    err = bad(lambda: load_clip(wav_header(fmt_chunk(1, 1, 16000, 24), b"\0" * 3000), "audio/wav"))
    assert "24-bit PCM" in err.message and "16-bit" in err.message
    err = bad(lambda: load_clip(wav_header(fmt_chunk(3, 1, 16000, 32), b"\0" * 4000), "audio/wav"))
    assert "IEEE float" in err.message
    err = bad(lambda: load_clip(wav_header(fmt_chunk(7, 1, 8000, 8), b"\0" * 4000), "audio/wav"))
    assert "mu-law" in err.message
    err = bad(lambda: load_clip(b"RIFF\x04\x00\x00\x00WAVE", "audio/wav"))
    assert "no fmt chunk" in err.message
    err = bad(lambda: load_clip(b"ID3\x04\x00" + b"\0" * 100, "application/octet-stream"))
    assert err.code == ErrorCode.UNSUPPORTED_MEDIA and "MP3" in err.message
    err = bad(lambda: load_clip(b"\0" * 100, "audio/mpeg"))
    assert err.code == ErrorCode.UNSUPPORTED_MEDIA and err.http_status == 415


def test_empty_too_long_too_short_and_silent_audio_are_refused() -> None:
    assert "empty" in bad(lambda: load_clip(b"", "audio/wav")).message
    assert "empty" in bad(lambda: load_clip(wav_bytes(b""), "audio/wav")).message
    err = bad(lambda: load_clip(wav_bytes(tone(31.0, 8000), AudioFormat(8000, 2, 1)), "audio/wav"))
    assert "31.0 s long" in err.message and "30 s" in err.message
    err = bad(lambda: load_clip(wav_bytes(tone(5.0)), "audio/wav", limits=AudioLimits(max_seconds=4)))
    assert "limit is 4 s" in err.message
    assert "too short" in bad(lambda: load_clip(wav_bytes(tone(0.02)), "audio/wav")).message
    err = bad(lambda: load_clip(wav_bytes(bytes(32000)), "audio/wav"))
    assert err.code == ErrorCode.BAD_AUDIO and "silent" in err.message
    quiet = tone(1.0, level=0.001)  # -60 dBFS: a hum, not speech
    assert "silent" in bad(lambda: load_clip(wav_bytes(quiet), "audio/wav")).message
    assert loudest_dbfs(tone(1.0, level=0.5)) == pytest.approx(-9.0, abs=0.5)


def test_raw_pcm_little_endian_with_rate_and_l16_big_endian() -> None:
    pcm = tone(1.0, 8000)
    clip = load_clip(pcm, "application/octet-stream", {"rate": "8000"})
    assert clip.seconds == pytest.approx(1.0) and clip.source_rate == 8000
    big = np.frombuffer(pcm, "<i2").astype(">i2").tobytes()
    clip_l16 = load_clip(big, "audio/L16; rate=8000; channels=1")
    assert clip_l16.pcm == clip.pcm
    little = load_clip(pcm, "audio/L16; rate=8000; endianness=little-endian")
    assert little.pcm == clip.pcm
    assert "whole number" in bad(lambda: load_clip(pcm, "application/octet-stream", {"rate": "fast"})).message
    assert "sample rate" in bad(lambda: load_clip(pcm, "application/octet-stream", {"rate": "100"})).message


def test_wav_bytes_round_trip() -> None:
    pcm = tone(0.25, 22050)
    samples, rate = decode_wav(wav_bytes(pcm, AudioFormat(22050, 2, 1)))
    assert rate == 22050 and samples.tobytes() == pcm


# -- text helpers ----------------------------------------------------------------------------------------------
def test_sentences_split_for_synthesis() -> None:
    assert split_sentences("Done.  The lamp is on! Is that all?") == ["Done.", "The lamp is on!", "Is that all?"]
    assert split_sentences("Set it to 21.5 degrees.") == ["Set it to 21.5 degrees."]
    assert split_sentences("   ") == []


def test_dedupe_cuts_whisper_repetition_loops() -> None:
    assert dedupe("open the bedroom blinds, open the bedroom blinds, open the") == "open the bedroom blinds,"
    assert dedupe("Walk the front door. Walk the front door. Walk the") == "Walk the front door."
    assert dedupe("lock my front door, door, door, door") == "lock my front door,"
    assert dedupe(". . . . . .") == ""
    assert dedupe("Turn on the lights, then turn off the fan.") == "Turn on the lights, then turn off the fan."


# -- pool -------------------------------------------------------------------------------------------------------
async def test_pool_queues_beyond_its_workers_and_reports_depth() -> None:
    pool = SpeechPool(workers=2)
    running = 0
    most = 0
    lock = threading.Lock()

    def job() -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.1)
        with lock:
            running -= 1
        return 1

    try:
        async with asyncio.timeout(10):
            results = await asyncio.gather(*(pool.run(job) for _ in range(6)))
        assert results == [1] * 6
        assert most == 2  # never more than the workers at once
        stats = pool.stats()
        assert stats.max_depth == 6 and stats.depth == 0 and stats.completed == 6
    finally:
        pool.close()


async def test_pool_refuses_when_the_queue_is_full_and_forgets_cancelled_jobs() -> None:
    pool = SpeechPool(workers=1, max_waiting=2)
    gate = threading.Event()
    try:
        async with asyncio.timeout(10):
            first = asyncio.ensure_future(pool.run(gate.wait))
            await asyncio.sleep(0.05)
            waiting = [asyncio.ensure_future(pool.run(gate.wait)) for _ in range(2)]
            await asyncio.sleep(0.05)
            with pytest.raises(HearthError) as info:
                await pool.run(gate.wait)
            assert info.value.code == ErrorCode.BUSY and info.value.http_status == 503
            waiting[1].cancel()
            await asyncio.sleep(0.05)
            assert pool.stats().waiting == 1
            gate.set()
            await asyncio.gather(first, waiting[0])
        assert pool.stats().depth == 0
    finally:
        gate.set()
        pool.close()


# -- factory ----------------------------------------------------------------------------------------------------
def test_factory_choices_and_defaults() -> None:
    assert VoiceConfig().stt == "auto" and VoiceConfig().tts == "auto"
    assert create_stt(VoiceConfig(stt="none")) is None
    assert create_tts(VoiceConfig(tts="none")) is None
    stt = create_stt(VoiceConfig())
    tts = create_tts(VoiceConfig())
    assert stt is not None and stt.name == "faster-whisper"
    assert tts is not None and tts.name == "piper"
    with pytest.raises(ConfigError, match="choose auto, faster-whisper, wyoming, none"):
        create_stt(VoiceConfig(stt="vosk"))
    with pytest.raises(ConfigError, match=r"voice\.stt_uri must be set"):
        create_stt(VoiceConfig(stt="wyoming"))
    with pytest.raises(ConfigError, match=r"no model\.bin"):
        create_stt(VoiceConfig(stt="faster-whisper", stt_model="/nonexistent/model"))
    with pytest.raises(ConfigError, match=r"\.onnx\.json"):
        create_tts(VoiceConfig(tts="piper", tts_voice="/nonexistent/voice.onnx"))
    with pytest.raises(ConfigError, match="choose auto, silero, micro"):
        create_stt(VoiceConfig(vad="webrtc"))
    with pytest.raises(ConfigError, match="vad_silence_s"):
        create_stt(VoiceConfig(stt="none", vad_silence_s=0.0))
    assert "skills.voice" in load_config(env={}).channels


def test_missing_packages_name_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name in ("faster_whisper", "piper") else real(name)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)  # as if neither package were installed
    assert create_stt(VoiceConfig()) is None  # auto: quietly off
    assert create_tts(VoiceConfig()) is None
    with pytest.raises(ConfigError, match=r"pip install 'faster-whisper==1\.2\.1'"):
        create_stt(VoiceConfig(stt="faster-whisper"))
    with pytest.raises(ConfigError, match=r"pip install 'piper-tts==1\.8\.0'"):
        create_tts(VoiceConfig(tts="piper"))
