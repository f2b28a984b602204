"""Forgetting a name by voice ("forget the name telly", "stop calling the tv telly"); the device or room stays."""

from __future__ import annotations

import re
from dataclasses import replace

from assistant.dialogue import capitalized
from assistant.eventlog import EventType, append_op
from assistant.intents import Done, IntentCall, IntentHandler, Outcome, Slot, SlotType
from assistant.nlu.result import Entity, IntentScore, NluResult
from assistant.readings import UtteranceReader
from assistant.registry import Home
from assistant.turn import Reply, ReplyKind

_WORDS = re.compile(r"[a-z0-9']+")
# The sentence shapes that take a name away; "name" is the alias, said last.
_SHAPES = (
    re.compile(r"^(?:please )?(?:forget|remove|delete|drop) the (?:name|alias|nickname) (?P<name>.+)$"),
    re.compile(
        r"^(?:please )?(?:stop calling|don't call|dont call|do not call) (?:the )?(?P<what>.+?) (?P<name>[a-z0-9' ]+?)"
        r"(?: any ?more)?$"
    ),
)  # fmt: skip
_STARTS = frozenset({"please", "forget", "remove", "delete", "drop", "stop", "don't", "dont", "do"})


def _aliases_of(home: Home) -> dict[str, tuple[str, str]]:
    """alias (lowercase) -> ("device" | "area", id)."""
    out: dict[str, tuple[str, str]] = {}
    for entry in home.devices.values():
        for alias in entry.device.aliases:
            out.setdefault(alias.lower(), ("device", entry.device.id))
    for area in home.areas.values():
        for alias in area.aliases:
            out.setdefault(alias.lower(), ("area", area.id))
    return out


class AliasReader(UtteranceReader):
    """Reads "forget the name X" when X is one of the home's aliases (anything else is left to the NLU)."""

    def read(self, text: str, home: Home, nlu: NluResult) -> NluResult | None:
        lowered = text.lower()
        first = _WORDS.match(lowered)
        if first is None or first.group(0) not in _STARTS:
            return None
        said = " ".join(_WORDS.findall(lowered))
        matches = [(shape, found) for shape in _SHAPES if (found := shape.match(said)) is not None]
        if not matches:
            return None  # "stop the coffee maker": not a name being taken away (and the home is never scanned)
        known = _aliases_of(home)
        for shape, found in matches:
            words = found.group(0).split()
            # the longest ending of the sentence that is an alias ("stop calling the tv the telly")
            for k in range(len(words)):
                candidate = " ".join(words[k:]).removeprefix("the ").removesuffix(" anymore").removesuffix(" any more")
                if candidate in known:
                    kind, thing = known[candidate]
                    score = IntentScore("remove_alias", 1.0)
                    entities = [
                        Entity("alias", candidate, 0, len(text), text=candidate, extractor="aliases"),
                        Entity("alias_of", f"{kind}:{thing}", 0, len(text), extractor="aliases"),
                    ]
                    return NluResult(text, score, entities, [score])
            if shape is _SHAPES[0]:  # "forget the name X" with an X that is no one's other name
                score = IntentScore("remove_alias", 1.0)
                return NluResult(text, score, [Entity("alias", found["name"], 0, len(text))], [score])
        return None


class RemoveAlias(IntentHandler):
    intent = "remove_alias"
    slots = (Slot("alias", SlotType.TEXT), Slot("alias_of", SlotType.TEXT))

    async def handle(self, call: IntentCall) -> Outcome:
        alias = str(call.slots.get("alias") or "")
        kind, _, thing = str(call.slots.get("alias_of") or "").partition(":")
        home = call.home
        if kind == "device" and thing in home.devices:
            device = home.device(thing)
            updated = replace(device, aliases=tuple(a for a in device.aliases if a.lower() != alias))
            staged = call.core.registry.put_device(updated)
            staged.write(
                append_op(home.id, EventType.DEVICE_UPDATED, {"device_id": device.id, "aliases": list(updated.aliases)})
            )
            staged.then(lambda: call.core.control.publish(home, [device.id]))
            name = device.name
        elif kind == "area" and thing in home.areas:
            area = home.areas[thing]
            updated_area = replace(area, aliases=tuple(a for a in area.aliases if a.lower() != alias))
            staged = call.core.registry.put_area(home, updated_area)
            staged.write(
                append_op(home.id, EventType.AREA_UPDATED, {"area_id": area.id, "aliases": list(updated_area.aliases)})
            )
            name = area.name
        else:
            return Done(
                Reply(
                    f"{capitalized(alias)} isn't another name for anything, so there's nothing to forget.",
                    ReplyKind.ANSWER,
                ),
                undoable=False,
            )
        return Done(
            Reply(f"Okay, {alias} no longer means the {name}.", ReplyKind.DONE),
            changes=[staged],
            undoable=False,
        )
