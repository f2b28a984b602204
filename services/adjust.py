"""Relative changes: brighter, a bit dimmer, warmer, "turn it up", "more", blinds halfway; stepped and clamped."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from assistant.devices import Capability, Command, CommandName, Device, DeviceKind, DeviceState
from assistant.dialogue import capitalized, join_names
from assistant.errors import ErrorCode
from assistant.intents import Done, IntentCall, IntentHandler, Outcome, Slot, SlotType
from assistant.turn import ActionTaken, Reply, ReplyKind
from services.targets import resolve, the

WORD = re.compile(r"[a-z]+")


class Size(StrEnum):
    """How big a step the user asked for."""

    SMALL = "small"  # "a bit", "a little", "slightly"
    NORMAL = "normal"
    BIG = "big"  # "a lot", "much"


SMALL_WORDS = frozenset({"bit", "little", "slightly", "touch", "tad", "notch", "somewhat", "partly", "smidge"})
BIG_WORDS = frozenset({"lot", "lots", "much", "way", "loads", "heaps", "far"})
UP_WORDS = frozenset({"up", "more", "higher", "increase", "raise", "brighter", "brighten", "lighter", "warmer",
                      "hotter", "open", "louder", "boost", "bump", "crank"})  # fmt: skip
DOWN_WORDS = frozenset({"down", "less", "lower", "decrease", "reduce", "dimmer", "dim", "darker", "cooler", "colder",
                        "close", "shut", "quieter"})  # fmt: skip
# Levels no device here has: "turn the volume up" must not brighten the lamp that was just talked about.
NOT_LEVELS = {"volume": "the volume", "sound": "the sound", "music": "the music", "speed": "the speed",
              "channel": "the channel", "bass": "the bass"}  # fmt: skip
AGAIN_WORDS = frozenset({"more", "less", "again", "further", "even"})


@dataclass(frozen=True, slots=True)
class Level:
    """An attribute that goes up and down: its state field, command, steps by size, limits, and how it is said."""

    field: str
    command: CommandName
    param: str
    capability: Capability
    steps: dict[Size, float]
    low: float
    high: float
    default: float
    at_high: str  # "{name} is already at full brightness."
    at_low: str

    def say(self, value: float) -> str:
        if self.field == "brightness":
            return f"{value:g}%"
        if self.field == "position":
            return "closed" if value == 0 else "fully open" if value == 100 else f"{value:g}% open"
        if self.field == "target_temperature":
            return f"{value:g} degrees"
        return "warmer" if value < 4000 else "cooler"


BRIGHTNESS = Level(
    "brightness",
    CommandName.SET_BRIGHTNESS,
    "brightness",
    Capability.BRIGHTNESS,
    {Size.SMALL: 10, Size.NORMAL: 25, Size.BIG: 50},
    1,
    100,
    100,
    "{Name} {is} already at full brightness.",
    "{Name} {is} already as dim as {it} can go.",
)
POSITION = Level(
    "position",
    CommandName.SET_POSITION,
    "position",
    Capability.POSITION,
    {Size.SMALL: 20, Size.NORMAL: 25, Size.BIG: 50},
    0,
    100,
    0,
    "{Name} {is} already fully open.",
    "{Name} {is} already closed.",
)
TEMPERATURE = Level(
    "target_temperature",
    CommandName.SET_TEMPERATURE,
    "temperature",
    Capability.SETPOINT,
    {Size.SMALL: 0.5, Size.NORMAL: 1, Size.BIG: 2},
    5,
    35,
    20,
    "{Name} {is} already at the highest setting, 35 degrees.",
    "{Name} {is} already at the lowest setting, 5 degrees.",
)
# Colour temperature in kelvin: "warmer" is fewer kelvin, so its steps go the other way.
COLOR_TEMP = Level("color_temp", CommandName.SET_COLOR_TEMP, "color_temp", Capability.COLOR_TEMP,
                   {Size.SMALL: -300, Size.NORMAL: -600, Size.BIG: -1200}, 2000, 6500, 3000,
                   "{Name} {is} already as warm as {it} can go.",
                   "{Name} {is} already as cool as {it} can go.")  # fmt: skip
LEVELS = (BRIGHTNESS, TEMPERATURE, POSITION, COLOR_TEMP)


def words(call: IntentCall) -> set[str]:
    return set(WORD.findall(call.text.lower()))


def size_of(said: set[str]) -> Size:
    if said & BIG_WORDS:
        return Size.BIG
    if said & SMALL_WORDS:
        return Size.SMALL
    return Size.NORMAL


# Complaints say the direction by what is wrong: "too bright" wants it lower, "it's freezing" wants it warmer.
TOO_HIGH = frozenset({"bright", "light", "hot", "warm", "high", "glaring", "harsh", "stuffy"})
TOO_LOW = frozenset({"dark", "dim", "cold", "cool", "chilly", "low", "gloomy"})
FEELS_COLD = frozenset({"freezing", "chilly", "frozen", "nippy", "icy"})
FEELS_HOT = frozenset({"boiling", "roasting", "sweltering", "baking", "sweating", "stifling"})


def direction_of(said: set[str]) -> int:
    """+1 up, -1 down, 0 when the words do not say."""
    up, down = bool(said & UP_WORDS), bool(said & DOWN_WORDS)
    if not up and not down:
        if "too" in said:
            up, down = bool(said & TOO_LOW), bool(said & TOO_HIGH)
        else:
            up, down = bool(said & FEELS_COLD), bool(said & FEELS_HOT)
    return 1 if up and not down else -1 if down and not up else 0


def level_for(device: Device) -> Level | None:
    """What "up" and "down" change on a device: brightness, setpoint or position."""
    for level in (BRIGHTNESS, TEMPERATURE, POSITION):
        if level.capability in device.capabilities:
            return level
    return None


def last_change(call: IntentCall, devices: list[Device], level: Level) -> tuple[int, Size | None]:
    """The direction and step size of the conversation's last change to this level on these devices (for "more",
    "less"): (0, None) when there was none."""
    if not call.conversation.history:
        return 0, None
    ids = {d.id for d in devices}
    for action in reversed(call.conversation.history[-1].get("actions", [])):
        if action.get("device_id") not in ids:
            continue
        before = (action.get("before") or {}).get(level.field)
        after = (action.get("after") or {}).get(level.field)
        if isinstance(before, int | float) and isinstance(after, int | float) and before != after:
            delta = abs(after - before)
            size = min(level.steps, key=lambda s: abs(abs(level.steps[s]) - delta))
            return (1 if after > before else -1) * (1 if level.steps[size] > 0 else -1), size
    return 0, None


def _current(level: Level, state: DeviceState, direction: int) -> float:
    value = getattr(state, level.field)
    if level is BRIGHTNESS and not state.on:
        return 0 if direction > 0 else level.low  # off: "brighter" starts from dark, "dimmer" cannot go lower
    return float(value) if value is not None else level.default


def _speak_name(text: str, devices: list[Device]) -> dict[str, str]:
    plural = len(devices) > 1 or devices[0].name.endswith(("lights", "blinds", "s"))
    return {"Name": capitalized(text), "is": "are" if plural else "is", "it": "they" if plural else "it"}


async def change(
    call: IntentCall,
    devices: list[Device],
    level: Level,
    direction: int,
    size: Size = Size.NORMAL,
    to: float | None = None,
) -> Done:
    """Move `level` on each device one step in `direction` (or to `to`), clamped at its limits; say what happened."""
    home = call.home
    step = level.steps[size] * direction
    able = [d for d in devices if level.capability in d.capabilities]
    if not able:
        names = join_names(the(d) for d in devices)
        return Done(
            Reply(
                f"{capitalized(names)} can't go up or down.",
                ReplyKind.ERROR,
                error_code=str(ErrorCode.UNSUPPORTED_COMMAND),
            ),
            undoable=False,
        )
    commands: list[tuple[Device, Command]] = []
    stuck: list[Device] = []
    targets: dict[str, float] = {}
    for device in able:
        state = home.entry(device.id).state
        current = _current(level, state, 1 if step > 0 else -1)
        value = to if to is not None else current + step
        value = max(level.low, min(level.high, value))
        if level.field != "target_temperature":
            value = round(value)
        if value == current and (to is None or level is not BRIGHTNESS or state.on):
            stuck.append(device)
            continue
        targets[device.id] = value
        commands.append((device, Command(level.command, {level.param: value})))
    outcome = await call.core.control.execute(home, commands, call.confirmed)
    parts: list[str] = []
    if outcome.actions:
        parts.append(_done_speech(call, level, outcome.actions, targets, direction))
    if stuck:
        names = join_names(the(d) for d in stuck)
        if to is not None:
            template = "{Name} {is} already " + level.say(to) + "."
        elif level is COLOR_TEMP:
            template = level.at_high if step < 0 else level.at_low
        else:
            template = level.at_high if step > 0 else level.at_low
        parts.append(template.format(**_speak_name(names, stuck)))
    parts += [err.message for _, err in outcome.failures]
    kind = ReplyKind.DONE if outcome.actions else (ReplyKind.ANSWER if stuck else ReplyKind.ERROR)
    error_code = str(outcome.failures[0][1].code) if outcome.failures and not outcome.actions else None
    return Done(
        Reply(" ".join(parts), kind, actions=outcome.actions, error_code=error_code),
        context_devices=[d.id for d in devices],
    )


def _done_speech(
    call: IntentCall, level: Level, actions: list[ActionTaken], targets: dict[str, float], direction: int
) -> str:
    devices = [call.home.device(a.device_id) for a in actions]
    names = join_names(the(d) for d in devices) if len(devices) <= 4 else f"{len(devices)} devices"
    values = {targets[a.device_id] for a in actions}
    if level is COLOR_TEMP:
        return f"Made {names} {'warmer' if direction > 0 else 'cooler'}."
    if len(values) == 1:
        value = values.pop()
        if level is POSITION:
            verb_be = "are" if len(devices) > 1 or names.endswith("s") else "is"
            return f"{capitalized(names)} {verb_be} now {level.say(value)}."
        return f"Set {names} to {level.say(value)}."
    verb = {
        BRIGHTNESS: ("brighter", "dimmer"),
        TEMPERATURE: ("warmer", "cooler"),
        POSITION: ("more open", "more closed"),
    }
    up, down = verb.get(level, ("higher", "lower"))
    return f"Made {names} {up if direction > 0 else down}."


async def adjust_devices(call: IntentCall, devices: list[Device], direction: int | None = None) -> Done:
    """ "Turn it up", "more", "a bit less": the main level of the devices, in the said or the last direction."""
    said = words(call)
    level = next((lv for d in devices if (lv := level_for(d)) is not None), None)
    if level is None:
        names = join_names(the(d) for d in devices) or "That"
        return Done(
            Reply(
                f"{capitalized(names)} can only be switched on or off.",
                ReplyKind.ERROR,
                error_code=str(ErrorCode.UNSUPPORTED_COMMAND),
            ),
            undoable=False,
        )
    size = size_of(said)
    if direction is None:
        direction = direction_of(said - AGAIN_WORDS) or 0
        again, last_size = last_change(call, devices, level)
        if not direction and said & AGAIN_WORDS:
            for other in LEVELS:  # "more" after "make it warmer": the level that changed last, white included
                moved, moved_size = last_change(call, devices, other)
                if moved and any(other.capability in d.capabilities for d in devices):
                    level, again, last_size = other, moved, moved_size
                    break
            direction = again if again else 1
            if "less" in said:
                direction = -direction
            if last_size is not None and not said & (SMALL_WORDS | BIG_WORDS):
                size = last_size  # "more": the same step again
        direction = direction or 1
    return await change(call, devices, level, direction, size)


def color_temp_targets(call: IntentCall) -> list[Device]:
    """Lights that "warmer"/"cooler" means: named outright, or the ones just talked about, when they can change
    their white and the user did not speak of heating."""
    said = words(call)
    if said & {"heat", "heating", "thermostat", "temperature", "degrees", "ac", "heater"}:
        return []
    home = call.home
    if call.slots.get("device"):
        named = [home.device(d) for d in call.slots["device"] if d in home.devices]
        return named if named and all(d.kind == DeviceKind.LIGHT for d in named) else []
    if call.slots.get("area") or call.slots.get("device_class") or call.slots.get("device_options"):
        return []
    context = [home.device(d) for d in call.conversation.last_devices if d in home.devices]
    return [d for d in context if Capability.COLOR_TEMP in d.capabilities]


class Adjust(IntentHandler):
    """ "Turn it up", "a bit more", "less": the main level of what the conversation is about."""

    intent = "adjust"
    slots = (
        Slot("device", SlotType.DEVICE),
        Slot("area", SlotType.AREA),
        Slot("device_class", SlotType.DEVICE_CLASS),
    )

    async def handle(self, call: IntentCall) -> Outcome:
        said = words(call)
        other = next((NOT_LEVELS[w] for w in sorted(said & NOT_LEVELS.keys())), None)
        if other is not None and not call.slots.get("device"):
            return Done(
                Reply(f"I can't change {other}; I look after lights, heating and blinds.", ReplyKind.ERROR,
                      error_code=str(ErrorCode.UNSUPPORTED_COMMAND)),
                undoable=False,
            )  # fmt: skip
        found = resolve(call, None, None, "device")
        if not isinstance(found, list):
            return found
        if not found:
            return Done(
                Reply("I'm not sure what to change. Say which device.", ReplyKind.ERROR,
                      error_code=str(ErrorCode.UNKNOWN_DEVICE)),
                undoable=False,
            )  # fmt: skip
        return await adjust_devices(call, found)


def explicit(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
