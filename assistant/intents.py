"""Intent handlers: one per intent, with a declared slot schema validated before the handler runs."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from assistant.devices import DeviceKind
from assistant.errors import ErrorCode, HearthError
from assistant.nlu.result import NluResult
from assistant.registry import Home
from assistant.store import Change, WriteOp
from assistant.turn import Reply, Turn

if TYPE_CHECKING:
    from assistant.conversation import ConversationState
    from assistant.core import Core

TIERS = ("free", "premium", "professional", "enterprise")


class SlotType(StrEnum):
    """How a slot's entity values are checked and normalised."""

    DEVICE = "device"
    AREA = "area"
    DEVICE_CLASS = "device_class"
    PERCENT = "percent"
    TEMPERATURE = "temperature"
    COLOR = "color"
    SCENE = "scene"
    TIER = "tier"
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class Slot:
    """A declared slot: the entity it is filled from, its type, and the question asked when it is missing."""

    name: str
    type: SlotType
    required: bool = False
    prompt: str = ""


class SlotError(HearthError):
    """An entity value that does not fit its slot (spoken back to the user)."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(ErrorCode.VALIDATION, message, details)


@dataclass(slots=True)
class Ask:
    """The handler needs a slot: ask `question`; the next turn fills `slot` (optionally from `options`)."""

    question: str
    slot: str
    options: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Confirm:
    """The action is risky: ask `question`; "yes" runs the handler again with confirmed=True."""

    question: str


@dataclass(slots=True)
class Done:
    """The handler finished: the reply, extra write ops and staged changes (registry edits) to commit with the turn,
    and the devices now in context. Handlers never change memory themselves: staged changes apply after commit."""

    reply: Reply
    ops: list[WriteOp] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    context_devices: list[str] | None = None
    undoable: bool = True
    # Earlier undo steps this turn folds into its own (a correction reverts the last step and redoes it elsewhere:
    # one undo then goes back to before both).
    merge_undo: list[dict[str, Any]] = field(default_factory=list)


Outcome = Ask | Confirm | Done


@dataclass(slots=True)
class IntentCall:
    """Everything a handler gets: the turn, what NLU found, the validated slots, the home and the core."""

    turn: Turn
    nlu: NluResult
    slots: dict[str, Any]
    home: Home
    conversation: ConversationState
    core: Core
    confirmed: bool = False

    @property
    def text(self) -> str:
        return self.turn.text


class IntentHandler(ABC):
    """Handles one intent. `slots` is validated before `handle` runs."""

    intent: ClassVar[str]
    slots: ClassVar[tuple[Slot, ...]] = ()
    # A bare new target after this intent ("the bedroom as well") repeats it there. False for intents whose target
    # is not where the action happens (moving or renaming a device): a fragment never moves or renames anything.
    follow_up: ClassVar[bool] = True
    # Whether the area slot narrows the target ("the lights in the kitchen"); False when it is a destination (moving a
    # device): then a correction naming a room changes only the room, and the device stays.
    area_is_target: ClassVar[bool] = True

    @abstractmethod
    async def handle(self, call: IntentCall) -> Outcome:
        """Do the work (or ask, or ask for confirmation)."""


def _percent(value: Any, what: str) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SlotError(f"I need a percentage, not {value!r}.") from None
    if not 0 <= number <= 100:  # NaN fails this too
        said = f"{number:g} percent" if math.isfinite(number) else "that"
        raise SlotError(f"I can't set {said}: {what} goes from 0 to 100 percent.", value=str(value)[:40])
    return round(number)


def _temperature(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SlotError(f"I need a temperature, not {value!r}.") from None
    if 41 <= number <= 95:  # said in Fahrenheit
        number = (number - 32) * 5 / 9
    if not 5 <= number <= 35:
        raise SlotError("I can set temperatures between 5 and 35 degrees.", value=value)
    return round(number * 2) / 2


def validate_slots(slots: tuple[Slot, ...], nlu: NluResult, home: Home) -> dict[str, Any]:
    """Turn NLU entities into the slot values a handler declared; raise SlotError for values that do not fit.

    Device slots give `device` (list of ids) and, for an ambiguous mention, `device_options` and `device_mention`."""
    values: dict[str, Any] = {}
    for slot in slots:
        ents = [e for e in nlu.entities if e.entity == slot.name]
        if not ents:
            continue
        match slot.type:
            case SlotType.DEVICE:
                ids = [e.value for e in ents if not e.candidates and e.value in home.devices]
                if ids:
                    values["device"] = list(dict.fromkeys(ids))
                for e in ents:
                    if e.candidates:
                        values["device_options"] = [c for c in e.candidates if c in home.devices]
                        values["device_mention"] = e.text or str(e.value)
                        break
            case SlotType.AREA:
                areas = [e.value for e in ents if e.value in home.areas]
                if areas:
                    values[slot.name] = areas[0]
            case SlotType.DEVICE_CLASS:
                try:
                    values[slot.name] = str(DeviceKind(str(ents[0].value)))
                except ValueError:
                    pass
            case SlotType.PERCENT:
                values[slot.name] = _percent(ents[0].value, "the position" if slot.name == "position" else "brightness")
            case SlotType.TEMPERATURE:
                values[slot.name] = _temperature(ents[0].value)
            case SlotType.COLOR:
                values[slot.name] = str(ents[0].value).lower()
            case SlotType.SCENE:
                if ents[0].value in home.scenes:
                    values[slot.name] = ents[0].value
            case SlotType.TIER:
                tier = str(ents[0].value).lower()
                if tier not in TIERS:
                    raise SlotError(f"The plans are {', '.join(TIERS)}.", value=tier)
                values[slot.name] = tier
            case SlotType.TEXT:
                text = str(ents[0].value).strip()
                if not text or len(text) > 60:
                    raise SlotError("That name is too long; say something shorter.")
                values[slot.name] = text
    return values
