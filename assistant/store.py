"""SQLite store (sqlite-utils, WAL): migrations at start, reads on the caller's thread, group-committed writes."""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import sqlite_utils

from assistant.errors import ErrorCode, HearthError
from assistant.migrations import MIGRATIONS

LOG = logging.getLogger(__name__)

WriteOp = Callable[[sqlite3.Connection], Any]
Effect = Callable[[], None]


@dataclass(slots=True)
class Change:
    """A staged change: the ops that make it durable, and the effects (memory, indexes, bus) that run only once
    those ops have committed. Whatever is staged is invisible until then; a failed commit runs no effect.

    Build one from the registry and device control (they validate while staging and never touch memory), add the
    event log entries, and hand it to `Store.commit`."""

    ops: list[WriteOp] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)

    def write(self, *ops: WriteOp) -> Change:
        self.ops.extend(ops)
        return self

    def then(self, effect: Effect) -> Change:
        """Run `effect` after the commit (effects run in the order they were added)."""
        self.effects.append(effect)
        return self

    def add(self, *others: Change) -> Change:
        """Fold other staged changes into this one (one transaction; their effects after this one's)."""
        for other in others:
            self.ops.extend(other.ops)
            self.effects.extend(other.effects)
        return self

    def apply(self) -> None:
        """Run the effects; called by the store after COMMIT, never by anyone else."""
        for effect in self.effects:
            try:
                effect()
            except Exception:  # the change is durable; one broken effect must not hide the others
                LOG.exception("effect after commit failed")


def dumps(value: Any) -> str:
    """Compact JSON for the store."""
    return orjson.dumps(value).decode()


def private_file(path: Path) -> None:
    """Create `path` empty and readable only by its owner if it does not exist; tighten it (and SQLite's -wal and
    -shm files beside it) to 0600 if it does. SQLite gives the -wal and -shm files the database file's mode."""
    if str(path) == ":memory:":
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    for each in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        try:
            if each.stat().st_mode & 0o077:
                os.chmod(each, 0o600)
        except OSError:  # absent, or not ours to change
            pass


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")  # a reply is sent only after its write is on disk
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


@dataclass(slots=True)
class _Job:
    change: Change
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[list[Any]]


