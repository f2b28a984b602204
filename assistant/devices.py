"""Device model and the DeviceAdapter seam: what a device is, its state, the commands it takes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any, ClassVar


class DeviceKind(StrEnum):
    """What a device is; also the normalised value of the `device_class` entity."""

    LIGHT = "light"
    SWITCH = "switch"
    CLIMATE = "climate"
    LOCK = "lock"
    COVER = "cover"
    FAN = "fan"
    SENSOR = "sensor"


class Capability(StrEnum):
    """A feature a device supports; commands are validated against these."""

    ON_OFF = "on_off"
    BRIGHTNESS = "brightness"
    COLOR = "color"
    COLOR_TEMP = "color_temp"
    SETPOINT = "setpoint"
    LOCK = "lock"
    POSITION = "position"
    TEMPERATURE = "temperature"
    HUMIDITY = "humidity"
    MOTION = "motion"


class CommandName(StrEnum):
    """A device command, independent of protocol."""

    TURN_ON = "turn_on"
    TURN_OFF = "turn_off"
    SET_BRIGHTNESS = "set_brightness"
    SET_COLOR = "set_color"
    SET_COLOR_TEMP = "set_color_temp"
    SET_TEMPERATURE = "set_temperature"
    LOCK = "lock"
    UNLOCK = "unlock"
    OPEN = "open"
    CLOSE = "close"
    SET_POSITION = "set_position"
    RESTORE = "restore"  # put a whole prior state back (undo, scenes)


# Which capability each command needs.
COMMAND_CAPABILITY: dict[CommandName, Capability | None] = {
    CommandName.TURN_ON: Capability.ON_OFF,
    CommandName.TURN_OFF: Capability.ON_OFF,
    CommandName.SET_BRIGHTNESS: Capability.BRIGHTNESS,
    CommandName.SET_COLOR: Capability.COLOR,
    CommandName.SET_COLOR_TEMP: Capability.COLOR_TEMP,
    CommandName.SET_TEMPERATURE: Capability.SETPOINT,
    CommandName.LOCK: Capability.LOCK,
    CommandName.UNLOCK: Capability.LOCK,
    CommandName.OPEN: Capability.POSITION,
    CommandName.CLOSE: Capability.POSITION,
    CommandName.SET_POSITION: Capability.POSITION,
    CommandName.RESTORE: None,
}


@dataclass(slots=True)
class DeviceState:
    """A device's reported state. Fields that do not apply are None and left out of to_dict."""

    on: bool | None = None
    brightness: int | None = None  # percent 0-100
    color: str | None = None  # lowercase colour name
    color_temp: int | None = None  # kelvin
    target_temperature: float | None = None
    current_temperature: float | None = None
    humidity: float | None = None
    locked: bool | None = None
    position: int | None = None  # percent open, 0 closed .. 100 open
    motion: bool | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeviceState:
        return cls(**{k: v for k, v in data.items() if k in _STATE_FIELDS})

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for name in _STATE_FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    def merged(self, other: DeviceState) -> DeviceState:
        """This state with every field that `other` sets taken from `other`."""
        return replace(self, **other.to_dict())


_STATE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(DeviceState))

# The state fields a command may set, with the capability each needs. Readings (current_temperature, humidity,
# motion) are what sensors report: no client sets them.
SETTABLE: dict[str, Capability] = {
    "on": Capability.ON_OFF,
    "brightness": Capability.BRIGHTNESS,
    "color": Capability.COLOR,
    "color_temp": Capability.COLOR_TEMP,
    "target_temperature": Capability.SETPOINT,
    "locked": Capability.LOCK,
    "position": Capability.POSITION,
}
READINGS = frozenset(_STATE_FIELDS) - SETTABLE.keys()


def settable_state(device: Device, state: DeviceState) -> dict[str, Any]:
    """The part of a state that a restore may put back on this device (no readings, only its capabilities)."""
    return {k: v for k, v in state.to_dict().items() if k in SETTABLE and SETTABLE[k] in device.capabilities}


