"""Durability: state, conversations and pending questions survive a restart; the store's guarantees."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from assistant.store import Store
from tests.conftest import make_config, start_api


async def test_everything_survives_a_restart(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    runner, api = await start_api(config)
    try:
        await api.say("set the kitchen lights to 30 percent", conversation_id="c1")
        out = await api.say("turn on the lamp", conversation_id="c2")
        assert out["reply"]["kind"] == "ask"
        token = api.token
    finally:
        await api.session.close()
        await runner.cleanup()

    runner, api = await start_api(config)
    try:
        api.token = token  # the old token still works: it is stored (hashed)
        status, body = await api.call("GET", "/api/v1/devices/kitchen_lights")
        assert status == 200 and body["state"] == {"on": True, "brightness": 30, "color": "white"}
        out = await api.say("the desk lamp", conversation_id="c2")  # answers the question asked before the restart
        assert out["reply"]["kind"] == "done", out["reply"]
        assert (await api.call("GET", "/api/v1/devices/desk_lamp"))[1]["state"]["on"] is True
        out = await api.say("turn it off", conversation_id="c1")  # "it" = the kitchen lights, from before
        assert (await api.call("GET", "/api/v1/devices/kitchen_lights"))[1]["state"]["on"] is False
        out = await api.say("undo", conversation_id="c1")
        assert (await api.call("GET", "/api/v1/devices/kitchen_lights"))[1]["state"]["on"] is True
    finally:
        await api.session.close()
        await runner.cleanup()


async def test_reply_means_committed(tmp_path: Path) -> None:
    """A fresh connection (another process would see the same) finds the change as soon as the reply arrives."""
    config = make_config(tmp_path)
    runner, api = await start_api(config)
    try:
        await api.say("turn on the porch light")
        conn = sqlite3.connect(config.store.path)
        row = conn.execute(
            "SELECT state FROM device_state WHERE home_id = 'demo' AND device_id = 'porch_light'"
        ).fetchone()
        assert '"on":true' in row[0]
        kinds = [r[0] for r in conn.execute("SELECT type FROM events ORDER BY id")]
        assert "command" in kinds
        turns = conn.execute("SELECT text, intent FROM turns").fetchall()
        assert ("turn on the porch light", "turn_on") in turns
        conn.close()
    finally:
        await api.session.close()
        await runner.cleanup()


def test_store_migrations_wal_and_append_only_log(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    assert store.version() >= 1
    assert store.query_one("PRAGMA journal_mode")["journal_mode"] == "wal"
    store.write_sync(lambda c: c.execute("INSERT INTO events (home_id, ts, type, data) VALUES ('h', 1, 't', '{}')"))
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.write_sync(lambda c: c.execute("UPDATE events SET type = 'x'"))
    store.close()
    again = Store(tmp_path / "s.db")  # migrations are applied once
    assert again.query_one("SELECT COUNT(*) AS n FROM schema_version")["n"] == again.version()
    again.close()


async def test_group_commit_keeps_every_write_and_isolates_failures(tmp_path: Path) -> None:
    store = Store(tmp_path / "g.db")

    def insert(i: int):  # type: ignore[no-untyped-def]
        return lambda c: c.execute("INSERT INTO homes VALUES (?, 'h', 0)", (f"h{i}",))

    async with asyncio.timeout(20):
        results = await asyncio.gather(
            *(store.write(insert(i)) for i in range(500)),
            store.write(insert(3)),  # duplicate key: this one fails alone
            return_exceptions=True,
        )
    assert sum(isinstance(r, Exception) for r in results) == 1
    assert store.commits < 500  # writes were grouped
    store.close()
    check = Store(tmp_path / "g.db")
    assert check.query_one("SELECT COUNT(*) AS n FROM homes")["n"] == 500
    check.close()


async def test_retention_purges_old_transcripts(tmp_path: Path) -> None:
    config = make_config(tmp_path, store={"path": str(tmp_path / "r.db"), "retention_days": 30})
    runner, api = await start_api(config)
    try:
        await api.say("turn on the tv")
        api.core.store.write_sync(lambda c: c.execute("UPDATE turns SET ts = ts - 31 * 86400"))
        await api.say("turn off the tv")
        assert api.core.purge_transcripts() == 1
        rows = api.core.store.query("SELECT text FROM turns")
        assert rows == [{"text": "turn off the tv"}]
    finally:
        await api.session.close()
        await runner.cleanup()
