"""The live registry of homes: areas, devices with their state, scenes; kept in memory, backed by the store."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from assistant import journal
from assistant.devices import Capability, Device, DeviceKind, DeviceState
from assistant.errors import DeviceError, ErrorCode, HearthError
from assistant.nlu.engine import NamedThing, NameKind, NluEngine, Vocabulary
from assistant.store import Change, Store, WriteOp, dumps
from assistant.validation import check_text


@dataclass(slots=True)
class Floor:
    """A storey of the home ("downstairs", "upstairs"); areas may belong to one."""

    id: str
    name: str
    aliases: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Floor:
        return cls(str(data["id"]), str(data["name"]), tuple(data.get("aliases") or ()))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "aliases": list(self.aliases)}


@dataclass(slots=True)
class Area:
    """A room or zone, optionally on a floor."""

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    floor: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Area:
        return cls(str(data["id"]), str(data["name"]), tuple(data.get("aliases") or ()), data.get("floor"))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "aliases": list(self.aliases), "floor": self.floor}


@dataclass(slots=True)
class Scene:
    """A named set of device states."""

    id: str
    name: str
    states: dict[str, DeviceState] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "states": {k: v.to_dict() for k, v in self.states.items()},
        }


@dataclass(slots=True)
class DeviceEntry:
    """A device with its last known state and availability."""

    device: Device
    state: DeviceState
    available: bool = True
    updated_at: float = 0.0

    def view(self, areas: dict[str, Area] | None = None) -> dict[str, Any]:
        """The API's DeviceView."""
        out = self.device.to_dict()
        out.pop("home_id", None)
        out["state"] = self.state.to_dict()
        out["available"] = self.available
        if areas is not None and self.device.area in areas:
            out["area_name"] = areas[self.device.area].name
        return out


class Home:
    """One home's registry and its NLU vocabulary."""

    def __init__(self, home_id: str, name: str, vocabulary: Vocabulary) -> None:
        self.id = home_id
        self.name = name
        self.vocabulary = vocabulary
        self.areas: dict[str, Area] = {}
        self.devices: dict[str, DeviceEntry] = {}
        self.scenes: dict[str, Scene] = {}
        self.floors: dict[str, Floor] = {}
        # ("area", id) / ("kind", kind) / ("cap", capability) -> device ids (dicts keep insertion order)
        self._index: dict[tuple[str, str], dict[str, None]] = {}

    def _keys(self, dev: Device) -> list[tuple[str, str]]:
        keys = [("kind", str(dev.kind)), *(("cap", str(c)) for c in dev.capabilities)]
        if dev.area is not None:
            keys.append(("area", dev.area))
        return keys

    def _put_entry(self, entry: DeviceEntry) -> None:
        old = self.devices.get(entry.device.id)
        if old is not None:
            for key in self._keys(old.device):
                self._index.get(key, {}).pop(old.device.id, None)
        self.devices[entry.device.id] = entry
        for key in self._keys(entry.device):
            self._index.setdefault(key, {})[entry.device.id] = None
        self._index_device(entry.device)

    def entry(self, device_id: str) -> DeviceEntry:
        try:
            return self.devices[device_id]
        except KeyError:
            raise DeviceError(
                ErrorCode.UNKNOWN_DEVICE,
                f"There is no device called {device_id!r}.",
                {"device": device_id},
            ) from None

    def device(self, device_id: str) -> Device:
        return self.entry(device_id).device

    def area_name(self, area_id: str | None) -> str:
        if area_id and area_id in self.areas:
            return self.areas[area_id].name
        return area_id or ""

    def find(
        self,
        area: str | None = None,
        kind: DeviceKind | None = None,
        capability: Capability | None = None,
    ) -> list[Device]:
        """Devices matching all the given filters, in a stable order (indexed: cost follows the smallest match)."""
        keys = []
        if area is not None:
            keys.append(("area", area))
        if kind is not None:
            keys.append(("kind", str(kind)))
        if capability is not None:
            keys.append(("cap", str(capability)))
        if not keys:
            return [e.device for e in self.devices.values()]
        sets = sorted((self._index.get(k, {}) for k in keys), key=len)
        first, rest = sets[0], sets[1:]
        return [self.devices[d].device for d in first if all(d in other for other in rest)]

    # vocabulary upkeep: every registry change reaches the NLU at once
    def _index_device(self, dev: Device) -> None:
        caps = frozenset(str(c) for c in dev.capabilities)
        self.vocabulary.put(
            NamedThing(NameKind.DEVICE, dev.id, (dev.name, *dev.aliases), dev.area, str(dev.kind), caps)
        )

    def _index_area(self, area: Area) -> None:
        self.vocabulary.put(NamedThing(NameKind.AREA, area.id, (area.name, *area.aliases)))

    def _index_scene(self, scene: Scene) -> None:
        self.vocabulary.put(NamedThing(NameKind.SCENE, scene.id, (scene.name,)))


