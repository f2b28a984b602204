"""The web chat channel: a single-page chat and live device dashboard served at `/`."""

from skills.webchat.channel import WebChatChannel

CHANNEL = WebChatChannel

__all__ = ["CHANNEL", "WebChatChannel"]
