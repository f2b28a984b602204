"""Zigbee2MQTT end to end: a real mosquitto, a simulated bridge, Hearth driven through its HTTP API."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiomqtt
import orjson
import pytest

from adapters.zigbee2mqtt.tests.bridge import Bridge
from adapters.zigbee2mqtt.tests.broker import Mosquitto
from tests.conftest import Api, free_port, make_config, start_api

WAIT = 10.0


async def eventually(check: Callable[[], Awaitable[Any]], wait: float = WAIT) -> Any:
    """Poll `check` until it returns something truthy (or fail with its last value)."""
    last: Any = None
    async with asyncio.timeout(wait):
        while True:
            last = await check()
            if last:
                return last
            await asyncio.sleep(0.05)


async def devices(api: Api) -> dict[str, dict[str, Any]]:
    status, body = await api.call("GET", "/api/v1/devices")
    assert status == 200, body
    items = body["devices"] if isinstance(body, dict) else body
    return {d["id"]: d for d in items if d["adapter"] == "zigbee2mqtt"}


async def hearth(tmp_path: Path, port: int, **section: Any) -> tuple[Any, Api]:
    config = make_config(
        tmp_path,
        demo=False,
        adapters=["adapters.virtual", "adapters.zigbee2mqtt"],
        zigbee2mqtt={"host": "127.0.0.1", "port": port, "reconnect_min_s": 0.1, "reconnect_max_s": 0.5, **section},
    )
    return await start_api(config)  # the core starts with the server


async def close(runner: Any, api: Api) -> None:
    async with asyncio.timeout(30):  # a shutdown that hangs fails the test instead of the whole run
        await api.session.close()
        await runner.cleanup()


@pytest.fixture
async def setup(tmp_path: Path, mosquitto: Mosquitto) -> AsyncIterator[tuple[Api, Bridge, Mosquitto]]:
    bridge = Bridge(mosquitto.port)
    await bridge.start()
    runner, api = await hearth(tmp_path, mosquitto.port)
    try:
        await eventually(lambda: _all_listed(api))
        yield api, bridge, mosquitto
    finally:
        await close(runner, api)
        await bridge.stop()


async def _all_listed(api: Api) -> bool:
    found = await devices(api)
    return len(found) == 8 and all(d["available"] for d in found.values())


def sent(bridge: Bridge, topic: str) -> list[Any]:
    return [p for t, p in bridge.received if t == topic]


async def test_discovery_gives_kinds_and_capabilities_from_exposes(setup: tuple[Api, Bridge, Mosquitto]) -> None:
    api, bridge, _ = setup
    found = await devices(api)
    assert {d: (v["kind"], v["capabilities"]) for d, v in found.items()} == {
        "sofa_lamp": ("light", ["brightness", "color", "color_temp", "on_off"]),
        "hall_bulb": ("light", ["brightness", "on_off"]),
        "kettle_plug": ("switch", ["on_off"]),
        "back_door": ("lock", ["lock"]),
        "study_blind": ("cover", ["position"]),
        "radiator": ("climate", ["setpoint", "temperature"]),
        "climate_sensor": ("sensor", ["humidity", "temperature"]),
        "porch_motion": ("sensor", ["motion"]),
    }
    assert found["sofa_lamp"]["address"] == "0x0017880104e45517"
    # the resync asked each device that can answer for its state (sleeping sensors are not asked)
    await eventually(lambda: _locked(api))
    assert {t for t, _ in bridge.received if t.endswith("/get")} == {
        "sofa lamp/get", "hall bulb/get", "kettle plug/get", "back door/get", "study blind/get", "radiator/get"
    }  # fmt: skip


async def _locked(api: Api) -> bool:
    return (await devices(api))["back_door"]["state"].get("locked") is False


async def test_voice_commands_publish_set_and_follow_the_bridge(setup: tuple[Api, Bridge, Mosquitto]) -> None:
    api, bridge, _ = setup
    reply = await api.say("turn on the sofa lamp")
    assert sent(bridge, "sofa lamp/set") == [{"state": "ON"}], reply
    assert (await devices(api))["sofa_lamp"]["state"]["on"] is True

    reply = await api.say("set the hall bulb to 50%")
    assert sent(bridge, "hall bulb/set")[-1:] == [{"state": "ON", "brightness": 127}], reply
    hall = (await devices(api))["hall_bulb"]["state"]
    assert hall["on"] is True and hall["brightness"] == 50

    status, body = await api.call(
        "POST", "/api/v1/devices/sofa_lamp/command", json={"name": "set_color_temp", "params": {"color_temp": 2700}}
    )
    assert status == 200, body
    assert sent(bridge, "sofa lamp/set")[-1] == {"state": "ON", "color_temp": 370}
    assert (await devices(api))["sofa_lamp"]["state"]["color_temp"] == 2703

    reply = await api.say("lock the back door")
    assert sent(bridge, "back door/set")[-1:] == [{"state": "LOCK"}], reply
    assert (await devices(api))["back_door"]["state"]["locked"] is True
    status, body = await api.call(
        "POST", "/api/v1/devices/study_blind/command", json={"name": "set_position", "params": {"position": 40}}
    )
    assert status == 200, body
    assert sent(bridge, "study blind/set")[-1] == {"position": 40}
    assert (await devices(api))["study_blind"]["state"]["position"] == 40
    status, body = await api.call(
        "POST", "/api/v1/devices/radiator/command", json={"name": "set_temperature", "params": {"temperature": 21.5}}
    )
    assert status == 200, body
    assert sent(bridge, "radiator/set")[-1] == {"occupied_heating_setpoint": 21.5}


async def test_state_reports_and_availability(setup: tuple[Api, Bridge, Mosquitto]) -> None:
    api, bridge, _ = setup
    await bridge.report("kettle plug", state="ON")
    await bridge.report("climate sensor", temperature=23.4, humidity=51.0)
    await bridge.report("porch motion", occupancy=True)

    async def reported() -> bool:
        found = await devices(api)
        return (
            found["kettle_plug"]["state"].get("on") is True
            and found["climate_sensor"]["state"].get("current_temperature") == 23.4
            and found["porch_motion"]["state"].get("motion") is True
        )

    await eventually(reported)
    status, events = await api.call("GET", "/api/v1/events")
    assert status == 200 and "kettle_plug" in str(events)

    await bridge.set_available("hall bulb", False)
    await eventually(lambda: _available(api, "hall_bulb", False))
    reply = await api.say("turn on the hall bulb")
    assert "not responding" in reply["reply"]["speech"], reply
    assert sent(bridge, "hall bulb/set") == []
    await bridge.set_available("hall bulb", True)
    await eventually(lambda: _available(api, "hall_bulb", True))

    await bridge.publish("bridge/state", {"state": "offline"}, retain=True)  # Zigbee2MQTT stopped (its last will)
    await eventually(lambda: _none_available(api))
    _, health = await api.call("GET", "/api/v1/health")
    assert health["adapters"]["zigbee2mqtt"]["state"] == "bridge_offline"
    await bridge.publish("bridge/state", {"state": "online"}, retain=True)
    await eventually(lambda: _all_listed(api))


async def _none_available(api: Api) -> bool:
    return not any(d["available"] for d in (await devices(api)).values())


async def _available(api: Api, device_id: str, available: bool) -> bool:
    return (await devices(api))[device_id]["available"] is available


async def test_a_malformed_payload_is_logged_and_ignored(
    setup: tuple[Api, Bridge, Mosquitto], caplog: pytest.LogCaptureFixture
) -> None:
    api, bridge, _ = setup
    await bridge.publish("kettle plug", b"{not json")
    await bridge.publish("kettle plug", b"[1, 2]")
    await bridge.publish("hall bulb/availability", b"maybe")
    await bridge.publish("bridge/devices", b'{"oops": true}')
    await eventually(lambda: _malformed(api, 4))
    assert "malformed" in caplog.text
    await bridge.report("kettle plug", state="ON")
    await eventually(lambda: _on(api, "kettle_plug"))
    assert await _all_listed(api)  # nothing was lost from the listing


async def _malformed(api: Api, count: int) -> bool:
    status, health = await api.call("GET", "/api/v1/health")
    return status == 200 and health["adapters"]["zigbee2mqtt"]["malformed"] >= count


async def _on(api: Api, device_id: str) -> bool:
    return (await devices(api))[device_id]["state"].get("on") is True


async def test_a_broker_restart_is_survived_and_state_resynced(setup: tuple[Api, Bridge, Mosquitto]) -> None:
    api, bridge, broker = setup
    broker.stop()

    async def down() -> bool:
        _, health = await api.call("GET", "/api/v1/health")
        found = await devices(api)
        return health["adapters"]["zigbee2mqtt"]["state"] == "disconnected" and not any(
            d["available"] for d in found.values()
        )

    await eventually(down)
    reply = await api.say("turn on the sofa lamp")
    assert "not responding" in reply["reply"]["speech"], reply
    assert (await devices(api))["sofa_lamp"]["state"].get("on") is not True

    bridge.states["kettle plug"]["state"] = "ON"  # changed while Hearth could not see it
    broker.start()
    await eventually(lambda: _all_listed(api), wait=20)
    await eventually(lambda: _on(api, "kettle_plug"))  # resynced through <name>/get
    await api.say("turn on the sofa lamp")
    assert sent(bridge, "sofa lamp/set")[-1] == {"state": "ON"}
    assert await _on(api, "sofa_lamp")


async def test_ids_survive_a_rename_in_zigbee2mqtt_and_a_restart(tmp_path: Path, mosquitto: Mosquitto) -> None:
    bridge = Bridge(mosquitto.port)
    await bridge.start()
    try:
        runner, api = await hearth(tmp_path, mosquitto.port)
        try:
            await eventually(lambda: _all_listed(api))
            await api.say("turn on the sofa lamp")
            await bridge.rename("sofa lamp", "couch light")

            async def renamed() -> bool:
                return (await devices(api))["sofa_lamp"]["name"] == "couch light"

            await eventually(renamed)
            await api.say("turn off the couch light")
            assert sent(bridge, "couch light/set")[-1] == {"state": "OFF"}
            await api.say("rename the couch light to reading lamp")

            async def renamed_back() -> bool:
                found = await devices(api)
                return found["sofa_lamp"]["name"] == "reading lamp" and "reading lamp" in bridge.states

            await eventually(renamed_back)
            await bridge.report("reading lamp", brightness=203)  # reaches Hearth once it knows the new name

            async def followed() -> bool:
                return (await devices(api))["sofa_lamp"]["state"].get("brightness") == 80

            await eventually(followed)
            assert sent(bridge, "bridge/request/device/rename") == [{"from": "couch light", "to": "reading lamp"}]
            await api.say("turn on the reading lamp")
            assert sent(bridge, "reading lamp/set")[-1] == {"state": "ON"}
            reply = await api.say("look for new devices")

            async def joining() -> bool:
                return sent(bridge, "bridge/request/permit_join") == [{"time": 120}]

            await eventually(joining)
            assert reply["reply"]["speech"]
        finally:
            await close(runner, api)
        runner, api = await hearth(tmp_path, mosquitto.port)
        try:
            await eventually(lambda: _all_listed(api))
            found = await devices(api)
            assert found["sofa_lamp"]["name"] == "reading lamp" and len(found) == 8
            await bridge.remove("kettle plug")
            await eventually(lambda: _available(api, "kettle_plug", False))
        finally:
            await close(runner, api)
    finally:
        await bridge.stop()


async def test_hearth_publishes_its_own_device_events(tmp_path: Path, mosquitto: Mosquitto) -> None:
    bridge = Bridge(mosquitto.port)
    await bridge.start()
    runner, api = await hearth(tmp_path, mosquitto.port, events_topic="hearth/events")
    try:
        await eventually(lambda: _all_listed(api))
        async with aiomqtt.Client(
            "127.0.0.1", mosquitto.port, identifier=f"follower-{uuid.uuid4().hex[:8]}"
        ) as follower:
            await follower.subscribe("hearth/events/#")
            await api.say("turn on the sofa lamp")
            async with asyncio.timeout(WAIT):
                async for message in follower.messages:
                    event = orjson.loads(message.payload)
                    data = event["data"]
                    if message.topic.value == "hearth/events/device.status" and data["device_id"] == "sofa_lamp":
                        if data["state"].get("on") is True:  # earlier ones are the resync at start (off)
                            break
    finally:
        await close(runner, api)
        await bridge.stop()


async def test_areas_from_the_friendly_name_or_the_description(tmp_path: Path, mosquitto: Mosquitto) -> None:
    runner, api = await hearth(tmp_path, mosquitto.port, area_from_description=True)
    try:
        for area_id, name in (("living_room", "living room"), ("hall", "hall")):
            status, body = await api.call("POST", "/api/v1/areas", json={"id": area_id, "name": name})
            assert status == 201, body
        bridge = Bridge(mosquitto.port)
        bridge.devices[0]["description"] = "Living Room"  # the sofa lamp: a note the user wrote in Zigbee2MQTT
        bridge.devices[1]["friendly_name"] = "hall/ceiling bulb"
        bridge.states["hall/ceiling bulb"] = bridge.states.pop("hall bulb")
        await bridge.start()
        try:
            await eventually(lambda: _all_listed(api))
            found = await devices(api)
            assert found["sofa_lamp"]["area"] == "living_room"
            assert found["hall_ceiling_bulb"]["area"] == "hall" and found["hall_ceiling_bulb"]["name"] == "ceiling bulb"
            assert found["kettle_plug"]["area"] is None
            await api.say("turn on the ceiling bulb")
            assert sent(bridge, "hall/ceiling bulb/set")[-1:] == [{"state": "ON"}]
        finally:
            await bridge.stop()
    finally:
        await close(runner, api)


async def test_hearth_serves_without_the_broker_and_says_so(tmp_path: Path) -> None:
    runner, api = await hearth(tmp_path, free_port())
    try:
        async with api.session.get(api.url + "/api/v1/health") as resp:
            health = await resp.json()
        assert resp.status == 200 and health["status"] == "ok"
        assert health["adapters"]["zigbee2mqtt"]["state"] == "disconnected"
        assert health["adapters"]["virtual"] == {"state": "ok"}
        reply = await api.say("what time is it")
        assert reply["reply"]["speech"]
    finally:
        await close(runner, api)
