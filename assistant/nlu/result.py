"""NLU result types in Rasa's /model/parse shape, with from_dict/to_dict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FALLBACK_INTENT = "nlu_fallback"

INTENTS: tuple[str, ...] = (
    "turn_on", "turn_off", "set_brightness", "set_color", "set_temperature", "lock", "unlock",
    "open_cover", "close_cover", "query_state", "activate_scene", "create_automation",
    "list_automations", "delete_automation", "undo", "affirm", "deny", "cancel", "help", "greet",
    "goodbye", "thank", "out_of_scope", "report_problem", "how_to", "contact_support",
    "system_status", "current_plan", "upgrade_plan", "cancel_subscription", "value_report",
    "start_onboarding", "discover_devices", "rename_device", "assign_area", "export_data",
    "delete_data", "privacy_settings", "adjust", "inform", "correct",
)  # fmt: skip

ENTITIES: tuple[str, ...] = (
    "device", "area", "device_class", "brightness", "color", "temperature", "duration", "time",
    "scene", "tier", "name", "position",
)  # fmt: skip


@dataclass(slots=True)
class Entity:
    """One extracted entity. `value` is normalised (device id, area id, integer percent, ...)."""

    entity: str
    value: Any
    start: int
    end: int
    text: str = ""
    confidence: float = 1.0
    extractor: str = "hearth"
    # For a mention that fits several devices ("the lamp"): the candidate device ids.
    candidates: list[str] | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entity:
        return cls(
            entity=str(data["entity"]),
            value=data.get("value"),
            start=int(data.get("start", 0)),
            end=int(data.get("end", 0)),
            text=str(data.get("text", "")),
            confidence=float(data.get("confidence_entity", data.get("confidence", 1.0))),
            extractor=str(data.get("extractor", "hearth")),
            candidates=list(data["candidates"]) if data.get("candidates") else None,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "entity": self.entity,
            "value": self.value,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "confidence_entity": round(self.confidence, 4),
            "extractor": self.extractor,
        }
        if self.candidates:
            out["candidates"] = list(self.candidates)
        return out


@dataclass(slots=True)
class IntentScore:
    """An intent name with its confidence."""

    name: str
    confidence: float

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IntentScore:
        return cls(name=str(data["name"]), confidence=float(data["confidence"]))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "confidence": round(self.confidence, 4)}


@dataclass(slots=True)
class NluResult:
    """What the NLU made of one utterance: Rasa's /model/parse JSON shape."""

    text: str
    intent: IntentScore
    entities: list[Entity] = field(default_factory=list)
    intent_ranking: list[IntentScore] = field(default_factory=list)
    # A state change the NLU is not sure of (near its threshold, or the runner-up close): ask before acting.
    uncertain: bool = False

    @property
    def is_fallback(self) -> bool:
        return self.intent.name == FALLBACK_INTENT

    def first(self, entity: str) -> Entity | None:
        for ent in self.entities:
            if ent.entity == entity:
                return ent
        return None

    def values(self, entity: str) -> list[Any]:
        return [e.value for e in self.entities if e.entity == entity]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NluResult:
        return cls(
            text=str(data["text"]),
            intent=IntentScore.from_dict(data["intent"]),
            entities=[Entity.from_dict(e) for e in data.get("entities", [])],
            intent_ranking=[IntentScore.from_dict(i) for i in data.get("intent_ranking", [])],
            uncertain=bool(data.get("uncertain", False)),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "text": self.text,
            "intent": self.intent.to_dict(),
            "entities": [e.to_dict() for e in self.entities],
            "intent_ranking": [i.to_dict() for i in self.intent_ranking],
        }
        if self.uncertain:
            out["uncertain"] = True  # a Hearth extension; Rasa clients ignore unknown keys
        return out
