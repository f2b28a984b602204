"""Undo history entries (device states and registry changes of one turn) and how to revert them honestly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assistant.access import needs_confirmation
from assistant.devices import Command, CommandName, Device, DeviceState, settable_state
from assistant.errors import HearthError
from assistant.registry import Area, Floor, Home, Scene
from assistant.store import Change
from assistant.turn import ActionTaken

if TYPE_CHECKING:
    from assistant.core import Core


# How a service puts back a change of its own kind that it noted in the journal (`journal.note("routine", ...)`):
# given the home and the journal entry {"kind", "id", "before", "after"}, the staged change that restores `before`
# (None `before`: the thing was created, so remove it). Registered per core in `DialogueManager.reverters`.
Reverter = Callable[["Home", dict[str, Any]], Change]


def merge_group(groups: list[dict[str, Any]]) -> dict[str, Any]:
    """One undo step from several (a correction, a compound request): per device or thing, the earliest `before`.

    Groups are in the stored form: {"actions": [ActionTaken dicts], "changes": [journal changes]}."""
    actions: dict[str, dict[str, Any]] = {}
    changes: dict[tuple[str, str], dict[str, Any]] = {}
    irreversible: list[str] = []
    for group in groups:
        for action in group.get("actions", []):
            if action["device_id"] in actions:
                actions[action["device_id"]] = {**actions[action["device_id"]], "after": action["after"]}
            else:
                actions[action["device_id"]] = action
        for change in group.get("changes", []):
            key = (change["kind"], change["id"])
            changes[key] = {**changes[key], "after": change["after"]} if key in changes else change
        irreversible += group.get("irreversible", [])
    out: dict[str, Any] = {"actions": list(actions.values()), "changes": list(changes.values())}
    if irreversible:
        out["irreversible"] = irreversible
    return out


@dataclass(slots=True)
class Reverted:
    """What reverting one undo step did: device actions, staged registry changes, what to say, what failed."""

    actions: list[ActionTaken] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    said: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)


def _restores(home: Home, group: dict[str, Any]) -> list[tuple[Device, Command]]:
    commands = []
    for raw in group.get("actions", []):
        action = ActionTaken.from_dict(raw)
        entry = home.devices.get(action.device_id)
        if entry is not None:
            state = settable_state(entry.device, action.before)
            if state:
                commands.append((entry.device, Command(CommandName.RESTORE, {"state": state})))
    return commands


def needing_confirmation(home: Home, group: dict[str, Any]) -> list[Device]:
    """The devices this undo step would unlock or open (undoing "lock the door" unlocks it): they need a yes."""
    return [d for d, c in _restores(home, group) if needs_confirmation(d, c, home.entry(d.id).state) is not None]


async def revert(core: Core, home: Home, group: dict[str, Any], confirmed: bool = False) -> Reverted:
    """Put back the states and registry entries an undo step recorded (the caller commits `changes` and records
    `actions`). Restores that unlock or open run only when `confirmed`."""
    out = Reverted()
    for change in reversed(group.get("changes", [])):
        try:
            _revert_change(core, home, change, out)
        except HearthError as err:
            out.failures.append(err.message)
    outcome = await core.control.execute(home, _restores(home, group), confirmed)
    out.actions = outcome.actions
    out.failures += [err.message for _, err in outcome.failures]
    if outcome.actions:
        names = [f"the {home.device(a.device_id).name}" for a in outcome.actions]
        listed = _join(names) if len(names) <= 4 else f"{len(names)} devices"
        out.said.append(f"{listed} {'is' if len(names) == 1 else 'are'} back as before")
    out.devices += [a.device_id for a in outcome.actions]
    return out


def _revert_change(core: Core, home: Home, change: dict[str, Any], out: Reverted) -> None:
    before, after, kind = change.get("before"), change.get("after"), change["kind"]
    registry = core.registry
    reverter = core.dialogue.reverters.get(kind)
    if reverter is not None:
        out.changes.append(reverter(home, change))
        name = (before or after or {}).get("name", change["id"])
        out.said.append(f"the {kind} {name} is {'gone again' if before is None else 'as it was'}")
        return
    if before is None:  # it was created: remove it again, where that is possible
        name = (after or {}).get("name", change["id"])
        if kind == "area" and change["id"] in home.areas and not home.find(area=change["id"]):
            out.changes.append(registry.delete_area(home, change["id"]))
        elif kind == "scene" and change["id"] in home.scenes:
            out.changes.append(registry.delete_scene(home, change["id"]))
        elif kind == "floor" and change["id"] in home.floors:
            out.changes.append(registry.delete_floor(home, change["id"]))
        else:
            out.failures.append(f"I can't undo adding {name}; remove it instead.")
            return
        out.said.append(f"{name} is gone again")
        return
    if kind == "device":
        device = Device.from_dict(before)
        current = home.devices.get(device.id)
        out.changes.append(registry.put_device(device))
        out.devices.append(device.id)
        now = current.device if current else None
        if now is not None and now.name != device.name:
            out.said.append(f"the {now.name} is called {device.name} again")
        if now is not None and now.area != device.area:
            where = f"back in the {home.area_name(device.area)}" if device.area else "in no room again"
            out.said.append(f"the {device.name} is {where}")
        if now is not None and now.aliases != device.aliases and now.name == device.name:
            out.said.append(f"the {device.name} has its old names back")
    elif kind == "area":
        area = Area.from_dict(before)
        if area.floor is not None and area.floor not in home.floors:
            area.floor = None
        out.changes.append(registry.put_area(home, area))
        out.said.append(f"the {area.name} is {'back' if after is None else 'as it was'}")
    elif kind == "scene":
        states = {k: DeviceState.from_dict(v) for k, v in (before.get("states") or {}).items()}
        out.changes.append(registry.put_scene(home, Scene(str(before["id"]), str(before["name"]), states)))
        out.said.append(f"the scene {before['name']} is {'back' if after is None else 'as it was'}")
    elif kind == "floor":
        floor = Floor.from_dict(before)
        out.changes.append(registry.put_floor(home, floor))
        out.said.append(f"the {floor.name} is {'back' if after is None else 'as it was'}")
    else:
        out.failures.append("I can't undo that kind of change.")


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