class Store:
    """The database. Writes are queued to one writer thread that commits whatever is waiting in one transaction
    (group commit), so many concurrent turns share one fsync; each caller's future resolves after COMMIT."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            private_file(self.path)
        self._read = _connect(self.path)
        self.db = sqlite_utils.Database(self._read)
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._lock = threading.Lock()
        self.commits = 0
        self.migrate()

    # -- schema -------------------------------------------------------------------------------------------------
    def migrate(self) -> int:
        """Apply pending migrations; return the schema version."""
        conn = self._read
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description TEXT, applied_at REAL)"
        )
        applied = {row[0] for row in conn.execute("SELECT version FROM schema_version")}
        for version, description, sql in MIGRATIONS:
            if version in applied:
                continue
            LOG.info("applying migration %s: %s", version, description)
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _split_sql(sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_version VALUES (?, ?, ?)",
                    (version, description, time.time()),
                )
                conn.execute("COMMIT")
            except Exception:
                conn.execute("ROLLBACK")
                raise
        return self.version()

    def migrate_plugin(self, owner: str, migrations: Iterable[tuple[int, str, str]]) -> int:
        """Apply a plug-in's own migrations (its tables), each once, recorded under `owner`; return its version."""
        conn = self._read
        with self._lock:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS plugin_schema (owner TEXT NOT NULL, version INTEGER NOT NULL, "
                "description TEXT, applied_at REAL, PRIMARY KEY (owner, version))"
            )
            applied = {row[0] for row in conn.execute("SELECT version FROM plugin_schema WHERE owner = ?", (owner,))}
            for version, description, sql in migrations:
                if version in applied:
                    continue
                LOG.info("applying %s migration %s: %s", owner, version, description)
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _split_sql(sql):
                        conn.execute(statement)
                    conn.execute(
                        "INSERT INTO plugin_schema VALUES (?, ?, ?, ?)", (owner, version, description, time.time())
                    )
                    conn.execute("COMMIT")
                except Exception:
                    conn.execute("ROLLBACK")
                    raise
                applied.add(version)
            return max(applied, default=0)

    def version(self) -> int:
        row = self._read.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    # -- reads --------------------------------------------------------------------------------------------------
    def query(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        """Rows as dicts (WAL readers never block the writer)."""
        with self._lock:
            cur = self._read.execute(sql, tuple(params))
            names = [d[0] for d in cur.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def query_one(self, sql: str, params: Iterable[Any] = ()) -> dict[str, Any] | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    # -- writes -------------------------------------------------------------------------------------------------
    def write_sync(self, *ops: WriteOp) -> list[Any]:
        """Run ops in one transaction now, on this thread (start-up, CLI tools)."""
        return self.commit_sync(Change(list(ops)))

    def commit_sync(self, change: Change) -> list[Any]:
        """Commit a staged change now, on this thread, then apply its effects (start-up, CLI tools)."""
        with self._lock:
            results = _run(self._read, change.ops)
        change.apply()
        return results

    async def write(self, *ops: WriteOp) -> list[Any]:
        """Queue ops for the writer; return their results once they are committed to disk."""
        return await self.commit(Change(list(ops)))

    async def commit(self, change: Change) -> list[Any]:
        """Queue a staged change; once its ops are committed to disk its effects run (on the event loop, in commit
        order, even if the caller was cancelled meanwhile), then the results are returned. A failed commit raises
        HearthError and runs no effect."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        self._ensure_writer()
        self._queue.put(_Job(change, loop, future))
        return await future

    def _ensure_writer(self) -> None:
        if self._writer is None or not self._writer.is_alive():
            self._writer = threading.Thread(target=self._write_loop, name="hearth-store-writer", daemon=True)
            self._writer.start()

    def _write_loop(self) -> None:
        conn = _connect(self.path)
        try:
            while True:
                job = self._queue.get()
                if job is None:
                    return
                jobs = [job]
                stop = False
                while True:  # take everything already waiting: one transaction, one fsync
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stop = True
                        break
                    jobs.append(more)
                self._commit(conn, jobs)
                if stop:
                    return
        finally:
            conn.close()

    def _commit(self, conn: sqlite3.Connection, jobs: list[_Job]) -> None:
        try:
            try:
                outcomes = self._run_batch(conn, jobs)
            except Exception:
                # Some job failed: run the batch again with a savepoint per job, so that one bad job fails alone.
                conn.execute("ROLLBACK")
                outcomes = self._run_isolated(conn, jobs)
            self.commits += 1
        except Exception as exc:
            LOG.exception("store commit failed")
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            outcomes = [(_save_error(exc), []) for _ in jobs]
        # Wake each waiting loop once per batch, not once per job.
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, BaseException | None, list[Any]]]] = {}
        for job, (error_or_none, results) in zip(jobs, outcomes, strict=True):
            by_loop.setdefault(job.loop, []).append((job, error_or_none, results))
        for loop, settled in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, settled)
            except RuntimeError:  # that loop has closed; nobody is waiting any more
                pass

    @staticmethod
    def _run_batch(conn: sqlite3.Connection, jobs: list[_Job]) -> list[tuple[BaseException | None, list[Any]]]:
        """The common case: every job's ops in one transaction, no savepoints."""
        conn.execute("BEGIN IMMEDIATE")
        outcomes: list[tuple[BaseException | None, list[Any]]] = [
            (None, [op(conn) for op in job.change.ops]) for job in jobs
        ]
        conn.execute("COMMIT")
        return outcomes

    @staticmethod
    def _run_isolated(conn: sqlite3.Connection, jobs: list[_Job]) -> list[tuple[BaseException | None, list[Any]]]:
        outcomes: list[tuple[BaseException | None, list[Any]]] = []
        conn.execute("BEGIN IMMEDIATE")
        for index, job in enumerate(jobs):
            conn.execute(f"SAVEPOINT job{index}")
            try:
                results = [op(conn) for op in job.change.ops]
                conn.execute(f"RELEASE job{index}")
                outcomes.append((None, results))
            except Exception as exc:  # one bad job must not lose the others
                conn.execute(f"ROLLBACK TO job{index}")
                conn.execute(f"RELEASE job{index}")
                if not isinstance(exc, HearthError):
                    LOG.error("a write was refused by the database: %r", exc)
                outcomes.append((_save_error(exc), []))
        conn.execute("COMMIT")
        return outcomes

    def close(self) -> None:
        if self._writer is not None and self._writer.is_alive():
            self._queue.put(None)
            self._writer.join(timeout=30)
        self._writer = None
        with self._lock:
            try:
                self._read.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:
                pass
            self._read.close()


def _save_error(exc: BaseException) -> HearthError:
    if isinstance(exc, HearthError):  # an op that refuses on purpose (e.g. a one-time code already used) says why
        return exc
    error = HearthError(ErrorCode.INTERNAL, "could not save to the database")
    error.__cause__ = exc
    return error


def _settle(settled: list[tuple[_Job, BaseException | None, list[Any]]]) -> None:
    for job, error, results in settled:
        if error is None:
            job.change.apply()  # committed: now memory and the bus may see it (even if nobody waits any more)
        if job.future.done():
            continue
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(results)


def _run(conn: sqlite3.Connection, ops: list[WriteOp]) -> list[Any]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        results = [op(conn) for op in ops]
        conn.execute("COMMIT")
        return results
    except Exception:
        conn.execute("ROLLBACK")
        raise


def _split_sql(sql: str) -> list[str]:
    """Split a migration script into statements (trigger bodies kept whole)."""
    statements: list[str] = []
    current: list[str] = []
    depth = 0
    for line in sql.strip().splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        current.append(line)
        upper = stripped.upper()
        if upper.startswith("CREATE TRIGGER"):
            depth += 1
        if depth and upper.endswith("END;"):
            depth -= 1
        if stripped.endswith(";") and depth == 0:
            statements.append("\n".join(current))
            current = []
    if current:
        statements.append("\n".join(current))
    return statements