@dataclass(frozen=True, slots=True)
class Device:
    """A device in a home's registry."""

    home_id: str
    id: str
    name: str
    kind: DeviceKind
    area: str | None
    capabilities: frozenset[Capability]
    adapter: str
    aliases: tuple[str, ...] = ()
    address: str = ""  # the adapter's own address for it (IEEE, node id, MAC, topic)

    def supports(self, command: CommandName) -> bool:
        cap = COMMAND_CAPABILITY[command]
        return cap is None or cap in self.capabilities

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Device:
        return cls(
            home_id=str(data["home_id"]),
            id=str(data["id"]),
            name=str(data["name"]),
            kind=DeviceKind(data["kind"]),
            area=data.get("area"),
            capabilities=frozenset(Capability(c) for c in data.get("capabilities", [])),
            adapter=str(data.get("adapter", "virtual")),
            aliases=tuple(data.get("aliases", ())),
            address=str(data.get("address", "")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "home_id": self.home_id,
            "id": self.id,
            "name": self.name,
            "kind": str(self.kind),
            "area": self.area,
            "capabilities": sorted(str(c) for c in self.capabilities),
            "adapter": self.adapter,
            "aliases": list(self.aliases),
            "address": self.address,
        }


@dataclass(frozen=True, slots=True)
class Command:
    """One command to one device."""

    name: CommandName
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Command:
        return cls(name=CommandName(data["name"]), params=dict(data.get("params") or {}))

    def to_dict(self) -> dict[str, Any]:
        return {"name": str(self.name), "params": dict(self.params)}


@dataclass(frozen=True, slots=True)
class StateUpdate:
    """What an adapter reports: a device's new state and whether it can be reached."""

    home_id: str
    device_id: str
    state: DeviceState
    available: bool = True

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StateUpdate:
        return cls(
            home_id=str(data["home_id"]),
            device_id=str(data["device_id"]),
            state=DeviceState.from_dict(data.get("state") or {}),
            available=bool(data.get("available", True)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "home_id": self.home_id,
            "device_id": self.device_id,
            "state": self.state.to_dict(),
            "available": self.available,
        }


StateSink = Callable[[StateUpdate], Awaitable[None]]


class DeviceAdapter(ABC):
    """The seam every device protocol implements (virtual, Zigbee, Matter, BLE, MQTT)."""

    name: ClassVar[str]

    @abstractmethod
    async def start(self, sink: StateSink) -> None:
        """Connect; from now on report state changes made outside Hearth through `sink`."""

    @abstractmethod
    async def stop(self) -> None:
        """Disconnect and release everything."""

    @abstractmethod
    async def discover(self, home_id: str) -> list[Device]:
        """Devices this adapter can see for a home (new ones are offered for adding)."""

    @abstractmethod
    async def command(self, device: Device, command: Command) -> DeviceState:
        """Carry out `command`; return the state the device reports afterwards.

        Raises DeviceError with DEVICE_UNAVAILABLE or DEVICE_TIMEOUT when it cannot."""

    @abstractmethod
    async def read_state(self, device: Device) -> tuple[DeviceState, bool]:
        """The device's current state and availability."""

    async def attach(self, device: Device, state: DeviceState | None) -> None:  # noqa: B027
        """Take a registered device under management (restore its last known state if useful)."""

    async def renamed(self, device: Device) -> None:  # noqa: B027
        """The device was renamed in Hearth (committed): carry the new name into the device's own network too, if
        it has names (Zigbee2MQTT's friendly names). Default: nothing."""

    def health(self) -> dict[str, Any]:
        """What /api/v1/health says about this adapter: at least `state` ("ok", or why not, e.g. "disconnected").
        No secrets (no passwords, no URLs with credentials)."""
        return {"state": "ok"}
