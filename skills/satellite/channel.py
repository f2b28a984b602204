"""SatelliteChannel: Hearth as the orchestrator of Wyoming satellites, and `GET /api/v1/satellites`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import web

from assistant.bus import BusEvent
from assistant.channel import Channel
from assistant.errors import ConfigError
from assistant.http import json_ok, principal
from assistant.openapi import register_paths
from assistant.speech.pipeline import VoicePipeline
from skills.satellite.identity import check_uri, satellite_name
from skills.satellite.link import SatelliteLink
from skills.satellite.status import LinkState, SatelliteStatus, Stage

if TYPE_CHECKING:
    from assistant.core import Core

LOG = logging.getLogger(__name__)

STATUS_EVENT = "satellite.status"
STOP_TIMEOUT_S = 5.0

STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "uri", "area", "home_id", "user", "state", "connected", "stage"],
    "properties": {
        "name": {"type": "string"},
        "uri": {"type": "string"},
        "area": {"type": ["string", "null"]},
        "home_id": {"type": "string"},
        "user": {"type": "string"},
        "state": {"type": "string", "enum": [str(s) for s in LinkState]},
        "connected": {"type": "boolean"},
        "stage": {"type": "string", "enum": [str(s) for s in Stage]},
        "since": {"type": "number"},
        "attempts": {"type": "integer"},
        "retry_in": {"type": ["number", "null"]},
        "last_error": {"type": ["string", "null"]},
        "connections": {"type": "integer"},
        "runs": {"type": "integer"},
        "satellite_name": {"type": ["string", "null"]},
    },
}
PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/satellites": {
        "get": {
            "summary": "The home's Wyoming satellites and their connection status",
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"satellites": {"type": "array", "items": STATUS_SCHEMA}},
                            }
                        }
                    },
                },
                "4XX": {
                    "description": "Error",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            },
        }
    }
}


class SatelliteChannel(Channel):
    """Connects to every configured satellite (one owned task each); does nothing when none is configured."""

    name: ClassVar[str] = "satellite"

    def __init__(self) -> None:
        self.links: list[SatelliteLink] = []
        self._core: Core | None = None

    def setup(self, app: web.Application, core: Core) -> None:
        self._core = core
        pipeline = VoicePipeline.of(core)
        names: set[str] = set()
        for config in core.config.voice.satellites:
            check_uri(config.uri)
            name = satellite_name(config)
            if name in names:
                raise ConfigError(f"two satellites are called {name!r}; give each a `name`", key="voice.satellites")
            names.add(name)
            self.links.append(SatelliteLink(config, name, pipeline, self._publish))
        app.router.add_get("/api/v1/satellites", self.list_satellites, name="satellites")
        register_paths(app, PATHS)
        if self.links:
            app.cleanup_ctx.append(self._lifecycle)

    async def _lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        core = self._core
        assert core is not None
        if core.stt is None:
            LOG.warning("satellites are configured but voice.stt is none: they connect, but speech is not understood")
        tasks = [task for link in self.links if (task := link.start(core)) is not None]
        yield
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_TIMEOUT_S)

    def _publish(self, status: SatelliteStatus) -> None:
        if self._core is not None and status.home_id:
            self._core.bus.publish(BusEvent(status.home_id, STATUS_EVENT, status.to_dict()))

    async def list_satellites(self, request: web.Request) -> web.Response:
        home_id = principal(request).home_id
        found = [link.status.to_dict() for link in self.links if link.status.home_id == home_id]
        return json_ok({"satellites": found})
