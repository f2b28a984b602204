"""SpeechPool: the bounded worker threads that run STT and TTS off the event loop, with a queue-depth metric."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from assistant.errors import ErrorCode, HearthError

T = TypeVar("T")


def cpu_count() -> int:
    """Cores this process may use (the affinity mask, which containers narrow, else os.cpu_count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def threads_per_worker(workers: int, configured: int = 0) -> int:
    """Intra-op threads each model call may use so that `workers` parallel calls do not oversubscribe the cores."""
    if configured > 0:
        return configured
    return max(1, cpu_count() // max(1, workers))


@dataclass(frozen=True, slots=True)
class PoolStats:
    """A snapshot: jobs waiting for a worker, jobs running, the most ever in the pool at once, jobs done."""

    workers: int
    waiting: int
    running: int
    max_depth: int
    completed: int

    @property
    def depth(self) -> int:
        return self.waiting + self.running

    def to_dict(self) -> dict[str, int]:
        return {
            "workers": self.workers,
            "waiting": self.waiting,
            "running": self.running,
            "depth": self.depth,
            "max_depth": self.max_depth,
            "completed": self.completed,
        }


class SpeechPool:
    """`workers` threads for CPU-heavy speech work; more requests wait in line instead of oversubscribing.

    `await pool.run(fn, *args)` runs `fn` on a worker; when `max_waiting` jobs already wait it raises BUSY (503).
    """

    def __init__(self, workers: int = 2, max_waiting: int = 32) -> None:
        self.workers = max(1, workers)
        self.max_waiting = max_waiting
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._waiting = 0
        self._running = 0
        self._max_depth = 0
        self._completed = 0

    @property
    def threads(self) -> int:
        """Intra-op threads per model call."""
        return threads_per_worker(self.workers)

    def stats(self) -> PoolStats:
        with self._lock:
            return PoolStats(self.workers, self._waiting, self._running, self._max_depth, self._completed)

    def reset_max(self) -> None:
        """Start measuring the deepest queue afresh (benchmarks)."""
        with self._lock:
            self._max_depth = self._waiting + self._running

    def _get_executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="hearth-speech")
            return self._executor

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(*args, **kwargs)` on a worker thread and wait for it (queueing if every worker is busy)."""
        with self._lock:
            if self._waiting >= self.max_waiting:
                raise HearthError(ErrorCode.BUSY, "Voice is busy; try again in a moment.", {"waiting": self._waiting})
            self._waiting += 1
            self._max_depth = max(self._max_depth, self._waiting + self._running)
        try:
            job = self._get_executor().submit(self._job, fn, args, kwargs)
        except BaseException:
            with self._lock:
                self._waiting -= 1
            raise
        try:
            return await asyncio.wrap_future(job)
        except asyncio.CancelledError:
            if job.cancel():  # it never started, so it never left the queue
                with self._lock:
                    self._waiting -= 1
            raise

    def _job(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        with self._lock:
            self._waiting -= 1
            self._running += 1
        try:
            return fn(*args, **kwargs)
        finally:
            with self._lock:
                self._running -= 1
                self._completed += 1

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


_SHARED: dict[int, SpeechPool] = {}
_SHARED_LOCK = threading.Lock()


def shared_pool(workers: int) -> SpeechPool:
    """The process's pool for `workers` workers: STT and TTS share it, so together they never exceed it."""
    with _SHARED_LOCK:
        pool = _SHARED.get(workers)
        if pool is None:
            pool = _SHARED[workers] = SpeechPool(workers)
        return pool
