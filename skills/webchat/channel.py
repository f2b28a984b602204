"""WebChatChannel: serves the chat page and its files; all data comes from the authenticated API."""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from aiohttp import web

from assistant.channel import Channel
from assistant.errors import ErrorCode, HearthError

if TYPE_CHECKING:
    from assistant.core import Core

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Only plain file names of the kinds the page uses: no slashes, no dot-files, no "..".
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9]+)+$")
_TYPES: dict[str, str] = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
}
_TEXT = {"text/html", "text/javascript", "text/css", "image/svg+xml", "application/json"}
# The page loads nothing from elsewhere; audio replies may be blob: or data: URLs. The WebSocket origin is
# named explicitly because older browsers do not count ws:// as 'self'.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob: data:; connect-src 'self'{sockets}; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_HOST = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_IMMUTABLE = "public, max-age=31536000, immutable"
_REVALIDATE = "no-cache"


@dataclass(frozen=True, slots=True)
class StaticFile:
    """One file of the page, held in memory (the whole page is a few tens of kilobytes)."""

    name: str
    body: bytes
    content_type: str
    etag: str
    gzipped: bytes | None = None  # set for text files where it saves space

    @classmethod
    def make(cls, name: str, body: bytes, content_type: str) -> StaticFile:
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        packed = gzip.compress(body, mtime=0) if content_type in _TEXT else None
        if packed is not None and len(packed) >= len(body):
            packed = None
        return cls(name, body, content_type, etag, packed)

    @property
    def version(self) -> str:
        return self.etag.strip('"')


def _content_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def load_static(directory: Path = STATIC_DIR) -> dict[str, StaticFile]:
    """Read every servable file in `directory` (not recursive) once, at start."""
    files: dict[str, StaticFile] = {}
    for path in sorted(directory.iterdir()):
        if not path.is_file() or not _NAME.match(path.name):
            continue
        files[path.name] = StaticFile.make(path.name, path.read_bytes(), _content_type(path.name))
    return files


def _versioned_index(files: dict[str, StaticFile]) -> bytes:
    """index.html with `/static/NAME` links pinned to content hashes: cacheable forever."""
    html = files["index.html"].body.decode("utf-8")

    def pin(match: re.Match[str]) -> str:
        name = match.group(1)
        found = files.get(name)
        return f"/static/{name}?v={found.version}" if found else match.group(0)

    return re.sub(r"/static/([A-Za-z0-9_.-]+)(?![?\w.-])", pin, html).encode("utf-8")


class WebChatChannel(Channel):
    """The browser page: `GET /` and `GET /static/{name}`; no auth, because it holds no data."""

    name: ClassVar[str] = "webchat"

    def __init__(self, static_dir: Path = STATIC_DIR) -> None:
        self._files = load_static(static_dir)
        if "index.html" not in self._files:
            raise HearthError(ErrorCode.CONFIG, f"web chat page missing in {static_dir}")
        self._index = StaticFile.make("index.html", _versioned_index(self._files), "text/html")

    def setup(self, app: web.Application, core: Core) -> None:
        app.router.add_get("/", self.index, name="webchat-index")
        app.router.add_get("/static/{name}", self.static, name="webchat-static")

    async def index(self, request: web.Request) -> web.StreamResponse:
        return self._respond(request, self._index, _REVALIDATE)

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        found = self._files.get(name) if _NAME.match(name) else None
        if found is None:
            error = HearthError(ErrorCode.NOT_FOUND, "no such file")
            return web.json_response(error.to_dict(), status=error.http_status)
        pinned = request.query.get("v") == found.version
        return self._respond(request, found, _IMMUTABLE if pinned else _REVALIDATE)

    @staticmethod
    def _respond(request: web.Request, item: StaticFile, cache: str) -> web.StreamResponse:
        headers = {"Cache-Control": cache, "Content-Security-Policy": _csp(request), **_SECURITY_HEADERS}
        body, etag = item.body, item.etag
        if item.gzipped is not None:
            headers["Vary"] = "Accept-Encoding"
            if _accepts_gzip(request.headers.get("Accept-Encoding", "")):
                body, etag = item.gzipped, item.etag[:-1] + '-gz"'
                headers["Content-Encoding"] = "gzip"
        headers["ETag"] = etag
        if etag in _etags(request.headers.get("If-None-Match", "")):
            headers.pop("Content-Encoding", None)
            return web.Response(status=304, headers=headers)
        charset = "utf-8" if item.content_type in _TEXT else None
        return web.Response(body=body, content_type=item.content_type, charset=charset, headers=headers)


def _csp(request: web.Request) -> str:
    host = request.host
    sockets = f" ws://{host} wss://{host}" if _HOST.match(host) else ""
    return _CSP.format(sockets=sockets)


def _accepts_gzip(header: str) -> bool:
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() == "gzip":
            return params.replace(" ", "").lower() not in {"q=0", "q=0.0", "q=0.00", "q=0.000"}
    return False


def _etags(header: str) -> set[str]:
    return {part.strip().removeprefix("W/") for part in header.split(",") if part.strip()}
