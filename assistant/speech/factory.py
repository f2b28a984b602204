"""Builds the configured speech engines (or none)."""

from __future__ import annotations

from assistant.config import VoiceConfig
from assistant.errors import ConfigError
from assistant.speech.engine import SttEngine, TtsEngine


def create_stt(config: VoiceConfig) -> SttEngine | None:
    if config.stt == "none":
        return None
    raise ConfigError(f"unknown voice.stt {config.stt!r}; choose none", key="voice.stt")


def create_tts(config: VoiceConfig) -> TtsEngine | None:
    if config.tts == "none":
        return None
    raise ConfigError(f"unknown voice.tts {config.tts!r}; choose none", key="voice.tts")
