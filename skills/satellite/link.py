"""The link to one configured satellite: connect, serve the session, reconnect with exponential backoff."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from assistant.config import SatelliteConfig
from assistant.errors import HearthError
from assistant.speech.pipeline import VoicePipeline
from skills.satellite.identity import SatelliteIdentity, resolve_area, resolve_identity
from skills.satellite.session import Conversation, SatelliteSession
from skills.satellite.status import LinkState, SatelliteStatus

if TYPE_CHECKING:
    from assistant.core import Core

LOG = logging.getLogger(__name__)

BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
BACKOFF_JITTER = 0.1  # +-10 %, so that many satellites do not retry in step
STABLE_S = 10.0  # a connection that lasted this long starts the backoff over
CONNECT_TIMEOUT_S = 5.0
# TCP keepalive: a satellite that lost power is noticed in about 25 s, whatever it speaks.
KEEPALIVE_IDLE_S, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT = 10, 5, 3


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if str(exc) else text


def _keepalive(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if hasattr(socket, "TCP_KEEPIDLE"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, KEEPALIVE_IDLE_S)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, KEEPALIVE_INTERVAL_S)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, KEEPALIVE_COUNT)


class SatelliteLink:
    """Keeps one satellite connected for as long as Hearth runs; never lets a failure end it."""

    def __init__(
        self,
        config: SatelliteConfig,
        name: str,
        pipeline: VoicePipeline,
        publish: Callable[[SatelliteStatus], None],
    ) -> None:
        self.config = config
        self.name = name
        self.pipeline = pipeline
        self.publish = publish
        self.identity: SatelliteIdentity | None = None
        self.conversation = Conversation()
        self.status = SatelliteStatus(name, config.uri, config.area, config.home, config.user, since=time.time())

    def start(self, core: Core) -> asyncio.Task[None] | None:
        """Resolve who the satellite acts as and spawn its owned task; None (logged) when misconfigured."""
        try:
            self.identity = resolve_identity(core, self.config, self.name)
        except HearthError as err:
            LOG.error("satellite %s is not started: %s", self.name, err.message)
            self.status.last_error = err.message
            self._set(LinkState.FAILED)
            return None
        self.status.home_id = self.identity.home_id
        self.status.user = self.identity.user_name
        if self.config.area:
            area = resolve_area(core.registry.home(self.identity.home_id), self.config.area)
            if area is None:
                LOG.warning("satellite %s: home %s has no area %r", self.name, self.identity.home_id, self.config.area)
            self.status.area = area or self.config.area
        return core.tasks.spawn(self.run(), f"satellite-{self.name}")

    async def run(self) -> None:
        """Connect, serve, and reconnect after 0.5 s, 1 s, 2 s ... up to 30 s, until cancelled."""
        assert self.identity is not None
        delay = BACKOFF_FIRST_S
        try:
            while True:
                self._set(LinkState.CONNECTING)
                try:
                    reader, writer = await self._connect()
                except (OSError, TimeoutError) as exc:
                    self.status.attempts += 1
                    self.status.last_error = _reason(exc)
                    level = logging.WARNING if self.status.attempts == 1 else logging.DEBUG
                    LOG.log(
                        level,
                        "satellite %s at %s unreachable (%s); retrying",
                        self.name,
                        self.config.uri,
                        self.status.last_error,
                    )
                    await self._backoff(delay)
                    delay = min(delay * 2, BACKOFF_MAX_S)
                    continue
                began = time.monotonic()
                self.status.attempts = 0
                self.status.connections += 1
                self.status.last_error = None
                self._set(LinkState.CONNECTED)
                LOG.info("satellite %s connected (%s)", self.name, self.config.uri)
                reason = await self._serve(reader, writer)
                self.status.last_error = reason
                LOG.warning("satellite %s disconnected: %s; reconnecting", self.name, reason)
                if time.monotonic() - began >= STABLE_S:
                    delay = BACKOFF_FIRST_S
                await self._backoff(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
        finally:
            self.status.retry_in = None
            self._set(LinkState.STOPPED)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str:
        """Run one session; why it ended."""
        assert self.identity is not None
        session = SatelliteSession(
            reader,
            writer,
            config=self.config,
            identity=self.identity,
            pipeline=self.pipeline,
            status=self.status,
            changed=self._changed,
            conversation=self.conversation,
        )
        try:
            await session.run()
            return "the satellite closed the connection"
        except (OSError, asyncio.IncompleteReadError) as exc:
            return _reason(exc)
        except Exception as exc:  # a protocol surprise ends this connection, never the link
            LOG.exception("satellite %s: unexpected error", self.name)
            return f"unexpected error: {_reason(exc)}"
        finally:
            await session.close()

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        parsed = urlparse(self.config.uri)
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            if parsed.scheme == "unix":
                return await asyncio.open_unix_connection(parsed.path)
            reader, writer = await asyncio.open_connection(parsed.hostname, parsed.port)
        _keepalive(writer)
        return reader, writer

    async def _backoff(self, delay: float) -> None:
        wait = delay * random.uniform(1 - BACKOFF_JITTER, 1 + BACKOFF_JITTER)
        self.status.retry_in = round(wait, 2)
        self._set(LinkState.RETRYING)
        await asyncio.sleep(wait)
        self.status.retry_in = None

    def _set(self, state: LinkState) -> None:
        if self.status.state != state:
            self.status.state = state
            self.status.since = time.time()
        self._changed()

    def _changed(self) -> None:
        self.publish(self.status)
