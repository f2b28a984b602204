"""A satellite's live status: connection state, identity and what its pipeline is doing."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class LinkState(StrEnum):
    """Where the connection to a satellite stands."""

    STARTING = "starting"  # not tried yet
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RETRYING = "retrying"  # disconnected; waiting before the next attempt
    FAILED = "failed"  # misconfigured (e.g. unknown home): not tried until restart
    STOPPED = "stopped"


class Stage(StrEnum):
    """What the satellite's current pipeline run is doing."""

    IDLE = "idle"
    LISTENING = "listening"
    TRANSCRIBING = "transcribing"
    THINKING = "thinking"
    SPEAKING = "speaking"


@dataclass(slots=True)
class SatelliteStatus:
    """One satellite as `GET /api/v1/satellites` shows it."""

    name: str
    uri: str
    area: str | None
    home_id: str
    user: str
    state: LinkState = LinkState.STARTING
    stage: Stage = Stage.IDLE
    since: float = 0.0  # when `state` last changed (Unix time)
    attempts: int = 0  # failed connection attempts since the last success
    retry_in: float | None = None  # seconds until the next attempt, when retrying
    last_error: str | None = None
    connections: int = 0  # successful connections since start
    runs: int = 0  # pipeline runs finished
    satellite_name: str | None = None  # what the satellite calls itself (from its `info`)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SatelliteStatus:
        return cls(
            name=str(data["name"]),
            uri=str(data["uri"]),
            area=data.get("area"),
            home_id=str(data["home_id"]),
            user=str(data["user"]),
            state=LinkState(data.get("state", LinkState.STARTING)),
            stage=Stage(data.get("stage", Stage.IDLE)),
            since=float(data.get("since", 0.0)),
            attempts=int(data.get("attempts", 0)),
            retry_in=data.get("retry_in"),
            last_error=data.get("last_error"),
            connections=int(data.get("connections", 0)),
            runs=int(data.get("runs", 0)),
            satellite_name=data.get("satellite_name"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "uri": self.uri,
            "area": self.area,
            "home_id": self.home_id,
            "user": self.user,
            "state": str(self.state),
            "connected": self.state == LinkState.CONNECTED,
            "stage": str(self.stage),
            "since": self.since,
            "attempts": self.attempts,
            "retry_in": self.retry_in,
            "last_error": self.last_error,
            "connections": self.connections,
            "runs": self.runs,
            "satellite_name": self.satellite_name,
        }
