"""One connection to a Wyoming satellite: `run-satellite`, then pipeline runs (speech in; transcript and reply out)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioChunkConverter, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.handle import Handled
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import PauseSatellite, RunSatellite
from wyoming.snd import Played
from wyoming.tts import Synthesize
from wyoming.vad import VoiceStarted, VoiceStopped

from assistant.config import SatelliteConfig
from assistant.errors import HearthError
from assistant.registry import Home
from assistant.speech.audio import STT_FORMAT
from assistant.speech.engine import AudioChunk as SpeechChunk
from assistant.speech.pipeline import VoicePipeline, VoiceResult, VoiceStream, VoiceTimings
from assistant.speech.vad import VadEventType
from skills.satellite.identity import SatelliteIdentity, resolve_area
from skills.satellite.status import SatelliteStatus, Stage

LOG = logging.getLogger(__name__)
T = TypeVar("T")

SAMPLES_PER_CHUNK = 1024  # reply audio is sent in pieces of this many samples
NO_SPEECH_S = 8.0  # an `asr` run with this much audio and no speech in it ends with an error
STALL_S = 15.0  # a run whose audio stops arriving (without audio-stop) ends after this long
STEP_TIMEOUT_S = 60.0  # transcribing, answering and speaking each get this long
ECHO_MARGIN_S = 0.5  # after a reply has played, the microphone is ignored this much longer
CONVERSATION_IDLE_S = 300.0  # a satellite's conversation continues within this long


class Code:
    """Error codes sent in `error` events (the ones Home Assistant uses, where it has one)."""

    NO_SPEECH = "stt-no-speech"
    NO_TEXT = "stt-no-text-recognized"
    STT_MISSING = "stt-provider-missing"
    STT_FAILED = "stt-stream-failed"
    INTENT_FAILED = "intent-failed"
    TTS_FAILED = "tts-failed"
    TIMEOUT = "timeout"
    UNSUPPORTED = "unsupported-stage"
    INTERNAL = "internal-error"


class RunError(Exception):
    """A pipeline run failed in a way the satellite is told about."""

    def __init__(self, code: str, text: str, *, stream_open: bool = True) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.stream_open = stream_open  # False: the satellite stopped streaming (do not listen again)


@dataclass(slots=True)
class Conversation:
    """The satellite's current conversation (so "yes" or "the kitchen one" answers the last question)."""

    id: str = ""
    last_used: float = 0.0

    def current(self, prefix: str) -> str:
        now = time.monotonic()
        if not self.id or now - self.last_used > CONVERSATION_IDLE_S:
            self.id = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.last_used = now
        return self.id


