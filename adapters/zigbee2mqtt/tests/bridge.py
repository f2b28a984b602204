"""A simulated Zigbee2MQTT bridge: publishes the documented retained topics and answers /set and /get like one.

Device definitions are written from Zigbee2MQTT's documentation of each model (exposes as `bridge/devices` lists
them); the coordinator comes first, as there."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import aiomqtt
import orjson


def _binary(name: str, on: Any, off: Any, access: int = 7, prop: str | None = None) -> dict[str, Any]:
    return {"type": "binary", "name": name, "property": prop or name, "access": access, "value_on": on,
            "value_off": off}  # fmt: skip


def _numeric(name: str, unit: str = "", access: int = 1, **extra: Any) -> dict[str, Any]:
    return {"type": "numeric", "name": name, "property": name, "access": access, "unit": unit, **extra}


def _enum(name: str, values: list[str], access: int = 1) -> dict[str, Any]:
    return {"type": "enum", "name": name, "property": name, "access": access, "values": values}


BATTERY = _numeric("battery", "%", value_min=0, value_max=100)
LINKQUALITY = _numeric("linkquality", "lqi", value_min=0, value_max=255)
BRIGHTNESS = _numeric("brightness", access=7, value_min=0, value_max=254)
COLOR_TEMP = _numeric("color_temp", "mired", access=7, value_min=153, value_max=500)
COLOR_XY = {"type": "composite", "name": "color_xy", "property": "color", "access": 7,
            "features": [_numeric("x", access=7), _numeric("y", access=7)]}  # fmt: skip


def _device(ieee: str, name: str, model: str, vendor: str, description: str, exposes: list[Any],
            power: str = "Mains (single phase)", kind: str = "Router") -> dict[str, Any]:  # fmt: skip
    return {
        "ieee_address": ieee, "network_address": int(ieee[-4:], 16), "friendly_name": name, "type": kind,
        "supported": True, "disabled": False, "interview_completed": True, "interviewing": False,
        "power_source": power, "manufacturer": vendor, "model_id": model,
        "definition": {"model": model, "vendor": vendor, "description": description, "exposes": exposes,
                       "options": [], "supports_ota": True},
    }  # fmt: skip


COORDINATOR = {"ieee_address": "0x00124b0012345678", "friendly_name": "Coordinator", "type": "Coordinator",
               "network_address": 0, "supported": True, "disabled": False, "interview_completed": True,
               "definition": None}  # fmt: skip

DEVICES: list[dict[str, Any]] = [
    _device("0x0017880104e45517", "sofa lamp", "9290012573A", "Philips",
            "Hue white and color ambiance E26/E27/E14",
            [{"type": "light", "features": [_binary("state", "ON", "OFF"), BRIGHTNESS, COLOR_TEMP, COLOR_XY]},
             _enum("effect", ["blink", "breathe", "okay"], access=2), LINKQUALITY]),
    _device("0x000d6ffffe1a2b3c", "hall bulb", "LED1836G9", "IKEA",
            "TRADFRI LED bulb E26/E27 806 lumen, dimmable, warm white",
            [{"type": "light", "features": [_binary("state", "ON", "OFF"), BRIGHTNESS]}, LINKQUALITY]),
    _device("0x000d6ffffe4d5e6f", "kettle plug", "E1603/E1702/E1708", "IKEA", "TRADFRI control outlet",
            [{"type": "switch", "features": [_binary("state", "ON", "OFF")]}, LINKQUALITY]),
    _device("0x000d6f0011a2b3c4", "back door", "YRD226HA2619", "Yale", "Assure lock",
            [{"type": "lock", "features": [_binary("state", "LOCK", "UNLOCK"),
                                            _enum("lock_state", ["not_fully_locked", "locked", "unlocked"])]},
             BATTERY, LINKQUALITY], power="Battery", kind="EndDevice"),
    _device("0x680ae2fffe7a8b9c", "study blind", "E1757", "IKEA", "FYRTUR roller blind",
            [{"type": "cover", "features": [_enum("state", ["OPEN", "CLOSE", "STOP"], access=3),
                                             _numeric("position", "%", access=7, value_min=0, value_max=100)]},
             BATTERY, LINKQUALITY], power="Battery", kind="EndDevice"),
    _device("0x14b457fffe6c7d8e", "radiator", "014G2461", "Danfoss", "Ally thermostat",
            [{"type": "climate", "features": [
                _numeric("occupied_heating_setpoint", "°C", access=7, value_min=5, value_max=35, value_step=0.5),
                _numeric("local_temperature", "°C", access=5),
                _enum("system_mode", ["heat"], access=7), _enum("running_state", ["idle", "heat"], access=5)]},
             BATTERY, LINKQUALITY], power="Battery", kind="EndDevice"),
    _device("0x00158d0001a2b3c5", "climate sensor", "WSDCGQ11LM", "Aqara",
            "Temperature, humidity and pressure sensor",
            [BATTERY, _numeric("temperature", "°C"), _numeric("humidity", "%"), _numeric("pressure", "hPa"),
             LINKQUALITY], power="Battery", kind="EndDevice"),
    _device("0x00158d0001d4e5f6", "porch motion", "RTCGQ11LM", "Aqara", "Motion sensor",
            [BATTERY, _binary("occupancy", True, False, access=1), _numeric("illuminance", "lx"),
             LINKQUALITY], power="Battery", kind="EndDevice"),
]  # fmt: skip


INITIAL: dict[str, dict[str, Any]] = {
    "sofa lamp": {"state": "OFF", "brightness": 254, "color_temp": 370, "color_mode": "color_temp"},
    "hall bulb": {"state": "OFF", "brightness": 127},
    "kettle plug": {"state": "OFF"},
    "back door": {"state": "UNLOCK", "lock_state": "unlocked", "battery": 90},
    "study blind": {"position": 0, "battery": 80},
    "radiator": {"occupied_heating_setpoint": 20, "local_temperature": 19.5, "system_mode": "heat"},
    "climate sensor": {"temperature": 21.3, "humidity": 48.2, "pressure": 1012, "battery": 100},
    "porch motion": {"occupancy": False, "illuminance": 12, "battery": 100},
}


class Bridge:
    """Connects to the broker, publishes retained bridge/state, bridge/devices and availability, and answers
    `<name>/set`, `<name>/get` and bridge requests. Reconnects like the real one (and republishes)."""

    def __init__(self, port: int, base: str = "zigbee2mqtt") -> None:
        self.port = port
        self.base = base
        self.devices = copy.deepcopy(DEVICES)
        self.states = copy.deepcopy(INITIAL)
        self.received: list[tuple[str, Any]] = []  # (topic without base, payload) of every request
        self.connected = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())
        async with asyncio.timeout(10):
            await self.connected.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=5)  # a client stuck in its disconnect must not hang a test

    async def _run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client("127.0.0.1", self.port, identifier="z2m-sim") as client:
                    self._client = client
                    await client.subscribe(f"{self.base}/#")
                    await self.publish_all()
                    self.connected.set()
                    async for message in client.messages:
                        await self._on(message.topic.value[len(self.base) + 1 :], bytes(message.payload))
            except aiomqtt.MqttError:
                self.connected.clear()
                self._client = None
                await asyncio.sleep(0.2)

    async def publish(self, topic: str, payload: Any, retain: bool = False) -> None:
        assert self._client is not None
        raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        await self._client.publish(f"{self.base}/{topic}", raw, retain=retain)

    async def publish_all(self) -> None:
        await self.publish("bridge/state", {"state": "online"}, retain=True)
        await self.publish("bridge/devices", [COORDINATOR, *self.devices], retain=True)
        for device in self.devices:
            await self.publish(f"{device['friendly_name']}/availability", {"state": "online"}, retain=True)

    async def report(self, name: str, **changes: Any) -> None:
        """The device changed by itself (a button, a sensor reading): the bridge publishes its whole state."""
        self.states[name].update(changes)
        await self.publish(name, self.states[name])

    async def set_available(self, name: str, online: bool) -> None:
        await self.publish(f"{name}/availability", {"state": "online" if online else "offline"}, retain=True)

    async def rename(self, old: str, new: str) -> None:
        for device in self.devices:
            if device["friendly_name"] == old:
                device["friendly_name"] = new
        self.states[new] = self.states.pop(old)
        await self.publish(f"{old}/availability", b"", retain=True)  # Zigbee2MQTT clears the old retained topics
        await self.publish("bridge/devices", [COORDINATOR, *self.devices], retain=True)
        await self.publish(f"{new}/availability", {"state": "online"}, retain=True)

    async def remove(self, name: str) -> None:
        self.devices = [d for d in self.devices if d["friendly_name"] != name]
        await self.publish("bridge/devices", [COORDINATOR, *self.devices], retain=True)

    async def _on(self, topic: str, raw: bytes) -> None:
        if topic.startswith("bridge/request/"):
            payload = orjson.loads(raw)
            self.received.append((topic, payload))
            what = topic[len("bridge/request/") :]
            if what == "device/rename":
                await self.rename(payload["from"], payload["to"])
            await self.publish(f"bridge/response/{what}", {"data": payload, "status": "ok"})
            return
        for suffix in ("/set", "/get"):
            if topic.endswith(suffix) and topic[: -len(suffix)] in self.states:
                name = topic[: -len(suffix)]
                payload = orjson.loads(raw)
                self.received.append((topic, payload))
                if suffix == "/set":
                    self._apply(name, payload)
                await self.publish(name, self.states[name])

    def _apply(self, name: str, payload: dict[str, Any]) -> None:
        state = self.states[name]
        for key, value in payload.items():
            if key == "color":
                state["color"] = {"x": 0.7, "y": 0.3} if value.get("hex") == "#FF0000" else {"x": 0.3, "y": 0.3}
                state["color_mode"] = "xy"
            elif key == "state" and value in {"LOCK", "UNLOCK"}:
                state["state"] = value
                state["lock_state"] = "locked" if value == "LOCK" else "unlocked"
            elif key == "state" and value in {"OPEN", "CLOSE"}:
                state["position"] = 100 if value == "OPEN" else 0
            else:
                state[key] = value
                if key == "color_temp":
                    state["color_mode"] = "color_temp"
