"""Which devices an utterance means: named, by class (kind or name) in a room or on a floor, everything, "it".

A name nobody in the home has ("the sauna") is said back plainly instead of guessed or asked about."""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from assistant.devices import Capability, Device, DeviceKind
from assistant.dialogue import join_names
from assistant.errors import ErrorCode
from assistant.intents import Ask, Done, IntentCall
from assistant.registry import Home
from assistant.turn import Reply, ReplyKind

WORD = re.compile(r"[a-z]+")
ALL_WORDS = {"all", "every", "everything", "both", "each", "whole", "everywhere", "anything"}
# Words that widen the scope to the whole home (the satellite's own room no longer applies).
HOME_WIDE = ({"everywhere"}, {"whole", "house"}, {"whole", "home"}, {"entire", "house"}, {"all", "over"})
# "Everything" means every device that can do it, whatever its kind (not just the lights).
EVERYTHING = ({"everything"}, {"all", "devices"}, {"every", "device"}, {"anything"})
MAX_LISTED = 5
MAX_SUGGESTED = 3
SUGGEST_LIMIT = 5000  # homes with more names than this get no "closest names" (it would cost too much)
NAME_SCAN_LIMIT = 5000  # a class word is looked for in device names across the whole home only up to this size
KIND_NOUN = {
    DeviceKind.LIGHT: "light", DeviceKind.SWITCH: "switch", DeviceKind.CLIMATE: "thermostat",
    DeviceKind.LOCK: "lock", DeviceKind.COVER: "cover", DeviceKind.FAN: "fan", DeviceKind.SENSOR: "sensor",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ClassWords:
    """Words people use for a class of device. A generic class means every device of its kind (and anything named
    with one of its words); a specific one ("blinds" among covers, "lamps" among lights) only what is named so."""

    kind: DeviceKind
    words: frozenset[str]
    generic: bool


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


CLASS_WORDS: tuple[ClassWords, ...] = (
    ClassWords(DeviceKind.LIGHT, _words("light lights bulb bulbs lighting spotlight spotlights"), True),
    ClassWords(DeviceKind.LIGHT, _words("lamp lamps"), False),
    ClassWords(DeviceKind.COVER, _words("cover covers"), True),
    ClassWords(
        DeviceKind.COVER, _words("blind blinds shade shades curtain curtains shutter shutters drape drapes"), False
    ),
    ClassWords(DeviceKind.COVER, _words("door doors gate gates garage"), False),
    ClassWords(DeviceKind.FAN, _words("fan fans"), True),
    ClassWords(DeviceKind.SWITCH, _words("switch switches plug plugs socket sockets outlet outlets"), True),
    ClassWords(DeviceKind.CLIMATE, _words("thermostat thermostats heating heater heaters ac hvac"), True),
    ClassWords(DeviceKind.LOCK, _words("lock locks deadbolt deadbolts"), True),
    ClassWords(DeviceKind.SENSOR, _words("sensor sensors"), True),
)
_GENERIC = {c.kind: c for c in CLASS_WORDS if c.generic}
_BY_WORD = {w: c for c in CLASS_WORDS for w in c.words}
# Words after "the" that are not device names ("turn up the heat", "what's the temperature").
NOT_NAMES = frozenset(
    """heat temperature temp brightness colour color power volume house home place whole rest one ones same other
    thing things stuff room rooms level setting settings way moment time mode scene it them everything all
    inside outside air weather""".split()
)
# Words that end a spoken name ("the sauna in the garden", "the sauna on").
_NAME_ENDS = frozenset(
    """in on off to at for please and from up down with by now again too is are of it then so if or but
    as into onto a an the my our that this these those be was were brighter dimmer warmer cooler more less
    bit little halfway half""".split()
)
_ARTICLES = frozenset({"the", "my", "our"})


def the(device: Device) -> str:
    """ "the kitchen lights" (names that are acronyms keep their case)."""
    return f"the {device.name}"


def words_of(call: IntentCall) -> set[str]:
    return set(WORD.findall(call.text.lower()))


def says_all(call: IntentCall) -> bool:
    return bool(ALL_WORDS & words_of(call))


def _has_any(words: set[str], groups: Iterable[set[str]]) -> bool:
    return any(group <= words for group in groups)


def floor_in(home: Home, text: str) -> str | None:
    """The floor an utterance names ("every light downstairs"), by name or alias."""
    if not home.floors:
        return None
    lowered = text.lower()
    if not any(
        floor.name.lower() in lowered or any(a.lower() in lowered for a in floor.aliases)
        for floor in home.floors.values()
    ):
        return None  # the common case, without splitting the text into words
    padded = " " + " ".join(WORD.findall(text.lower())) + " "
    for floor in home.floors.values():
        for name in (floor.name, *floor.aliases):
            if f" {' '.join(WORD.findall(name.lower()))} " in padded:
                return floor.id
    return None


def _fits(dev: Device, capability: Capability | None, kinds: Collection[DeviceKind] | None) -> bool:
    return (capability is None or capability in dev.capabilities) and (kinds is None or dev.kind in kinds)


@functools.lru_cache(maxsize=65536)
def _words_of_names(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(w for name in names for w in WORD.findall(name.lower()))


def _name_words(dev: Device) -> frozenset[str]:
    return _words_of_names((dev.name, *dev.aliases))


def pools(home: Home, area: str | None, floor: str | None, kind: DeviceKind) -> tuple[list[Device], list[Device]]:
    """(the devices of `kind` in scope, the devices in scope whose names are worth reading for the class word).

    Both come from the registry's indexes; the names of a whole large home are not read (its kind index is)."""
    if area:
        return home.find(area=area, kind=kind), home.find(area=area)
    if floor:
        rooms = [a.id for a in home.areas.values() if a.floor == floor]
        in_rooms = [d for room in rooms for d in home.find(area=room)]
        return [d for d in in_rooms if d.kind == kind], in_rooms
    return home.find(kind=kind), (home.find() if len(home.devices) <= NAME_SCAN_LIMIT else [])


def of_class(
    kind_pool: list[Device], name_pool: Iterable[Device], kind: DeviceKind, spoken: str | None
) -> list[Device]:
    """The devices a class word means: of its kind or named with it ("the fan" is the ceiling fan and the bathroom
    fan switch, never the ceiling light); a specific word ("blinds") keeps only what is named so, when anything is."""
    said = _BY_WORD.get(spoken or "")
    words = said if said is not None and said.kind == kind else _GENERIC.get(kind)
    if words is None:
        return list(kind_pool)
    others = [d for d in name_pool if d.kind != kind and _name_words(d) & words.words]
    if not words.generic:
        named = [d for d in kind_pool if _name_words(d) & words.words]
        return named or others or list(kind_pool)
    return [*kind_pool, *others]


def spoken_class(call: IntentCall) -> tuple[DeviceKind, str | None] | None:
    """The class of device said: the NLU's device_class, or a class word in the text it did not tag."""
    if call.slots.get("device_class"):
        kind = DeviceKind(call.slots["device_class"])
        for e in call.nlu.entities:
            if e.entity == "device_class":
                said = WORD.findall((e.text or "").lower())
                return kind, said[-1] if said else None
        return kind, None
    if call.slots.get("device"):
        return None
    if call.slots.get("device_options"):  # "the light in the office": a class word that is also part of names
        said = WORD.findall(str(call.slots.get("device_mention") or "").lower())
        cls = _BY_WORD.get(said[-1]) if len(said) == 1 else None
        return (cls.kind, said[-1]) if cls is not None else None
    words = WORD.findall(call.text.lower())
    for k in range(len(words)):  # the first word only in "<class> on/off" ("fan on"), never "switch off", "light up"
        cls = _BY_WORD.get(words[k])
        if cls is None or (k == 0 and (words[0] == "switch" or len(words) > 3 or words[1:2] not in (["on"], ["off"]))):
            continue
        if k == 0 or words[k - 1] not in {"to", "please", "and", "you", "i", "we", "then"}:
            return cls.kind, words[k]
    return None


def scoped(call: IntentCall, capability: Capability | None) -> list[Device]:
    """Devices with the capability in the room or on the floor the user named, else in the whole home."""
    home = call.home
    area = call.slots.get("area")
    if area:
        return home.find(area=area, capability=capability)
    floor = floor_in(home, call.text)
    pool = home.find(capability=capability)
    if floor:
        return [d for d in pool if d.area in home.areas and home.areas[d.area].floor == floor]
    return pool


def _which(noun: str, devices: list[Device]) -> Ask:
    if len(devices) <= MAX_LISTED:
        names = join_names((the(d) for d in devices), "or")
        return Ask(f"Which {noun}: {names}?", "device", [d.id for d in devices])
    if noun == "device":
        return Ask("Which device do you mean?", "device")
    return Ask(f"Which room is the {noun} in?", "area")


def unknown_mention(call: IntentCall) -> str | None:
    """A name the user said that matches nothing in the home ("turn on the sauna" -> "sauna"), if any."""
    text = call.text.lower()
    covered = [(e.start, e.end) for e in call.nlu.entities]
    if covered:
        chars = list(text)
        for start, end in covered:
            chars[start:end] = " " * (end - start)
        text = "".join(chars)
    words = WORD.findall(text)
    for k, w in enumerate(words):
        if w not in _ARTICLES:
            continue
        name: list[str] = []
        for nxt in words[k + 1 :]:
            if nxt in _NAME_ENDS:
                break
            name.append(nxt)
        if name and not (set(name) & NOT_NAMES) and not all(n in _BY_WORD for n in name):
            return " ".join(name)
    return None


def named_in_part(
    home: Home, mention: str, capability: Capability | None, kinds: Collection[DeviceKind] | None
) -> Device | None:
    """The one device that can do it whose name (or alias) contains every word of the mention, if exactly one."""
    said = frozenset(WORD.findall(mention.lower()))
    if not said or said & NOT_NAMES:
        return None
    found = [d for d in home.find() if _fits(d, capability, kinds) and said <= _name_words(d)]
    return found[0] if len(found) == 1 else None


def named_anywhere(home: Home, mention: str) -> bool:
    """Whether every word of a mention that is not a class word is part of some device's or room's name."""
    said = {w for w in WORD.findall(mention.lower()) if w not in _BY_WORD}
    known: set[str] = set()
    for dev in home.find():
        known |= _name_words(dev)
    for area in home.areas.values():
        known |= set(WORD.findall(" ".join((area.name, *area.aliases)).lower()))
    return said <= known


def unknown(home: Home, mention: str) -> Done:
    """ "I don't know a device called sauna", with the closest names the home has."""
    speech = f"I don't know a device called {mention}."
    names: dict[str, str] = {}
    if len(home.devices) <= SUGGEST_LIMIT:
        for entry in home.devices.values():
            for name in (entry.device.name, *entry.device.aliases):
                names.setdefault(name.lower(), entry.device.name)
        close = difflib.get_close_matches(mention.lower(), list(names), n=MAX_SUGGESTED * 2, cutoff=0.6)
        suggested = list(dict.fromkeys(names[c] for c in close))[:MAX_SUGGESTED]
        if suggested:
            speech += f" The closest I know: {join_names((f'the {n}' for n in suggested), 'or')}."
    return Done(
        Reply(speech, ReplyKind.ERROR, error_code=str(ErrorCode.UNKNOWN_DEVICE), card={"unknown": mention}),
        undoable=False,
    )


def resolve(
    call: IntentCall,
    capability: Capability | None,
    kinds: Collection[DeviceKind] | None = None,
    noun: str = "device",
    area_kinds: Collection[DeviceKind] | None = None,
) -> list[Device] | Ask | Done:
    """The devices this call means, the question to ask, or the plain answer that the name is unknown.

    `area_kinds`: what a bare room name means ("turn off the kitchen": its lights first)."""
    home, slots = call.home, call.slots
    words = words_of(call)
    everywhere = _has_any(words, HOME_WIDE)
    explicit_area: str | None = slots.get("area")
    floor = None if explicit_area else floor_in(home, call.text)
    area = explicit_area or (None if everywhere or floor else call.turn.area)
    scoped = bool(explicit_area or floor)

    def in_scope(devices: Iterable[Device], where: str | None = area) -> list[Device]:
        if where:
            return [d for d in devices if d.area == where]
        if floor:
            return [d for d in devices if d.area in home.areas and home.areas[d.area].floor == floor]
        return list(devices)

    # 1. devices named outright
    if slots.get("device"):
        return [home.device(d) for d in slots["device"] if d in home.devices]
    # 2. a mention that fits several devices ("the lamp")
    options = [home.device(d) for d in slots.get("device_options", []) if d in home.devices]
    cls = spoken_class(call)
    if options:
        fitting = [d for d in options if _fits(d, capability, kinds)] or options
        local = in_scope(fitting)
        if not (cls is not None and scoped and not local):  # else: a class word in a room none of them is in
            fitting = local or fitting
            if len(fitting) == 1 or says_all(call):
                return fitting
            return _which(str(slots.get("device_mention") or noun), fitting)
    # 3. a class of device ("the lights", "the fan in the bedroom"), in a room, on a floor or everywhere
    if cls is not None:
        kind, spoken = cls
        found = [d for d in of_class(*pools(home, area, floor, kind), kind, spoken) if _fits(d, capability, None)]
        if scoped and not found:
            return []
        if not found and area:  # nothing of that class in the satellite's room: look everywhere
            found = [d for d in of_class(*pools(home, None, None, kind), kind, spoken) if _fits(d, capability, None)]
            area = None
        if area or scoped or everywhere or len(found) <= 1 or says_all(call):
            return found
        # "the aquarium light": a class word after a word that names nothing here is an unknown name, not a class
        mention = unknown_mention(call)
        if mention is not None and not named_anywhere(home, mention):
            return unknown(home, mention)
        return _which(KIND_NOUN.get(kind, noun), found)
    # 4. everything that can do it, in a room, on a floor or in the whole home (never widened to other kinds)
    if _has_any(words, EVERYTHING):
        where = explicit_area or (None if everywhere or floor else call.turn.area)
        return [
            d for d in in_scope(home.find(area=where) if where else home.find(), where) if _fits(d, capability, None)
        ]
    # 5. just a room or a floor ("turn off the kitchen", "turn off upstairs")
    if scoped:
        pool = home.find(area=explicit_area) if explicit_area else in_scope(home.find())
        for group in (area_kinds, kinds, None):
            found = [d for d in pool if _fits(d, capability, group)]
            if found:
                return found
        return []
    # 6. a name the home does not have, unless its words are part of exactly one fitting device's name
    #    ("the coffee" for the coffee maker); otherwise said plainly
    mention = unknown_mention(call)
    if mention is not None:
        part = named_in_part(home, mention, capability, kinds)
        return [part] if part is not None else unknown(home, mention)
    # 7. "it", "them", or no target: what the conversation was about
    context = [home.device(d) for d in call.conversation.last_devices if d in home.devices]
    context = [d for d in context if _fits(d, capability, kinds)]
    if context:
        return context
    # 8. the only device that can do it, or what is in the satellite's room
    able = [d for d in home.find(capability=capability) if _fits(d, None, kinds)]
    if len(able) == 1 or (everywhere and able):
        return able
    if area:
        local = [d for d in able if d.area == area and (area_kinds is None or d.kind in area_kinds)]
        if local:
            return local
    if not able:
        return []
    return _which(noun, able)
