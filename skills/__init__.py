"""Channels: the platform endpoints (web chat, ...) that the composition root loads by name."""
