"""What the store promises, checked where it is kept: the connections that write run with synchronous=FULL in WAL
mode (an acknowledged change is on disk), and with retention_days = 0 no transcript is written at all."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.conftest import Api, make_config, start_api

SYNCHRONOUS_FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def _pragmas(conn: sqlite3.Connection) -> tuple[int, str]:
    return conn.execute("PRAGMA synchronous").fetchone()[0], conn.execute("PRAGMA journal_mode").fetchone()[0]


async def test_the_writing_connections_run_synchronous_full(api: Api) -> None:
    # A write job runs on the group-commit writer's own connection: ask that connection.
    [queued] = await api.core.store.write(_pragmas)
    assert queued == (SYNCHRONOUS_FULL, "wal")
    # Start-up and CLI writes go through write_sync, on the store's other connection.
    [direct] = api.core.store.write_sync(_pragmas)
    assert direct == (SYNCHRONOUS_FULL, "wal")
    # And the turn itself went through: the setting is in force where turns are committed.
    result = await api.say("turn on the kitchen lights")
    assert result["reply"]["kind"] == "done"


UTTERANCE = "turn on the kitchen lights"


def _database_bytes(db: Path) -> bytes:
    """Everything on disk for the database: the main file and its write-ahead log."""
    return b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal")) if p.exists())


async def _one_turn(tmp_path: Path, retention_days: int) -> tuple[Path, list[tuple[str | None, str]]]:
    db = tmp_path / f"retention-{retention_days}.db"
    config = make_config(tmp_path, store={"path": str(db), "retention_days": retention_days})
    runner, api = await start_api(config)
    try:
        result = await api.say(UTTERANCE, "retention")
        assert result["reply"]["kind"] == "done", result
    finally:
        await api.session.close()
        await runner.cleanup()
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT text, intent FROM turns WHERE conversation_id = 'retention'").fetchall()
    return db, rows


async def test_no_transcript_is_kept_with_retention_zero(tmp_path: Path) -> None:
    db, rows = await _one_turn(tmp_path, 0)
    assert rows == [(None, "turn_on")]  # the turn is counted, what was said is not
    assert UTTERANCE.encode() not in _database_bytes(db)  # not in any table, nor in the log


async def test_transcripts_are_kept_with_retention(tmp_path: Path) -> None:
    db, rows = await _one_turn(tmp_path, 30)
    assert rows == [(UTTERANCE, "turn_on")]
    assert UTTERANCE.encode() in _database_bytes(db)  # so the check above can see a transcript when there is one
