"""The speech seams: SttEngine (audio to text) and TtsEngine (text to audio), chosen by configuration."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """Raw PCM layout."""

    rate: int = 16000
    width: int = 2  # bytes per sample
    channels: int = 1

    @property
    def bytes_per_second(self) -> int:
        return self.rate * self.width * self.channels

    def seconds(self, size: int) -> float:
        """How long `size` bytes of this audio last."""
        return size / self.bytes_per_second

    def to_dict(self) -> dict[str, int]:
        return {"rate": self.rate, "width": self.width, "channels": self.channels}


@dataclass(frozen=True, slots=True)
class Hypothesis:
    """One reading the recogniser considered: its words and how likely the decoder found them."""

    text: str
    logprob: float  # mean log-probability per token (the decoder's length-normalised score)
    tokens: int = 1

    @property
    def total(self) -> float:
        """Log-likelihood of the whole reading."""
        return self.logprob * max(1, self.tokens)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "logprob": round(self.logprob, 4), "tokens": self.tokens}


@dataclass(frozen=True, slots=True)
class Transcript:
    """What speech recognition heard: the best reading, and (from engines that give them) its n-best alternatives,
    best first, the first being `text`."""

    text: str
    language: str = "en"
    audio_seconds: float = 0.0
    processing_seconds: float = 0.0
    alternatives: tuple[Hypothesis, ...] = ()

    def with_time(self, processing_seconds: float) -> Transcript:
        return replace(self, processing_seconds=processing_seconds)


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """A piece of synthesized audio."""

    audio: bytes
    format: AudioFormat


class SttEngine(ABC):
    """Speech to text."""

    name: ClassVar[str]

    @abstractmethod
    async def start(self) -> None:
        """Load and warm up the model."""

    @abstractmethod
    async def stop(self) -> None:
        """Release the model."""

    @abstractmethod
    async def transcribe(self, pcm: bytes, fmt: AudioFormat, vocabulary: Sequence[str] = ()) -> Transcript:
        """Transcribe a whole utterance; `vocabulary` biases recognition toward the home's names."""


class TtsEngine(ABC):
    """Text to speech."""

    name: ClassVar[str]

    @abstractmethod
    async def start(self) -> None:
        """Load and warm up the voice."""

    @abstractmethod
    async def stop(self) -> None:
        """Release the voice."""

    @abstractmethod
    def synthesize(self, text: str) -> AsyncIterator[AudioChunk]:
        """Yield audio sentence by sentence, so the first chunk goes out before the rest is made."""
