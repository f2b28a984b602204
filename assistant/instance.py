"""Which server owns a database, and how every CLI command finds it: a lock file beside the database, then the port.

`hearth serve` holds an exclusive lock on `<db>.lock` for as long as it runs and writes its URL and pid into it. A
one-shot command that works on the database itself holds a shared lock on the same file meanwhile, so a server and a
local command never write the same database at once. The operating system drops a lock when its process dies, so a
`kill -9` leaves no stale owner behind.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import ErrorCode, HearthError

if TYPE_CHECKING:
    from assistant.core import Core

STARTING_WAIT_S = 2.0  # a server that has just taken the lock writes its record right after


@dataclass(frozen=True, slots=True)
class ServerRecord:
    """A running `hearth serve`: where it answers, its process, and the database it owns ("" when unknown)."""

    url: str
    pid: int = 0
    db: str = ""
    started_at: float = 0.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServerRecord:
        return cls(str(data["url"]), int(data.get("pid", 0)), str(data.get("db", "")), float(data.get("started_at", 0)))

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "pid": self.pid, "db": self.db, "started_at": self.started_at}


def lock_path(db: Path) -> Path:
    return Path(f"{db}.lock")


def token_path(db: Path) -> Path:
    """The CLI's token for the server that owns `db` (written by that server, readable by its owner only)."""
    return Path(f"{db}.cli-token")


def _open_lock(db: Path) -> int:
    Path(db).parent.mkdir(parents=True, exist_ok=True)
    return os.open(lock_path(db), os.O_RDWR | os.O_CREAT, 0o600)


def _read_record(fd: int) -> ServerRecord | None:
    os.lseek(fd, 0, os.SEEK_SET)
    raw = os.read(fd, 65536)
    try:
        return ServerRecord.from_dict(json.loads(raw))
    except (ValueError, KeyError, TypeError):
        return None


def owner(db: Path) -> ServerRecord | None:
    """The running server that owns `db`, or None when no server holds it."""
    if not lock_path(db).exists():
        return None
    fd = os.open(lock_path(db), os.O_RDONLY)
    try:
        deadline = time.monotonic() + STARTING_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                pass
            else:
                fcntl.flock(fd, fcntl.LOCK_UN)
                return None
            record = _read_record(fd)
            if record is not None or time.monotonic() > deadline:
                return record or ServerRecord("", db=str(db))
            time.sleep(0.05)
    finally:
        os.close(fd)


def describe(record: ServerRecord) -> str:
    where = f"the server at {record.url}" if record.url else "a server that is starting"
    return f"{where} (pid {record.pid})" if record.pid else where


@contextlib.contextmanager
def local_use(db: Path) -> Iterator[None]:
    """Use `db` directly for the length of the block; refuse (one clear error) when a running server owns it."""
    fd = _open_lock(db)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            record = _read_record(fd) or ServerRecord("")
            raise HearthError(
                ErrorCode.BUSY,
                f"{db} belongs to {describe(record)}; this command does not write a database that a server owns. "
                "Stop the server first, or use its API.",
                {"db": str(db), "server": record.url},
            ) from None
        yield
    finally:
        os.close(fd)  # closing drops the lock


class Ownership:
    """The server's exclusive claim on its database, taken before anything is loaded and held until exit."""

    def __init__(self, db: Path) -> None:
        self.db = Path(db)
        self._fd: int | None = None

    def claim(self, url: str) -> None:
        fd = _open_lock(self.db)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            record = _read_record(fd)
            os.close(fd)
            if record is not None:
                raise HearthError(
                    ErrorCode.BUSY,
                    f"{self.db} is already served by {describe(record)}: stop that one, or use another --db.",
                    {"db": str(self.db), "server": record.url},
                ) from None
            raise HearthError(
                ErrorCode.BUSY,
                f"{self.db} is in use by another hearth command; try again when it has finished.",
                {"db": str(self.db)},
            ) from None
        record = ServerRecord(url, os.getpid(), str(self.db.resolve()), time.time())
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record.to_dict()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        os.close(self._fd)
        self._fd = None


def client_url(host: str, port: int) -> str:
    """The URL a client on this machine uses for a server listening on host:port."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def bind(host: str, port: int) -> socket.socket:
    """The server's listening socket, bound before any model loads; a port in use is one clear error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            message = f"port {port} is in use (another hearth serve?): stop it or use --port N"
        elif exc.errno == errno.EACCES:
            message = f"cannot listen on port {port}: permission denied; use --port N with N above 1023"
        elif exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
            message = f"cannot listen on {host}: it is not an address of this machine; use --host 127.0.0.1"
        else:
            message = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        raise HearthError(ErrorCode.CONFIG, message, {"host": host, "port": port}) from None
    except (socket.gaierror, UnicodeError):
        sock.close()
        raise HearthError(ErrorCode.CONFIG, f"cannot listen on {host!r}: not a valid host", {"host": host}) from None
    sock.setblocking(False)
    return sock


def answers(url: str, timeout: float = 0.5) -> bool:
    """Whether a Hearth server answers its health check at `url`."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/api/v1/health", timeout=timeout) as resp:
            body = json.loads(resp.read(4096))
            return resp.status == 200 and isinstance(body, dict) and "status" in body
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass(frozen=True, slots=True)
class Found:
    """The server a CLI command should talk to, and whether it owns the command's database."""

    record: ServerRecord
    owns_db: bool


def locate(db: Path, host: str, port: int, server: str | None = None, probe_port: bool = True) -> Found | None:
    """The one way every command finds a running server: `--server URL` if given; else the server that owns `db`
    (its lock file); else, when `probe_port`, a Hearth server answering on the configured port (which then serves
    some other database). None when there is none."""
    if server:
        url = server.rstrip("/")
        if "://" not in url:
            url = "http://" + url
        record = owner(db)
        return Found(ServerRecord(url), record is not None and record.url == url)
    record = owner(db)
    if record is not None:
        return Found(record, True)
    if probe_port:
        url = client_url(host, port)
        if answers(url):
            return Found(ServerRecord(url), False)
    return None


def write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only, replacing any old one whole."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def ensure_cli_token(core: Core, db: Path) -> None:
    """The server keeps a token for this machine's CLI beside its database, so that `hearth say` never has to write
    a database the server owns. An existing valid token is kept; a home-less database gets none."""
    path = token_path(db)
    with contextlib.suppress(OSError, HearthError):
        core.auth.verify(path.read_text().strip())
        return
    try:
        home_id, user_id = core.default_principal()
    except HearthError:
        return
    write_private(path, core.auth.create_token(user_id, home_id, "hearth CLI") + "\n")