class Registry:
    """All homes, loaded from the store at start and updated together with it."""

    def __init__(self, store: Store, nlu: NluEngine) -> None:
        self.store = store
        self.nlu = nlu
        self.homes: dict[str, Home] = {}

    def load(self) -> None:
        """Read every home, area, device, state and scene from the store."""
        self.homes.clear()
        self._load("", ())

    def load_home(self, home_id: str) -> Home | None:
        """Read one home that another process added to the store (None if it is not there or already loaded)."""
        if home_id in self.homes:
            return None
        self._load("WHERE {col} = ?", (home_id,))
        return self.homes.get(home_id)

    def _load(self, where: str, params: tuple[str, ...]) -> None:
        for row in self.store.query(f"SELECT id, name FROM homes {where.format(col='id')}", params):
            self.homes[row["id"]] = Home(row["id"], row["name"], self.nlu.new_vocabulary())
        where = where.format(col="home_id")
        for row in self.store.query(f"SELECT * FROM floors {where}", params):
            home = self.homes.get(row["home_id"])
            if home:
                home.floors[row["id"]] = Floor(row["id"], row["name"], tuple(json.loads(row["aliases"])))
        for row in self.store.query(f"SELECT * FROM areas {where}", params):
            home = self.homes.get(row["home_id"])
            if home:
                area = Area(row["id"], row["name"], tuple(json.loads(row["aliases"])), row["floor"])
                home.areas[area.id] = area
                home._index_area(area)
        states = {
            (r["home_id"], r["device_id"]): r
            for r in self.store.query(
                f"SELECT home_id, device_id, state, available, updated_at FROM device_state {where}", params
            )
        }
        for row in self.store.query(f"SELECT * FROM devices {where} ORDER BY created_at, rowid", params):
            home = self.homes.get(row["home_id"])
            if not home:
                continue
            dev = _device_from_row(row)
            srow = states.get((dev.home_id, dev.id))
            state = DeviceState.from_dict(json.loads(srow["state"])) if srow else DeviceState()
            home._put_entry(
                DeviceEntry(
                    dev,
                    state,
                    bool(srow["available"]) if srow else True,
                    srow["updated_at"] if srow else 0.0,
                )
            )
        for row in self.store.query(f"SELECT * FROM scenes {where}", params):
            home = self.homes.get(row["home_id"])
            if home:
                raw = json.loads(row["states"])
                scene = Scene(row["id"], row["name"], {k: DeviceState.from_dict(v) for k, v in raw.items()})
                home.scenes[scene.id] = scene
                home._index_scene(scene)

    def home(self, home_id: str) -> Home:
        try:
            return self.homes[home_id]
        except KeyError:
            raise HearthError(ErrorCode.NOT_FOUND, "That home does not exist.", {"home": home_id}) from None

    # -- changes: each validates, then returns a staged Change; memory moves only when the store applies it -------
    def create_home(
        self,
        home_id: str,
        name: str,
        areas: Iterable[Area] = (),
        devices: Iterable[tuple[Device, DeviceState | None]] = (),
        scenes: Iterable[Scene] = (),
        floors: Iterable[Floor] = (),
    ) -> Change:
        """A new home with its floors, areas, devices and scenes, in one change (it appears whole, or not at all)."""
        if home_id in self.homes:
            raise HearthError(ErrorCode.VALIDATION, f"home {home_id!r} exists", {"home": home_id})
        check_text(home_id, "home id")
        check_text(name, "home name")
        home = Home(home_id, name, self.nlu.new_vocabulary())  # detached: nobody sees it before the commit
        now = time.time()
        change = Change().write(lambda c: c.execute("INSERT INTO homes VALUES (?, ?, ?)", (home_id, name, now)))
        for floor in floors:
            change.write(_floor_op(home.id, floor))
            home.floors[floor.id] = floor
        for area in areas:
            change.write(_area_op(home, area))
            home.areas[area.id] = area
            home._index_area(area)
        for dev, state in devices:
            ops, entry = _device_ops(home, dev, state)
            change.write(*ops)
            home._put_entry(entry)
        for scene in scenes:
            change.write(_scene_op(home, scene))
            home.scenes[scene.id] = scene
            home._index_scene(scene)

        def publish() -> None:
            self.homes[home_id] = home

        return change.then(publish)

    def put_floor(self, home: Home, floor: Floor) -> Change:
        op = _floor_op(home.id, floor)
        old_floor = home.floors.get(floor.id)
        journal.note("floor", floor.id, old_floor.to_dict() if old_floor else None, floor.to_dict())

        def apply() -> None:
            home.floors[floor.id] = floor

        return Change([op], [apply])

    def delete_floor(self, home: Home, floor_id: str) -> Change:
        """Forget a floor; its areas stay, on no floor."""
        key = (home.id, floor_id)
        old_floor = home.floors.get(floor_id)
        if old_floor is not None:
            for area in home.areas.values():
                if area.floor == floor_id:
                    journal.note("area", area.id, area.to_dict(), {**area.to_dict(), "floor": None})
            journal.note("floor", floor_id, old_floor.to_dict(), None)

        def apply() -> None:
            home.floors.pop(floor_id, None)
            for area in home.areas.values():
                if area.floor == floor_id:
                    area.floor = None

        return Change(
            [
                lambda c: c.execute("UPDATE areas SET floor = NULL WHERE home_id = ? AND floor = ?", key),
                lambda c: c.execute("DELETE FROM floors WHERE home_id = ? AND id = ?", key),
            ],
            [apply],
        )

    def put_area(self, home: Home, area: Area) -> Change:
        op = _area_op(home, area)
        old_area = home.areas.get(area.id)
        journal.note("area", area.id, old_area.to_dict() if old_area else None, area.to_dict())

        def apply() -> None:
            home.areas[area.id] = area
            home._index_area(area)

        return Change([op], [apply])

    def delete_area(self, home: Home, area_id: str) -> Change:
        """Forget an area that holds no devices (callers check; devices never point at a missing area)."""
        key = (home.id, area_id)
        old_area = home.areas.get(area_id)
        if old_area is not None:
            journal.note("area", area_id, old_area.to_dict(), None)

        def apply() -> None:
            home.areas.pop(area_id, None)
            home.vocabulary.remove(NameKind.AREA, area_id)

        return Change([lambda c: c.execute("DELETE FROM areas WHERE home_id = ? AND id = ?", key)], [apply])

    def delete_scene(self, home: Home, scene_id: str) -> Change:
        key = (home.id, scene_id)
        old_scene = home.scenes.get(scene_id)
        if old_scene is not None:
            journal.note("scene", scene_id, old_scene.to_dict(), None)

        def apply() -> None:
            home.scenes.pop(scene_id, None)
            home.vocabulary.remove(NameKind.SCENE, scene_id)

        return Change([lambda c: c.execute("DELETE FROM scenes WHERE home_id = ? AND id = ?", key)], [apply])

    def put_device(self, dev: Device, state: DeviceState | None = None) -> Change:
        """Add or update a device (a rename is understood by the NLU as soon as it is committed). A new device
        starts in `state` (or empty); an existing one keeps its state unless `state` is given."""
        home = self.home(dev.home_id)
        ops, _ = _device_ops(home, dev, state)
        old = home.devices.get(dev.id)
        journal.note("device", dev.id, old.device.to_dict() if old else None, dev.to_dict())

        def apply() -> None:
            old = home.devices.get(dev.id)
            entry = DeviceEntry(dev, state or (old.state if old else DeviceState()), True, time.time())
            if old is not None:
                entry.available = old.available
            home._put_entry(entry)

        return Change(ops, [apply])

    def put_scene(self, home: Home, scene: Scene) -> Change:
        op = _scene_op(home, scene)
        old_scene = home.scenes.get(scene.id)
        journal.note("scene", scene.id, old_scene.to_dict() if old_scene else None, scene.to_dict())

        def apply() -> None:
            home.scenes[scene.id] = scene
            home._index_scene(scene)

        return Change([op], [apply])

    def set_state(self, home_id: str, device_id: str, state: DeviceState, available: bool) -> Change:
        """A device's new state and availability, applied to memory once it is durable."""
        home = self.home(home_id)
        home.entry(device_id)  # it must exist now
        op = self.state_op(home_id, device_id, state, available)

        def apply() -> None:
            entry = home.devices.get(device_id)
            if entry is not None:
                entry.state = state
                entry.available = available
                entry.updated_at = time.time()

        return Change([op], [apply])

    @staticmethod
    def state_op(home_id: str, device_id: str, state: DeviceState, available: bool) -> WriteOp:
        row = (home_id, device_id, _dumps(state.to_dict(), "device state"), int(available), time.time())
        return lambda c: c.execute("INSERT OR REPLACE INTO device_state VALUES (?, ?, ?, ?, ?)", row)

    def all_devices(self) -> Iterable[DeviceEntry]:
        for home in self.homes.values():
            yield from home.devices.values()


