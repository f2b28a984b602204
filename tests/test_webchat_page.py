"""The web page's parts in real Chromium against a real server: device controls with confirmation, the phone
layout, the activity list, help, and answer buttons that answer only their own question."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.conftest import hearth
from tests.test_webchat_browser import CHROMIUM, CHROMIUM_ARGS, STEP_MS, STEP_S, Watch

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=STEP_MS)
        try:
            yield launched
        finally:
            await launched.close()


async def _open(browser: Browser, server: Any, watch: Watch, viewport: dict[str, int] = DESKTOP) -> Page:
    phone = viewport["width"] < 600
    context = await browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
    context.set_default_timeout(STEP_MS)
    page = await context.new_page()
    watch.attach(page)
    async with asyncio.timeout(STEP_S):
        await page.goto(f"{server.url}/#token={server.token}")
        await page.wait_for_selector('[data-device-id="kitchen_lights"]', state="attached")
        await page.wait_for_selector('#conn[data-state="online"]')
    return page


async def _rest(server: Any, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {server.token}"}
    async with asyncio.timeout(STEP_S), aiohttp.ClientSession() as http:
        async with http.request(method, server.url + "/api/v1" + path, json=body, headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            data: dict[str, Any] = await resp.json()
            return data


async def _state(server: Any, device_id: str) -> dict[str, Any]:
    state: dict[str, Any] = (await _rest(server, "GET", f"/devices/{device_id}"))["state"]
    return state


def _commands(watch: Watch, device_id: str) -> list[dict[str, Any]]:
    return [json.loads(r.post_data or "{}") for r in watch.api_calls("POST", f"/api/v1/devices/{device_id}/command")]


async def _shot(page: Page, tmp_path: Path, name: str) -> None:
    await page.screenshot(path=str(tmp_path / f"{name}.png"))
    if shots := os.environ.get("WEBCHAT_SCREENSHOT_DIR"):
        await page.screenshot(path=str(Path(shots) / f"hearth-{name}.png"))


async def _page_true(page: Page, expression: str) -> None:
    """Wait until a JavaScript expression holds in the page (polled: the page's CSP forbids eval)."""
    try:
        async with asyncio.timeout(STEP_S):
            while not await page.evaluate(expression):  # noqa: ASYNC110  # nothing to wait on but the page
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {expression}") from None


async def _until(check: Any, what: str) -> None:
    """Poll an async condition (server state) until it holds; fail after STEP_S."""
    try:
        async with asyncio.timeout(STEP_S):
            while not await check():  # noqa: ASYNC110  # the server's state, read through REST
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_dashboard_controls_brightness_cover_thermostat(live_server: Any, chromium: Browser) -> None:
    watch = Watch()
    page = await _open(chromium, live_server, watch)
    lights = page.locator('[data-card="kitchen_lights"]')

    # An off light shows no brightness, and its slider says "Off".
    assert "brightness" not in (await lights.locator(".tile-detail").inner_text())
    slider = lights.locator('input[type="range"][data-control="brightness"]')
    assert await slider.get_attribute("aria-valuetext") == "Off"
    assert await page.locator('label[for="ctl-kitchen_lights-brightness"]').count() == 1

    # Keyboard: PageUp moves the slider by a tenth; the page sends one command when the keys pause.
    async with asyncio.timeout(STEP_S):
        await slider.focus()
        await page.keyboard.press("PageUp")
        await page.keyboard.press("PageUp")
        await page.wait_for_selector('[data-device-id="kitchen_lights"][data-on="true"]')
    assert _commands(watch, "kitchen_lights") == [{"name": "set_brightness", "params": {"brightness": 20}}]
    assert (await _state(live_server, "kitchen_lights"))["brightness"] == 20
    async with asyncio.timeout(STEP_S):
        await _page_true(
            page,
            "document.querySelector('[data-card=kitchen_lights] .tile-detail').textContent.includes('20 % brightness')",
        )
    await _rest(live_server, "POST", "/devices/kitchen_lights/command", {"name": "turn_off"})
    async with asyncio.timeout(STEP_S):
        await page.wait_for_selector('[data-device-id="kitchen_lights"][data-on="false"]')
    assert "brightness" not in (await lights.locator(".tile-detail").inner_text())

    # Cover: End moves the position slider to fully open (blinds are not risky: no question).
    blinds = page.locator('input[data-control="position"]#ctl-bedroom_blinds-position')
    async with asyncio.timeout(STEP_S):
        await blinds.focus()
        await page.keyboard.press("End")
    await _until(lambda: _position_is(live_server, "bedroom_blinds", 100), "the blinds to open")
    assert _commands(watch, "bedroom_blinds") == [{"name": "set_position", "params": {"position": 100}}]
    async with asyncio.timeout(STEP_S):
        await page.click('[data-card="bedroom_blinds"] button[data-command="close"]')
    await _until(lambda: _position_is(live_server, "bedroom_blinds", 0), "the blinds to close")

    # Thermostat: the + button steps half a degree; the field takes a typed value on Enter.
    async with asyncio.timeout(STEP_S):
        await page.click('[data-card="thermostat"] button[aria-label^="Warmer"]')
    await _until(lambda: _target_is(live_server, 20.5), "the setpoint 20.5")
    field = page.locator("#ctl-thermostat-setpoint")
    async with asyncio.timeout(STEP_S):
        await _page_true(page, "document.querySelector('#ctl-thermostat-setpoint').value === '20.5'")
        await field.fill("22")
        await field.press("Enter")
    await _until(lambda: _target_is(live_server, 22.0), "the setpoint 22")
    sent = [c["params"] for c in _commands(watch, "thermostat")]
    assert sent == [{"temperature": 20.5}, {"temperature": 22}]
    assert watch.errors == []


async def _position_is(server: Any, device_id: str, position: int) -> bool:
    return (await _state(server, device_id)).get("position") == position


async def _target_is(server: Any, value: float) -> bool:
    return (await _state(server, "thermostat")).get("target_temperature") == value


async def test_unlock_and_garage_door_ask_first_in_an_accessible_dialog(
    live_server: Any, chromium: Browser, tmp_path: Path
) -> None:
    watch = Watch()
    page = await _open(chromium, live_server, watch)
    dialog = page.locator("#confirm-dialog")
    unlock = page.locator('[data-card="front_door"] button[data-command="unlock"]')

    # Escape and Cancel send nothing; the door stays locked.
    async with asyncio.timeout(STEP_S):
        await unlock.click()
        await dialog.wait_for(state="visible")
    assert await page.get_by_role("dialog", name="Unlock?").is_visible()
    assert await page.evaluate("document.activeElement.id") == "confirm-cancel"  # the safe choice has the focus
    assert "front door" in await page.inner_text("#confirm-text")
    await _shot(page, tmp_path, "confirm-dialog")
    async with asyncio.timeout(STEP_S):
        await page.keyboard.press("Escape")
        await dialog.wait_for(state="hidden")
        await unlock.click()
        await dialog.wait_for(state="visible")
        await page.click("#confirm-cancel")
        await dialog.wait_for(state="hidden")
    await page.wait_for_timeout(200)
    assert _commands(watch, "front_door") == []
    assert (await _state(live_server, "front_door"))["locked"] is True
    assert await page.evaluate("document.activeElement.dataset.command") == "unlock"  # focus went back

    # Confirmed: the command carries confirm: true.
    async with asyncio.timeout(STEP_S):
        await unlock.click()
        await page.click("#confirm-ok")
        await page.wait_for_selector('[data-card="front_door"] button[data-command="lock"]:not(:disabled)')
    assert _commands(watch, "front_door") == [{"name": "unlock", "params": {}, "confirm": True}]
    assert await page.evaluate("document.activeElement.dataset.command") == "lock"  # the keyboard stays on the lock
    assert (await _state(live_server, "front_door"))["locked"] is False
    async with asyncio.timeout(STEP_S):  # locking is safe: no question
        await page.click('[data-card="front_door"] button[data-command="lock"]')
        await page.wait_for_selector('[data-card="front_door"] button[data-command="unlock"]:not(:disabled)')
    assert not await dialog.is_visible()
    assert (await _state(live_server, "front_door"))["locked"] is True

    # The garage door: opening asks, closing does not.
    async with asyncio.timeout(STEP_S):
        await page.click('[data-card="garage_door"] button[data-command="open"]')
        await page.get_by_role("dialog", name="Open?").wait_for()
        await page.click("#confirm-ok")
    await _until(lambda: _position_is(live_server, "garage_door", 100), "the garage door to open")
    async with asyncio.timeout(STEP_S):
        await page.wait_for_selector('[data-card="garage_door"] button[data-command="close"]:not(:disabled)')
        await page.click('[data-card="garage_door"] button[data-command="close"]')
    await _until(lambda: _position_is(live_server, "garage_door", 0), "the garage door to close")
    assert [c.get("confirm", False) for c in _commands(watch, "garage_door")] == [True, False]
    assert watch.errors == []


async def test_phone_sticky_header_and_tabs(live_server: Any, chromium: Browser, tmp_path: Path) -> None:
    watch = Watch()
    page = await _open(chromium, live_server, watch, PHONE)
    tabs = page.get_by_role("tab")
    assert await tabs.all_inner_texts() == ["Chat", "Devices", "Activity", "Help"]
    assert await page.get_by_role("tab", name="Chat").get_attribute("aria-selected") == "true"

    # The chat fits the screen: the message box is visible without scrolling; the other sections are one tap away.
    box = await page.locator("#message").bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"]
    assert await page.locator("#areas").is_hidden()
    await _shot(page, tmp_path, "phone-chat")

    async with asyncio.timeout(STEP_S):
        await page.get_by_role("tab", name="Devices").click()
        await page.locator('[data-device-id="kitchen_lights"]').wait_for(state="visible")
    assert await page.locator("#message").is_hidden()
    assert await page.locator("#panel-devices").get_attribute("role") == "tabpanel"
    # The header stays on screen while the device list scrolls.
    await page.mouse.wheel(0, 1500)
    await _page_true(page, "window.scrollY > 500")
    header = await page.locator("header.top").bounding_box()
    assert header is not None and header["y"] == 0
    assert await page.locator("#conn").is_visible()
    await _shot(page, tmp_path, "phone-devices")

    # Keyboard: arrows move between tabs.
    async with asyncio.timeout(STEP_S):
        await page.get_by_role("tab", name="Devices").focus()
        await page.keyboard.press("ArrowRight")
        await page.locator("#panel-activity").wait_for(state="visible")
    assert await page.evaluate("document.activeElement.id") == "tab-activity"

    # On a wide screen there are no tabs and every section shows.
    await page.set_viewport_size(DESKTOP)
    async with asyncio.timeout(STEP_S):
        await page.locator("#tabs").wait_for(state="hidden")
    for section in ("#message", "#areas", "#panel-activity", "#help-examples"):
        assert await page.locator(section).is_visible(), section
    assert await page.locator("#panel-devices").get_attribute("role") is None
    await _shot(page, tmp_path, "desktop")
    assert watch.errors == []


@pytest.fixture
def alice_token(tmp_path: Path) -> str:
    """A token for a second user of the demo home, made before the server starts (it then owns the database)."""
    made = hearth("token", "create", "--user", "alice", db=tmp_path / "live.db")
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


async def test_activity_shows_who_and_how_live_and_from_the_log(
    alice_token: str, live_server: Any, chromium: Browser
) -> None:
    await _rest(live_server, "POST", "/devices/porch_light/command", {"name": "turn_on"})  # before the page opens
    watch = Watch()
    page = await _open(chromium, live_server, watch)
    first = page.locator("#activity-list li").first
    async with asyncio.timeout(STEP_S):
        await first.wait_for()
    assert await first.locator(".what").inner_text() == "Porch light turned on"
    assert await first.locator(".who").inner_text() == "by you via the app or API"
    requests_before = len(watch.requests)

    # A chat turn and another client's command arrive live, newest first, without the page asking.
    await page.fill("#message", "turn on the desk lamp")
    await page.press("#message", "Enter")
    async with asyncio.timeout(STEP_S):
        await _page_true(page, "document.querySelectorAll('#activity-list li').length === 2")
    assert await first.locator(".what").inner_text() == "Desk lamp turned on"
    assert await first.locator(".who").inner_text() == "by you via chat"
    setpoint = {"name": "set_temperature", "params": {"temperature": 19}}
    await _rest(live_server, "POST", "/devices/thermostat/command", setpoint)
    async with asyncio.timeout(STEP_S):
        await _page_true(page, "document.querySelectorAll('#activity-list li').length === 3")
    assert await first.locator(".what").inner_text() == "Thermostat set to 19°"
    assert [r.url for r in watch.requests[requests_before:]] == []  # pushed, not polled

    # Someone else in the home: named, not "you".
    alice = replace(live_server, token=alice_token)
    await _rest(alice, "POST", "/devices/porch_light/command", {"name": "turn_off"})
    async with asyncio.timeout(STEP_S):
        await _page_true(page, "document.querySelectorAll('#activity-list li').length === 4")
    assert await first.locator(".what").inner_text() == "Porch light turned off"
    assert await first.locator(".who").inner_text() == "by alice via the app or API"

    items = page.locator("#activity-list li")
    ids = [int(v) for v in await items.evaluate_all("(els) => els.map((e) => e.dataset.eventId)")]
    assert ids == sorted(ids, reverse=True)
    assert await items.evaluate_all("(els) => els.map((e) => e.dataset.channel)") == ["api", "api", "websocket", "api"]
    assert watch.errors == []


async def test_help_lists_examples_and_what_each_device_can_do(live_server: Any, chromium: Browser) -> None:
    watch = Watch()
    page = await _open(chromium, live_server, watch, PHONE)
    async with asyncio.timeout(STEP_S):
        await page.get_by_role("tab", name="Help").click()
        await page.locator("#help-examples li").first.wait_for()
    devices = (await _rest(live_server, "GET", "/devices"))["devices"]
    described = await page.locator("#help-devices dt").all_inner_texts()
    assert len(described) == len(devices)
    abilities = {
        await dt.get_attribute("data-help-device"): await page.locator(
            f'dd[data-help-device="{await dt.get_attribute("data-help-device")}"]'
        ).inner_text()
        for dt in await page.locator("#help-devices dt").all()
    }
    assert "dim or brighten" in abilities["kitchen_lights"] and "change colour" in abilities["kitchen_lights"]
    assert "lock and unlock (unlocking asks you first)" in abilities["front_door"]
    assert "opening asks you first" in abilities["garage_door"]
    assert "set the temperature" in abilities["thermostat"]
    assert "measure the humidity" in abilities["bathroom_sensor"]
    assert "dim" not in abilities["desk_lamp"]

    # An example goes into the message box on the chat tab, and it works.
    example = page.get_by_role("button", name="Try: set the thermostat to 21 degrees")
    async with asyncio.timeout(STEP_S):
        await example.click()
        await page.locator("#message").wait_for(state="visible")
    assert await page.input_value("#message") == "set the thermostat to 21 degrees"
    async with asyncio.timeout(STEP_S):
        await page.press("#message", "Enter")
        await page.locator('#log [data-role="assistant"]').first.wait_for()
    await _until(lambda: _target_is(live_server, 21.0), "the example to set 21 degrees")
    assert watch.errors == []


async def test_answer_buttons_answer_only_their_own_question(live_server: Any, chromium: Browser) -> None:
    watch = Watch()
    page = await _open(chromium, live_server, watch)
    replies = page.locator('#log [data-role="assistant"]')

    async def say(text: str, count: int) -> None:
        async with asyncio.timeout(STEP_S):
            await page.fill("#message", text)
            await page.press("#message", "Enter")
            await replies.nth(count - 1).wait_for()

    await say("unlock the front door", 1)
    first_id = next(f["reply"].get("question_id") for f in watch.received if f.get("type") == "result")
    assert first_id, "the server does not send question ids yet"
    first = replies.nth(0).locator(".choices")
    assert await first.get_attribute("data-question-id") == first_id
    assert await first.locator("button:enabled").count() == 2

    # A new request replaces the question: the old buttons can no longer answer anything.
    await say("turn on the porch light", 2)
    assert await first.locator("button:disabled").count() == 2
    assert await first.get_attribute("data-state") == "closed"

    await say("unlock the front door", 3)
    second = replies.nth(2).locator(".choices")
    second_id = await second.get_attribute("data-question-id")
    assert second_id and second_id != first_id
    async with asyncio.timeout(STEP_S):
        await second.get_by_role("button", name="Yes").click()
        await replies.nth(3).wait_for()
    assert await second.locator("button:disabled").count() == 2  # answered
    turns = [f for f in watch.sent if f.get("type") == "conversation"]
    assert turns[-1]["text"] == "yes" and turns[-1]["reply_to"] == second_id
    assert all("reply_to" not in t for t in turns[:-1])  # typed turns answer whatever is open
    assert (await _state(live_server, "front_door"))["locked"] is False
    assert watch.errors == []


async def test_option_buttons_name_the_devices_and_answer_their_question(live_server: Any, chromium: Browser) -> None:
    watch = Watch()
    page = await _open(chromium, live_server, watch)
    async with asyncio.timeout(STEP_S):
        await page.fill("#message", "turn on the lamp")
        await page.press("#message", "Enter")
        choices = page.locator('#log [data-role="assistant"]').first.locator(".choices")
        await choices.wait_for()
    assert await choices.get_by_role("button").all_inner_texts() == ["Desk lamp", "Floor lamp", "Living room lamp"]
    question_id = await choices.get_attribute("data-question-id")
    assert question_id
    async with asyncio.timeout(STEP_S):
        await choices.get_by_role("button", name="Floor lamp").click()
        await page.wait_for_selector('[data-device-id="floor_lamp"][data-on="true"]')
    turns = [f for f in watch.sent if f.get("type") == "conversation"]
    assert turns[-1]["text"] == "floor lamp" and turns[-1]["reply_to"] == question_id
    assert await choices.locator("button:disabled").count() == 3
    assert (await _state(live_server, "desk_lamp"))["on"] is False
    assert watch.errors == []


async def test_server_asks_for_confirmation_the_page_did_not_expect(live_server: Any, chromium: Browser) -> None:
    """The page's idea of the state is stale (its socket is down); the server answers 409 confirmation_required,
    and the page asks the same question in its dialog, then resends with confirm: true."""
    await _rest(live_server, "POST", "/devices/garage_door/command", {"name": "open", "confirm": True})

    async def outage(ws: Any) -> None:  # the network drops the page's socket: no live events
        await ws.close(code=1011, reason="outage")

    watch = Watch()
    context = await chromium.new_context(viewport=DESKTOP)
    context.set_default_timeout(STEP_MS)
    page = await context.new_page()
    watch.attach(page)
    await page.route_web_socket("**/api/v1/ws", outage)
    async with asyncio.timeout(STEP_S):
        await page.goto(f"{live_server.url}/#token={live_server.token}")
        await page.wait_for_selector('[data-card="garage_door"] button[data-command="open"]:disabled')  # open
    await _rest(live_server, "POST", "/devices/garage_door/command", {"name": "close"})  # the page does not hear

    # To the page, 50 % is closing the door part way (no question); to the server it opens a closed door.
    slider = page.locator("#ctl-garage_door-position")
    async with asyncio.timeout(STEP_S):
        await slider.focus()
        for _ in range(10):
            await page.keyboard.press("ArrowLeft")
        await page.get_by_role("dialog", name="Are you sure?").wait_for()
    assert "confirmation" in (await page.inner_text("#confirm-text")).lower()
    async with asyncio.timeout(STEP_S):
        await page.click("#confirm-ok")
    await _until(lambda: _position_is(live_server, "garage_door", 50), "the garage door at 50 %")
    sent = _commands(watch, "garage_door")
    assert sent == [
        {"name": "set_position", "params": {"position": 50}},
        {"name": "set_position", "params": {"position": 50}, "confirm": True},
    ]
    assert all("409" in e for e in watch.errors), watch.errors  # only the browser's note of the refused request
