"""VoiceChannel: `POST /api/v1/voice` (one spoken turn), `GET /api/v1/voice` (status) and the streaming WebSocket.

POST body: a WAV file (16-bit PCM, any rate, mono or stereo), raw 16-bit PCM (`application/octet-stream`, little-endian,
`?rate=16000&channels=1`; or `audio/L16;rate=16000`, big-endian per RFC 2586 unless `endianness=little-endian`), or JSON
`{"audio_base64", "content_type"?, "rate"?, "channels"?, "conversation_id"?, "area"?, "speak"?}`. Options
`conversation_id`, `area`, `speak` also come as query parameters. The answer is
`{"transcript", "nlu", "reply", "conversation_id", "audio_base64" (WAV of the reply or null), "content_type":
"audio/wav", "timings"}`. Bad audio is 422 bad_audio, a body over server.max_audio_bytes 413, and a server without
speech recognition answers 501 not_built_yet.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import web

from assistant.channel import Channel
from assistant.errors import ErrorCode, HearthError
from assistant.http import CORE_KEY, json_ok, parse_json, principal, read_body
from assistant.openapi import register_paths
from assistant.speech.audio import AudioLimits, Clip, load_clip, parse_media_type, wav_bytes
from assistant.speech.pipeline import VoicePipeline
from skills.voice.schemas import OPENAPI_PATHS, VOICE_JSON_REQUEST
from skills.voice.stream import VoiceSocket

if TYPE_CHECKING:
    from assistant.core import Core

VOICE_PATH = "/api/v1/voice"
STREAM_PATH = "/api/v1/voice/stream"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _flag(value: Any, name: str, default: bool = True) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise HearthError(ErrorCode.VALIDATION, f"{name} must be true or false.", {"field": name})


def _option(options: Mapping[str, Any], name: str) -> str | None:
    value = options.get(name)
    if value is None or value == "":
        return None
    text = str(value)
    if len(text) > 64 or not all(ch.isalnum() or ch in "_.:-" for ch in text):
        raise HearthError(ErrorCode.VALIDATION, f"{name} must be 1-64 letters, digits or _.:-", {"field": name})
    return text


def status(core: Core) -> dict[str, Any]:
    """What serves voice here (for clients deciding whether to show a microphone)."""
    pipeline = VoicePipeline.of(core)

    def info(engine: Any) -> dict[str, Any] | None:
        if engine is None:
            return None
        describe = getattr(engine, "describe", None)
        return describe() if callable(describe) else {"engine": engine.name}

    pool = getattr(core.stt, "pool", None) or getattr(core.tts, "pool", None)
    return {
        "enabled": pipeline.can_listen,
        "stt": info(core.stt),
        "tts": info(core.tts),
        "vad": core.config.voice.vad,
        "queue": pool.stats().to_dict() if pool is not None else None,
        "max_audio_s": core.config.voice.max_audio_s,
        "max_audio_bytes": core.config.server.max_audio_bytes,
    }


class VoiceChannel(Channel):
    """Spoken turns over HTTP and a streaming WebSocket, through the shared VoicePipeline."""

    name: ClassVar[str] = "voice"

    def setup(self, app: web.Application, core: Core) -> None:
        app.router.add_get(VOICE_PATH, self.get_status, name="voice-status")
        app.router.add_post(VOICE_PATH, self.post_voice, name="voice-turn")
        app.router.add_get(STREAM_PATH, self.stream, name="voice-stream")
        register_paths(app, OPENAPI_PATHS)

    async def get_status(self, request: web.Request) -> web.Response:
        return json_ok(status(request.app[CORE_KEY]))

    async def post_voice(self, request: web.Request) -> web.Response:
        core = request.app[CORE_KEY]
        pipeline = VoicePipeline.of(core)
        pipeline.require_stt()
        who = principal(request)
        clip, options = await self._read(request, core)
        received = time.perf_counter()
        result = await pipeline.run(
            clip.pcm,
            home_id=who.home_id,
            user_id=who.user_id,
            conversation_id=_option(options, "conversation_id"),
            area=_option(options, "area"),
            ended_at=received,
        )
        body = result.to_dict()
        audio = None
        if _flag(options.get("speak"), "speak"):
            spoken = await pipeline.speak_all(result.reply.speech, timings=result.timings)
            if spoken is not None:
                audio = base64.b64encode(wav_bytes(*spoken)).decode("ascii")
        body["audio_base64"] = audio
        body["content_type"] = "audio/wav"
        body["timings"] = result.timings.to_dict()
        return json_ok(body)

    async def _read(self, request: web.Request, core: Core) -> tuple[Clip, dict[str, Any]]:
        limit = core.config.server.max_audio_bytes
        limits = AudioLimits(max_seconds=core.config.voice.max_audio_s)
        options: dict[str, Any] = dict(request.query)
        kind, _ = parse_media_type(request.headers.get("Content-Type", ""))
        if kind == "application/json":
            raw = await read_body(request, limit * 4 // 3 + 4096)
            data = parse_json(raw, VOICE_JSON_REQUEST)
            try:
                audio = base64.b64decode(data.pop("audio_base64"), validate=True)
            except (binascii.Error, ValueError):
                raise HearthError(ErrorCode.BAD_AUDIO, "audio_base64 is not valid base64.") from None
            if len(audio) > limit:
                raise HearthError(
                    ErrorCode.BODY_TOO_LARGE, f"The audio is larger than {limit} bytes.", {"limit": limit}
                )
            options.update(data)
            content_type = str(data.get("content_type") or "application/octet-stream")
        else:
            audio = await read_body(request, limit)
            content_type = request.headers.get("Content-Type", "")
        params = {k: str(options[k]) for k in ("rate", "channels") if options.get(k) is not None}
        clip = await asyncio.to_thread(load_clip, audio, content_type, params, limits)  # resampling is CPU work
        return clip, options

    async def stream(self, request: web.Request) -> web.StreamResponse:
        core = request.app[CORE_KEY]
        VoicePipeline.of(core).require_stt()  # 501 before the upgrade
        return await VoiceSocket(core, request).serve()
