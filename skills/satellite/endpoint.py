"""End-of-speech detection for satellites that stream without `audio-stop`: VAD over 10 ms frames."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

RATE = 16000
WIDTH = 2
FRAME_BYTES = RATE // 100 * WIDTH  # 10 ms of 16 kHz 16-bit mono


FrameVad = Callable[[bytes], float]  # speech probability of one 10 ms frame of 16 kHz 16-bit mono PCM


def micro_vad() -> FrameVad:
    """The pymicro-vad detector (self-contained, CPU-cheap)."""
    from pymicro_vad import MicroVad

    vad = MicroVad()
    return vad.process_10ms


class Mark(StrEnum):
    """What the endpointer noticed in the audio fed to it."""

    SPEECH_STARTED = "speech_started"
    SPEECH_ENDED = "speech_ended"
    TOO_LONG = "too_long"


@dataclass(frozen=True, slots=True)
class EndpointSettings:
    """How sure and how long: thresholds in probability and milliseconds."""

    threshold: float = 0.5
    start_ms: int = 60  # this much speech (within a short window) starts an utterance
    end_ms: int = 800  # this much silence after speech ends it
    max_ms: int = 15000  # an utterance is cut here
    preroll_ms: int = 500  # audio kept from before the start (the first syllable)


class Endpointer:
    """Feeds audio through a VAD and keeps the utterance: the audio from shortly before speech to its end."""

    def __init__(self, settings: EndpointSettings | None = None, vad: FrameVad | None = None) -> None:
        self.settings = settings or EndpointSettings()
        self._vad = vad or micro_vad()
        self._rest = b""
        self._preroll: deque[bytes] = deque(maxlen=max(1, self.settings.preroll_ms // 10))
        self._recent: deque[bool] = deque(maxlen=max(1, 3 * self.settings.start_ms // 10))
        self._frames: list[bytes] = []
        self._speech_frames = 0
        self._silence_ms = 0
        self.started = False
        self.ended = False

    @property
    def audio(self) -> bytes:
        """The utterance so far (pre-roll included)."""
        return b"".join(self._frames)

    @property
    def speech_ms(self) -> int:
        return self._speech_frames * 10

    def feed(self, pcm: bytes) -> list[Mark]:
        """Take more audio; return what happened in it (nothing more happens once ended)."""
        marks: list[Mark] = []
        data = self._rest + pcm
        whole = len(data) - len(data) % FRAME_BYTES
        self._rest = data[whole:]
        s = self.settings
        for at in range(0, whole, FRAME_BYTES):
            if self.ended:
                break
            frame = data[at : at + FRAME_BYTES]
            voiced = self._vad(frame) >= s.threshold
            if not self.started:
                self._preroll.append(frame)
                self._recent.append(voiced)
                if sum(self._recent) * 10 >= s.start_ms:
                    self.started = True
                    self._frames = list(self._preroll)
                    self._speech_frames = sum(self._recent)
                    marks.append(Mark.SPEECH_STARTED)
                continue
            self._frames.append(frame)
            if voiced:
                self._speech_frames += 1
                self._silence_ms = 0
            else:
                self._silence_ms += 10
            if self._silence_ms >= s.end_ms:
                self.ended = True
                marks.append(Mark.SPEECH_ENDED)
            elif len(self._frames) * 10 >= s.max_ms:
                self.ended = True
                marks.append(Mark.TOO_LONG)
        return marks


def has_speech(pcm: bytes, settings: EndpointSettings | None = None, vad: FrameVad | None = None) -> bool:
    """True if the VAD hears speech anywhere in a whole utterance."""
    endpointer = Endpointer(settings, vad)
    endpointer.feed(pcm)
    return endpointer.started
