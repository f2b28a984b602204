"""Zigbee2MQTT's device model: kind and capabilities from `definition.exposes`, state payloads both ways."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, TypeGuard

from assistant.devices import Capability, Command, CommandName, DeviceKind, DeviceState
from assistant.errors import DeviceError, ErrorCode

C = Capability

# Colour names Hearth understands, as Zigbee2MQTT's {"color": {"hex": ...}} wants them.
COLORS: dict[str, str] = {
    "red": "#FF0000", "green": "#00FF00", "blue": "#0000FF", "yellow": "#FFFF00", "orange": "#FFA500",
    "purple": "#800080", "pink": "#FFC0CB", "white": "#FFFFFF", "warm white": "#FFD8A8", "cyan": "#00FFFF",
    "magenta": "#FF00FF", "teal": "#008080", "violet": "#EE82EE", "turquoise": "#40E0D0", "lime": "#32CD32",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Model:
    """What Hearth makes of one Zigbee2MQTT device: kind, capabilities and the colour-temperature range."""

    kind: DeviceKind
    capabilities: frozenset[Capability]
    mired_min: int = 150
    mired_max: int = 500


def _features(exposes: list[Any]) -> list[dict[str, Any]]:
    """Every expose, with the features of specific ones (light, switch, lock, cover, climate) flattened in."""
    out: list[dict[str, Any]] = []
    for item in exposes:
        if not isinstance(item, dict):
            continue
        out.append(item)
        features = item.get("features")
        if isinstance(features, list):
            out.extend(f for f in features if isinstance(f, dict))
    return out


def model(definition: Any) -> Model | None:
    """Kind and capabilities from a definition; None for what Hearth has no use for (a remote, a router)."""
    if not isinstance(definition, dict) or not isinstance(definition.get("exposes"), list):
        return None
    exposes = definition["exposes"]
    types = {e.get("type") for e in exposes if isinstance(e, dict)}
    props = {f.get("property") or f.get("name") for f in _features(exposes)}
    caps: set[Capability] = set()
    mired = (150, 500)
    for f in _features(exposes):
        low, high = f.get("value_min"), f.get("value_max")
        if f.get("name") == "color_temp" and isinstance(low, int) and isinstance(high, int):
            mired = (low, high)
    if "light" in types:
        kind = DeviceKind.LIGHT
        caps.add(C.ON_OFF)
        caps.update(cap for key, cap in (("brightness", C.BRIGHTNESS), ("color_temp", C.COLOR_TEMP)) if key in props)
        if "color" in props or any(f.get("name") in {"color_xy", "color_hs"} for f in _features(exposes)):
            caps.add(C.COLOR)
    elif "lock" in types:
        kind, caps = DeviceKind.LOCK, {C.LOCK}
    elif "cover" in types:
        kind, caps = DeviceKind.COVER, {C.POSITION}
    elif "climate" in types:
        kind, caps = DeviceKind.CLIMATE, {C.SETPOINT, C.TEMPERATURE}
    elif "fan" in types:
        kind, caps = DeviceKind.FAN, {C.ON_OFF}
    elif "switch" in types:
        kind, caps = DeviceKind.SWITCH, {C.ON_OFF}
    elif props & {"temperature", "humidity", "occupancy"}:
        kind = DeviceKind.SENSOR
    else:
        return None
    if kind == DeviceKind.SENSOR or kind == DeviceKind.CLIMATE:
        readings = (("temperature", C.TEMPERATURE), ("local_temperature", C.TEMPERATURE),
                    ("humidity", C.HUMIDITY), ("occupancy", C.MOTION))  # fmt: skip
        caps.update(cap for key, cap in readings if key in props)
    return Model(kind, frozenset(caps), *mired)


def slug(name: str) -> str:
    """A device id from a friendly name: "Living room/Ceiling light" -> "living_room_ceiling_light"."""
    text = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return text[:60] or "device"


def spoken_name(friendly_name: str) -> str:
    """The name people say: the last part of a friendly name, underscores as spaces ("kitchen/Main_light" ->
    "main light")."""
    last = friendly_name.rstrip("/").rsplit("/", 1)[-1]
    return " ".join(re.sub(r"[_\-]+", " ", last).split()).lower()[:60] or slug(friendly_name)


def _kelvin(mired: Any) -> int | None:
    if isinstance(mired, bool) or not isinstance(mired, int | float) or mired <= 0:
        return None
    return round(1_000_000 / mired)


def parse_state(payload: dict[str, Any], kind: DeviceKind, previous: DeviceState) -> DeviceState:
    """A Zigbee2MQTT state message applied to the previous state (only the fields it carries, checked)."""
    out: dict[str, Any] = {}
    state = payload.get("state")
    if kind == DeviceKind.LOCK:
        lock_state = payload.get("lock_state")
        if lock_state in {"locked", "unlocked"}:
            out["locked"] = lock_state == "locked"
        elif state in {"LOCK", "UNLOCK"}:
            out["locked"] = state == "LOCK"
    elif kind == DeviceKind.COVER:
        position = payload.get("position")
        if _is_number(position) and 0 <= position <= 100:
            out["position"] = round(position)
        elif state in {"OPEN", "CLOSE"}:
            out["position"] = 100 if state == "OPEN" else 0
    elif state in {"ON", "OFF"}:
        out["on"] = state == "ON"
    brightness = payload.get("brightness")
    if _is_number(brightness) and 0 <= brightness <= 254:
        out["brightness"] = round(brightness * 100 / 254)
    kelvin = _kelvin(payload.get("color_temp"))
    if kelvin is not None and payload.get("color_mode") != "xy":
        out["color_temp"] = max(1500, min(9000, kelvin))
    for key, field in (("local_temperature", "current_temperature"), ("temperature", "current_temperature"),
                       ("humidity", "humidity"), ("occupied_heating_setpoint", "target_temperature"),
                       ("current_heating_setpoint", "target_temperature")):  # fmt: skip
        value = payload.get(key)
        if _is_number(value):
            out[field] = round(float(value), 1)
    occupancy = payload.get("occupancy")
    if isinstance(occupancy, bool):
        out["motion"] = occupancy
    return replace(previous, **out) if out else previous


def _is_number(value: Any) -> TypeGuard[int | float]:
    return not isinstance(value, bool) and isinstance(value, int | float)


def set_payload(kind: DeviceKind, command: Command, mired: tuple[int, int] = (150, 500)) -> dict[str, Any]:
    """The `<name>/set` payload for a command."""
    p = command.params
    match command.name:
        case CommandName.TURN_ON:
            return {"state": "ON"}
        case CommandName.TURN_OFF:
            return {"state": "OFF"}
        case CommandName.SET_BRIGHTNESS:
            level = int(p["brightness"])
            return {"state": "OFF"} if level <= 0 else {"state": "ON", "brightness": round(level * 254 / 100)}
        case CommandName.SET_COLOR_TEMP:
            mireds = round(1_000_000 / int(p["color_temp"]))
            return {"state": "ON", "color_temp": max(mired[0], min(mired[1], mireds))}
        case CommandName.SET_COLOR:
            color = str(p["color"])
            if color not in COLORS:
                raise DeviceError(ErrorCode.VALIDATION, f"I don't know the colour {color!r}.", {"color": color})
            return {"state": "ON", "color": {"hex": COLORS[color]}}
        case CommandName.SET_TEMPERATURE:
            return {"occupied_heating_setpoint": float(p["temperature"])}
        case CommandName.LOCK:
            return {"state": "LOCK"}
        case CommandName.UNLOCK:
            return {"state": "UNLOCK"}
        case CommandName.OPEN:
            return {"state": "OPEN"}
        case CommandName.CLOSE:
            return {"state": "CLOSE"}
        case CommandName.SET_POSITION:
            return {"position": int(p["position"])}
        case CommandName.RESTORE:
            return restore_payload(kind, DeviceState.from_dict(p.get("state") or {}), mired)
    raise DeviceError(ErrorCode.UNSUPPORTED_COMMAND, f"Unknown command {command.name}.")


def restore_payload(kind: DeviceKind, state: DeviceState, mired: tuple[int, int]) -> dict[str, Any]:
    """A whole prior state (undo, scenes) as one `/set` payload."""
    out: dict[str, Any] = {}
    if state.on is not None:
        out["state"] = "ON" if state.on else "OFF"
    if state.brightness is not None and state.on is not False:
        out["brightness"] = round(state.brightness * 254 / 100)
    if state.color_temp is not None and state.on is not False:
        out["color_temp"] = max(mired[0], min(mired[1], round(1_000_000 / state.color_temp)))
    if state.color is not None and state.color in COLORS and state.on is not False:
        out["color"] = {"hex": COLORS[state.color]}
    if state.locked is not None:
        out["state"] = "LOCK" if state.locked else "UNLOCK"
    if state.position is not None:
        out["position"] = state.position
    if state.target_temperature is not None:
        out["occupied_heating_setpoint"] = state.target_temperature
    return out


def expected(kind: DeviceKind, command: Command, before: DeviceState) -> DeviceState:
    """What the state should look like once the device has done the command (the colour name, which Zigbee2MQTT
    reports only as x/y, is kept from here)."""
    p = command.params
    match command.name:
        case CommandName.SET_COLOR:
            return replace(before, on=True, color=str(p["color"]))
        case CommandName.RESTORE:
            return before.merged(DeviceState.from_dict(p.get("state") or {}))
    return before