def keep_old_name(old: str, aliases: tuple[str, ...], new: str) -> tuple[str, ...]:
    """A rename keeps the old name as an alias (the new name is not also an alias)."""
    kept = [a for a in aliases if a.lower() != new.lower()]
    if old.lower() != new.lower() and old.lower() not in (a.lower() for a in kept):
        kept.append(old)
    return tuple(kept)


def _dumps(value: Any, what: str) -> str:
    """JSON for the store, or a typed error before anything is staged (huge integers, bad text)."""
    try:
        return dumps(value)
    except TypeError as exc:
        raise HearthError(ErrorCode.VALIDATION, f"The {what} cannot be stored: {exc}.") from None


def _floor_op(home_id: str, floor: Floor) -> WriteOp:
    for value in (floor.id, floor.name, *floor.aliases):
        check_text(value, "floor name")
    row = (home_id, floor.id, floor.name, _dumps(list(floor.aliases), "aliases"))
    return lambda c: c.execute(
        "INSERT INTO floors (home_id, id, name, aliases) VALUES (?, ?, ?, ?) ON CONFLICT (home_id, id) "
        "DO UPDATE SET name = excluded.name, aliases = excluded.aliases",
        row,
    )


def _area_op(home: Home, area: Area) -> WriteOp:
    if area.floor is not None and area.floor not in home.floors:
        raise HearthError(ErrorCode.VALIDATION, f"There is no floor called {area.floor!r}.", {"floor": area.floor})
    for value in (area.id, area.name, *area.aliases):
        check_text(value, "area name")
    row = (home.id, area.id, area.name, _dumps(list(area.aliases), "aliases"), area.floor)
    return lambda c: c.execute(
        "INSERT INTO areas (home_id, id, name, aliases, floor) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (home_id, id) DO UPDATE SET name = excluded.name, aliases = excluded.aliases, "
        "floor = excluded.floor",
        row,
    )


