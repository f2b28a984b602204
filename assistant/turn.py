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


# Intents that undo each other: hearing one for the other is the worst slip speech can make.
OPPOSITE_INTENTS: dict[str, str] = {
    "turn_on": "turn_off", "turn_off": "turn_on", "lock": "unlock", "unlock": "lock",
    "open_cover": "close_cover", "close_cover": "open_cover",
}  # fmt: skip
# Intents that change something; a doubtful spoken reading of one is confirmed before it runs.
ACTING_INTENTS = frozenset(
    {
        *OPPOSITE_INTENTS, "set_brightness", "set_color", "set_temperature", "activate_scene", "rename_device",
        "assign_area", "create_automation", "delete_automation", "upgrade_plan", "cancel_subscription", "delete_data",
    }
)  # fmt: skip
SURE_SPEECH = 0.5  # below this share the spoken reading is doubtful
OPPOSITE_SHARE = 0.1  # an opposite reading with at least this share makes the spoken reading doubtful


@dataclass(frozen=True, slots=True)
class SpokenReading:
    """Another way the recogniser heard an utterance: its words, what the NLU made of them, and its share."""

    text: str
    intent: str
    share: float  # of the recogniser's probability mass, after rescoring (0..1)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpokenReading:
        return cls(str(data["text"]), str(data["intent"]), float(data["share"]))

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "intent": self.intent, "share": round(self.share, 4)}


@dataclass(frozen=True, slots=True)
class SpeechEvidence:
    """How sure speech recognition was of a spoken turn: the share of the chosen meaning, the words it was least
    sure of, and the other readings it heard."""

    confidence: float  # share of the probability mass on readings that mean what the chosen one means (0..1)
    alternatives: tuple[SpokenReading, ...] = ()
    unsure_words: tuple[str, ...] = ()

    def doubt(self, intent: str) -> str | None:
        """Why a reading with this intent should be confirmed before it acts ("opposite", "unsure"), or None."""
        if intent not in ACTING_INTENTS:
            return None
        opposite = OPPOSITE_INTENTS.get(intent)
        if opposite is not None and sum(a.share for a in self.alternatives if a.intent == opposite) >= OPPOSITE_SHARE:
            return "opposite"
        if self.confidence < SURE_SPEECH:
            return "unsure"
        return None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpeechEvidence:
        return cls(
            float(data["confidence"]),
            tuple(SpokenReading.from_dict(a) for a in data.get("alternatives", [])),
            tuple(str(w) for w in data.get("unsure_words", [])),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "confidence": round(self.confidence, 4),
            "alternatives": [a.to_dict() for a in self.alternatives],
            "unsure_words": list(self.unsure_words),
        }


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
    speech: SpeechEvidence | None = None  # spoken turns: how sure recognition was, and what else it heard

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Turn:
        speech = data.get("speech")
        return cls(
            text=str(data["text"]),
            home_id=str(data["home_id"]),
            user_id=str(data["user_id"]),
            conversation_id=str(data["conversation_id"]),
            channel=str(data.get("channel", "api")),
            area=data.get("area"),
            language=str(data.get("language", "en")),
            reply_to=data.get("reply_to"),
            speech=SpeechEvidence.from_dict(speech) if speech else None,
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
            "speech": self.speech.to_dict() if self.speech is not None else None,
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