class SatelliteSession:
    """Reads the satellite's events, runs its pipelines one at a time, and writes transcripts, replies and errors."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        config: SatelliteConfig,
        identity: SatelliteIdentity,
        pipeline: VoicePipeline,
        status: SatelliteStatus,
        changed: Callable[[], None],
        conversation: Conversation,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.config = config
        self.identity = identity
        self.pipeline = pipeline
        self.status = status
        self.changed = changed
        self.conversation = conversation
        self._write_lock = asyncio.Lock()
        self._run_task: asyncio.Task[None] | None = None
        self._audio: asyncio.Queue[bytes | None] | None = None  # the running pipeline's microphone
        self._converter = AudioChunkConverter(STT_FORMAT.rate, STT_FORMAT.width, STT_FORMAT.channels)
        self._muted_until = 0.0  # loop time until which microphone audio is the reply playing back
        self._advertised_area: str | None = None
        self._said_wake = False

    # -- connection -------------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Serve the connection until the satellite closes it (returns) or it breaks (raises OSError)."""
        await self.send(RunSatellite().event())
        await self.send(Describe().event())
        try:
            while True:
                event = await async_read_event(self.reader)
                if event is None:
                    return
                try:
                    await self._on_event(event)
                except OSError:
                    raise
                except Exception as exc:  # one malformed event is skipped, the connection stays
                    LOG.warning("satellite %s: bad %r event skipped (%s)", self.identity.name, event.type, exc)
        finally:
            await self._stop_run()

    async def close(self, pause: bool = True) -> None:
        """Tell the satellite to pause (best effort), then close the socket."""
        await self._stop_run()
        if pause and not self.writer.is_closing():
            with contextlib.suppress(OSError, RuntimeError, TimeoutError):
                async with asyncio.timeout(1.0):
                    await self.send(PauseSatellite().event())
        self.writer.close()
        with contextlib.suppress(OSError, RuntimeError, TimeoutError):
            async with asyncio.timeout(1.0):
                await self.writer.wait_closed()

    async def send(self, event: Event) -> None:
        async with self._write_lock:
            await async_write_event(event, self.writer)

    # -- events from the satellite ----------------------------------------------------------------------------
    async def _on_event(self, event: Event) -> None:
        kind = event.type
        if AudioChunk.is_type(kind):
            self._on_audio(AudioChunk.from_event(event))
        elif RunPipeline.is_type(kind):
            try:
                run = RunPipeline.from_event(event)
            except (KeyError, ValueError) as exc:
                await self._error(Code.UNSUPPORTED, f"Hearth cannot run that pipeline: {exc}.")
                return
            await self._start_run(run)
        elif AudioStop.is_type(kind):
            if self._audio is not None:
                self._audio.put_nowait(None)
        elif AudioStart.is_type(kind):
            pass  # the format comes with every chunk
        elif Ping.is_type(kind):
            await self.send(Pong(text=Ping.from_event(event).text).event())
        elif Played.is_type(kind):
            self._muted_until = 0.0
        elif Info.is_type(kind):
            self._on_info(event.data)
        elif Error.is_type(kind):
            LOG.warning("satellite %s reports: %s", self.identity.name, event.data.get("text"))
        else:
            LOG.debug("satellite %s: ignored %s", self.identity.name, kind)

    def _on_audio(self, chunk: AudioChunk) -> None:
        if self._audio is None or not chunk.audio:
            return
        if asyncio.get_running_loop().time() < self._muted_until:
            return  # our own reply coming back through the microphone
        self._audio.put_nowait(self._converter.convert(chunk).audio)

    def _on_info(self, data: dict[str, Any]) -> None:
        """Read the satellite's name and area from its `info` (as raw data: old satellites omit fields)."""
        sat = data.get("satellite")
        if not isinstance(sat, dict):
            return
        name, area = sat.get("name"), sat.get("area")
        self.status.satellite_name = name if isinstance(name, str) else None
        self._advertised_area = area if isinstance(area, str) else None
        self.changed()

    # -- pipeline runs ----------------------------------------------------------------------------------------
    async def _start_run(self, run: RunPipeline) -> None:
        await self._stop_run()
        LOG.debug("satellite %s: run %s -> %s", self.identity.name, run.start_stage.value, run.end_stage.value)
        if run.start_stage == PipelineStage.WAKE and not self._said_wake:
            self._said_wake = True
            LOG.info("satellite %s has no local wake word: every utterance it hears is a command", self.identity.name)
        self._converter = AudioChunkConverter(STT_FORMAT.rate, STT_FORMAT.width, STT_FORMAT.channels)
        self._audio = asyncio.Queue()  # before the task starts: the audio right behind run-pipeline is kept
        self._muted_until = 0.0  # a run the satellite asks for is a new command, not our reply's echo
        self._run_task = asyncio.create_task(self._runs(run, self._audio), name=f"satellite-{self.identity.name}-run")

    async def _stop_run(self) -> None:
        task, self._run_task = self._run_task, None
        self._audio = None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _runs(self, run: RunPipeline, audio: asyncio.Queue[bytes | None]) -> None:
        """One run, repeated while the satellite keeps streaming and wants that (`wake` start, `restart_on_end`)."""
        try:
            while True:
                ok, stream_open = await self._run_once(run, audio)
                self.status.runs += 1
                self._set_stage(Stage.IDLE)
                again = run.start_stage == PipelineStage.WAKE or (run.restart_on_end and ok)
                if not (again and stream_open):
                    return
                audio = asyncio.Queue()
                self._audio = audio
        except (OSError, RuntimeError) as exc:
            LOG.info("satellite %s: run ended, connection lost (%s)", self.identity.name, exc)
        except Exception:
            LOG.exception("satellite %s: run failed", self.identity.name)
            with contextlib.suppress(OSError, RuntimeError):
                await self._error(Code.INTERNAL, "Something went wrong on the Hearth server.")
        finally:
            self._audio = None
            self._set_stage(Stage.IDLE)

    async def _run_once(self, run: RunPipeline, audio: asyncio.Queue[bytes | None]) -> tuple[bool, bool]:
        """(succeeded, the satellite still streams speech to listen to); failures reach it as `error` events.

        A run that failed before it listened is never repeated, so a satellite that streams all the time cannot make
        Hearth send it errors in a tight loop.
        """
        stream_open = False
        try:
            if run.start_stage == PipelineStage.TTS:
                if not run.announce_text:
                    raise RunError(Code.UNSUPPORTED, "There is no text to announce.")
                await self._speak(run.announce_text)
                return True, False
            if run.start_stage not in (PipelineStage.WAKE, PipelineStage.ASR):
                raise RunError(
                    Code.UNSUPPORTED,
                    f"Hearth starts pipelines from audio or from announce text, not at {run.start_stage.value!r}.",
                )
            if not self.pipeline.can_listen:
                raise RunError(Code.STT_MISSING, "Speech recognition is not set up on the Hearth server.")
            stream, stream_open = await self._listen(audio, waiting=run.start_stage == PipelineStage.WAKE)
            if stream is None:
                return True, stream_open  # the satellite stopped streaming before anyone spoke
            try:
                result = await self._understand(stream, run)
            finally:
                stream.close()
            if result is None:
                return True, stream_open
            reply = result.reply
            if run.end_stage != PipelineStage.TTS or not self.pipeline.can_speak:
                await self.send(Handled(text=reply.speech).event())
            else:
                await self._speak(reply.speech, result.timings)
            # what was said stays out of INFO logs (transcripts have a retention limit; logs do not)
            LOG.info("satellite %s: %s turn done %s", self.identity.name, reply.kind, result.timings.to_dict())
            LOG.debug("satellite %s: %r -> %r", self.identity.name, result.transcript, reply.speech)
            return True, stream_open
        except RunError as err:
            LOG.info("satellite %s: %s (%s)", self.identity.name, err.text, err.code)
            await self._error(err.code, err.text)
            return False, stream_open and err.stream_open

    async def _step(self, stage: Stage, code: str, work: Awaitable[T]) -> T:
        """Await one step of a run under a time limit; its failures become a RunError with a clear text."""
        self._set_stage(stage)
        try:
            async with asyncio.timeout(STEP_TIMEOUT_S):
                return await work
        except TimeoutError:
            raise RunError(Code.TIMEOUT, f"Hearth took too long while {stage.value}.") from None
        except HearthError as err:
            raise RunError(code, err.message) from None
        except Exception:
            LOG.exception("satellite %s: %s failed", self.identity.name, stage.value)
            raise RunError(code, f"Something went wrong on the Hearth server while {stage.value}.") from None

    async def _listen(self, audio: asyncio.Queue[bytes | None], *, waiting: bool) -> tuple[VoiceStream | None, bool]:
        """The stream holding the spoken command, and whether the satellite is still streaming.

        `waiting` (a `wake` run): wait as long as it takes for speech. Otherwise (an `asr` run) speech must begin
        within NO_SPEECH_S of audio. The command ends when the VAD hears its end, at `audio-stop`, or at the length
        limit. Audio in which the VAD hears no speech at all is not transcribed (Whisper makes words up from noise).
        """
        self._set_stage(Stage.LISTENING)
        stream = self.pipeline.listen(home_id=self.identity.home_id)
        try:
            while True:
                limit = None if waiting and not stream.speech_started else STALL_S
                try:
                    async with asyncio.timeout(limit):
                        pcm = await audio.get()
                except TimeoutError:
                    if stream.speech_started:
                        stream.finish()
                        return stream, False
                    raise RunError(Code.NO_SPEECH, "No audio came from the satellite.", stream_open=False) from None
                if pcm is None:  # audio-stop
                    if stream.speech_started:
                        stream.finish()
                        return stream, False
                    if waiting:
                        stream.close()
                        return None, False
                    raise RunError(Code.NO_SPEECH, "I didn't hear anything.", stream_open=False)
                for event in stream.feed(pcm):
                    stamp = round(event.at * 1000)
                    if event.type == VadEventType.SPEECH_STARTED:
                        await self.send(VoiceStarted(timestamp=stamp).event())
                    else:
                        await self.send(VoiceStopped(timestamp=stamp).event())
                if stream.ended:
                    return stream, True
                if not waiting and not stream.speech_started and stream.detector.elapsed >= NO_SPEECH_S:
                    raise RunError(Code.NO_SPEECH, "I didn't hear anything.")
        except BaseException:
            stream.close()
            raise
        finally:
            self._audio = None  # the microphone is not listened to until the next run

    async def _understand(self, stream: VoiceStream, run: RunPipeline) -> VoiceResult | None:
        """`transcript`, then (unless the run ends at asr) the turn, with the satellite's area as the default."""
        waited = time.perf_counter()
        heard, understood = await self._step(Stage.TRANSCRIBING, Code.STT_FAILED, stream.understood())
        text = understood.text
        await self.send(Transcript(text=text, language=heard.language or "en").event())
        if not any(ch.isalnum() for ch in text):
            raise RunError(Code.NO_TEXT, "Sorry, I couldn't make out any words.")
        if run.end_stage == PipelineStage.ASR:
            return None
        transcript = heard.with_time(time.perf_counter() - waited)
        result = await self._step(
            Stage.THINKING,
            Code.INTENT_FAILED,
            self.pipeline.run(
                stream.audio,
                home_id=self.identity.home_id,
                user_id=self.identity.user_id,
                conversation_id=self.conversation.current(f"satellite-{self.identity.name}"),
                area=self._area(),
                ended_at=stream.ended_at,
                transcript=transcript,
                understood=understood,
                channel="satellite",
            ),
        )
        result.timings.speculative = stream.speculative
        return result

    async def _speak(self, text: str, timings: VoiceTimings | None = None) -> None:
        """`synthesize`, then the reply as `audio-start`, `audio-chunk`s (sentence by sentence), `audio-stop`."""
        self._set_stage(Stage.SPEAKING)
        await self.send(Synthesize(text=text).event())
        loop = asyncio.get_running_loop()
        began = loop.time()
        played = 0.0
        timestamp = 0
        fmt: AudioStart | None = None
        converter: AudioChunkConverter | None = None
        stream = self.pipeline.speak(text, timings=timings)
        try:
            async with asyncio.timeout(STEP_TIMEOUT_S):
                async for piece in stream:
                    if fmt is None:
                        fmt = AudioStart(piece.format.rate, piece.format.width, piece.format.channels, timestamp=0)
                        converter = AudioChunkConverter(fmt.rate, fmt.width, fmt.channels)
                        await self.send(fmt.event())
                    assert converter is not None
                    for chunk in _split(piece, converter, SAMPLES_PER_CHUNK):
                        chunk.timestamp = timestamp
                        await self.send(chunk.event())
                        timestamp += chunk.milliseconds
                        played += chunk.seconds
                        self._muted_until = began + played + ECHO_MARGIN_S
        except TimeoutError:
            raise RunError(Code.TIMEOUT, "Hearth took too long to speak the reply.") from None
        except (OSError, RunError, asyncio.CancelledError):
            raise
        except Exception:
            LOG.exception("satellite %s: speaking failed", self.identity.name)
            raise RunError(Code.TTS_FAILED, "Hearth could not speak the reply.") from None
        finally:
            closer = getattr(stream, "aclose", None)
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer()
            if fmt is not None and not self.writer.is_closing():
                await self.send(AudioStop(timestamp=timestamp).event())

    async def _error(self, code: str, text: str) -> None:
        await self.send(Error(text=text, code=code).event())

    def _area(self) -> str | None:
        """The default area of this satellite's turns: the configured one, else the one the satellite advertises."""
        home: Home = self.pipeline.core.registry.home(self.identity.home_id)
        return resolve_area(home, self.config.area or self._advertised_area)

    def _set_stage(self, stage: Stage) -> None:
        if self.status.stage != stage:
            self.status.stage = stage
            self.changed()


def _split(piece: SpeechChunk, converter: AudioChunkConverter, samples: int) -> list[AudioChunk]:
    """A synthesized piece as Wyoming chunks of at most `samples` samples, in the stream's first format."""
    fmt = piece.format
    whole = converter.convert(AudioChunk(fmt.rate, fmt.width, fmt.channels, piece.audio))
    step = samples * whole.width * whole.channels
    return [
        AudioChunk(whole.rate, whole.width, whole.channels, whole.audio[at : at + step])
        for at in range(0, len(whole.audio), step)
    ]
