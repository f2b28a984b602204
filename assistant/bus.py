"""In-process publish/subscribe of live events (device.status, conversation.reply) per home."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

LOG = logging.getLogger(__name__)


@dataclass(slots=True)
class BusEvent:
    """A live event for one home."""

    home_id: str
    type: str
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BusEvent:
        return cls(home_id=str(data["home_id"]), type=str(data["type"]), data=dict(data.get("data") or {}))

    def to_dict(self) -> dict[str, Any]:
        return {"home_id": self.home_id, "type": self.type, "data": self.data}


class Subscription:
    """A bounded queue of one subscriber's events; a slow subscriber loses its oldest events, never blocks others."""

    def __init__(self, bus: EventBus, home_id: str, maxsize: int) -> None:
        self.bus = bus
        self.home_id = home_id
        self.queue: asyncio.Queue[BusEvent] = asyncio.Queue(maxsize)
        self.dropped = 0

    def offer(self, event: BusEvent) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    async def get(self) -> BusEvent:
        return await self.queue.get()

    def close(self) -> None:
        self.bus.unsubscribe(self)


class EventBus:
    """Fan-out of events to the subscribers of a home."""

    def __init__(self) -> None:
        self._subs: dict[str, set[Subscription]] = defaultdict(set)

    def subscribe(self, home_id: str, maxsize: int = 256) -> Subscription:
        sub = Subscription(self, home_id, maxsize)
        self._subs[home_id].add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.home_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.home_id]

    def publish(self, event: BusEvent) -> None:
        for sub in tuple(self._subs.get(event.home_id, ())):
            sub.offer(event)

    def subscribers(self, home_id: str) -> int:
        return len(self._subs.get(home_id, ()))
