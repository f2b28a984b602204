"""The Zigbee2MQTT adapter: follows a Zigbee2MQTT bridge over MQTT (aiomqtt) and commands its devices."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import aiomqtt
import orjson

from adapters.zigbee2mqtt.config import Zigbee2MqttConfig
from adapters.zigbee2mqtt.exposes import Model, expected, model, parse_state, set_payload, spoken_name
from assistant.bus import Subscription
from assistant.devices import (
    Capability,
    Command,
    Device,
    DeviceAdapter,
    DeviceKind,
    DeviceState,
    StateSink,
    StateUpdate,
)
from assistant.errors import DeviceError, ErrorCode

LOG = logging.getLogger(__name__)
STOP_S = 5.0

PENDING_LIMIT = 10_000  # state messages kept for names not (yet) in bridge/devices
IN_FLIGHT = 2_000  # reports handed to Hearth whose commit is still under way (they share group commits)
READABLE = {  # what `<name>/get` asks for, per kind, when Hearth (re)connects
    DeviceKind.LIGHT: {"state": ""},
    DeviceKind.SWITCH: {"state": ""},
    DeviceKind.FAN: {"state": ""},
    DeviceKind.LOCK: {"state": ""},
    DeviceKind.COVER: {"position": ""},
    DeviceKind.CLIMATE: {"occupied_heating_setpoint": ""},
}


@dataclass(frozen=True, slots=True)
class Found:
    """One device as `bridge/devices` lists it."""

    ieee: str
    friendly_name: str
    model: Model
    description: str = ""  # what the user wrote about the device in Zigbee2MQTT (not the model's description)


# Given what bridge/devices lists, make sure each is a Hearth device; returns them as registered.
Directory = Callable[[list[Found]], Awaitable[list[Device]]]


class Zigbee2MqttAdapter(DeviceAdapter):
    """One MQTT connection to the broker, kept up with backoff; state and availability follow the bridge."""

    name: ClassVar[str] = "zigbee2mqtt"

    def __init__(self, config: Zigbee2MqttConfig) -> None:
        self.config = config
        self.base = config.base_topic.strip("/")
        self.directory: Directory | None = None  # set by setup(core): registers what the bridge lists
        self.events: Subscription | None = None  # set by setup(core) with events_topic: Hearth's live events
        self.connected = False
        self.bridge_online = True  # Zigbee2MQTT's own retained bridge/state (its last will says offline)
        self.last_error: str | None = None
        self.messages = 0  # MQTT messages handled (for the benchmark and health)
        self.malformed = 0
        self._client: aiomqtt.Client | None = None
        self._sink: StateSink | None = None
        self._task: asyncio.Task[None] | None = None
        self._found: dict[str, Found] = {}  # by ieee address
        self._names: dict[str, str] = {}  # friendly name -> ieee
        self._devices: dict[str, Device] = {}  # attached Hearth devices, by ieee address
        self._states: dict[str, DeviceState] = {}
        self._available: dict[str, bool] = {}
        self._seen_availability: set[str] = set()
        # commands waiting for the bridge to report them done: (the fields the report must show, the future)
        self._waiters: dict[str, list[tuple[dict[str, Any], asyncio.Future[DeviceState]]]] = {}
        self._pending: dict[str, bytes] = {}
        self._listed = asyncio.Event()  # bridge/devices seen on this connection
        self._in_flight: set[asyncio.Task[None]] = set()

    # -- the DeviceAdapter seam ---------------------------------------------------------------------------------
    async def start(self, sink: StateSink) -> None:
        self._sink = sink
        self._task = asyncio.get_running_loop().create_task(self._run(), name="zigbee2mqtt")

    async def stop(self) -> None:
        """Stop reading, then let what was received be recorded; never longer than STOP_S, so a broker or a store
        that does not answer cannot hold up Hearth's shutdown."""
        if self._task is not None:
            self._task.cancel()
            await _bounded(self._task)
            self._task = None
        await _bounded(*self._in_flight)

    async def attach(self, device: Device, state: DeviceState | None) -> None:
        self._devices[device.address] = device
        self._states[device.address] = state or DeviceState()

    async def discover(self, home_id: str) -> list[Device]:
        """Opens the Zigbee network for joining (bridge/request/permit_join); devices that join are added as the
        bridge lists them. Returns the devices the bridge lists now."""
        await self._publish("bridge/request/permit_join", {"time": self.config.permit_join_s})
        return [d for d in self._devices.values() if d.home_id == home_id and d.address in self._found]

    async def read_state(self, device: Device) -> tuple[DeviceState, bool]:
        ieee = device.address
        return self._states.get(ieee, DeviceState()), self._is_available(ieee)

    async def command(self, device: Device, command: Command) -> DeviceState:
        ieee = device.address
        found = self._found.get(ieee)
        if found is None or not self._is_available(ieee) or self._client is None:
            raise DeviceError(
                ErrorCode.DEVICE_UNAVAILABLE, f"The {device.name} is not responding.", {"device": device.id}
            )
        payload = set_payload(device.kind, command, (found.model.mired_min, found.model.mired_max))
        waiter: asyncio.Future[DeviceState] = asyncio.get_running_loop().create_future()
        target = parse_state(payload, device.kind, DeviceState()).to_dict()  # what the report must show
        self._waiters.setdefault(ieee, []).append((target, waiter))
        try:
            await self._publish(f"{found.friendly_name}/set", payload)
            reported = await waiter  # the caller (device control) bounds this with its timeout
        finally:
            self._waiters[ieee] = [(t, w) for t, w in self._waiters.get(ieee, []) if w is not waiter]
        after = expected(device.kind, command, reported)
        if after != reported:
            self._states[ieee] = after
        return after

    def health(self) -> dict[str, Any]:
        return {
            "state": ("ok" if self.bridge_online else "bridge_offline") if self.connected else "disconnected",
            "broker": f"{self.config.host}:{self.config.port}",
            "error": None if self.connected else self.last_error,
            "devices": len(self._found),
            "malformed": self.malformed,
        }

    async def renamed(self, device: Device) -> None:
        """Renamed in Hearth: rename it in Zigbee2MQTT too (bridge/request/device/rename), keeping any "area/"
        prefix of its friendly name."""
        found = self._found.get(device.address)
        if found is None or spoken_name(found.friendly_name) == device.name.lower():
            return
        prefix = found.friendly_name.rsplit("/", 1)[0] + "/" if "/" in found.friendly_name else ""
        await self._publish("bridge/request/device/rename", {"from": found.friendly_name, "to": prefix + device.name})

    # -- the connection -----------------------------------------------------------------------------------------
    def _client_args(self) -> dict[str, Any]:
        cfg = self.config
        return {
            "hostname": cfg.host,
            "port": cfg.port,
            "username": cfg.username or None,
            "password": cfg.password or None,
            "identifier": cfg.client_id or f"hearth-{uuid.uuid4().hex[:8]}",
            "tls_context": ssl.create_default_context() if cfg.tls else None,
            "keepalive": 30,
            "socket_options": ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),  # a command is one small packet
        }

    async def _run(self) -> None:
        delay = self.config.reconnect_min_s
        while True:
            try:
                async with aiomqtt.Client(**self._client_args()) as client:
                    self._client = client
                    self._listed.clear()
                    self._seen_availability.clear()
                    await client.subscribe(f"{self.base}/#")
                    self.connected = True
                    self.last_error = None
                    delay = self.config.reconnect_min_s
                    LOG.info("zigbee2mqtt: connected to %s:%s", self.config.host, self.config.port)
                    pump = asyncio.get_running_loop().create_task(self._pump_events(client), name="z2m-events")
                    try:
                        async for message in client.messages:
                            await self._handle(message.topic.value, message.payload)
                    finally:
                        pump.cancel()
                        await asyncio.gather(pump, return_exceptions=True)
            except (aiomqtt.MqttError, DeviceError) as exc:
                self.last_error = str(exc) or type(exc).__name__
                LOG.warning("zigbee2mqtt: broker %s:%s: %s", self.config.host, self.config.port, self.last_error)
            finally:
                was = self.connected
                self.connected = False
                self._client = None
                if was:
                    await self._lost()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.config.reconnect_max_s)

    async def _pump_events(self, client: aiomqtt.Client) -> None:
        """Hearth's own live events to <events_topic>/<type>, while connected (the subscription keeps the newest
        256 while the broker is away)."""
        topic = self.config.events_topic.strip("/")
        if not topic:
            return
        while True:
            if self.events is None:
                await asyncio.sleep(0.2)  # the home is known once the bridge has listed its devices
                continue
            event = await self.events.get()
            try:
                await client.publish(f"{topic}/{event.type}", orjson.dumps(event.to_dict()))
            except aiomqtt.MqttError:
                return

    async def _lost(self) -> None:
        """The broker went away: nothing can be commanded, and Hearth says so (every device unavailable)."""
        lost = DeviceError(ErrorCode.DEVICE_UNAVAILABLE, "The Zigbee bridge is not reachable.")
        for waiters in self._waiters.values():
            for _, waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(lost)
        for ieee in list(self._devices):
            await self._report(ieee)

    async def _publish(self, topic: str, payload: dict[str, Any]) -> None:
        client = self._client
        if client is None:
            raise DeviceError(ErrorCode.DEVICE_UNAVAILABLE, "The Zigbee bridge is not reachable.")
        try:
            await client.publish(f"{self.base}/{topic}", orjson.dumps(payload))
        except aiomqtt.MqttError as exc:
            raise DeviceError(ErrorCode.DEVICE_UNAVAILABLE, "The Zigbee bridge is not reachable.") from exc

    def _is_available(self, ieee: str) -> bool:
        return self.connected and self.bridge_online and ieee in self._found and self._available.get(ieee, True)

    # -- messages -----------------------------------------------------------------------------------------------
    async def _handle(self, topic: str, payload: Any) -> None:
        self.messages += 1
        rest = topic[len(self.base) + 1 :]
        try:
            if rest == "bridge/devices":
                await self._devices_listed(orjson.loads(payload))
            elif rest == "bridge/state":
                await self._bridge_state(payload)
            elif rest.startswith("bridge/"):
                if rest.startswith("bridge/response/"):
                    LOG.info("zigbee2mqtt: %s: %s", rest, bytes(payload)[:200])
            elif rest.endswith(("/set", "/get")):
                return
            elif rest in self._names:
                await self._state(self._names[rest], payload)
            elif rest.endswith("/availability") and rest[: -len("/availability")] in self._names:
                await self._availability(self._names[rest[: -len("/availability")]], payload)
            elif len(self._pending) < PENDING_LIMIT or rest in self._pending:
                self._pending[rest] = bytes(payload)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            self.malformed += 1
            LOG.warning("zigbee2mqtt: ignored a malformed message on %s: %s", topic, exc)

    async def _devices_listed(self, listing: Any) -> None:
        if not isinstance(listing, list):
            raise ValueError("bridge/devices is not a list")
        found: dict[str, Found] = {}
        for item in listing:
            if not isinstance(item, dict) or item.get("type") == "Coordinator":
                continue
            ieee, friendly = item.get("ieee_address"), item.get("friendly_name")
            if not isinstance(ieee, str) or not isinstance(friendly, str) or not ieee or not friendly:
                continue
            if item.get("interview_completed") is False or item.get("disabled") is True:
                continue
            m = model(item.get("definition"))
            if m is None:
                continue
            found[ieee] = Found(ieee, friendly, m, str(item.get("description") or ""))  # the user's own note
        gone = set(self._found) - set(found)
        self._found = found
        self._names = {f.friendly_name: ieee for ieee, f in found.items()}
        if self.directory is not None:
            try:
                for device in await self.directory(list(found.values())):
                    if device.address not in self._devices:
                        await self.attach(device, None)
                    else:
                        self._devices[device.address] = device
            except Exception:
                LOG.exception("zigbee2mqtt: could not register the bridge's devices")
        first = not self._listed.is_set()
        self._listed.set()
        for ieee in gone:
            LOG.info("zigbee2mqtt: %s left the bridge; it is unavailable", ieee)
            await self._report(ieee)
        for rest in [r for r in self._pending if r in self._names or r.removesuffix("/availability") in self._names]:
            await self._handle(f"{self.base}/{rest}", self._pending.pop(rest))
        for ieee in found:
            if ieee in self._devices:
                await self._report(ieee)
        if first:  # resync: ask every device that can answer for its state
            for ieee, f in found.items():
                ask = READABLE.get(f.model.kind)
                if ask and ieee in self._devices and Capability.MOTION not in f.model.capabilities:
                    await self._publish(f"{f.friendly_name}/get", ask)

    async def _state(self, ieee: str, payload: Any) -> None:
        data = orjson.loads(payload)
        if not isinstance(data, dict):
            raise ValueError("a state message is not a JSON object")
        device = self._devices.get(ieee)
        if device is None:
            return
        old = self._states.get(ieee, DeviceState())
        new = parse_state(data, device.kind, old)
        self._states[ieee] = new
        reported = new.to_dict()
        done = False
        for target, waiter in self._waiters.get(ieee, []):
            if not waiter.done() and all(reported.get(k) == v for k, v in target.items()):
                waiter.set_result(new)  # the command's own outcome: recorded by device control with the command
                done = True
        if new != old and not done:
            await self._report(ieee)

    async def _bridge_state(self, payload: Any) -> None:
        """Zigbee2MQTT itself stopped (or came back): while it is away no device can be reached."""
        online = _online(payload)
        if online != self.bridge_online:
            before = {ieee: self._is_available(ieee) for ieee in self._devices}
            self.bridge_online = online
            LOG.info("zigbee2mqtt: the bridge is %s", "online" if online else "offline")
            for ieee, was in before.items():
                if was != self._is_available(ieee):
                    await self._report(ieee)

    async def _availability(self, ieee: str, payload: Any) -> None:
        text = "online" if _online(payload) else "offline"
        was = self._is_available(ieee)
        self._available[ieee] = text == "online"
        self._seen_availability.add(ieee)
        if ieee in self._devices and was != self._is_available(ieee):
            await self._report(ieee)

    async def _report(self, ieee: str) -> None:
        """Hand the device's state to Hearth without waiting for its commit, so that a burst of reports shares
        group commits; tasks start (and reach the store's queue) in arrival order, so the order is kept. At most
        IN_FLIGHT wait at once: past that, the reader waits (back-pressure instead of loss)."""
        device = self._devices.get(ieee)
        if device is None or self._sink is None:
            return
        update = StateUpdate(device.home_id, device.id, self._states.get(ieee, DeviceState()), self._is_available(ieee))
        if len(self._in_flight) >= IN_FLIGHT:
            await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
        task = asyncio.get_running_loop().create_task(self._record(update))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _record(self, update: StateUpdate) -> None:
        assert self._sink is not None
        try:
            await self._sink(update)
        except Exception:
            LOG.exception("zigbee2mqtt: could not record the state of %s", update.device_id)


async def _bounded(*tasks: asyncio.Task[None]) -> None:
    """Wait for the tasks at most STOP_S; cancel what is still running then (and log it)."""
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=STOP_S)
    if pending:
        LOG.warning("zigbee2mqtt: %d task(s) did not finish within %.0f s at shutdown; cancelled", len(pending), STOP_S)
        for task in pending:
            task.cancel()


def _online(payload: Any) -> bool:
    """`{"state": "online"}` (Zigbee2MQTT 1.x with JSON availability and 2.x) or the legacy bare word."""
    text: Any = bytes(payload).decode().strip()
    if text.startswith("{"):
        data = orjson.loads(text)
        text = data.get("state") if isinstance(data, dict) else None
    if text not in {"online", "offline"}:
        raise ValueError(f"availability {text!r} is neither online nor offline")
    return bool(text == "online")
