"""End-of-speech detection for streamed 16 kHz 16-bit mono PCM: speech-started and speech-stopped events.

Two frame classifiers sit behind `SpeechDetector`:
- "silero": the Silero VAD v6 ONNX model that faster-whisper ships (32 ms frames, run with onnxruntime). It follows
  the speech closely: measured here it marks the end of a command within about 0.1 s of the last word.
- "micro": pymicro-vad (10 ms frames). Self-contained, but its decisions trail the audio by about 0.6 s, and it
  answers nothing for the first 0.75 s of a stream; that lag adds directly to the time until a turn starts.
"auto" takes silero when faster-whisper and onnxruntime are installed, else micro.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from assistant.errors import ConfigError


class VadEventType(StrEnum):
    """What the detector noticed."""

    SPEECH_STARTED = "speech_started"
    SPEECH_STOPPED = "speech_stopped"


@dataclass(frozen=True, slots=True)
class VadEvent:
    """An event and where it happened, in seconds of audio since the stream began."""

    type: VadEventType
    at: float

    def to_dict(self) -> dict[str, Any]:
        return {"type": str(self.type), "at": round(self.at, 3)}


class FrameModel(ABC):
    """Speech probability for fixed-size frames of 16 kHz 16-bit mono PCM."""

    name: ClassVar[str]
    frame_bytes: ClassVar[int]
    lag_s: ClassVar[float]  # how far its decisions trail the audio

    @abstractmethod
    def probability(self, frame: bytes) -> float:
        """0..1, or a negative number while the model is still warming up."""

    @abstractmethod
    def reset(self) -> None:
        """Forget the audio so far."""


def silero_model_path() -> Path | None:
    """The Silero VAD model inside faster-whisper's package, if installed."""
    if importlib.util.find_spec("faster_whisper") is None or importlib.util.find_spec("onnxruntime") is None:
        return None
    path = Path(str(importlib.resources.files("faster_whisper"))) / "assets" / "silero_vad_v6.onnx"
    return path if path.is_file() else None


class SileroFrames(FrameModel):
    """Silero VAD v6 (ONNX): 512-sample frames with 64 samples of context and an LSTM state carried across."""

    name = "silero"
    frame_bytes = 1024
    lag_s = 0.0
    _CONTEXT = 64

    _sessions: ClassVar[dict[str, Any]] = {}

    def __init__(self, path: Path | None = None) -> None:
        import onnxruntime

        path = path or silero_model_path()
        if path is None:
            raise ConfigError("the Silero VAD model needs faster-whisper: pip install 'faster-whisper==1.2.1'")
        session = self._sessions.get(str(path))
        if session is None:
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.enable_cpu_mem_arena = False
            options.log_severity_level = 4
            session = onnxruntime.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
            self._sessions[str(path)] = session
        self._session = session
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(self._CONTEXT, dtype=np.float32)

    def probability(self, frame: bytes) -> float:
        audio = np.frombuffer(frame, dtype="<i2").astype(np.float32) / 32768.0
        window = np.concatenate([self._context, audio])[None, :]
        out, self._h, self._c = self._session.run(None, {"input": window, "h": self._h, "c": self._c})
        self._context = audio[-self._CONTEXT :]
        return float(np.ravel(out)[0])


class MicroFrames(FrameModel):
    """pymicro-vad: 10 ms frames."""

    name = "micro"
    frame_bytes = 320
    lag_s = 0.6

    def __init__(self) -> None:
        try:
            from pymicro_vad import MicroVad
        except ImportError as exc:
            raise ConfigError("voice VAD needs pymicro-vad: pip install 'pymicro-vad==2.1.0'") from exc
        self._vad = MicroVad()

    def reset(self) -> None:
        self._vad.reset()

    def probability(self, frame: bytes) -> float:
        return float(self._vad.process_10ms(frame))


def frame_model(kind: str = "auto") -> FrameModel:
    """A fresh frame classifier of the named kind ("silero", "micro" or "auto")."""
    if kind == "silero" or (kind == "auto" and silero_model_path() is not None):
        return SileroFrames()
    if kind in ("micro", "auto"):
        return MicroFrames()
    raise ConfigError(f"unknown voice.vad {kind!r}; choose auto, silero or micro", key="voice.vad")


def vad_available(kind: str = "auto") -> bool:
    if kind in ("silero", "auto") and silero_model_path() is not None:
        return True
    return kind in ("micro", "auto") and importlib.util.find_spec("pymicro_vad") is not None


class SpeechDetector:
    """Feeds PCM of any chunk size to a frame model and reports when speech starts and stops.

    Speech starts after `start_s` of frames above `threshold`; it stops after `silence_s` of frames below it. Event
    times are stream seconds: SPEECH_STARTED at the (lag-corrected) start of the speech, SPEECH_STOPPED when the stop
    was decided. While speech lasts, `silence_started_at` tells where the current pause began (lag-corrected), so a
    caller can begin transcribing before the stop is final.
    """

    def __init__(
        self,
        model: FrameModel | None = None,
        *,
        threshold: float = 0.5,
        start_s: float = 0.1,
        silence_s: float = 0.5,
    ) -> None:
        self.model = model or frame_model()
        self.threshold = threshold
        self.start_s = start_s
        self.silence_s = silence_s
        self._buffer = b""
        self._elapsed = 0.0
        self._pause_frame = 0.0
        self.reset()

    def reset(self) -> None:
        """Back to waiting for speech (the stream clock keeps running)."""
        self.model.reset()
        self._buffer = b""
        self.in_speech = False
        self.speech_started_at: float | None = None
        self.speech_stopped_at: float | None = None
        self.silence_started_at: float | None = None
        self._voiced_since: float | None = None

    @property
    def elapsed(self) -> float:
        """Seconds of audio processed since the detector was made."""
        return self._elapsed

    def process(self, pcm: bytes) -> list[VadEvent]:
        """Feed 16 kHz 16-bit mono PCM; return the events it caused, in order."""
        events: list[VadEvent] = []
        data = self._buffer + pcm
        size = self.model.frame_bytes
        step = size / 32000.0
        usable = len(data) - len(data) % size
        for offset in range(0, usable, size):
            prob = self.model.probability(data[offset : offset + size])
            start = self._elapsed
            self._elapsed += step
            event = self._update(prob, start, self._elapsed)
            if event is not None:
                events.append(event)
        self._buffer = data[usable:]
        return events

    def _update(self, prob: float, start: float, end: float) -> VadEvent | None:
        lag = self.model.lag_s
        # hysteresis: once speaking, a frame counts as speech down to 0.15 below the threshold (as Silero advises)
        voiced = prob >= (self.threshold - 0.15 if self.in_speech else self.threshold)
        if not self.in_speech:
            if voiced:
                if self._voiced_since is None:
                    self._voiced_since = start
                if end - self._voiced_since >= self.start_s:
                    self.in_speech = True
                    self.silence_started_at = None
                    self.speech_started_at = max(0.0, self._voiced_since - lag)
                    return VadEvent(VadEventType.SPEECH_STARTED, self.speech_started_at)
            else:
                self._voiced_since = None
            return None
        if voiced:
            self.silence_started_at = None
            return None
        if self.silence_started_at is None:
            self.silence_started_at = max(0.0, start - lag)  # where the pause began in the audio
            self._pause_frame = start
        if end - self._pause_frame >= self.silence_s - 1e-9:
            self.in_speech = False
            self._voiced_since = None
            self.speech_stopped_at = end
            return VadEvent(VadEventType.SPEECH_STOPPED, end)
        return None