def _scene_op(home: Home, scene: Scene) -> WriteOp:
    check_text(scene.id, "scene id")
    check_text(scene.name, "scene name")
    row = (home.id, scene.id, scene.name, _dumps({k: v.to_dict() for k, v in scene.states.items()}, "scene"))
    return lambda c: c.execute("INSERT OR REPLACE INTO scenes VALUES (?, ?, ?, ?)", row)


def _device_ops(home: Home, dev: Device, state: DeviceState | None) -> tuple[list[WriteOp], DeviceEntry]:
    """Validate a device against its home; the ops that store it, and the entry it will be."""
    if dev.area is not None and dev.area not in home.areas:
        raise HearthError(ErrorCode.UNKNOWN_AREA, f"There is no area called {dev.area!r}.", {"area": dev.area})
    for value, where in ((dev.id, "device id"), (dev.name, "device name"), (dev.address, "address")):
        check_text(value, where)
    for alias in dev.aliases:
        check_text(alias, "alias")
    now = time.time()
    row = (
        dev.home_id, dev.id, dev.name, str(dev.kind), dev.area,
        dumps(sorted(str(c) for c in dev.capabilities)), dev.adapter, _dumps(list(dev.aliases), "aliases"),
        dev.address, now,
    )  # fmt: skip
    ops: list[WriteOp] = [
        lambda c: c.execute(
            "INSERT INTO devices VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (home_id, id) DO UPDATE SET "
            "name=excluded.name, kind=excluded.kind, area=excluded.area, capabilities=excluded.capabilities, "
            "adapter=excluded.adapter, aliases=excluded.aliases, address=excluded.address",
            row,
        )
    ]
    old = home.devices.get(dev.id)
    entry = DeviceEntry(dev, state or (old.state if old else DeviceState()), True, now)
    if state is not None or old is None:  # an update without a new state leaves the stored state alone
        state_row = (dev.home_id, dev.id, _dumps(entry.state.to_dict(), "device state"), 1, now)
        ops.append(lambda c: c.execute("INSERT OR REPLACE INTO device_state VALUES (?, ?, ?, ?, ?)", state_row))
    return ops, entry


def _device_from_row(row: dict[str, Any]) -> Device:
    return Device(
        home_id=row["home_id"],
        id=row["id"],
        name=row["name"],
        kind=DeviceKind(row["kind"]),
        area=row["area"],
        capabilities=frozenset(Capability(c) for c in json.loads(row["capabilities"])),
        adapter=row["adapter"],
        aliases=tuple(json.loads(row["aliases"])),
        address=row["address"],
    )
