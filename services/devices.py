"""Device control service: on/off, brightness, colour, temperature, locks, covers, state questions, scenes, names."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import ClassVar

from assistant import access
from assistant.access import needs_confirmation
from assistant.core import Core
from assistant.devices import Capability, Command, CommandName, Device, DeviceKind, settable_state
from assistant.dialogue import capitalized, join_names
from assistant.errors import ErrorCode, HearthError
from assistant.eventlog import EventType, append_op
from assistant.intents import Ask, Confirm, Done, IntentCall, IntentHandler, Outcome, Slot, SlotType
from assistant.registry import DeviceEntry, Home, keep_old_name
from assistant.store import Change
from assistant.turn import Reply, ReplyKind
from services.adjust import (
    BRIGHTNESS,
    COLOR_TEMP,
    POSITION,
    TEMPERATURE,
    Adjust,
    adjust_devices,
    change,
    color_temp_targets,
    direction_of,
    size_of,
)
from services.aliases import AliasReader, RemoveAlias
from services.questions import readings, what_is_on, who_changed
from services.targets import resolve, the

WORD = re.compile(r"[a-z]+")
TARGET_SLOTS = (
    Slot("device", SlotType.DEVICE),
    Slot("area", SlotType.AREA),
    Slot("device_class", SlotType.DEVICE_CLASS),
)
LIGHTS_FIRST = (DeviceKind.LIGHT,)
WHITES = {"warm white": 2700, "soft white": 2700, "warm": 2700, "white": 4000, "neutral white": 4000,
          "cool white": 5000, "cool": 5000, "daylight": 6500, "cold white": 6500}  # fmt: skip


def nothing_found(call: IntentCall, what: str) -> Done:
    area = call.slots.get("area")
    where = f" in the {call.home.area_name(area)}" if area else ""
    return Done(
        Reply(
            f"I couldn't find {what}{where}.",
            ReplyKind.ERROR,
            error_code=str(ErrorCode.UNKNOWN_DEVICE),
        ),
        undoable=False,
    )


def is_are(devices: list[Device]) -> str:
    if len(devices) == 1 and not devices[0].name.endswith(("lights", "blinds", "s")):
        return "is"
    return "are"


async def run(call: IntentCall, devices: list[Device], command: Command, done: str) -> Done:
    """Send one command to each device; speak what happened, naming failures plainly."""
    outcome = await call.core.control.execute(call.home, [(d, command) for d in devices], call.confirmed)
    names = [the(call.home.device(a.device_id)) for a in outcome.actions]
    parts = []
    if names:
        listed = join_names(names) if len(names) <= 4 else f"{len(names)} devices"
        parts.append(done.format(names=listed))
    for _device, err in outcome.failures:
        parts.append(err.message)
    kind = ReplyKind.DONE if outcome.actions else ReplyKind.ERROR
    error_code = str(outcome.failures[0][1].code) if outcome.failures else None
    return Done(
        Reply(" ".join(parts), kind, actions=outcome.actions, error_code=error_code),
        context_devices=[d.id for d in devices],
    )


class OnOffHandler(IntentHandler):
    slots = TARGET_SLOTS
    on: ClassVar[bool]

    async def handle(self, call: IntentCall) -> Outcome:
        found = resolve(call, Capability.ON_OFF, None, "device", area_kinds=LIGHTS_FIRST)
        if not isinstance(found, list):
            return found
        if not found:
            return nothing_found(call, "anything to switch " + ("on" if self.on else "off"))
        name = CommandName.TURN_ON if self.on else CommandName.TURN_OFF
        return await run(call, found, Command(name), "Turned " + ("on" if self.on else "off") + " {names}.")


class TurnOn(OnOffHandler):
    intent = "turn_on"
    on = True


class TurnOff(OnOffHandler):
    intent = "turn_off"
    on = False


class SetBrightness(IntentHandler):
    intent = "set_brightness"
    slots = (*TARGET_SLOTS, Slot("brightness", SlotType.PERCENT))

    async def handle(self, call: IntentCall) -> Outcome:
        found = resolve(call, Capability.BRIGHTNESS, (DeviceKind.LIGHT,), "light", area_kinds=LIGHTS_FIRST)
        if not isinstance(found, list):
            return found
        if not found:
            return nothing_found(call, "a light that can be dimmed")
        level = call.slots.get("brightness")
        if level is None:
            said = set(WORD.findall(call.text.lower()))
            direction = direction_of(said)
            if direction == 0:
                return Ask("What brightness, in percent?", "brightness")
            return await change(call, found, BRIGHTNESS, direction, size_of(said))
        return await run(
            call,
            found,
            Command(CommandName.SET_BRIGHTNESS, {"brightness": level}),
            "Set {names} to " + f"{level}%.",
        )


class SetColor(IntentHandler):
    intent = "set_color"
    slots = (*TARGET_SLOTS, Slot("color", SlotType.COLOR))

    async def handle(self, call: IntentCall) -> Outcome:
        color = call.slots.get("color")
        if color is None:
            return Ask("What colour?", "color")
        found = resolve(call, None, (DeviceKind.LIGHT,), "light", area_kinds=LIGHTS_FIRST)
        if not isinstance(found, list):
            return found
        able = [
            d
            for d in found
            if Capability.COLOR in d.capabilities or (color in WHITES and Capability.COLOR_TEMP in d.capabilities)
        ]
        if not able:
            names = join_names(the(d) for d in found) or "that light"
            return Done(
                Reply(
                    f"{capitalized(names)} can't change colour.",
                    ReplyKind.ERROR,
                    error_code=str(ErrorCode.UNSUPPORTED_COMMAND),
                ),
                undoable=False,
            )
        outcome_parts: list[Done] = []
        colour_lights = [d for d in able if Capability.COLOR in d.capabilities]
        temp_lights = [d for d in able if Capability.COLOR not in d.capabilities]
        if colour_lights:
            outcome_parts.append(
                await run(
                    call,
                    colour_lights,
                    Command(CommandName.SET_COLOR, {"color": color}),
                    "Made {names} " + f"{color}.",
                )
            )
        if temp_lights:
            outcome_parts.append(
                await run(
                    call,
                    temp_lights,
                    Command(CommandName.SET_COLOR_TEMP, {"color_temp": WHITES[color]}),
                    "Made {names} " + f"{color}.",
                )
            )
        return merge(outcome_parts)


def merge(parts: list[Done]) -> Done:
    first = parts[0]
    for extra in parts[1:]:
        first.reply.speech += " " + extra.reply.speech
        first.reply.actions.extend(extra.reply.actions)
        if first.context_devices is not None and extra.context_devices:
            first.context_devices.extend(extra.context_devices)
    if first.reply.actions:
        first.reply.kind = ReplyKind.DONE
    return first


class SetTemperature(IntentHandler):
    intent = "set_temperature"
    slots = (*TARGET_SLOTS, Slot("temperature", SlotType.TEMPERATURE))

    async def handle(self, call: IntentCall) -> Outcome:
        target = call.slots.get("temperature")
        said = set(WORD.findall(call.text.lower()))
        direction = direction_of(said)
        if target is None and direction:
            lights = color_temp_targets(call)
            if lights:  # "make it warmer" about a white-tunable light: its colour temperature
                return await change(call, lights, COLOR_TEMP, direction, size_of(said))
            if not said & {"warmer", "cooler", "hotter", "colder", "heat", "heating", "thermostat", "temperature"}:
                context = [call.home.device(d) for d in call.conversation.last_devices if d in call.home.devices]
                if context and not call.slots and all(Capability.SETPOINT not in d.capabilities for d in context):
                    return await adjust_devices(call, context, direction)  # "turn it up" about a lamp
        found = resolve(
            call,
            Capability.SETPOINT,
            (DeviceKind.CLIMATE,),
            "thermostat",
            area_kinds=(DeviceKind.CLIMATE,),
        )
        if not isinstance(found, list):
            return found
        if not found:
            return nothing_found(call, "a thermostat")
        if target is None:
            if direction == 0:
                return Ask("What temperature?", "temperature")
            return await change(call, found, TEMPERATURE, direction, size_of(said))
        return await run(
            call,
            found,
            Command(CommandName.SET_TEMPERATURE, {"temperature": target}),
            "Set {names} to " + f"{target:g} degrees.",
        )


class LockHandler(IntentHandler):
    slots = TARGET_SLOTS
    lock: ClassVar[bool]

    async def handle(self, call: IntentCall) -> Outcome:
        found = resolve(call, Capability.LOCK, (DeviceKind.LOCK,), "lock", area_kinds=(DeviceKind.LOCK,))
        if not isinstance(found, list):
            return found
        if not found:
            return nothing_found(call, "a lock")
        names = join_names(the(d) for d in found)
        if not self.lock and not call.confirmed:
            for device in found:  # a guest is refused at once, not asked to confirm first
                access.check_command(device, Command(CommandName.UNLOCK))
            return Confirm(f"Are you sure you want to unlock {names}?")
        command = CommandName.LOCK if self.lock else CommandName.UNLOCK
        return await run(call, found, Command(command), ("Locked" if self.lock else "Unlocked") + " {names}.")


class Lock(LockHandler):
    intent = "lock"
    lock = True


class Unlock(LockHandler):
    intent = "unlock"
    lock = False


def risky_to_open(call: IntentCall, device: Device) -> bool:
    """Doors that let people in (garage doors, gates) need a yes before they open (the policy is DeviceControl's)."""
    return needs_confirmation(device, Command(CommandName.OPEN), call.home.entry(device.id).state) is not None


HALF_WORDS = frozenset({"halfway", "half", "midway"})
PART_WORDS = frozenset({"bit", "little", "slightly", "partly", "partially", "touch", "tad", "notch", "more", "further"})


class CoverHandler(IntentHandler):
    slots = (*TARGET_SLOTS, Slot("position", SlotType.PERCENT))
    open: ClassVar[bool]

    async def handle(self, call: IntentCall) -> Outcome:
        found = resolve(call, Capability.POSITION, (DeviceKind.COVER,), "cover", area_kinds=(DeviceKind.COVER,))
        if not isinstance(found, list):
            return found
        if not found:
            return nothing_found(call, "blinds or a door to " + ("open" if self.open else "close"))
        if self.open and not call.confirmed and any(risky_to_open(call, d) for d in found):
            for device in found:  # a guest is refused at once, not asked to confirm first
                access.check_command(device, Command(CommandName.OPEN), call.home.entry(device.id).state)
            return Confirm(f"Are you sure you want to open {join_names(the(d) for d in found)}?")
        said = set(WORD.findall(call.text.lower()))
        percent = call.slots.get("position")
        if percent is not None:  # "open the blinds to 30 percent", "halfway", "a quarter"
            return await change(call, found, POSITION, 1 if self.open else -1, to=percent)
        if said & HALF_WORDS:
            return await change(call, found, POSITION, 1 if self.open else -1, to=50)
        if said & PART_WORDS:
            return await change(call, found, POSITION, 1 if self.open else -1, size_of(said))
        command = CommandName.OPEN if self.open else CommandName.CLOSE
        return await run(call, found, Command(command), ("Opened" if self.open else "Closed") + " {names}.")


class OpenCover(CoverHandler):
    intent = "open_cover"
    open = True


class CloseCover(CoverHandler):
    intent = "close_cover"
    open = False


def describe(entry: DeviceEntry, home: Home) -> str:
    """One sentence on a device's state."""
    dev, s = entry.device, entry.state
    name = the(dev)
    cap = capitalized(name)
    verb = is_are([dev])
    if not entry.available:
        return f"{cap} {verb} not responding right now."
    if dev.kind == DeviceKind.LOCK and s.locked is not None:
        return f"{cap} {verb} {'locked' if s.locked else 'unlocked'}."
    if dev.kind == DeviceKind.COVER and s.position is not None:
        state = "closed" if s.position == 0 else "open" if s.position == 100 else f"{s.position}% open"
        return f"{cap} {verb} {state}."
    if dev.kind == DeviceKind.CLIMATE:
        parts = []
        if s.target_temperature is not None:
            parts.append(f"set to {s.target_temperature:g} degrees")
        if s.current_temperature is not None:
            parts.append(f"it's {s.current_temperature:g} degrees now")
        return f"{cap} {verb} " + " and ".join(parts) + "." if parts else f"{cap} has no reading yet."
    if dev.kind == DeviceKind.SENSOR:
        parts = []
        where = home.area_name(dev.area)
        if s.current_temperature is not None:
            parts.append(f"{s.current_temperature:g} degrees")
        if s.humidity is not None:
            parts.append(f"{s.humidity:g}% humidity")
        if s.motion is not None:
            return f"There is motion in the {where}." if s.motion else f"No motion in the {where} right now."
        return f"{cap} reads {' and '.join(parts)}." if parts else f"{cap} has no reading yet."
    if s.on is None:
        return f"I don't know whether {name} {verb} on."
    if s.on and s.brightness is not None and Capability.BRIGHTNESS in dev.capabilities:
        return f"{cap} {verb} on at {s.brightness}%."
    return f"{cap} {verb} {'on' if s.on else 'off'}."


ON_WORDS = frozenset({"on", "running", "switched"})
ANY_WORDS = frozenset({"what", "whats", "anything", "which", "everything", "something"})


class QueryState(IntentHandler):
    intent = "query_state"
    slots = TARGET_SLOTS

    async def handle(self, call: IntentCall) -> Outcome:
        words = set(WORD.findall(call.text.lower()))
        home = call.home
        named = bool(call.slots.get("device") or call.slots.get("device_options"))
        if words & {"who", "when"}:
            found = resolve(call, None, None, "device")
            if not isinstance(found, list):
                return found
            if not found:
                return nothing_found(call, "that device")
            return await who_changed(call, found)
        wanted: Capability | None = None
        if words & {"temperature", "warm", "cold", "hot", "degrees", "warmer", "colder"}:
            wanted = Capability.TEMPERATURE
        elif words & {"humidity", "humid"}:
            wanted = Capability.HUMIDITY
        elif words & {"motion", "movement", "moving"}:
            wanted = Capability.MOTION
        if wanted in (Capability.TEMPERATURE, Capability.HUMIDITY) and not named and not call.slots.get("device_class"):
            answer = readings(call, wanted)
            if answer is not None:
                return answer
        if not named and words & ON_WORDS and words & ANY_WORDS:
            return what_is_on(call)
        found = resolve(call, wanted, None, "device")
        if not isinstance(found, list):
            return found
        if not found:
            return nothing_found(call, "a device that can tell me that")
        speech = " ".join(describe(home.entry(d.id), home) for d in found[:6])
        if len(found) > 6:
            speech += f" And {len(found) - 6} more."
        card = {"devices": [home.entry(d.id).view(home.areas) for d in found[:20]]}
        return Done(
            Reply(speech, ReplyKind.ANSWER, card=card),
            context_devices=[d.id for d in found],
            undoable=False,
        )


class ActivateScene(IntentHandler):
    intent = "activate_scene"
    slots = (Slot("scene", SlotType.SCENE),)

    async def handle(self, call: IntentCall) -> Outcome:
        home = call.home
        scene_id = call.slots.get("scene")
        if scene_id is None:
            names = join_names((s.name for s in home.scenes.values()), "or")
            if not names:
                return Done(Reply("There are no scenes yet.", ReplyKind.ANSWER), undoable=False)
            return Ask(f"Which scene: {names}?", "scene", list(home.scenes))
        scene = home.scenes[scene_id]
        commands = [
            (home.device(dev_id), Command(CommandName.RESTORE, {"state": settable_state(home.device(dev_id), state)}))
            for dev_id, state in scene.states.items()
            if dev_id in home.devices
        ]
        risky = [d for d, c in commands if needs_confirmation(d, c, home.entry(d.id).state)]
        if risky and not call.confirmed:
            names = join_names(the(d) for d in risky)
            return Confirm(f"{capitalized(scene.name)} would open or unlock {names}. Are you sure?")
        outcome = await call.core.control.execute(home, commands, call.confirmed)
        speech = f"{capitalized(scene.name)} is on."
        if outcome.failures:
            speech += " " + " ".join(err.message for _, err in outcome.failures)
        return Done(
            Reply(speech, ReplyKind.DONE, actions=outcome.actions),
            ops=[append_op(home.id, EventType.SCENE, {"scene": scene_id})],
        )


class RenameDevice(IntentHandler):
    intent = "rename_device"
    follow_up = False
    slots = (*TARGET_SLOTS, Slot("name", SlotType.TEXT))

    async def handle(self, call: IntentCall) -> Outcome:
        slots = call.slots
        if slots.get("area") and not (slots.get("device") or slots.get("device_options") or slots.get("device_class")):
            return await self.alias_area(call, slots["area"])
        found = resolve(call, None, None, "device")
        if not isinstance(found, list):
            return found
        if len(found) != 1:
            return (
                nothing_found(call, "that device")
                if not found
                else Ask("Which device should I rename?", "device", [d.id for d in found])
            )
        new_name = call.slots.get("name")
        if not new_name:
            return Ask(f"What should I call {the(found[0])}?", "name")
        device = found[0]
        new_name = " ".join(new_name.split()).removeprefix("the ")
        renamed = replace(device, name=new_name, aliases=keep_old_name(device.name, device.aliases, new_name))
        staged = call.core.registry.put_device(renamed)
        staged.write(
            append_op(
                call.home.id,
                EventType.DEVICE_UPDATED,
                {"device_id": device.id, "name": new_name, "aliases": list(renamed.aliases)},
            )
        )
        staged.then(lambda: call.core.control.publish(call.home, [device.id]))
        staged.then(lambda: call.core.control.renamed(renamed))  # e.g. Zigbee2MQTT's friendly name follows
        return Done(
            Reply(
                f"Okay, {the(device)} is now called {new_name}. The old name still works too.",
                ReplyKind.DONE,
            ),
            changes=[staged],
            context_devices=[device.id],
            undoable=False,
        )

    @staticmethod
    async def alias_area(call: IntentCall, area_id: str) -> Outcome:
        """ "Call the living room the lounge": the room gets another name; its own name stays."""
        area = call.home.areas[area_id]
        alias = " ".join(str(call.slots.get("name") or "").split()).removeprefix("the ")
        if not alias:
            return Ask(f"What else should I call the {area.name}?", "name")
        if alias.lower() == area.name.lower() or alias.lower() in (a.lower() for a in area.aliases):
            return Done(Reply(f"The {area.name} is already called {alias}.", ReplyKind.ANSWER), undoable=False)
        updated = replace(area, aliases=(*area.aliases, alias))
        staged = call.core.registry.put_area(call.home, updated)
        staged.write(
            append_op(call.home.id, EventType.AREA_UPDATED, {"area_id": area.id, "aliases": list(updated.aliases)})
        )
        return Done(
            Reply(f"Okay, I'll know the {alias} means the {area.name}.", ReplyKind.DONE),
            changes=[staged],
            undoable=False,
        )


class AssignArea(IntentHandler):
    intent = "assign_area"
    follow_up = False
    area_is_target = False
    slots = TARGET_SLOTS

    async def handle(self, call: IntentCall) -> Outcome:
        area = call.slots.get("area")
        slots = dict(call.slots)
        slots.pop("area", None)  # the area is where it goes, not where to look
        sub = IntentCall(call.turn, call.nlu, slots, call.home, call.conversation, call.core, call.confirmed)
        sub.turn = replace(call.turn, area=None)
        found = resolve(sub, None, None, "device")
        if not isinstance(found, list):
            return found
        if not found:
            return nothing_found(call, "that device")
        if area is None:
            return Ask(f"Which room should {the(found[0])} go in?", "area")
        staged = Change()
        for device in found:
            staged.add(call.core.registry.put_device(replace(device, area=area)))
            staged.write(append_op(call.home.id, EventType.DEVICE_UPDATED, {"device_id": device.id, "area": area}))
        staged.then(lambda: call.core.control.publish(call.home, [d.id for d in found]))
        names = join_names(the(d) for d in found)
        return Done(
            Reply(
                f"Okay, {names} {is_are(found)} now in the {call.home.area_name(area)}.",
                ReplyKind.DONE,
            ),
            changes=[staged],
            context_devices=[d.id for d in found],
            undoable=False,
        )


class SystemStatus(IntentHandler):
    intent = "system_status"

    async def handle(self, call: IntentCall) -> Outcome:
        entries = list(call.home.devices.values())
        down = [e.device for e in entries if not e.available]
        if not down:
            speech = f"Everything is working: all {len(entries)} devices are online."
        else:
            speech = (
                f"{len(entries) - len(down)} of {len(entries)} devices are online. "
                f"Not responding: {join_names(the(d) for d in down[:5])}."
            )
        card = {"online": len(entries) - len(down), "offline": [d.id for d in down]}
        return Done(Reply(speech, ReplyKind.ANSWER, card=card), undoable=False)


class DiscoverDevices(IntentHandler):
    intent = "discover_devices"

    async def handle(self, call: IntentCall) -> Outcome:
        new: list[Device] = []
        for adapter in call.core.control.adapters.values():
            try:
                seen = await adapter.discover(call.home.id)
            except HearthError:
                continue
            new += [d for d in seen if d.id not in call.home.devices]
        if not new:
            return Done(
                Reply("I looked, but I didn't find any new devices.", ReplyKind.ANSWER),
                undoable=False,
            )
        names = [f"the {d.name}" for d in new[:5]] + ([f"{len(new) - 5} more"] if len(new) > 5 else [])
        found = f"a new device: {names[0]}" if len(new) == 1 else f"{len(new)} new devices: {join_names(names)}"
        return Done(
            Reply(
                f"I found {found}.",
                ReplyKind.ANSWER,
                card={"found": [d.to_dict() for d in new]},
            ),
            undoable=False,
        )


HANDLERS: tuple[type[IntentHandler], ...] = (
    TurnOn, TurnOff, SetBrightness, SetColor, SetTemperature, Lock, Unlock, OpenCover, CloseCover, QueryState,
    ActivateScene, RenameDevice, AssignArea, SystemStatus, DiscoverDevices, Adjust,
)  # fmt: skip


def setup(core: Core) -> None:
    for handler in HANDLERS:
        core.dialogue.register(handler())
    core.dialogue.register(RemoveAlias())
    core.dialogue.readers.append(AliasReader())
