"""Every message type survives to_dict → JSON → from_dict unchanged (one parametrized round trip)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from assistant.bus import BusEvent
from assistant.conversation import ConversationState, LastRequest, Pending
from assistant.devices import (
    Capability,
    Command,
    CommandName,
    Device,
    DeviceKind,
    DeviceState,
    StateUpdate,
)
from assistant.nlu.result import Entity, IntentScore, NluResult
from assistant.turn import ActionTaken, Reply, ReplyKind, SpeechEvidence, SpokenReading, Turn

STATE = DeviceState(on=True, brightness=40, color="blue")
ACTION = ActionTaken(
    "kitchen_lights",
    Command(CommandName.SET_BRIGHTNESS, {"brightness": 40}),
    DeviceState(on=False),
    STATE,
)
NLU = NluResult(
    "turn on the lamp",
    IntentScore("turn_on", 0.9),
    [Entity("device", "lamp", 12, 16, "lamp", 0.8, candidates=["floor_lamp", "desk_lamp"])],
    [IntentScore("turn_on", 0.9), IntentScore("turn_off", 0.05)],
)

PAYLOADS: list[Any] = [
    Turn("turn on the lights", "demo", "u1", "c1", "satellite", "kitchen"),
    Turn(
        "turn off the fan",
        "demo",
        "u1",
        "c2",
        "voice",
        speech=SpeechEvidence(0.75, (SpokenReading("turn on the fan", "turn_on", 0.25),), ("off",)),
    ),
    Reply("Done.", ReplyKind.DONE, {"x": [1]}, [ACTION], True, "turn_on", "c1", None),
    ACTION,
    Command(CommandName.TURN_ON),
    STATE,
    Device(
        "demo",
        "lamp",
        "lamp",
        DeviceKind.LIGHT,
        "office",
        frozenset({Capability.ON_OFF}),
        "virtual",
        ("light",),
        "a",
    ),
    StateUpdate("demo", "lamp", STATE, False),
    NLU,
    NLU.entities[0],
    NLU.intent,
    Pending("turn_on", {"device_options": ["a", "b"]}, "device", "Which?", ["a", "b"], 5.0),
    ConversationState(
        "demo",
        "u1",
        "c1",
        ["lamp"],
        Pending("unlock", {}, "confirm", "Sure?"),
        [{"turn": 2, "actions": [ACTION.to_dict()], "changes": []}],
        3,
        1.0,
        2.0,
        LastRequest("turn_on", {"device": ["lamp"]}, 2),
    ),
    BusEvent("demo", "device.status", {"device_id": "lamp"}),
]


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: type(p).__name__)
def test_round_trip(payload: Any) -> None:
    data = json.loads(json.dumps(payload.to_dict()))
    assert type(payload).from_dict(data) == payload
