"""Versioned schema migrations, applied in order at start; each runs once and is recorded in schema_version."""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "initial schema",
        """
        CREATE TABLE homes (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at REAL NOT NULL);
        CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at REAL NOT NULL);
        CREATE TABLE memberships (
            home_id TEXT NOT NULL REFERENCES homes(id) ON DELETE CASCADE,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            role TEXT NOT NULL DEFAULT 'owner',
            PRIMARY KEY (home_id, user_id)
        );
        CREATE TABLE api_tokens (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            home_id TEXT NOT NULL REFERENCES homes(id) ON DELETE CASCADE,
            token_hash TEXT NOT NULL UNIQUE,
            label TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            revoked_at REAL
        );
        CREATE TABLE areas (
            home_id TEXT NOT NULL REFERENCES homes(id) ON DELETE CASCADE,
            id TEXT NOT NULL,
            name TEXT NOT NULL,
            aliases TEXT NOT NULL DEFAULT '[]',
            PRIMARY KEY (home_id, id)
        );
        CREATE TABLE devices (
            home_id TEXT NOT NULL REFERENCES homes(id) ON DELETE CASCADE,
            id TEXT NOT NULL,
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            area TEXT,
            capabilities TEXT NOT NULL DEFAULT '[]',
            adapter TEXT NOT NULL,
            aliases TEXT NOT NULL DEFAULT '[]',
            address TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            PRIMARY KEY (home_id, id)
        );
        CREATE TABLE device_state (
            home_id TEXT NOT NULL,
            device_id TEXT NOT NULL,
            state TEXT NOT NULL,
            available INTEGER NOT NULL DEFAULT 1,
            updated_at REAL NOT NULL,
            PRIMARY KEY (home_id, device_id)
        );
        CREATE TABLE scenes (
            home_id TEXT NOT NULL REFERENCES homes(id) ON DELETE CASCADE,
            id TEXT NOT NULL,
            name TEXT NOT NULL,
            states TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (home_id, id)
        );
        CREATE TABLE conversations (
            home_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            id TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (home_id, user_id, id)
        );
        CREATE TABLE turns (
            id INTEGER PRIMARY KEY,
            home_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            ts REAL NOT NULL,
            channel TEXT NOT NULL,
            text TEXT,
            intent TEXT,
            reply TEXT,
            reply_kind TEXT
        );
        CREATE INDEX turns_ts ON turns (ts);
        CREATE INDEX turns_conversation ON turns (home_id, user_id, conversation_id);
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            home_id TEXT NOT NULL,
            ts REAL NOT NULL,
            type TEXT NOT NULL,
            data TEXT NOT NULL
        );
        CREATE INDEX events_home ON events (home_id, id);
        CREATE TRIGGER events_append_only BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
        """,
    ),
    (
        2,
        "floors: an area may belong to a floor",
        """
        CREATE TABLE floors (
            home_id TEXT NOT NULL REFERENCES homes(id) ON DELETE CASCADE,
            id TEXT NOT NULL,
            name TEXT NOT NULL,
            aliases TEXT NOT NULL DEFAULT '[]',
            PRIMARY KEY (home_id, id)
        );
        ALTER TABLE areas ADD COLUMN floor TEXT;
        """,
    ),
    (
        3,
        "token lifecycle (last use, expiry), one-time login codes, member roles, auth revision",
        """
        ALTER TABLE api_tokens ADD COLUMN last_used_at REAL;
        ALTER TABLE api_tokens ADD COLUMN expires_at REAL;
        CREATE INDEX api_tokens_home ON api_tokens (home_id, created_at);
        CREATE TABLE login_codes (
            code_hash TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            home_id TEXT NOT NULL REFERENCES homes(id) ON DELETE CASCADE,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            used_at REAL
        );
        CREATE TABLE auth_revision (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
        INSERT INTO auth_revision VALUES (1, 0);
        CREATE TRIGGER api_tokens_revoked AFTER UPDATE OF revoked_at, expires_at ON api_tokens
        BEGIN UPDATE auth_revision SET n = n + 1; END;
        CREATE TRIGGER api_tokens_deleted AFTER DELETE ON api_tokens
        BEGIN UPDATE auth_revision SET n = n + 1; END;
        CREATE TRIGGER memberships_changed AFTER UPDATE ON memberships
        BEGIN UPDATE auth_revision SET n = n + 1; END;
        CREATE TRIGGER memberships_deleted AFTER DELETE ON memberships
        BEGIN UPDATE auth_revision SET n = n + 1; END;
        CREATE TRIGGER homes_added AFTER INSERT ON homes
        BEGIN UPDATE auth_revision SET n = n + 1; END;
        CREATE TRIGGER memberships_role_insert BEFORE INSERT ON memberships
        WHEN NEW.role NOT IN ('owner', 'member', 'guest')
        BEGIN SELECT RAISE(ABORT, 'role must be owner, member or guest'); END;
        CREATE TRIGGER memberships_role_update BEFORE UPDATE OF role ON memberships
        WHEN NEW.role NOT IN ('owner', 'member', 'guest')
        BEGIN SELECT RAISE(ABORT, 'role must be owner, member or guest'); END;
        """,
    ),
]
