"""VoiceSocket: the `/api/v1/voice/stream` WebSocket: live PCM in, VAD events, the turn and its spoken reply out.

Protocol (JSON text messages; audio as binary messages):
- auth: the `Authorization: Bearer` header on the upgrade, or a first message `{"type": "auth", "token"}`; the server
  answers `{"type": "auth_ok", "home_id", "user_id"}` (or an error and close code 4401).
- client `{"type": "start", "conversation_id"?, "area"?, "rate"?: 16000, "channels"?: 1, "speak"?: true,
  "silence_s"?, "continuous"?: false}` -> server `{"type": "listening", "conversation_id", "format": {rate, width,
  channels}}`; then binary frames of 16-bit little-endian PCM in that format.
- server `{"type": "speech_started", "at"}`, `{"type": "speech_stopped", "at"}` (seconds of stream audio); the turn
  starts at speech_stopped, without waiting for the client to stop sending or close.
- server `{"type": "transcript", "text", "conversation_id"}`, then `{"type": "reply", "conversation_id",
  "transcript", "reply", "nlu", "timings"}`, then (with TTS) `{"type": "audio_start", "rate", "width", "channels"}`,
  binary audio frames, `{"type": "audio_stop"}`, and always last `{"type": "done", "conversation_id", "timings"}`.
  After `done` the socket waits for the next `start` (same conversation unless a new conversation_id is given), or,
  when the start said `"continuous": true`, listens again at once (a new `listening` event).
- client `{"type": "stop"}`: the audio has ended; the utterance ends now (if it has not already).
  client `{"type": "cancel"}`: drop the current utterance or turn -> `{"type": "cancelled"}`.
  client `{"type": "ping"}` -> `{"type": "pong"}`.
- A bad message gets `{"type": "error", "error": {"code", "message"}}` and the socket stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from assistant.auth import Principal
from assistant.errors import ErrorCode, HearthError
from assistant.http import PRINCIPAL, check_schema
from assistant.speech.engine import AudioFormat
from assistant.speech.pipeline import VoicePipeline, VoiceStream
from assistant.validation import decode_json
from assistant.websocket import authenticate, error_message
from skills.voice.schemas import STREAM_START

if TYPE_CHECKING:
    from assistant.core import Core

LOG = logging.getLogger(__name__)

MAX_MESSAGE = 1024 * 1024
AUDIO_FRAME_BYTES = 16384  # reply audio goes out in binary messages of at most this size


class VoiceSocket:
    """One client's streaming voice session."""

    def __init__(self, core: Core, request: web.Request) -> None:
        self.core = core
        self.request = request
        self.pipeline = VoicePipeline.of(core)
        self.ws = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_MESSAGE)
        self.who: Principal | None = None
        self.conversation_id = uuid.uuid4().hex
        self.stream: VoiceStream | None = None
        self.options: dict[str, Any] = {}
        self.turn: asyncio.Task[None] | None = None
        self._send_lock = asyncio.Lock()
        self._told_idle = False

    async def serve(self) -> web.WebSocketResponse:
        ws = self.ws
        await ws.prepare(self.request)
        try:
            self.who = await self._authenticate()
            if self.who is None:
                return ws
            await self.send({"type": "auth_ok", "home_id": self.who.home_id, "user_id": self.who.user_id})
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    await self._audio(msg.data)
                elif msg.type == WSMsgType.TEXT:
                    await self._text(msg.data)
        except ConnectionError:
            pass
        finally:
            await self._drop()
        return ws

    async def send(self, data: dict[str, Any]) -> None:
        if self.ws.closed:
            return
        async with self._send_lock:
            await self.ws.send_json(data)

    async def _send_bytes(self, data: bytes) -> None:
        if self.ws.closed:
            return
        async with self._send_lock:
            await self.ws.send_bytes(data)

    async def _authenticate(self) -> Principal | None:
        found = self.request.get(PRINCIPAL)
        if isinstance(found, Principal):
            return found  # the auth middleware already checked the header
        return await authenticate(self.ws, self.request, self.core.auth)

    # -- messages ------------------------------------------------------------------------------------------------
    async def _text(self, raw: str) -> None:
        try:
            data = decode_json(raw, "The message")  # typed errors for bad JSON, deep nesting, bad text
            if not isinstance(data, dict):
                raise HearthError(ErrorCode.VALIDATION, "A message must be a JSON object.")
            kind = data.pop("type", None)
            if kind == "start":
                await self._start(data)
            elif kind == "stop":
                if self.stream is not None and not self.stream.ended:
                    self.stream.finish()
                    self._begin_turn()
            elif kind == "cancel":
                await self._drop()
                await self.send({"type": "cancelled"})
            elif kind == "ping":
                await self.send({"type": "pong"})
            else:
                raise HearthError(ErrorCode.VALIDATION, f"Unknown message type {kind!r}.")
        except HearthError as err:
            await self.send(error_message(err))

    async def _start(self, data: dict[str, Any]) -> None:
        if self.turn is not None and not self.turn.done():
            raise HearthError(ErrorCode.BUSY, "A turn is still running; wait for done or send cancel.")
        options = check_schema(data, STREAM_START, "The start message")
        if options.get("conversation_id"):
            self.conversation_id = options["conversation_id"]
        self.options = options
        await self._listen()

    async def _listen(self) -> None:
        assert self.who is not None
        fmt = AudioFormat(int(self.options.get("rate", 16000)), 2, int(self.options.get("channels", 1)))
        if self.stream is not None:
            self.stream.close()
        silence_s = self.options.get("silence_s")
        self.stream = self.pipeline.listen(home_id=self.who.home_id, fmt=fmt, silence_s=silence_s)
        self._told_idle = False
        await self.send({"type": "listening", "conversation_id": self.conversation_id, "format": fmt.to_dict()})

    async def _audio(self, pcm: bytes) -> None:
        stream = self.stream
        if stream is None:
            if not self._told_idle:
                self._told_idle = True
                await self.send(
                    error_message(HearthError(ErrorCode.BAD_REQUEST, 'Send {"type": "start"} before audio.'))
                )
            return
        if stream.ended:
            return  # the turn is under way; the rest of this utterance's audio is not needed
        try:
            events = stream.feed(pcm)
        except HearthError as err:
            await self.send(error_message(err))
            return
        for event in events:
            await self.send(event.to_dict())
        if stream.ended:
            self._begin_turn()

    def _begin_turn(self) -> None:
        stream = self.stream
        if stream is None or (self.turn is not None and not self.turn.done()):
            return
        self.turn = self.core.tasks.spawn(self._run_turn(stream, dict(self.options)), f"voice-turn-{id(self)}")

    async def _run_turn(self, stream: VoiceStream, options: dict[str, Any]) -> None:
        assert self.who is not None
        try:
            if stream.end_reason not in ("vad", "understood"):  # (those sent speech_stopped already)
                await self.send({"type": "speech_stopped", "at": round(stream.detector.elapsed, 3)})
            result = await stream.run(
                user_id=self.who.user_id, conversation_id=self.conversation_id, area=options.get("area")
            )
            self.conversation_id = result.conversation_id
            await self.send({"type": "transcript", "text": result.transcript, "conversation_id": self.conversation_id})
            await self.send({"type": "reply", "transcript": result.transcript, **result.to_dict()})
            if options.get("speak", True):
                started = False
                async for chunk in self.pipeline.speak(result.reply.speech, timings=result.timings):
                    if not started:
                        started = True
                        await self.send({"type": "audio_start", **chunk.format.to_dict()})
                    for offset in range(0, len(chunk.audio), AUDIO_FRAME_BYTES):
                        await self._send_bytes(chunk.audio[offset : offset + AUDIO_FRAME_BYTES])
                if started:
                    await self.send({"type": "audio_stop"})
            await self.send(
                {"type": "done", "conversation_id": self.conversation_id, "timings": result.timings.to_dict()}
            )
            if options.get("continuous") and self.stream is stream and not self.ws.closed:
                await self._listen()
                return
        except HearthError as err:
            await self.send(error_message(err))
        except ConnectionError:
            return
        except Exception:
            LOG.exception("voice stream turn failed")
            await self.send(error_message(HearthError(ErrorCode.INTERNAL, "Something went wrong.")))
        finally:
            stream.close()
            if self.stream is stream:  # (unless listening again already)
                self.stream = None
                self._told_idle = False

    async def _drop(self) -> None:
        """Forget the current utterance and stop its turn."""
        if self.stream is not None:
            self.stream.close()
            self.stream = None
        turn, self.turn = self.turn, None
        if turn is not None and not turn.done():
            turn.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await turn
