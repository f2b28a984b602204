"""Users and their roles in homes; bearer tokens (SHA-256 hashes only) with labels, last use and expiry; login codes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from assistant.access import ROLE_PERMISSIONS, Role
from assistant.errors import ErrorCode, HearthError
from assistant.store import Change, Store

TOKEN_PREFIX = "hth_"
LOGIN_PREFIX = "hlc_"
LOGIN_CODE_TTL_S = 15 * 60  # a login link works once, within this time
SESSION_TTL_DAYS = 30.0  # a token made from a login link expires after this
LAST_USED_EVERY_S = 60.0  # a token's last use is written at most this often
MAX_EXPIRY_DAYS = 3650.0

WriteOp = Callable[[sqlite3.Connection], Any]
SessionCloser = Callable[[Any, str], None]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a user acting in one home, with their role there and the token's expiry."""

    user_id: str
    home_id: str
    token_id: str = ""
    role: Role = Role.GUEST
    expires_at: float | None = None


@dataclass(slots=True)
class TokenInfo:
    """A token as listed: never the secret, only what it is and how it has been used."""

    id: str
    user_id: str
    user_name: str
    home_id: str
    label: str
    created_at: float
    last_used_at: float | None = None
    expires_at: float | None = None
    revoked_at: float | None = None

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= time.time():
            return "expired"
        return "active"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenInfo:
        return cls(
            id=str(data["id"]),
            user_id=str(data["user_id"]),
            user_name=str(data.get("user_name") or ""),
            home_id=str(data["home_id"]),
            label=str(data.get("label") or ""),
            created_at=float(data["created_at"]),
            last_used_at=data.get("last_used_at"),
            expires_at=data.get("expires_at"),
            revoked_at=data.get("revoked_at"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user_id": self.user_id,
            "user_name": self.user_name,
            "home_id": self.home_id,
            "label": self.label,
            "created_at": self.created_at,
            "last_used_at": self.last_used_at,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
            "status": self.status,
        }


@dataclass(slots=True)
class Member:
    """A user and their role in one home."""

    user_id: str
    name: str
    role: Role

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Member:
        return cls(str(data["user_id"]), str(data["name"]), Role(data["role"]))

    def to_dict(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "name": self.name, "role": str(self.role)}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _unauthorized(message: str = "A valid bearer token is required.") -> HearthError:
    return HearthError(ErrorCode.UNAUTHORIZED, message)


def _lost_access(had: Role, has: Role | None) -> bool:
    """Whether a change from role `had` to `has` (None: no longer a member) takes away any permission."""
    return has is None or not ROLE_PERMISSIONS[had] <= ROLE_PERMISSIONS[has]


def expiry(days: float | None, now: float | None = None) -> float | None:
    """The expiry time for a lifetime in days (None: never)."""
    if days is None:
        return None
    if not 0 < days <= MAX_EXPIRY_DAYS:
        raise HearthError(
            ErrorCode.VALIDATION,
            f"A token's lifetime must be more than 0 and at most {MAX_EXPIRY_DAYS:g} days.",
            {"field": "expires_days"},
        )
    return (now or time.time()) + days * 86400


class Auth:
    """Users, memberships, tokens and login codes. Verified tokens are cached in memory; a revocation in this process
    drops them at once, and `sync()` (run every second by the core) picks up changes other processes made."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, Principal] = {}  # token hash -> principal
        self._roles: dict[tuple[str, str], Role | None] = {}  # (home, user) -> role
        self._used: dict[str, float] = {}  # token id -> last use seen
        self._written: dict[str, float] = {}  # token id -> last use written
        self._sessions: weakref.WeakKeyDictionary[Any, Principal] = weakref.WeakKeyDictionary()
        self.session_closer: SessionCloser | None = None  # set by the web layer: closes a live connection
        self._revision = self._read_revision()

    # -- users and memberships -----------------------------------------------------------------------------------
    @staticmethod
    def _name(name: str) -> str:
        name = " ".join(str(name).split())
        if not name or len(name) > 64:
            raise HearthError(ErrorCode.VALIDATION, "A user name must be 1-64 characters.", {"field": "name"})
        return name

    def _require_home(self, home_id: str) -> None:
        if self.store.query_one("SELECT id FROM homes WHERE id = ?", (home_id,)) is None:
            raise HearthError(ErrorCode.NOT_FOUND, f"There is no home {home_id!r}.", {"home": home_id})

    def user_id(self, name: str) -> str | None:
        row = self.store.query_one("SELECT id FROM users WHERE name = ?", (self._name(name),))
        return str(row["id"]) if row else None

    def ensure_user(self, name: str, home_id: str, role: str = "owner") -> str:
        """The user's id (created if new), made a member of `home_id` (an existing membership is kept)."""
        user_id, ops = self.member_ops(name, home_id, Role(role), existing_ok=True)
        self.store.write_sync(*ops)
        self._roles.clear()
        return user_id

    def member_ops(self, name: str, home_id: str, role: Role, existing_ok: bool = False) -> tuple[str, list[WriteOp]]:
        """Ops that make `name` (a new user, or an existing one) a member of the home with `role`."""
        name = self._name(name)
        self._require_home(home_id)
        row = self.store.query_one("SELECT id FROM users WHERE name = ?", (name,))
        user_id = str(row["id"]) if row else f"u_{uuid.uuid4().hex[:12]}"
        if row and not existing_ok and self.role(home_id, user_id) is not None:
            raise HearthError(
                ErrorCode.CONFLICT, f"{name} is already a member of this home.", {"user": user_id, "name": name}
            )
        now = time.time()
        return user_id, [
            lambda c: c.execute("INSERT OR IGNORE INTO users VALUES (?, ?, ?)", (user_id, name, now)),
            lambda c: c.execute("INSERT OR IGNORE INTO memberships VALUES (?, ?, ?)", (home_id, user_id, str(role))),
        ]

    def role(self, home_id: str, user_id: str) -> Role | None:
        """The user's role in the home, or None when they are not a member (cached)."""
        key = (home_id, user_id)
        if key in self._roles:
            return self._roles[key]
        row = self.store.query_one(
            "SELECT role FROM memberships WHERE home_id = ? AND user_id = ?",
            (home_id, user_id),
        )
        found = Role(row["role"]) if row else None
        self._roles[key] = found
        return found

    def members(self, home_id: str) -> list[Member]:
        rows = self.store.query(
            "SELECT m.user_id, u.name, m.role FROM memberships m JOIN users u ON u.id = m.user_id "
            "WHERE m.home_id = ? ORDER BY u.name",
            (home_id,),
        )
        return [Member.from_dict(r) for r in rows]

    def member(self, home_id: str, user_id: str) -> Member:
        for m in self.members(home_id):
            if m.user_id == user_id:
                return m
        raise HearthError(ErrorCode.NOT_FOUND, "There is no such member in this home.", {"user": user_id})

    def _owners(self, home_id: str) -> int:
        row = self.store.query_one(
            "SELECT COUNT(*) AS n FROM memberships WHERE home_id = ? AND role = 'owner'", (home_id,)
        )
        return int(row["n"]) if row else 0

    def set_role_ops(self, home_id: str, user_id: str, role: Role) -> list[WriteOp]:
        current = self.member(home_id, user_id)
        if current.role == Role.OWNER and role != Role.OWNER and self._owners(home_id) <= 1:
            raise HearthError(ErrorCode.CONFLICT, "A home needs at least one owner.", {"user": user_id})
        return [
            lambda c: c.execute(
                "UPDATE memberships SET role = ? WHERE home_id = ? AND user_id = ?", (str(role), home_id, user_id)
            )
        ]

    def remove_member_ops(self, home_id: str, user_id: str) -> list[WriteOp]:
        """Ops that remove the user from the home and revoke their tokens there."""
        current = self.member(home_id, user_id)
        if current.role == Role.OWNER and self._owners(home_id) <= 1:
            raise HearthError(ErrorCode.CONFLICT, "A home needs at least one owner.", {"user": user_id})
        now = time.time()
        return [
            lambda c: c.execute(
                "UPDATE api_tokens SET revoked_at = ? WHERE home_id = ? AND user_id = ? AND revoked_at IS NULL",
                (now, home_id, user_id),
            ),
            lambda c: c.execute("DELETE FROM login_codes WHERE home_id = ? AND user_id = ?", (home_id, user_id)),
            lambda c: c.execute("DELETE FROM memberships WHERE home_id = ? AND user_id = ?", (home_id, user_id)),
        ]

    def members_changed(self, home_id: str, user_id: str) -> None:
        """After a committed role change or removal: forget cached roles and end sessions that lost their access or
        some of it (a live connection keeps the role it authenticated with, so a demoted one must reconnect)."""
        self._roles.clear()
        role = self.role(home_id, user_id)
        self._cache = {k: v for k, v in self._cache.items() if not (v.home_id == home_id and v.user_id == user_id)}
        reason = "You are no longer a member of this home." if role is None else "Your role in this home changed."
        self._end(lambda p: p.home_id == home_id and p.user_id == user_id and _lost_access(p.role, role), reason)

    # -- tokens --------------------------------------------------------------------------------------------------
    def new_token(
        self, user_id: str, home_id: str, label: str = "", expires_at: float | None = None
    ) -> tuple[str, TokenInfo, list[WriteOp]]:
        """A new bearer token (the secret, its listing, and the ops that store its hash)."""
        if self.role(home_id, user_id) is None:
            raise HearthError(ErrorCode.FORBIDDEN, "That user is not a member of that home.")
        label = " ".join(str(label).split())[:100]
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        name_row = self.store.query_one("SELECT name FROM users WHERE id = ?", (user_id,))
        info = TokenInfo(
            f"t_{uuid.uuid4().hex[:12]}",
            user_id,
            str(name_row["name"]) if name_row else "",
            home_id,
            label,
            time.time(),
            expires_at=expires_at,
        )
        row = (info.id, user_id, home_id, hash_token(token), label, info.created_at, expires_at)
        op: WriteOp = lambda c: c.execute(  # noqa: E731
            "INSERT INTO api_tokens (id, user_id, home_id, token_hash, label, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            row,
        )
        return token, info, [op]

    def create_token(self, user_id: str, home_id: str, label: str = "", expires_days: float | None = None) -> str:
        """A new bearer token for the user in the home, stored now (start-up, CLI, tests)."""
        token, _, ops = self.new_token(user_id, home_id, label, expiry(expires_days))
        self.store.write_sync(*ops)
        return token

    def tokens(self, home_id: str | None = None) -> list[TokenInfo]:
        """Tokens of one home (or of every home), newest first; never the secrets."""
        where, params = ("WHERE t.home_id = ?", (home_id,)) if home_id is not None else ("", ())
        rows = self.store.query(
            "SELECT t.id, t.user_id, u.name AS user_name, t.home_id, t.label, t.created_at, t.last_used_at, "
            f"t.expires_at, t.revoked_at FROM api_tokens t JOIN users u ON u.id = t.user_id {where} "
            "ORDER BY t.created_at DESC, t.rowid DESC",
            params,
        )
        out = []
        for row in rows:
            info = TokenInfo.from_dict(row)
            seen = self._used.get(info.id)
            if seen is not None and (info.last_used_at is None or seen > info.last_used_at):
                info.last_used_at = seen
            out.append(info)
        return out

    def token(self, token_id: str, home_id: str | None = None) -> TokenInfo:
        for info in self.tokens(home_id):
            if info.id == token_id:
                return info
        raise HearthError(ErrorCode.NOT_FOUND, f"There is no token {token_id!r}.", {"token": token_id})

    def revoke_ops(self, token_id: str, home_id: str | None = None) -> list[WriteOp]:
        """Ops that revoke a token (NOT_FOUND unless it exists, in `home_id` when given)."""
        self.token(token_id, home_id)
        now = time.time()
        return [
            lambda c: c.execute(
                "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now, token_id)
            )
        ]

    def revoked(self, token_id: str) -> None:
        """After a committed revocation: the token stops working at once, and its live connections are closed."""
        self._cache = {k: v for k, v in self._cache.items() if v.token_id != token_id}
        self._end(lambda p: p.token_id == token_id, "This token was revoked.")

    def revoke(self, token_id: str) -> None:
        """Revoke a token now (CLI, tests)."""
        self.store.write_sync(*self.revoke_ops(token_id))
        self.revoked(token_id)

    def verify(self, token: str | None) -> Principal:
        """The principal for a bearer token, or UNAUTHORIZED (unknown, revoked or expired)."""
        if not token or len(token) > 200 or not token.startswith(TOKEN_PREFIX):
            raise _unauthorized()
        digest = hash_token(token)
        now = time.time()
        found = self._cache.get(digest)
        if found is None:
            row = self.store.query_one(
                "SELECT t.id, t.user_id, t.home_id, t.token_hash, t.expires_at, t.revoked_at, m.role "
                "FROM api_tokens t LEFT JOIN memberships m ON m.home_id = t.home_id AND m.user_id = t.user_id "
                "WHERE t.token_hash = ?",
                (digest,),
            )
            if row is None or not hmac.compare_digest(row["token_hash"], digest):
                raise _unauthorized()
            if row["revoked_at"] is not None:
                raise _unauthorized("This token was revoked.")
            if row["role"] is None:
                raise _unauthorized("This token's user is no longer a member of its home.")
            found = Principal(row["user_id"], row["home_id"], row["id"], Role(row["role"]), row["expires_at"])
            if found.expires_at is None or found.expires_at > now:
                self._cache[digest] = found
        if found.expires_at is not None and found.expires_at <= now:
            self._cache.pop(digest, None)
            raise _unauthorized("This token has expired.")
        self._used[found.token_id] = now
        return found

    def touch(self, who: Principal) -> None:
        """Note that a live connection used its token now (written with the next last-use update)."""
        if who.token_id:
            self._used[who.token_id] = time.time()

    # -- login links ---------------------------------------------------------------------------------------------
    def create_login_code(self, user_id: str, home_id: str, ttl_s: float = LOGIN_CODE_TTL_S) -> str:
        """A one-time code for a login link; it works once, within `ttl_s`."""
        if self.role(home_id, user_id) is None:
            raise HearthError(ErrorCode.FORBIDDEN, "That user is not a member of that home.")
        code = LOGIN_PREFIX + secrets.token_urlsafe(24)
        now = time.time()
        row = (hash_token(code), user_id, home_id, now, now + ttl_s)
        self.store.write_sync(
            lambda c: c.execute("DELETE FROM login_codes WHERE expires_at < ? OR used_at IS NOT NULL", (now,)),
            lambda c: c.execute(
                "INSERT INTO login_codes (code_hash, user_id, home_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                row,
            ),
        )
        return code

    def exchange_ops(self, code: str, label: str = "web chat (login link)") -> tuple[str, TokenInfo, list[WriteOp]]:
        """Ops that use up a login code and store a session token in its place (the op fails if the code was used
        meanwhile, so a code gives at most one token)."""
        refused = _unauthorized("This login link has expired or was already used; `hearth token link` makes a new one.")
        if not code or len(code) > 200 or not code.startswith(LOGIN_PREFIX):
            raise refused
        digest = hash_token(code)
        now = time.time()
        row = self.store.query_one(
            "SELECT user_id, home_id, expires_at, used_at FROM login_codes WHERE code_hash = ?", (digest,)
        )
        if row is None or row["used_at"] is not None or row["expires_at"] <= now:
            raise refused
        token, info, ops = self.new_token(row["user_id"], row["home_id"], label, expiry(SESSION_TTL_DAYS, now))

        def use(c: sqlite3.Connection) -> None:
            cur = c.execute(
                "UPDATE login_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL AND expires_at > ?",
                (now, digest, now),
            )
            if cur.rowcount != 1:
                raise refused

        return token, info, [use, *ops]

    # -- live connections ----------------------------------------------------------------------------------------
    def track(self, connection: Any, who: Principal) -> None:
        """Remember a live connection (a WebSocket) so that revocation and expiry can close it."""
        self._sessions[connection] = who

    def _end(self, matches: Callable[[Principal], bool], reason: str) -> int:
        ended = 0
        for connection, who in list(self._sessions.items()):
            if matches(who):
                self._sessions.pop(connection, None)
                if self.session_closer is not None:
                    self.session_closer(connection, reason)
                ended += 1
        return ended

    # -- upkeep (the core runs this every second) ----------------------------------------------------------------
    def _read_revision(self) -> int:
        try:
            row = self.store.query_one("SELECT n FROM auth_revision WHERE id = 1")
        except sqlite3.Error:
            return 0
        return int(row["n"]) if row else 0

    def last_used_change(self, now: float | None = None, force: bool = False) -> Change | None:
        """A change that records tokens' last use: at most once a minute per token (all pending when `force`); what
        it wrote counts as written only once it has committed (a failed write is tried again next round)."""
        now = now or time.time()
        due = [
            (ts, token_id)
            for token_id, ts in self._used.items()
            if ts > self._written.get(token_id, 0.0)
            and (force or now - self._written.get(token_id, 0.0) >= LAST_USED_EVERY_S)
        ]
        if not due:
            return None

        def written() -> None:
            for ts, token_id in due:
                self._written[token_id] = max(ts, self._written.get(token_id, 0.0))

        return (
            Change()
            .write(
                lambda c: c.executemany(
                    "UPDATE api_tokens SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE id = ?", due
                )
            )
            .then(written)
        )

    def sync(self, now: float | None = None) -> bool:
        """Close connections whose token expired; when another process changed tokens, memberships or homes, drop the
        caches and close connections that lost access. Returns True when something changed elsewhere."""
        now = now or time.time()
        self._end(lambda p: p.expires_at is not None and p.expires_at <= now, "This token has expired.")
        revision = self._read_revision()
        if revision == self._revision:
            return False
        self._revision = revision
        self._cache.clear()
        self._roles.clear()
        live = {who.token_id for who in self._sessions.values()}
        if live:
            marks = ",".join("?" * len(live))
            rows = self.store.query(
                "SELECT t.id, m.role FROM api_tokens t "
                "JOIN memberships m ON m.home_id = t.home_id AND m.user_id = t.user_id "
                f"WHERE t.id IN ({marks}) AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?)",
                (*live, now),
            )
            valid = {r["id"]: Role(r["role"]) for r in rows}
            self._end(lambda p: p.token_id not in valid, "This token was revoked.")
            self._end(lambda p: _lost_access(p.role, valid[p.token_id]), "Your role in this home changed.")
        return True
