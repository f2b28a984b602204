"""Which devices an utterance means: named, ambiguous, by class and room, "it", or the only one that can."""

from __future__ import annotations

import re
from collections.abc import Collection

from assistant.devices import Capability, Device, DeviceKind
from assistant.dialogue import join_names
from assistant.intents import Ask, IntentCall

WORD = re.compile(r"[a-z]+")
ALL_WORDS = {"all", "every", "everything", "both", "each", "whole"}
MAX_LISTED = 5
KIND_NOUN = {
    DeviceKind.LIGHT: "light", DeviceKind.SWITCH: "switch", DeviceKind.CLIMATE: "thermostat",
    DeviceKind.LOCK: "lock", DeviceKind.COVER: "cover", DeviceKind.FAN: "fan", DeviceKind.SENSOR: "sensor",
}  # fmt: skip


def the(device: Device) -> str:
    """ "the kitchen lights" (names that are acronyms keep their case)."""
    return f"the {device.name}"


def says_all(call: IntentCall) -> bool:
    return bool(ALL_WORDS & set(WORD.findall(call.text.lower())))


def _fits(dev: Device, capability: Capability | None, kinds: Collection[DeviceKind] | None) -> bool:
    return (capability is None or capability in dev.capabilities) and (kinds is None or dev.kind in kinds)


def _which(noun: str, devices: list[Device]) -> Ask:
    if len(devices) <= MAX_LISTED:
        names = join_names((the(d) for d in devices), "or")
        return Ask(f"Which {noun}: {names}?", "device", [d.id for d in devices])
    return Ask(f"Which room is the {noun} in?", "area")


def resolve(
    call: IntentCall,
    capability: Capability | None,
    kinds: Collection[DeviceKind] | None = None,
    noun: str = "device",
    area_kinds: Collection[DeviceKind] | None = None,
) -> list[Device] | Ask:
    """The devices this call means, or the question to ask. `area_kinds`: what a bare room name means."""
    home, slots = call.home, call.slots
    area = slots.get("area") or call.turn.area
    explicit_area = slots.get("area")
    # 1. devices named outright
    if slots.get("device"):
        return [home.device(d) for d in slots["device"] if d in home.devices]
    # 2. a mention that fits several devices ("the lamp")
    options = [home.device(d) for d in slots.get("device_options", []) if d in home.devices]
    if options:
        fitting = [d for d in options if _fits(d, capability, kinds)] or options
        if area:
            local = [d for d in fitting if d.area == area]
            fitting = local or fitting
        if len(fitting) == 1 or says_all(call):
            return fitting
        return _which(str(slots.get("device_mention") or noun), fitting)
    # 3. a class of device ("the lights"), in a room or everywhere
    if slots.get("device_class"):
        kind = DeviceKind(slots["device_class"])
        found = [d for d in home.find(area=area, kind=kind) if _fits(d, capability, None)]
        if explicit_area and not found:
            return []
        if not found and area and not explicit_area:
            found = [d for d in home.find(kind=kind) if _fits(d, capability, None)]
            area = None
        if area or len(found) <= 1 or says_all(call):
            return found
        return _which(KIND_NOUN.get(kind, noun), found)
    # 4. just a room ("turn off the kitchen")
    if explicit_area:
        for group in (area_kinds, kinds, None):
            found = [d for d in home.find(area=explicit_area) if _fits(d, capability, group)]
            if found:
                return found
        return []
    # 5. "it", "them", or no target: what the conversation was about
    context = [home.device(d) for d in call.conversation.last_devices if d in home.devices]
    context = [d for d in context if _fits(d, capability, kinds)]
    if context:
        return context
    # 6. the only device that can do it, or what is in the satellite's room
    able = [d for d in home.find(capability=capability) if _fits(d, None, kinds)]
    if len(able) == 1:
        return able
    if area:
        local = [d for d in able if d.area == area and (area_kinds is None or d.kind in area_kinds)]
        if local:
            return local
    if not able:
        return []
    return _which(noun, able)
