"""Conversation state per user and conversation id: context, pending questions, undo history; persisted."""

from __future__ import annotations

import json
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from assistant.store import Store, WriteOp, dumps

PENDING_TTL_S = 300.0
HISTORY_DEPTH = 10


@dataclass(slots=True)
class LastRequest:
    """The last request handled, for follow-ups ("the bedroom as well") and corrections ("no, I meant ...").

    Its words (`text`) stay in memory only: what was said is kept only as the transcript retention allows."""

    intent: str
    slots: dict[str, Any]
    turn: int | None = None
    text: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LastRequest:
        turn = data.get("turn")
        return cls(str(data["intent"]), dict(data.get("slots") or {}), int(turn) if turn is not None else None)

    def to_dict(self) -> dict[str, Any]:
        return {"intent": self.intent, "slots": self.slots, "turn": self.turn}


@dataclass(slots=True)
class Pending:
    """A question Hearth asked and waits on: a slot to fill, or "confirm"."""

    intent: str
    slots: dict[str, Any]
    awaiting: str
    question: str
    options: list[str] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)
    # The question's id: a reply that expects an answer carries it, and a button sends it back as "reply_to".
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    # Further confirmations asked in the same question (two risky parts of one compound request): one "yes" runs
    # them all, in order; each is {"intent": str, "slots": {...}}.
    then: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pending:
        return cls(
            intent=str(data["intent"]),
            slots=dict(data.get("slots") or {}),
            awaiting=str(data["awaiting"]),
            question=str(data.get("question", "")),
            options=list(data.get("options") or []),
            created_at=float(data.get("created_at", time.time())),
            id=str(data.get("id") or uuid.uuid4().hex[:12]),
            then=[dict(t) for t in data.get("then") or []],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "intent": self.intent,
            "slots": self.slots,
            "awaiting": self.awaiting,
            "question": self.question,
            "options": self.options,
            "created_at": self.created_at,
            "id": self.id,
            "then": self.then,
        }


@dataclass(slots=True)
class ConversationState:
    """What Hearth remembers of one conversation."""

    home_id: str
    user_id: str
    id: str
    last_devices: list[str] = field(default_factory=list)
    pending: Pending | None = None
    # Undo history, newest last: one group per undoable turn, in stored form (so that saving the conversation every
    # turn does not serialise it again): {"turn": n, "actions": [ActionTaken dicts], "changes": [journal changes]},
    # or {"turn": n, "irreversible": [what]} for a change that cannot be undone.
    history: list[dict[str, Any]] = field(default_factory=list)
    turns: int = 0
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    last_action: LastRequest | None = None

    def live_pending(self) -> Pending | None:
        if self.pending and time.time() - self.pending.created_at > PENDING_TTL_S:
            self.pending = None
        return self.pending

    def remember(self, group: dict[str, Any]) -> None:
        self.history.append(group)
        del self.history[:-HISTORY_DEPTH]

    def pop_undo(self) -> dict[str, Any] | None:
        """The newest undo step, taken off the history (None when there is none)."""
        return self.history.pop() if self.history else None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConversationState:
        return cls(
            home_id=str(data["home_id"]),
            user_id=str(data["user_id"]),
            id=str(data["id"]),
            last_devices=list(data.get("last_devices") or []),
            pending=Pending.from_dict(data["pending"]) if data.get("pending") else None,
            history=[_group(g) for g in data.get("history") or []],
            turns=int(data.get("turns", 0)),
            created_at=float(data.get("created_at", time.time())),
            updated_at=float(data.get("updated_at", time.time())),
            last_action=LastRequest.from_dict(data["last_action"]) if data.get("last_action") else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "home_id": self.home_id,
            "user_id": self.user_id,
            "id": self.id,
            "last_devices": self.last_devices,
            "pending": self.pending.to_dict() if self.pending else None,
            "history": self.history,
            "turns": self.turns,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "last_action": self.last_action.to_dict() if self.last_action else None,
        }


def _group(raw: Any) -> dict[str, Any]:
    """An undo step as stored; a bare list of actions is the older form."""
    return {"turn": -1, "actions": list(raw)} if isinstance(raw, list) else dict(raw)


class Conversations:
    """Conversation states: an LRU cache in front of the store."""

    def __init__(self, store: Store, capacity: int = 10_000) -> None:
        self.store = store
        self.capacity = capacity
        self._cache: OrderedDict[tuple[str, str, str], ConversationState] = OrderedDict()

    def get(self, home_id: str, user_id: str, conversation_id: str) -> ConversationState:
        key = (home_id, user_id, conversation_id)
        state = self._cache.get(key)
        if state is None:
            row = self.store.query_one(
                "SELECT state FROM conversations WHERE home_id = ? AND user_id = ? AND id = ?", key
            )
            state = (
                ConversationState.from_dict(json.loads(row["state"]))
                if row
                else ConversationState(home_id, user_id, conversation_id)
            )
            self._cache[key] = state
            if len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return state

    @staticmethod
    def save_op(state: ConversationState) -> WriteOp:
        state.updated_at = time.time()
        row = (
            state.home_id,
            state.user_id,
            state.id,
            dumps(state.to_dict()),
            state.created_at,
            state.updated_at,
        )
        return lambda c: c.execute(
            "INSERT INTO conversations VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (home_id, user_id, id) "
            "DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            row,
        )

    def drop(self, state: ConversationState) -> None:
        """Forget one cached state (its turn failed to commit: the store's copy is the truth)."""
        self._cache.pop((state.home_id, state.user_id, state.id), None)

    def forget(self) -> None:
        """Drop the cache (the store stays the truth)."""
        self._cache.clear()
