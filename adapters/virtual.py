"""The virtual adapter: simulated devices that behave like real ones (state, latency, sensors, availability)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from typing import Any, ClassVar

from assistant.config import Config
from assistant.devices import (
    Capability,
    Command,
    CommandName,
    Device,
    DeviceAdapter,
    DeviceState,
    StateSink,
    StateUpdate,
)
from assistant.errors import DeviceError, ErrorCode


class VirtualAdapter(DeviceAdapter):
    """Keeps each simulated device's state; commands take a small latency and can fail when a device is offline."""

    name: ClassVar[str] = "virtual"

    def __init__(self, latency_ms: float = 2.0, sensor_interval_s: float = 60.0, seed: int | None = None) -> None:
        self.latency = latency_ms / 1000.0
        self.sensor_interval = sensor_interval_s
        self._devices: dict[tuple[str, str], Device] = {}
        self._states: dict[tuple[str, str], DeviceState] = {}
        self._offline: set[tuple[str, str]] = set()
        self._stalled: set[tuple[str, str]] = set()  # take commands and never answer
        self._unpaired: dict[tuple[str, str], Device] = {}  # on the simulated network, not yet added to Hearth
        self._sink: StateSink | None = None
        self._task: asyncio.Task[None] | None = None
        self._rng = random.Random(seed)
        self.commands: list[tuple[str, str, Command]] = []  # what the "devices" received, in order

    async def start(self, sink: StateSink) -> None:
        self._sink = sink
        if self.sensor_interval > 0:
            self._task = asyncio.get_running_loop().create_task(self._sensors(), name="virtual-sensors")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def attach(self, device: Device, state: DeviceState | None) -> None:
        key = (device.home_id, device.id)
        self._devices[key] = device
        self._states[key] = state or DeviceState()

    async def discover(self, home_id: str) -> list[Device]:
        found = {d.id: d for (h, _), d in self._devices.items() if h == home_id}
        found.update({d.id: d for (h, _), d in self._unpaired.items() if h == home_id and d.id not in found})
        return list(found.values())

    async def read_state(self, device: Device) -> tuple[DeviceState, bool]:
        key = self._key(device)
        return self._states[key], key not in self._offline

    async def command(self, device: Device, command: Command) -> DeviceState:
        key = self._key(device)
        if key in self._offline:
            raise DeviceError(
                ErrorCode.DEVICE_UNAVAILABLE,
                f"The {device.name} is not responding.",
                {"device": device.id},
            )
        if key in self._stalled:
            await asyncio.Event().wait()  # a hung device: only the caller's timeout ends this
        if self.latency:
            await asyncio.sleep(self.latency)
        new = _apply(self._states[key], command)
        self._states[key] = new
        self.commands.append((device.home_id, device.id, command))
        return new

    # -- what tests (and the demo) can do to the simulated world -------------------------------------------------
    async def set_available(self, home_id: str, device_id: str, available: bool) -> None:
        """Take a device offline or bring it back; Hearth is told as it would be by a real network."""
        key = (home_id, device_id)
        if available:
            self._offline.discard(key)
        else:
            self._offline.add(key)
        await self._report(key)

    def stall(self, home_id: str, device_id: str, stalled: bool = True) -> None:
        """The device still looks online but stops answering commands (a hung bridge or a bad radio link)."""
        if stalled:
            self._stalled.add((home_id, device_id))
        else:
            self._stalled.discard((home_id, device_id))

    def expose(self, device: Device) -> None:
        """A new device appears on the simulated network (someone plugged it in); discovery finds it until it is
        added to Hearth."""
        self._unpaired[(device.home_id, device.id)] = device

    async def physical_change(self, home_id: str, device_id: str, **state: Any) -> None:
        """Someone flipped a switch or a sensor read something: the change arrives as a state update."""
        key = (home_id, device_id)
        self._states[key] = replace(self._states[key], **state)
        await self._report(key)

    def _key(self, device: Device) -> tuple[str, str]:
        key = (device.home_id, device.id)
        if key not in self._devices:
            raise DeviceError(ErrorCode.UNKNOWN_DEVICE, f"The {device.name} is not known.", {"device": device.id})
        return key

    async def _report(self, key: tuple[str, str]) -> None:
        if self._sink is not None:
            await self._sink(StateUpdate(key[0], key[1], self._states[key], key not in self._offline))

    async def _sensors(self) -> None:
        while True:
            await asyncio.sleep(self.sensor_interval)
            for key, device in list(self._devices.items()):
                if key in self._offline:
                    continue
                state = self._states[key]
                if Capability.HUMIDITY in device.capabilities and state.humidity is not None:
                    state = replace(
                        state,
                        humidity=round(min(90.0, max(20.0, state.humidity + self._rng.uniform(-1, 1))), 1),
                    )
                if Capability.TEMPERATURE in device.capabilities and state.current_temperature is not None:
                    drift = self._rng.uniform(-0.2, 0.2)
                    if state.target_temperature is not None:  # a thermostat heads for its setpoint
                        drift = (state.target_temperature - state.current_temperature) * 0.3
                    state = replace(state, current_temperature=round(state.current_temperature + drift, 1))
                if state != self._states[key]:
                    self._states[key] = state
                    await self._report(key)


def _apply(state: DeviceState, command: Command) -> DeviceState:
    """How a simulated device answers each command."""
    p = command.params
    match command.name:
        case CommandName.TURN_ON:
            return replace(
                state,
                on=True,
                brightness=state.brightness or (100 if state.brightness is not None else None),
            )
        case CommandName.TURN_OFF:
            return replace(state, on=False)
        case CommandName.SET_BRIGHTNESS:
            level = int(p["brightness"])
            if level <= 0:
                return replace(state, on=False)
            return replace(state, on=True, brightness=level)
        case CommandName.SET_COLOR:
            return replace(state, on=True, color=str(p["color"]))
        case CommandName.SET_COLOR_TEMP:
            return replace(state, on=True, color_temp=int(p["color_temp"]))
        case CommandName.SET_TEMPERATURE:
            return replace(state, target_temperature=float(p["temperature"]))
        case CommandName.LOCK:
            return replace(state, locked=True)
        case CommandName.UNLOCK:
            return replace(state, locked=False)
        case CommandName.OPEN:
            return replace(state, position=100)
        case CommandName.CLOSE:
            return replace(state, position=0)
        case CommandName.SET_POSITION:
            return replace(state, position=int(p["position"]))
        case CommandName.RESTORE:
            return state.merged(DeviceState.from_dict(p.get("state") or {}))
    raise DeviceError(ErrorCode.UNSUPPORTED_COMMAND, f"Unknown command {command.name}.")


def create_adapter(config: Config) -> VirtualAdapter:
    """Factory the composition root calls."""
    return VirtualAdapter(latency_ms=config.virtual_latency_ms)
