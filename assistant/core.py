"""The core: the objects every channel and service shares, started and stopped together."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from assistant.auth import Auth
from assistant.bus import EventBus
from assistant.config import Config
from assistant.control import DeviceControl
from assistant.demo import DEMO_HOME_ID, DEMO_USER, demo_home_change
from assistant.devices import DeviceAdapter
from assistant.dialogue import DialogueManager
from assistant.errors import ErrorCode, HearthError
from assistant.eventlog import EventLog
from assistant.nlu.engine import NluEngine
from assistant.registry import Registry
from assistant.speech.engine import SttEngine, TtsEngine
from assistant.store import Store
from assistant.tasks import TaskManager
from assistant.turn import Reply, Turn

LOG = logging.getLogger(__name__)

RETENTION_SWEEP_S = 6 * 3600
ACCESS_SYNC_S = 1.0  # how often tokens' last use is saved and other processes' auth changes are picked up
EMPTY_HOME_ID = "home"
EMPTY_HOME_OWNER = "owner"


class Core:
    """Config, store, registry, NLU, device control, dialogue manager, auth, bus and tasks."""

    def __init__(
        self,
        config: Config,
        store: Store,
        nlu: NluEngine,
        adapters: dict[str, DeviceAdapter],
        stt: SttEngine | None = None,
        tts: TtsEngine | None = None,
    ) -> None:
        self.config = config
        self.stt = stt
        self.tts = tts
        self.store = store
        self.nlu = nlu
        self.bus = EventBus()
        self.tasks = TaskManager()
        self.registry = Registry(store, nlu)
        self.events = EventLog(store)
        self.control = DeviceControl(self.registry, store, self.bus, adapters, config.device_timeout_s)
        self.dialogue = DialogueManager(self)
        self.auth = Auth(store)
        # Services add their HTTP routes here: each callable gets the aiohttp application (and registers its paths
        # in the OpenAPI document); build_server calls them once.
        self.web_routes: list[Callable[[Any], None]] = []
        self.extras: dict[str, Any] = {}  # plug-ins keep their shared objects here (e.g. speech engines)
        # Run after tokens, memberships or homes changed (here or in another process), within about a second.
        self.access_changed: list[Callable[[], None]] = []
        self.started = False

    async def start(self, seed: bool = True) -> None:
        """Load everything; on an empty database (unless `seed` is False) create the demo home, or with demo off an
        empty home owned by the user "owner"."""
        await self.nlu.load()
        for engine in (self.stt, self.tts):
            if engine is not None:
                await engine.start()
        self.registry.load()
        if not self.registry.homes and seed:
            if self.config.demo:
                await self.seed_demo()
            else:
                name = "Home" if self.config.home_name == "Demo home" else self.config.home_name
                await self.create_home(name, owner=EMPTY_HOME_OWNER, home_id=EMPTY_HOME_ID)
        await self.control.start()
        self.purge_transcripts()
        self.tasks.spawn(self._retention_loop(), "retention-sweep")
        self.tasks.spawn(self._access_loop(), "access-sync")
        self.started = True

    async def stop(self) -> None:
        await self.tasks.shutdown()
        change = self.auth.last_used_change(force=True)
        if change is not None:
            self.store.commit_sync(change)
        await self.control.stop()
        await self.nlu.close()
        for engine in (self.stt, self.tts):
            if engine is not None:
                await engine.stop()
        self.store.close()
        self.started = False

    async def seed_demo(self, home_id: str = DEMO_HOME_ID, name: str | None = None, user: str = DEMO_USER) -> str:
        """Create a demo home (and its user); return the user id. Works before and after start."""
        self.store.commit_sync(demo_home_change(self.registry, home_id, name or self.config.home_name))
        LOG.info("created the demo home %r", home_id)
        if self.started:
            await self.control.attach(self.registry.home(home_id).devices.values())
        return self.auth.ensure_user(user, home_id)

    async def create_home(
        self, name: str, demo: bool = False, owner: str | None = None, home_id: str | None = None
    ) -> str:
        """A new home (empty, or with the demo devices), its owner made a member; returns its id."""
        name = " ".join(str(name).split())
        if not name or len(name) > 60:
            raise HearthError(ErrorCode.VALIDATION, "A home name must be 1-60 characters.", {"field": "name"})
        home_id = home_id or f"h_{uuid.uuid4().hex[:12]}"
        change = demo_home_change(self.registry, home_id, name) if demo else self.registry.create_home(home_id, name)
        self.store.commit_sync(change)
        LOG.info("created home %r (%s)", home_id, "demo devices" if demo else "empty")
        if self.started:
            await self.control.attach(self.registry.home(home_id).devices.values())
        if owner is not None:
            self.auth.ensure_user(owner, home_id, role="owner")
        return home_id

    async def adopt_homes(self) -> list[str]:
        """Load homes that another process (the CLI) added to the store, and attach their devices."""
        known = set(self.registry.homes)
        added = []
        for row in self.store.query("SELECT id FROM homes"):
            if row["id"] in known:
                continue
            home = self.registry.load_home(row["id"])
            if home is not None:
                await self.control.attach(home.devices.values())
                added.append(home.id)
                LOG.info("loaded home %r added by another process", home.id)
        return added

    async def _access_loop(self) -> None:
        while True:
            await asyncio.sleep(ACCESS_SYNC_S)
            try:
                change = self.auth.last_used_change()
                if change is not None:
                    await self.store.commit(change)
                if self.auth.sync():
                    await self.adopt_homes()
                    for hook in self.access_changed:
                        hook()
            except Exception:  # keep the loop alive; the next round tries again
                LOG.exception("access sync failed")

    def default_principal(self) -> tuple[str, str]:
        """(home_id, user_id) for local CLI use: the demo user's home, else the first membership."""
        row = self.store.query_one(
            "SELECT m.home_id, m.user_id FROM memberships m JOIN users u ON u.id = m.user_id "
            "ORDER BY (u.name = ?) DESC, m.rowid LIMIT 1",
            (DEMO_USER,),
        )
        if row is None:
            raise HearthError(
                ErrorCode.NOT_FOUND,
                f"there is no home in {self.config.store.path.absolute()} yet: start without --no-demo to create one",
            )
        return row["home_id"], row["user_id"]

    async def converse(self, turn: Turn) -> Reply:
        reply, _ = await self.dialogue.handle(turn)
        return reply

    def purge_transcripts(self) -> int:
        """Delete turn transcripts older than the retention setting; return how many."""
        days = self.config.store.retention_days
        cutoff = time.time() - days * 86400
        results = self.store.write_sync(lambda c: c.execute("DELETE FROM turns WHERE ts < ?", (cutoff,)).rowcount)
        return int(results[0] or 0)

    async def _retention_loop(self) -> None:
        while True:
            await asyncio.sleep(RETENTION_SWEEP_S)
            removed = await asyncio.to_thread(self.purge_transcripts)
            if removed:
                LOG.info("retention: removed %d old transcripts", removed)
