"""The voice channel: spoken turns over HTTP (`POST /api/v1/voice`) and a streaming WebSocket."""

from skills.voice.channel import VoiceChannel

CHANNEL = VoiceChannel

__all__ = ["CHANNEL", "VoiceChannel"]
