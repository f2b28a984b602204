"""Devices that fail, through the HTTP API and the conversation: a device that never answers (504 device_timeout),
undo when a device is down, the "is everything working" question, and discovery of a newly plugged-in device."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.virtual import VirtualAdapter
from assistant.devices import Capability, Device, DeviceKind
from tests.conftest import Api, make_config, start_api

HOME = "demo"
DEVICE_TIMEOUT_S = 0.5  # the server's device_timeout_s here (5 s by default)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    runner, client = await start_api(make_config(tmp_path, device_timeout_s=DEVICE_TIMEOUT_S))
    try:
        yield client
    finally:
        await client.session.close()
        await runner.cleanup()


def virtual(api: Api) -> VirtualAdapter:
    adapter = api.core.control.adapters["virtual"]
    assert isinstance(adapter, VirtualAdapter)
    return adapter


async def state(api: Api, device_id: str) -> dict[str, Any]:
    status, body = await api.call("GET", f"/api/v1/devices/{device_id}")
    assert status == 200, body
    return dict(body["state"])


async def commands_logged(api: Api, device_id: str) -> int:
    status, body = await api.call("GET", "/api/v1/events", params={"type": "command", "limit": "1000"})
    assert status == 200, body
    return sum(1 for e in body["events"] if e["data"].get("device_id") == device_id)


async def test_a_device_that_never_answers_is_a_504_and_nothing_is_recorded(api: Api) -> None:
    virtual(api).stall(HOME, "porch_light")
    recorded = await commands_logged(api, "porch_light")

    started = time.monotonic()
    status, body = await api.call("POST", "/api/v1/devices/porch_light/command", json={"name": "turn_on"})
    waited = time.monotonic() - started
    assert status == 504, body
    assert body["error"]["code"] == "device_timeout"
    assert body["error"]["details"] == {"device": "porch_light"}
    assert waited >= DEVICE_TIMEOUT_S  # it waited for the device, then gave up (and did not hang)
    assert (await state(api, "porch_light")).get("on") is not True
    assert await commands_logged(api, "porch_light") == recorded

    # Through the conversation the same failure is a spoken error, not a claim of success.
    result = await api.say("turn on the porch light")
    assert result["reply"]["kind"] == "error", result
    assert result["reply"]["error_code"] == "device_timeout"
    assert "did not answer in time" in result["reply"]["speech"]
    assert result["reply"]["actions"] == []
    assert await commands_logged(api, "porch_light") == recorded

    # Once the device answers again, so does Hearth.
    virtual(api).stall(HOME, "porch_light", False)
    status, body = await api.call("POST", "/api/v1/devices/porch_light/command", json={"name": "turn_on"})
    assert status == 200, body
    assert (await state(api, "porch_light"))["on"] is True
    assert await commands_logged(api, "porch_light") == recorded + 1  # what does happen is recorded


async def test_undo_while_the_device_is_down_fails_and_can_be_tried_again(api: Api) -> None:
    result = await api.say("turn on the porch light", "undo-down")
    assert result["reply"]["kind"] == "done", result
    await virtual(api).set_available(HOME, "porch_light", False)

    result = await api.say("undo", "undo-down")
    assert result["reply"]["kind"] == "error", result
    assert "porch light is not responding" in result["reply"]["speech"]
    assert (await state(api, "porch_light"))["on"] is True  # nothing was undone, and nothing claims so

    # The undo was kept: once the light is back, "undo" does it.
    await virtual(api).set_available(HOME, "porch_light", True)
    result = await api.say("undo", "undo-down")
    assert result["reply"]["kind"] == "done", result
    assert "porch light" in result["reply"]["speech"]
    assert (await state(api, "porch_light"))["on"] is False


async def test_a_failed_command_is_not_what_undo_undoes(api: Api) -> None:
    await api.say("turn on the desk lamp", "undo-failed")
    virtual(api).stall(HOME, "porch_light")
    failed = await api.say("turn on the porch light", "undo-failed")
    assert failed["reply"]["kind"] == "error", failed

    result = await api.say("undo", "undo-failed")
    assert result["reply"]["kind"] == "done", result
    assert [a["device_id"] for a in result["reply"]["actions"]] == ["desk_lamp"]
    assert (await state(api, "desk_lamp"))["on"] is False


async def test_is_everything_working_names_what_is_down(api: Api) -> None:
    result = await api.say("is everything working", "status")
    assert result["nlu"]["intent"]["name"] == "system_status"
    assert result["reply"]["kind"] == "answer"
    assert result["reply"]["speech"] == "Everything is working: all 16 devices are online."
    assert result["reply"]["card"] == {"online": 16, "offline": []}

    await virtual(api).set_available(HOME, "garage_door", False)
    result = await api.say("are all my devices online", "status")
    assert result["nlu"]["intent"]["name"] == "system_status"
    assert result["reply"]["speech"] == "15 of 16 devices are online. Not responding: the garage door."
    assert result["reply"]["card"] == {"online": 15, "offline": ["garage_door"]}


async def test_discovery_finds_a_device_that_was_just_plugged_in(api: Api) -> None:
    result = await api.say("find new devices", "discover")
    assert result["nlu"]["intent"]["name"] == "discover_devices"
    assert result["reply"]["speech"] == "I looked, but I didn't find any new devices."

    plugged = Device(
        HOME, "garden_light", "garden light", DeviceKind.LIGHT, None, frozenset({Capability.ON_OFF}), "virtual",
        (), "virtual:garden_light",
    )  # fmt: skip
    virtual(api).expose(plugged)
    result = await api.say("scan for devices", "discover")
    assert result["nlu"]["intent"]["name"] == "discover_devices"
    assert result["reply"]["speech"] == "I found a new device: the garden light."
    assert [d["id"] for d in result["reply"]["card"]["found"]] == ["garden_light"]

    # Once it is added to the home, it is no longer new.
    body = {"id": "garden_light", "name": "garden light", "kind": "light", "capabilities": ["on_off"]}
    status, created = await api.call("POST", "/api/v1/devices", json=body)
    assert status == 201, created
    result = await api.say("search for devices", "discover")
    assert result["reply"]["speech"] == "I looked, but I didn't find any new devices."
