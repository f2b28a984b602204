"""Questions about the home: what is on, how warm it is inside, and who changed a device (from the event log)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

from assistant.devices import Capability, Device
from assistant.dialogue import capitalized, join_names
from assistant.intents import Done, IntentCall
from assistant.turn import Reply, ReplyKind
from services.targets import floor_in, of_class, scoped, spoken_class, the

WORD = re.compile(r"[a-z]+")
HISTORY_SCAN = 5000  # newest events of the home looked at for "who turned on ..."
CHANNELS = {
    "api": "through the app", "webchat": "in the web chat", "voice": "by voice", "satellite": "on a satellite",
    "cli": "from the command line", "websocket": "in the web chat",
}  # fmt: skip
# What a verb in the question asks about: the state field and the value it changed to.
CHANGES: tuple[tuple[frozenset[str], str, Any], ...] = (
    (frozenset({"unlocked", "unlock"}), "locked", False),
    (frozenset({"locked", "lock"}), "locked", True),
    (frozenset({"opened", "open"}), "position", "up"),
    (frozenset({"closed", "close", "shut"}), "position", 0),
    (frozenset({"on"}), "on", True),
    (frozenset({"off"}), "on", False),
)


def what_is_on(call: IntentCall) -> Done:
    """ "What's on right now", "which lights are on upstairs": the devices in scope that are on."""
    home = call.home
    pool = scoped(call, Capability.ON_OFF)
    cls = spoken_class(call)
    if cls is not None:
        pool = of_class([d for d in pool if d.kind == cls[0]], pool, *cls)
    on = [d for d in pool if home.entry(d.id).state.on]
    where = _where(call)
    if not on:
        noun = cls[1] if cls and cls[1] else ""
        noun = noun if not noun or noun.endswith("s") else noun + "s"
        speech = f"None of the {noun}{where} are on." if noun else f"Nothing is on{where}."
    else:
        names = join_names(the(d) for d in on[:8])
        more = f" and {len(on) - 8} more" if len(on) > 8 else ""
        speech = f"{capitalized(names)}{more} {'is' if len(on) == 1 else 'are'} on{where}."
    card = {"devices": [home.entry(d.id).view(home.areas) for d in on[:20]]}
    return Done(Reply(speech, ReplyKind.ANSWER, card=card), context_devices=[d.id for d in on], undoable=False)


def _where(call: IntentCall) -> str:
    area = call.slots.get("area")
    if area:
        return f" in the {call.home.area_name(area)}"
    floor = floor_in(call.home, call.text)
    return f" {call.home.floors[floor].name}" if floor else ""


def readings(call: IntentCall, capability: Capability) -> Done | None:
    """ "How warm is it inside": the average of the thermometers in scope, naming each one."""
    field = "current_temperature" if capability is Capability.TEMPERATURE else "humidity"
    home = call.home
    pool = scoped(call, capability)
    found: list[tuple[Device, float]] = []
    for device in pool:
        entry = home.entry(device.id)
        value = getattr(entry.state, field)
        if entry.available and isinstance(value, int | float):
            found.append((device, float(value)))
    if not found:
        return None
    unit = " degrees" if field == "current_temperature" else "% humidity"
    where = _where(call) or " inside"
    if len(found) == 1:
        device, value = found[0]
        speech = f"It's {value:g}{unit}{where}, from {the(device)}."
    else:
        average = round(sum(v for _, v in found) / len(found), 1)
        each = join_names(f"{the(d)} reads {v:g}" for d, v in found[:6])
        speech = f"It's {average:g}{unit}{where} on average: {each}."
    card = {"average": round(sum(v for _, v in found) / len(found), 2), "readings": {d.id: v for d, v in found}}
    return Done(Reply(speech, ReplyKind.ANSWER, card=card), context_devices=[d.id for d, _ in found], undoable=False)


def _asked_change(words: set[str]) -> tuple[str, Any] | None:
    for verbs, field, value in CHANGES:
        if words & verbs:
            return field, value
    return None


def _matches(change: tuple[str, Any] | None, before: dict[str, Any], after: dict[str, Any]) -> bool:
    if change is None:
        return before != after
    field, value = change
    if field not in after:
        return False
    if value == "up":
        return bool(after[field] > (before.get(field) or 0))
    return bool(after[field] == value and before.get(field) != value)


def _ago(seconds: float) -> str:
    if seconds < 60:
        return "just now"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''} ago"
    hours = int(minutes // 60)
    if hours < 24:
        return f"{hours} hour{'s' if hours != 1 else ''} ago"
    days = int(hours // 24)
    return f"{days} day{'s' if days != 1 else ''} ago"


async def who_changed(call: IntentCall, devices: list[Device]) -> Done:
    """ "Who turned on the kitchen lights": the newest matching change in the event log: who, which channel, when."""
    home = call.home
    words = set(WORD.findall(call.text.lower()))
    change = _asked_change(words)
    ids = {d.id for d in devices}
    marks = ", ".join("?" * len(ids))
    rows = await asyncio.to_thread(
        call.core.store.query,
        "SELECT id, ts, type, data FROM (SELECT id, ts, type, data FROM events WHERE home_id = ? ORDER BY id DESC "
        f"LIMIT ?) WHERE type IN ('command', 'state_changed') AND json_extract(data, '$.device_id') IN ({marks}) "
        "ORDER BY id DESC",
        (home.id, HISTORY_SCAN, *sorted(ids)),
    )
    for row in rows:
        data = json.loads(row["data"])
        if data.get("device_id") not in ids:
            continue
        if row["type"] == "command":
            before, after = data.get("before") or {}, data.get("after") or {}
        else:
            before, after = {}, data.get("state") or {}
        if not _matches(change, before, after):
            continue
        device = home.device(data["device_id"])
        what = _verb_phrase(change, device, after)
        when = _ago(time.time() - row["ts"]) + time.strftime(" (at %H:%M)", time.localtime(row["ts"]))
        card = {"event_id": row["id"], "device_id": device.id, "ts": row["ts"]}
        if row["type"] == "command" and data.get("user_id"):
            user = call.core.store.query_one("SELECT name FROM users WHERE id = ?", (data["user_id"],))
            name = user["name"] if user else data["user_id"]
            you = data["user_id"] == call.turn.user_id
            channel = CHANNELS.get(str(data.get("channel")), f"through {data.get('channel')}")
            who = "You" if you else capitalized(name)
            speech = f"{who} {what} {when}, {channel}."
            card.update({"user_id": data["user_id"], "user": name, "channel": data.get("channel")})
        else:
            state = _state_word(change, after)
            speech = f"{capitalized(the(device))} changed at the device itself, not through me: it was {state} {when}."
        return Done(Reply(speech, ReplyKind.ANSWER, card=card), context_devices=[device.id], undoable=False)
    names = join_names(the(d) for d in devices[:4]) or "that"
    return Done(
        Reply(f"I have no record of that for {names} in the recent history.", ReplyKind.ANSWER),
        context_devices=[d.id for d in devices],
        undoable=False,
    )


def _verb_phrase(change: tuple[str, Any] | None, device: Device, after: dict[str, Any]) -> str:
    name = the(device)
    if change is None:
        return f"last changed {name}"
    field, value = change
    if field == "on":
        return f"turned {'on' if value else 'off'} {name}"
    if field == "locked":
        return f"{'locked' if value else 'unlocked'} {name}"
    return f"{'opened' if value == 'up' else 'closed'} {name}"


def _state_word(change: tuple[str, Any] | None, after: dict[str, Any]) -> str:
    if change is None:
        return "changed"
    field, value = change
    if field == "on":
        return "switched on" if value else "switched off"
    if field == "locked":
        return "locked" if value else "unlocked"
    return "opened" if value == "up" else "closed"
