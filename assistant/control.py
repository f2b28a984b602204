"""Device control: validates commands, sends them through the owning adapter, records state and events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant import access
from assistant.access import needs_confirmation
from assistant.bus import BusEvent, EventBus
from assistant.devices import (
    READINGS,
    SETTABLE,
    Command,
    CommandName,
    Device,
    DeviceAdapter,
    StateUpdate,
)
from assistant.errors import DeviceError, ErrorCode, HearthError
from assistant.eventlog import EventLog, EventType, append_op, committed_events
from assistant.registry import DeviceEntry, Home, Registry
from assistant.store import Change, Store
from assistant.turn import ActionTaken
from assistant.validation import check_text

LOG = logging.getLogger(__name__)

COMMAND_TIMEOUT_S = 5.0


def _number(params: dict[str, Any], key: str, low: float, high: float, what: str) -> float:
    value = params.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise HearthError(ErrorCode.VALIDATION, f"{what} needs a number in params.{key}.", {"param": key})
    if not low <= value <= high:
        raise HearthError(
            ErrorCode.VALIDATION,
            f"{what} must be between {low:g} and {high:g}.",
            {"param": key, "value": value},
        )
    return float(value)


def validate_command(device: Device, command: Command) -> Command:
    """Check that the device supports the command and that its parameters make sense; return it normalised."""
    if not device.supports(command.name):
        raise HearthError(
            ErrorCode.UNSUPPORTED_COMMAND,
            f"The {device.name} can't {str(command.name).replace('_', ' ')}.",
            {"device": device.id, "command": str(command.name)},
        )
    p = command.params
    match command.name:
        case CommandName.SET_BRIGHTNESS:
            return Command(
                command.name,
                {"brightness": round(_number(p, "brightness", 0, 100, "Brightness"))},
            )
        case CommandName.SET_TEMPERATURE:
            return Command(
                command.name,
                {"temperature": round(_number(p, "temperature", 5, 35, "Temperature"), 1)},
            )
        case CommandName.SET_COLOR_TEMP:
            return Command(
                command.name,
                {"color_temp": int(_number(p, "color_temp", 1500, 9000, "Colour temperature"))},
            )
        case CommandName.SET_POSITION:
            return Command(command.name, {"position": int(_number(p, "position", 0, 100, "Position"))})
        case CommandName.SET_COLOR:
            color = p.get("color")
            if not isinstance(color, str) or not color.strip() or len(color) > 40:
                raise HearthError(ErrorCode.VALIDATION, "Colour needs a colour name in params.color.")
            return Command(command.name, {"color": check_text(color.strip().lower(), "params.color")})
        case CommandName.RESTORE:
            return Command(command.name, {"state": validate_state(device, p.get("state"))})
    return Command(command.name, {})


def _boolean(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise HearthError(ErrorCode.VALIDATION, f"state.{key} must be true or false.", {"param": f"state.{key}"})
    return value


def validate_state(device: Device, raw: Any) -> dict[str, Any]:
    """A state to put on a device (restore, scenes, undo): every field one the device can set, of the right type,
    within its range; sensor readings are refused. Returned normalised, ready to store."""
    if not isinstance(raw, dict):
        raise HearthError(ErrorCode.VALIDATION, "Restore needs a state object in params.state.", {"param": "state"})
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in READINGS:
            raise HearthError(
                ErrorCode.VALIDATION,
                f"state.{key} is a sensor reading; it cannot be set.",
                {"param": f"state.{key}"},
            )
        cap = SETTABLE.get(key)
        if cap is None:
            raise HearthError(ErrorCode.VALIDATION, f"state.{key} is not a device state field.", {"param": key})
        if cap not in device.capabilities:
            raise HearthError(
                ErrorCode.UNSUPPORTED_COMMAND,
                f"The {device.name} has no {key.replace('_', ' ')}.",
                {"device": device.id, "param": f"state.{key}"},
            )
        match key:
            case "on" | "locked":
                out[key] = _boolean(value, key)
            case "brightness":
                out[key] = round(_number({key: value}, key, 0, 100, "Brightness"))
            case "position":
                out[key] = round(_number({key: value}, key, 0, 100, "Position"))
            case "color_temp":
                out[key] = round(_number({key: value}, key, 1500, 9000, "Colour temperature"))
            case "target_temperature":
                out[key] = round(_number({key: value}, key, 5, 35, "Temperature"), 1)
            case "color":
                if not isinstance(value, str) or not value.strip() or len(value) > 40:
                    raise HearthError(ErrorCode.VALIDATION, "state.color must be a colour name.", {"param": key})
                out[key] = check_text(value.strip().lower(), "state.color")
    return out


@dataclass(slots=True)
class Outcome:
    """What a batch of commands did: the actions carried out and the devices that failed."""

    actions: list[ActionTaken] = field(default_factory=list)
    failures: list[tuple[Device, HearthError]] = field(default_factory=list)


class DeviceControl:
    """The only way to change a device: through its adapter, recorded in the registry, the store and the bus."""

    def __init__(
        self,
        registry: Registry,
        store: Store,
        bus: EventBus,
        adapters: dict[str, DeviceAdapter],
        timeout_s: float = COMMAND_TIMEOUT_S,
    ) -> None:
        self.registry = registry
        self.store = store
        self.bus = bus
        self.adapters = adapters
        self._log = EventLog(store)  # names the users in live activity events, as the REST listing does
        self.timeout_s = timeout_s  # how long a device may take to answer one command
        self._background: set[asyncio.Task[None]] = set()  # adapters told of renames; cancelled at stop

    async def start(self) -> None:
        for adapter in self.adapters.values():
            await adapter.start(self.on_update)
        await self.attach(self.registry.all_devices())

    async def attach(self, entries: Iterable[DeviceEntry]) -> None:
        """Hand registered devices to their adapters (a device whose adapter is missing is unavailable)."""
        for entry in entries:
            adapter = self.adapters.get(entry.device.adapter)
            if adapter is None:
                LOG.warning(
                    "no adapter %r for device %s; it is unavailable",
                    entry.device.adapter,
                    entry.device.id,
                )
                entry.available = False
                continue
            await adapter.attach(entry.device, entry.state)

    def renamed(self, device: Device) -> None:
        """After a rename is committed: tell the device's adapter (in the background; a failure is logged)."""
        adapter = self.adapters.get(device.adapter)
        if adapter is None:
            return
        task = asyncio.get_running_loop().create_task(self._rename(adapter, device), name=f"rename-{device.id}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _rename(self, adapter: DeviceAdapter, device: Device) -> None:
        try:
            async with asyncio.timeout(self.timeout_s):
                await adapter.renamed(device)
        except Exception:
            LOG.warning("could not carry the new name of %s into %s", device.id, adapter.name, exc_info=True)

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        for adapter in self.adapters.values():
            try:
                await adapter.stop()
            except Exception:
                LOG.exception("adapter %s failed to stop", adapter.name)

    def adapter_for(self, device: Device) -> DeviceAdapter:
        adapter = self.adapters.get(device.adapter)
        if adapter is None:
            raise DeviceError(
                ErrorCode.DEVICE_UNAVAILABLE,
                f"The {device.name} is not reachable right now.",
                {"device": device.id},
            )
        return adapter

    async def execute(self, home: Home, commands: Sequence[tuple[Device, Command]], confirmed: bool = False) -> Outcome:
        """Run commands concurrently. Nothing is recorded yet: the caller commits `record(...)` of the actions."""
        outcome = Outcome()
        if not commands:
            return outcome
        results: list[ActionTaken | BaseException]
        if len(commands) == 1:  # the common case, without the cost of a task
            try:
                results = [await self._one(home, *commands[0], confirmed)]
            except Exception as exc:
                results = [exc]
        else:
            results = await asyncio.gather(
                *(self._one(home, d, c, confirmed) for d, c in commands), return_exceptions=True
            )
        for (device, _), result in zip(commands, results, strict=True):
            if isinstance(result, ActionTaken):
                outcome.actions.append(result)
            elif isinstance(result, HearthError):
                outcome.failures.append((device, result))
            elif isinstance(result, BaseException):
                LOG.error("command to %s failed", device.id, exc_info=result)
                outcome.failures.append(
                    (
                        device,
                        DeviceError(ErrorCode.INTERNAL, f"Something went wrong with the {device.name}."),
                    )
                )
        return outcome

    async def _one(self, home: Home, device: Device, command: Command, confirmed: bool) -> ActionTaken:
        entry = home.entry(device.id)
        command = validate_command(device, command)
        access.check_command(device, command, entry.state)  # guests may not unlock or open doors that let people in
        if not confirmed:
            reason = needs_confirmation(device, command, entry.state)
            if reason is not None:
                raise DeviceError(
                    ErrorCode.CONFIRMATION_REQUIRED,
                    reason,
                    {"device": device.id, "command": str(command.name)},
                )
        if not entry.available:
            raise DeviceError(
                ErrorCode.DEVICE_UNAVAILABLE,
                f"The {device.name} is not responding.",
                {"device": device.id},
            )
        before = entry.state
        try:
            async with asyncio.timeout(self.timeout_s):
                after = await self.adapter_for(device).command(device, command)
        except TimeoutError:
            raise DeviceError(
                ErrorCode.DEVICE_TIMEOUT,
                f"The {device.name} did not answer in time.",
                {"device": device.id},
            ) from None
        return ActionTaken(device.id, command, before, after)  # the registry learns `after` once it is committed

    def record(self, home: Home, actions: Sequence[ActionTaken], **meta: Any) -> Change:
        """The staged change that makes the actions durable (one command event and the new state for each); once
        committed, the registry takes the new states and live subscribers hear of them."""
        change = Change()
        for action in actions:
            change.write(append_op(home.id, EventType.COMMAND, {**action.to_dict(), **meta}))
            change.add(self.registry.set_state(home.id, action.device_id, action.after, True))
        if actions:
            ids = [a.device_id for a in actions]
            change.then(lambda: self.publish(home, ids))
        return change

    async def revert(self, home: Home, actions: Sequence[ActionTaken]) -> None:
        """Best effort after a failed commit: put the devices back as they were, so that the world matches what
        is recorded (nothing was recorded, so nothing is published)."""
        for action in actions:
            entry = home.devices.get(action.device_id)
            if entry is None:
                continue
            try:
                async with asyncio.timeout(self.timeout_s):
                    await self.adapter_for(entry.device).command(
                        entry.device, Command(CommandName.RESTORE, {"state": action.before.to_dict()})
                    )
            except Exception:
                LOG.exception("could not put %s back after a failed commit", action.device_id)

    async def commit_actions(self, home: Home, actions: Sequence[ActionTaken], change: Change) -> list[Any]:
        """Commit `change` (which records `actions`); if that fails, revert the devices and re-raise."""
        try:
            return await self.store.commit(change)
        except BaseException:
            await self.revert(home, actions)
            raise

    def publish(self, home: Home, device_ids: Sequence[str], ops: Iterable[object] = ()) -> None:
        """Tell live subscribers the new state of these devices and the events `ops` logged (after the commit)."""
        if not self.bus.subscribers(home.id):
            return
        for device_id in dict.fromkeys(device_ids):
            entry = home.devices.get(device_id)
            if entry is None:
                continue
            self.bus.publish(
                BusEvent(
                    home.id,
                    "device.status",
                    {
                        "device_id": device_id,
                        "state": entry.state.to_dict(),
                        "available": entry.available,
                        "device": entry.view(home.areas),
                    },
                )
            )
        rows = committed_events(ops)
        if rows:
            self._log.name_users(rows)
        for row in rows:
            self.bus.publish(BusEvent(home.id, "activity", row))

    def log_live(self, home: Home, change: Change) -> Change:
        """After the commit, publish every event that `change` logs (call once, on the final change)."""
        return change.then(lambda: self.publish(home, [], change.ops))

    async def command(
        self, home: Home, device_id: str, command: Command, confirmed: bool = False, **meta: Any
    ) -> ActionTaken:
        """One command from the API: executed, committed, published; errors raised as HearthError."""
        device = home.device(device_id)
        outcome = await self.execute(home, [(device, command)], confirmed)
        if outcome.failures:
            raise outcome.failures[0][1]
        try:
            change = self.log_live(home, self.record(home, outcome.actions, **meta))
        except BaseException:
            await self.revert(home, outcome.actions)
            raise
        await self.commit_actions(home, outcome.actions, change)
        return outcome.actions[0]

    async def on_update(self, update: StateUpdate) -> None:
        """A state change that happened outside Hearth (a switch flipped, a sensor read, a device went offline)."""
        home = self.registry.homes.get(update.home_id)
        if home is None or update.device_id not in home.devices:
            return
        entry = home.devices[update.device_id]
        changed_availability = entry.available != update.available
        change = self.registry.set_state(home.id, update.device_id, update.state, update.available)
        data = {
            "device_id": update.device_id,
            "state": update.state.to_dict(),
            "available": update.available,
        }
        change.write(
            append_op(
                home.id,
                EventType.AVAILABILITY if changed_availability else EventType.STATE_CHANGED,
                data,
            )
        )
        change.then(lambda: self.publish(home, [update.device_id], change.ops))
        await self.store.commit(change)
