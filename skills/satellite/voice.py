"""The speech side of a satellite run: transcribe with the home's names, run the turn, speak the reply."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from assistant.nlu.engine import NameKind
from assistant.speech.engine import AudioChunk, AudioFormat
from assistant.turn import Reply, Turn

if TYPE_CHECKING:
    from assistant.core import Core

CHANNEL = "satellite"
INPUT_FORMAT = AudioFormat(rate=16000, width=2, channels=1)


class SatelliteVoice:
    """Thin use of the core's speech engines and dialogue manager, shared by every satellite."""

    def __init__(self, core: Core) -> None:
        self.core = core

    @property
    def can_transcribe(self) -> bool:
        return self.core.stt is not None

    @property
    def can_speak(self) -> bool:
        return self.core.tts is not None

    def vocabulary(self, home_id: str) -> list[str]:
        """The home's device, area and scene names: they bias recognition toward what people say here."""
        home = self.core.registry.home(home_id)
        names: list[str] = []
        for kind in (NameKind.DEVICE, NameKind.AREA, NameKind.SCENE):
            for thing in home.vocabulary.things(kind):
                names.extend(thing.names)
        return list(dict.fromkeys(names))

    async def transcribe(self, pcm: bytes, home_id: str) -> str:
        """Text of 16 kHz 16-bit mono speech."""
        if self.core.stt is None:
            raise RuntimeError("no speech recognition engine")
        vocabulary = self.vocabulary(home_id) if self.core.config.voice.vocabulary_bias else []
        transcript = await self.core.stt.transcribe(pcm, INPUT_FORMAT, vocabulary)
        return " ".join(transcript.text.split())

    async def converse(self, text: str, *, home_id: str, user_id: str, conversation_id: str, area: str | None) -> Reply:
        turn = Turn(text, home_id, user_id, conversation_id, channel=CHANNEL, area=area)
        reply, _ = await self.core.dialogue.handle(turn)
        return reply

    async def speak(self, text: str) -> AsyncIterator[AudioChunk]:
        """The reply's audio, sentence by sentence."""
        if self.core.tts is None:
            return
        async for chunk in self.core.tts.synthesize(text):
            yield chunk
