"""VoicePipeline: speech in, a conversation turn, speech out; shared by the voice endpoints and the satellites.

Usage (a whole utterance, e.g. an uploaded WAV)::

    pipeline = VoicePipeline.of(core)                    # one per core, kept in core.extras
    result = await pipeline.run(pcm, home_id=h, user_id=u, conversation_id=c, area="kitchen")
    async for chunk in pipeline.speak(result.reply.speech, timings=result.timings):
        send(chunk.audio)                                # one AudioChunk per sentence, 22050 Hz for Piper

Usage (a live stream, e.g. a satellite's microphone)::

    stream = pipeline.listen(home_id=h)                  # 16 kHz 16-bit mono unless fmt= says otherwise
    for pcm in microphone:
        for event in stream.feed(pcm):                   # VadEvent: speech_started / speech_stopped
            notify(event)
        if stream.ended:                                 # the VAD heard the end (or stream.finish() was called)
            break
    result = await stream.run(user_id=u, conversation_id=c, area="kitchen")

Text goes through `core.dialogue.handle(Turn(channel="voice", ...))`, the same dialogue manager and conversations as
typed text, so "turn it off" works after a spoken "turn on the desk lamp". An empty transcript gets "Sorry, I didn't
catch that." without a turn. Recognition is biased toward the home's current device, area and scene names, read from
the live registry on every call.

Timings (milliseconds, `VoiceTimings`) all count from the end of speech: the moment the whole request arrived, or
the moment the VAD decided the speaker had stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assistant.errors import ErrorCode, HearthError
from assistant.nlu.engine import NameKind
from assistant.nlu.result import NluResult
from assistant.speech.audio import STT_FORMAT, convert, loudest_dbfs
from assistant.speech.engine import AudioChunk, AudioFormat, SttEngine, Transcript, TtsEngine
from assistant.speech.reading import Completeness, Understood, choose, completeness
from assistant.speech.vad import SpeechDetector, VadEvent, VadEventType, frame_model
from assistant.turn import Reply, ReplyKind, SpeechEvidence, Turn

if TYPE_CHECKING:
    from assistant.core import Core

CHANNEL = "voice"
DIDNT_CATCH = "Sorry, I didn't catch that."
NOT_ENABLED = "Voice is not enabled on this server: set voice.stt (and voice.tts) in the configuration."
# Words commands use that are not names; they help the recogniser as much as the names do.
DOMAIN_TERMS: tuple[str, ...] = ("percent", "degrees", "red", "green", "blue", "warm white")
EXTRAS_KEY = "voice.pipeline"
SILENT_DBFS = -50.0


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 1)


@dataclass(slots=True)
class VoiceTimings:
    """How long each stage took, in ms; the `*_ms` "since end of speech" fields share one clock start."""

    audio_s: float = 0.0  # length of the utterance
    stt_ms: float = 0.0  # transcription, including any wait for a worker
    turn_ms: float = 0.0  # NLU + dialogue + device command
    command_ms: float = 0.0  # end of speech -> reply ready and device command issued
    tts_first_ms: float | None = None  # reply ready -> first audio chunk
    first_audio_ms: float | None = None  # end of speech -> first audio chunk
    tts_ms: float | None = None  # reply ready -> last audio chunk
    speculative: bool = False  # the transcript was made during the trailing silence, before the end was final
    end_reason: str = ""  # streams: what ended the utterance ("vad", "understood", "limit", "client")
    ended_at: float = field(default=0.0, repr=False)  # perf_counter() at the end of speech
    replied_at: float = field(default=0.0, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "audio_s": round(self.audio_s, 3),
            "stt_ms": self.stt_ms,
            "turn_ms": self.turn_ms,
            "command_ms": self.command_ms,
            "tts_first_ms": self.tts_first_ms,
            "first_audio_ms": self.first_audio_ms,
            "tts_ms": self.tts_ms,
            "speculative": self.speculative,
            "end_reason": self.end_reason,
        }


@dataclass(slots=True)
class VoiceResult:
    """What one spoken turn produced."""

    transcript: str
    reply: Reply
    nlu: NluResult | None  # None when nothing was heard (no turn ran)
    conversation_id: str
    timings: VoiceTimings
    speech: SpeechEvidence | None = None  # how sure recognition was, and the other readings it heard

    def to_dict(self) -> dict[str, Any]:
        return {
            "transcript": self.transcript,
            "speech": self.speech.to_dict() if self.speech is not None else None,
            "reply": self.reply.to_dict(),
            "nlu": self.nlu.to_dict() if self.nlu is not None else None,
            "conversation_id": self.conversation_id,
            "timings": self.timings.to_dict(),
        }


class VoicePipeline:
    """Transcribe (with the home's vocabulary) -> dialogue turn -> synthesize, with stage timings."""

    def __init__(self, core: Core) -> None:
        self.core = core

    @classmethod
    def of(cls, core: Core) -> VoicePipeline:
        """The core's shared pipeline."""
        found = core.extras.get(EXTRAS_KEY)
        if not isinstance(found, VoicePipeline):
            found = core.extras[EXTRAS_KEY] = cls(core)
        return found

    # -- what is available -----------------------------------------------------------------------------------------
    @property
    def stt(self) -> SttEngine | None:
        return self.core.stt

    @property
    def tts(self) -> TtsEngine | None:
        return self.core.tts

    @property
    def can_listen(self) -> bool:
        return self.core.stt is not None

    @property
    def can_speak(self) -> bool:
        return self.core.tts is not None

    def require_stt(self) -> SttEngine:
        """The STT engine, or NOT_BUILT (501) with a message that says how to enable voice."""
        if self.core.stt is None:
            raise HearthError(ErrorCode.NOT_BUILT, NOT_ENABLED, {"feature": "voice"})
        return self.core.stt

    @property
    def vad(self) -> str:
        return self.core.config.voice.vad

    # -- stages ----------------------------------------------------------------------------------------------------
    def vocabulary(self, home_id: str) -> list[str]:
        """The home's current device names and aliases, scene and area names, then a few command words."""
        if not self.core.config.voice.vocabulary_bias:
            return []
        home = self.core.registry.home(home_id)
        seen: set[str] = set()
        names: list[str] = []
        for kind in (NameKind.DEVICE, NameKind.SCENE, NameKind.AREA):
            for thing in home.vocabulary.things(kind):
                for name in thing.names:
                    key = name.strip().lower()
                    if key and key not in seen:
                        seen.add(key)
                        names.append(name.strip())
        names += [t for t in DOMAIN_TERMS if t not in seen]
        return names

    async def transcribe(self, pcm: bytes, *, home_id: str, fmt: AudioFormat = STT_FORMAT) -> Transcript:
        """What was said, biased toward the home's names; silent audio gives an empty transcript without STT."""
        stt = self.require_stt()
        if fmt != STT_FORMAT:
            pcm = convert(pcm, fmt)
        if loudest_dbfs(pcm) < SILENT_DBFS:
            return Transcript("", "en", STT_FORMAT.seconds(len(pcm)), 0.0)
        return await stt.transcribe(pcm, STT_FORMAT, self.vocabulary(home_id))

    async def understand(self, transcript: Transcript, *, home_id: str) -> Understood:
        """The reading of `transcript` that the NLU and the home's names explain best (with `voice.nbest_choice`;
        otherwise the recogniser's first reading), and how sure that choice is."""
        vocabulary = self.core.registry.home(home_id).vocabulary

        async def parse(text: str) -> NluResult:
            return await self.core.nlu.parse(text, vocabulary)

        return await choose(transcript, parse, vocabulary, rescore=self.core.config.voice.nbest_choice)

    def completeness(self, understood: Understood, *, home_id: str) -> Completeness:
        """Whether `understood` is a finished command (for ending a streamed turn early)."""
        return completeness(understood, self.core.dialogue.handlers, self.core.registry.home(home_id).vocabulary)

    async def respond(
        self,
        text: str,
        *,
        home_id: str,
        user_id: str,
        conversation_id: str,
        area: str | None = None,
        channel: str = CHANNEL,
        speech: SpeechEvidence | None = None,
    ) -> tuple[Reply, NluResult | None]:
        """Run the transcript as a turn of the conversation; nothing heard -> "didn't catch that" and no turn."""
        text = " ".join(text.split())
        if not any(ch.isalnum() for ch in text):
            reply = Reply(DIDNT_CATCH, ReplyKind.NOT_UNDERSTOOD, conversation_id=conversation_id)
            return reply, None
        turn = Turn(text, home_id, user_id, conversation_id, channel=channel, area=area, speech=speech)
        return await self.core.dialogue.handle(turn)

    async def run(
        self,
        pcm: bytes,
        *,
        home_id: str,
        user_id: str,
        conversation_id: str | None = None,
        area: str | None = None,
        fmt: AudioFormat = STT_FORMAT,
        ended_at: float | None = None,
        transcript: Transcript | None = None,
        channel: str = CHANNEL,
        understood: Understood | None = None,
    ) -> VoiceResult:
        """Transcribe `pcm` (unless `transcript` is given), choose the reading (unless `understood` is given) and
        run the turn; speech output is `speak()`'s job.

        `ended_at` is the perf_counter() time speech ended (default: now)."""
        timings = VoiceTimings(ended_at=ended_at if ended_at is not None else time.perf_counter())
        timings.audio_s = fmt.seconds(len(pcm))
        self.require_stt()
        cid = conversation_id or uuid.uuid4().hex
        if transcript is None:
            started = time.perf_counter()
            transcript = await self.transcribe(pcm, home_id=home_id, fmt=fmt)
            timings.stt_ms = _ms(time.perf_counter() - started)
        else:
            timings.stt_ms = _ms(transcript.processing_seconds)
        started = time.perf_counter()
        if understood is None:
            understood = await self.understand(transcript, home_id=home_id)
        reply, nlu = await self.respond(
            understood.text,
            home_id=home_id,
            user_id=user_id,
            conversation_id=cid,
            area=area,
            channel=channel,
            speech=understood.evidence,
        )
        timings.replied_at = time.perf_counter()
        timings.turn_ms = _ms(timings.replied_at - started)
        timings.command_ms = _ms(timings.replied_at - timings.ended_at)
        return VoiceResult(understood.text, reply, nlu, reply.conversation_id or cid, timings, understood.evidence)

    async def speak(self, text: str, *, timings: VoiceTimings | None = None) -> AsyncIterator[AudioChunk]:
        """The reply as audio, one chunk per sentence as each is ready (nothing when no TTS is configured).

        With `timings` (from a VoiceResult) the first-audio and total synthesis times are filled in."""
        tts = self.core.tts
        if tts is None or not text.strip():
            return
        started = time.perf_counter()
        first = True
        async for chunk in tts.synthesize(text):
            if first and timings is not None:
                now = time.perf_counter()
                base = timings.replied_at or started
                timings.tts_first_ms = _ms(now - base)
                timings.first_audio_ms = _ms(now - timings.ended_at) if timings.ended_at else None
            first = False
            yield chunk
        if timings is not None:
            timings.tts_ms = _ms(time.perf_counter() - (timings.replied_at or started))

    async def speak_all(self, text: str, *, timings: VoiceTimings | None = None) -> tuple[bytes, AudioFormat] | None:
        """All of the reply's audio as one PCM buffer and its format (None without TTS)."""
        parts: list[bytes] = []
        fmt: AudioFormat | None = None
        async for chunk in self.speak(text, timings=timings):
            if fmt is not None and chunk.format != fmt:
                chunk = AudioChunk(convert(chunk.audio, chunk.format, fmt), fmt)
            fmt = fmt or chunk.format
            parts.append(chunk.audio)
        return (b"".join(parts), fmt) if fmt is not None else None

    def listen(
        self,
        *,
        home_id: str,
        fmt: AudioFormat = STT_FORMAT,
        silence_s: float | None = None,
        max_seconds: float | None = None,
        quick_s: float | None = None,
    ) -> VoiceStream:
        """A stream that finds one utterance in live audio and transcribes it (see VoiceStream).

        `silence_s` is the full end-of-speech window (default `voice.vad_silence_s`); `quick_s` the pause after
        which a complete, confident command ends the turn (default `voice.end_quick_s`; 0 = never early)."""
        self.require_stt()
        voice = self.core.config.voice
        window = voice.vad_silence_s if silence_s is None else silence_s
        detector = SpeechDetector(frame_model(voice.vad), threshold=voice.vad_threshold, silence_s=window)
        quick = voice.end_quick_s if quick_s is None else quick_s
        return VoiceStream(
            self,
            home_id,
            fmt,
            detector,
            max_seconds or voice.max_audio_s,
            quick_s=min(quick, window),
            incomplete_s=max(window, voice.end_incomplete_s),
        )


@dataclass(slots=True)
class _Guess:
    """A transcript made during a pause, the reading chosen from it, and whether it is a finished command."""

    transcript: Transcript
    understood: Understood
    completeness: Completeness


class VoiceStream:
    """One utterance from live audio: VAD, a bounded buffer, and transcription started during the trailing silence.

    Feed audio with `feed()`; it returns VAD events. `ended` turns true when the VAD hears the end of speech, the
    utterance reaches `max_seconds`, or `finish()` is called (the client stopped sending). Then `transcript()` or
    `run()`. When a pause has lasted `speculate_after_s`, transcription of the audio so far starts at once, and its
    reading is checked: if the speaker goes on, that guess is thrown away; if not, it is ready (or nearly) when the
    end is final.

    The end of speech follows understanding: when the guess is a complete, confident command, the turn ends once the
    pause has lasted `quick_s`; when it is plainly unfinished ("turn off the", "set the lamp to"), the window grows
    to `incomplete_s`; otherwise the detector's own window (`silence_s`) ends it.
    """

    PREROLL_S = 0.3
    IDLE_KEEP_S = 1.0

    def __init__(
        self,
        pipeline: VoicePipeline,
        home_id: str,
        fmt: AudioFormat,
        detector: SpeechDetector,
        max_seconds: float = 30.0,
        speculate_after_s: float = 0.1,
        *,
        quick_s: float = 0.0,
        incomplete_s: float | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.home_id = home_id
        self.fmt = fmt
        self.detector = detector
        self.max_seconds = max_seconds
        self.speculate_after_s = speculate_after_s
        self.window_s = detector.silence_s
        self.quick_s = quick_s
        self.incomplete_s = incomplete_s if incomplete_s is not None else detector.silence_s
        self.ended = False
        self.ended_at: float | None = None  # perf_counter() when the end was decided
        self.end_reason = ""  # "vad", "understood", "limit" or "client"
        self._pcm = bytearray()
        self._buffer_start = 0.0  # stream seconds at self._pcm[0]
        self._utterance_start: float | None = None
        self._spec: tuple[float, int, asyncio.Task[_Guess]] | None = None
        self.speculative = False  # the transcript came from the guess made during the trailing silence

    @property
    def speech_started(self) -> bool:
        return self._utterance_start is not None

    @property
    def audio(self) -> bytes:
        """The utterance so far (16 kHz 16-bit mono): from just before speech began, or all that was kept."""
        return bytes(self._pcm[self._offset(self._utterance_start) :]) if self._pcm else b""

    def _offset(self, at: float | None) -> int:
        if at is None:
            return 0
        offset = int((at - self._buffer_start) * STT_FORMAT.rate) * 2
        return max(0, min(len(self._pcm), offset))

    def feed(self, pcm: bytes) -> list[VadEvent]:
        """Add audio in the stream's format; return the VAD events it caused. Audio after the end is ignored."""
        if self.ended or not pcm:
            return []
        if self.fmt != STT_FORMAT:
            pcm = convert(pcm, self.fmt)
        self._pcm += pcm
        events = self.detector.process(pcm)
        for event in events:
            if event.type is VadEventType.SPEECH_STARTED and self._utterance_start is None:
                self._utterance_start = max(self._buffer_start, event.at - self.PREROLL_S)
            elif event.type is VadEventType.SPEECH_STOPPED and self._utterance_start is not None:
                self._end("vad")
                break
        if not self.ended:
            self._trim()
            self._maybe_speculate()
            started = self._utterance_start
            if self._understood_end():
                self._end("understood")
                events.append(VadEvent(VadEventType.SPEECH_STOPPED, self.detector.elapsed))
            elif started is not None and self.detector.elapsed - started >= self.max_seconds:
                self._end("limit")
        return events

    def finish(self) -> None:
        """The audio has ended (the client stopped): end the utterance now."""
        if not self.ended:
            self._end("client")

    def _end(self, reason: str) -> None:
        self.ended = True
        self.ended_at = time.perf_counter()
        self.end_reason = reason

    def _trim(self) -> None:
        """While nobody speaks, keep only the last IDLE_KEEP_S of audio."""
        if self._utterance_start is not None:
            return
        keep = int(self.IDLE_KEEP_S * STT_FORMAT.rate) * 2
        extra = len(self._pcm) - 2 * keep
        if extra > 0:
            extra -= extra % 2
            del self._pcm[:extra]
            self._buffer_start += extra / 2 / STT_FORMAT.rate

    def _pause(self) -> float | None:
        """Where the current pause began (stream seconds), while the speaker may still go on."""
        return self.detector.silence_started_at if self.detector.in_speech else None

    def _paused_for(self, pause: float) -> float:
        return self.detector.elapsed - pause - self.detector.model.lag_s

    def _maybe_speculate(self) -> None:
        pause = self._pause()
        if self._spec is not None and self._spec[0] != pause:
            self._drop_spec()  # the speaker went on: that guess is stale
            self.detector.silence_s = self.window_s
        if pause is None or self._spec is not None or self._utterance_start is None:
            return
        if self._paused_for(pause) < self.speculate_after_s:
            return
        audio = self.audio
        task = self.pipeline.core.tasks.spawn(self._guess(audio), "voice-speculative-stt")  # cancelled at shutdown
        task.add_done_callback(_consume)
        self._spec = (pause, len(audio), task)

    async def _guess(self, audio: bytes) -> _Guess:
        transcript = await self.pipeline.transcribe(audio, home_id=self.home_id)
        understood = await self.pipeline.understand(transcript, home_id=self.home_id)
        return _Guess(transcript, understood, self.pipeline.completeness(understood, home_id=self.home_id))

    def _understood_end(self) -> bool:
        """True when the guess for this pause is a finished command and the pause has lasted `quick_s`; an
        unfinished phrase stretches the detector's window instead."""
        spec = self._spec
        pause = self._pause()
        if spec is None or pause is None or spec[0] != pause or not spec[2].done() or spec[2].cancelled():
            return False
        if spec[2].exception() is not None:
            return False
        guess = spec[2].result()
        if guess.completeness is Completeness.COMPLETE:
            return self.quick_s > 0 and self._paused_for(pause) >= self.quick_s
        if guess.completeness is Completeness.INCOMPLETE:
            self.detector.silence_s = self.incomplete_s
        return False

    def _drop_spec(self) -> None:
        if self._spec is not None:
            self._spec[2].cancel()
            self._spec = None

    async def _final(self) -> _Guess | None:
        """The guess for the final pause when the speaker did not go on after it (None: transcribe afresh)."""
        if not self.ended:
            self.finish()
        pause = self.detector.silence_started_at
        if self._spec is not None and self._spec[0] == pause and not self._spec[2].cancelled():
            found = await self._spec[2]
            self._spec = None
            self.speculative = True
            return found
        self._drop_spec()
        self.speculative = False
        return None

    async def transcript(self) -> Transcript:
        """The utterance's transcript (the speculative one when the speaker did not go on after it)."""
        guess = await self._final()
        if guess is not None:
            return guess.transcript
        if not self.speech_started and loudest_dbfs(self.audio) < SILENT_DBFS:
            return Transcript("", "en", STT_FORMAT.seconds(len(self._pcm)), 0.0)
        return await self.pipeline.transcribe(self.audio, home_id=self.home_id)

    async def understood(self) -> tuple[Transcript, Understood]:
        """The transcript and the reading chosen from it."""
        guess = await self._final()
        if guess is not None:
            return guess.transcript, guess.understood
        if not self.speech_started and loudest_dbfs(self.audio) < SILENT_DBFS:
            transcript = Transcript("", "en", STT_FORMAT.seconds(len(self._pcm)), 0.0)
        else:
            transcript = await self.pipeline.transcribe(self.audio, home_id=self.home_id)
        return transcript, await self.pipeline.understand(transcript, home_id=self.home_id)

    async def run(self, *, user_id: str, conversation_id: str | None = None, area: str | None = None) -> VoiceResult:
        """Transcribe the utterance and run its turn (timings count from when the end was decided).

        `timings.stt_ms` is then the wait for the transcript after the end: small when the speculative one was used."""
        started = time.perf_counter()
        found, understood = await self.understood()
        result = await self.pipeline.run(
            self.audio,
            home_id=self.home_id,
            user_id=user_id,
            conversation_id=conversation_id,
            area=area,
            ended_at=self.ended_at,
            transcript=found.with_time(time.perf_counter() - started),
            understood=understood,
        )
        result.timings.speculative = self.speculative
        result.timings.end_reason = self.end_reason
        return result

    def close(self) -> None:
        """Drop any transcription still running for this stream."""
        self._drop_spec()


def _consume(task: asyncio.Task[Any]) -> None:
    """Retrieve a speculative task's outcome so a cancelled or failed guess is never reported as unhandled."""
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()
