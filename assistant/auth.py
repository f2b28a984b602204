"""Users, homes membership and bearer tokens (stored as SHA-256 hashes, never in plain text)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass

from assistant.errors import ErrorCode, HearthError
from assistant.store import Store

TOKEN_PREFIX = "hth_"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a user acting in one home."""

    user_id: str
    home_id: str
    token_id: str = ""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Auth:
    """Creates users and tokens; verifies bearer tokens."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, Principal] = {}

    def ensure_user(self, name: str, home_id: str, role: str = "owner") -> str:
        """The user's id (created if new), made a member of `home_id`."""
        name = name.strip()
        if not name or len(name) > 64:
            raise HearthError(ErrorCode.VALIDATION, "A user name must be 1-64 characters.")
        if self.store.query_one("SELECT id FROM homes WHERE id = ?", (home_id,)) is None:
            raise HearthError(ErrorCode.NOT_FOUND, f"There is no home {home_id!r}.", {"home": home_id})
        row = self.store.query_one("SELECT id FROM users WHERE name = ?", (name,))
        user_id = row["id"] if row else f"u_{uuid.uuid4().hex[:12]}"
        now = time.time()
        self.store.write_sync(
            lambda c: c.execute("INSERT OR IGNORE INTO users VALUES (?, ?, ?)", (user_id, name, now)),
            lambda c: c.execute("INSERT OR IGNORE INTO memberships VALUES (?, ?, ?)", (home_id, user_id, role)),
        )
        return user_id

    def create_token(self, user_id: str, home_id: str, label: str = "") -> str:
        """A new bearer token for the user in the home; only its hash is stored."""
        if (
            self.store.query_one(
                "SELECT 1 AS ok FROM memberships WHERE home_id = ? AND user_id = ?",
                (home_id, user_id),
            )
            is None
        ):
            raise HearthError(ErrorCode.FORBIDDEN, "That user is not a member of that home.")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = (
            f"t_{uuid.uuid4().hex[:12]}",
            user_id,
            home_id,
            hash_token(token),
            label,
            time.time(),
        )
        self.store.write_sync(
            lambda c: c.execute(
                "INSERT INTO api_tokens (id, user_id, home_id, token_hash, label, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )
        )
        return token

    def verify(self, token: str | None) -> Principal:
        """The principal for a bearer token, or UNAUTHORIZED."""
        if not token or len(token) > 200 or not token.startswith(TOKEN_PREFIX):
            raise HearthError(ErrorCode.UNAUTHORIZED, "A valid bearer token is required.")
        digest = hash_token(token)
        cached = self._cache.get(digest)
        if cached is not None:
            return cached
        row = self.store.query_one(
            "SELECT id, user_id, home_id, token_hash FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL",
            (digest,),
        )
        if row is None or not hmac.compare_digest(row["token_hash"], digest):
            raise HearthError(ErrorCode.UNAUTHORIZED, "A valid bearer token is required.")
        principal = Principal(row["user_id"], row["home_id"], row["id"])
        self._cache[digest] = principal
        return principal

    def revoke(self, token_id: str) -> None:
        self.store.write_sync(
            lambda c: c.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ?", (time.time(), token_id))
        )
        self._cache = {k: v for k, v in self._cache.items() if v.token_id != token_id}
