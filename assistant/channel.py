"""The Channel seam: a platform endpoint (web chat, satellites, Alexa, ...) that turns requests into turns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

from aiohttp import web

if TYPE_CHECKING:
    from assistant.core import Core


class Channel(ABC):
    """Registers a platform's routes; each request becomes a Turn for `core.dialogue`, and the Reply goes back."""

    name: ClassVar[str]

    @abstractmethod
    def setup(self, app: web.Application, core: Core) -> None:
        """Add this channel's routes (and any cleanup_ctx) to the server."""
