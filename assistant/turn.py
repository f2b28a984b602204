"""The turn (what someone said, and where) and the reply (what Hearth says and did), with from_dict/to_dict."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from assistant.devices import Command, DeviceState


class ReplyKind(StrEnum):
    """What kind of answer a reply is; screens and satellites may treat them differently."""

    DONE = "done"  # an action was carried out
    ANSWER = "answer"  # a question was answered (state, help, small talk)
    ASK = "ask"  # a slot is missing or ambiguous: the next turn fills it
    CONFIRM = "confirm"  # a risky action waits for yes or no
    CANCELLED = "cancelled"
    NOT_UNDERSTOOD = "not_understood"
    NOT_BUILT = "not_built"  # the intent was understood but its service does not exist yet
    ERROR = "error"


@dataclass(slots=True)
class Turn:
    """One utterance from one user in one conversation, from any channel."""

    text: str
    home_id: str
    user_id: str
    conversation_id: str
    channel: str = "api"
    area: str | None = None  # default area, e.g. the room a satellite is in
    language: str = "en"
    reply_to: str | None = None  # the id of the question this turn answers (a button), if the client knows it

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Turn:
        return cls(
            text=str(data["text"]),
            home_id=str(data["home_id"]),
            user_id=str(data["user_id"]),
            conversation_id=str(data["conversation_id"]),
            channel=str(data.get("channel", "api")),
            area=data.get("area"),
            language=str(data.get("language", "en")),
            reply_to=data.get("reply_to"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "home_id": self.home_id,
            "user_id": self.user_id,
            "conversation_id": self.conversation_id,
            "channel": self.channel,
            "area": self.area,
            "language": self.language,
            "reply_to": self.reply_to,
        }


@dataclass(slots=True)
class ActionTaken:
    """One device command carried out in a turn, with the state before and after (for undo)."""

    device_id: str
    command: Command
    before: DeviceState
    after: DeviceState

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ActionTaken:
        return cls(
            device_id=str(data["device_id"]),
            command=Command.from_dict(data["command"]),
            before=DeviceState.from_dict(data.get("before") or {}),
            after=DeviceState.from_dict(data.get("after") or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "command": self.command.to_dict(),
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
        }


@dataclass(slots=True)
class Reply:
    """What Hearth answers: speech, an optional card for screens, the actions taken, and whether it waits."""

    speech: str
    kind: ReplyKind = ReplyKind.ANSWER
    card: dict[str, Any] | None = None
    actions: list[ActionTaken] = field(default_factory=list)
    expects_answer: bool = False
    intent: str | None = None
    conversation_id: str = ""
    error_code: str | None = None
    question_id: str | None = None  # set when the reply asks a question: send it back as "reply_to"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        return cls(
            speech=str(data["speech"]),
            kind=ReplyKind(data.get("kind", ReplyKind.ANSWER)),
            card=data.get("card"),
            actions=[ActionTaken.from_dict(a) for a in data.get("actions", [])],
            expects_answer=bool(data.get("expects_answer", False)),
            intent=data.get("intent"),
            conversation_id=str(data.get("conversation_id", "")),
            error_code=data.get("error_code"),
            question_id=data.get("question_id"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "speech": self.speech,
            "kind": str(self.kind),
            "card": self.card,
            "actions": [a.to_dict() for a in self.actions],
            "expects_answer": self.expects_answer,
            "intent": self.intent,
            "conversation_id": self.conversation_id,
            "error_code": self.error_code,
            "question_id": self.question_id,
        }
