"""The web chat page: static serving over loopback HTTP, then end to end in headless Chromium."""

from __future__ import annotations

import array
import asyncio
import gzip
import io
import json
import os
import re
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yarl
from aiohttp import web
from multidict import CIMultiDict
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    Route,
    WebSocket,
    WebSocketRoute,
    async_playwright,
)

from skills.webchat import CHANNEL

CHROMIUM = os.environ.get("WEBCHAT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FAKE_MIC_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
STEP_S = 15.0  # ceiling for any single wait in these tests
STEP_MS = STEP_S * 1000
LIGHTS = '[data-device-id="kitchen_lights"]'


# -- static serving (no browser) ---------------------------------------------------------------------------


@pytest.fixture
async def page_server() -> AsyncIterator[str]:
    """Only the web chat channel, served over real loopback HTTP."""
    app = web.Application()
    CHANNEL().setup(app, None)  # type: ignore[arg-type]  # the page routes never touch the core
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, CIMultiDict[str], bytes]:
    async with asyncio.timeout(STEP_S), aiohttp.ClientSession(auto_decompress=False) as http:
        async with http.get(yarl.URL(url, encoded=True), headers=headers or {}) as resp:
            body = await resp.read()
            if resp.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            return resp.status, CIMultiDict(resp.headers), body


async def test_page_and_files_are_served_with_types_and_caching(page_server: str) -> None:
    status, headers, body = await _get(page_server + "/")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-cache"
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    html = body.decode()
    assert '<ol id="log"' in html and 'aria-live="polite"' in html and 'id="mic"' in html
    assert "http://" not in html and "https://" not in html  # nothing from the network

    links = re.findall(r"/static/([\w.-]+)\?v=(\w+)", html)
    assert {name for name, _ in links} >= {"app.js", "dashboard.js", "activity.js", "style.css", "icon.svg"}
    types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    for name, version in links:
        status, headers, _ = await _get(f"{page_server}/static/{name}?v={version}")
        assert status == 200
        assert headers["Content-Type"].startswith(types[Path(name).suffix])
        assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert headers["X-Content-Type-Options"] == "nosniff"

    status, headers, _ = await _get(page_server + "/static/recorder-worklet.js")
    assert (status, headers["Cache-Control"]) == (200, "no-cache")
    etag = headers["ETag"]
    status, _, body = await _get(page_server + "/static/recorder-worklet.js", {"If-None-Match": etag})
    assert (status, body) == (304, b"")

    status, headers, body = await _get(page_server + "/static/app.js", {"Accept-Encoding": "gzip"})
    assert headers["Content-Encoding"] == "gzip"
    assert b"use strict" in body
    status, headers, body = await _get(page_server + "/static/app.js", {"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in headers and b"use strict" in body


@pytest.mark.parametrize(
    "path",
    [
        "/static/../channel.py",
        "/static/..%2Fchannel.py",
        "/static/%2E%2E%2F__init__.py",
        "/static/..%5C..%5Cpyproject.toml",
        "/static/.hidden",
        "/static/",
        "/static/nope.js",
        "/static/%2Fetc%2Fpasswd",
    ],
)
async def test_static_refuses_anything_outside_its_files(page_server: str, path: str) -> None:
    status, _, body = await _get(page_server + path)
    assert status == 404, path
    assert b"import" not in body and b"root:" not in body


@dataclass
class Watch:
    """What the page did: console errors, WebSocket frames both ways, and HTTP requests."""

    errors: list[str] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    sockets: list[WebSocket] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("websocket", self._socket)
        page.on("request", lambda request: self.requests.append(request))

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            self.errors.append(msg.text)

    def _socket(self, ws: WebSocket) -> None:
        self.sockets.append(ws)
        ws.on("framesent", lambda payload: self.sent.append(_frame(payload)))
        ws.on("framereceived", lambda payload: self.received.append(_frame(payload)))

    def status_events(self, device_id: str) -> list[dict[str, Any]]:
        return [
            f["data"]
            for f in self.received
            if f.get("type") == "event"
            and f.get("event") == "device.status"
            and f.get("data", {}).get("device_id") == device_id
        ]

    def api_calls(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.url.split("?")[0].endswith(path)]


def _frame(payload: str | bytes) -> dict[str, Any]:
    try:
        data = json.loads(payload)
    except (ValueError, TypeError):
        return {}
    return data if isinstance(data, dict) else {}


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS + FAKE_MIC_ARGS, timeout=STEP_MS
        )
        try:
            yield launched
        finally:
            await launched.close()


async def _open(browser: Browser, url: str, token: str, watch: Watch) -> Page:
    context = await browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(STEP_MS)
    page = await context.new_page()
    watch.attach(page)
    async with asyncio.timeout(STEP_S):
        await page.goto(f"{url}/#token={token}")
        await page.wait_for_selector(f'{LIGHTS}[data-on="false"]')
        await page.wait_for_selector('#conn[data-state="online"]')
    return page


async def _command(server: Any, device_id: str, name: str) -> dict[str, Any]:
    """Another client (not the page) commands a device through the REST API."""
    headers = {"Authorization": f"Bearer {server.token}"}
    async with asyncio.timeout(STEP_S), aiohttp.ClientSession() as http:
        url = f"{server.url}/api/v1/devices/{device_id}/command"
        async with http.post(url, json={"name": name}, headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            body: dict[str, Any] = await resp.json()
            return body


async def _say(page: Page, text: str, replies_before: int) -> str:
    """Type a turn, press Enter, and return Hearth's reply text."""
    async with asyncio.timeout(STEP_S):
        await page.fill("#message", text)
        await page.press("#message", "Enter")
        await page.locator('#log [data-role="user"]', has_text=text).last.wait_for()
        reply = page.locator('#log [data-role="assistant"]').nth(replies_before)
        await reply.wait_for()
        return (await reply.inner_text()).strip()


@pytest.mark.browser
async def test_turn_on_from_chat_updates_tile_over_websocket(
    live_server: Any, browser: Browser, tmp_path: Path
) -> None:
    await _command(live_server, "kitchen_lights", "turn_off")
    watch = Watch()
    page = await _open(browser, live_server.url, live_server.token, watch)

    # The token left the address bar and lives in localStorage.
    assert "token" not in page.url
    assert await page.evaluate("localStorage.getItem('hearth.token')") == live_server.token
    tile = page.locator(LIGHTS)
    assert await tile.get_attribute("aria-pressed") == "false"

    reply = await _say(page, "turn on the kitchen lights", 0)
    assert "kitchen" in reply.lower(), reply
    async with asyncio.timeout(STEP_S):
        await page.wait_for_selector(f'{LIGHTS}[data-on="true"][aria-pressed="true"]')

    # The turn went over the WebSocket (no REST fallback); the new state arrived there as an event.
    turns = [f for f in watch.sent if f.get("type") == "conversation"]
    assert [t["text"] for t in turns] == ["turn on the kitchen lights"]
    assert watch.api_calls("POST", "/api/v1/conversation") == []
    assert any(e["state"].get("on") is True for e in watch.status_events("kitchen_lights"))
    assert await page.locator('#log [data-role="assistant"]').first.get_attribute("data-kind") == "done"

    await page.screenshot(path=str(tmp_path / "webchat.png"), full_page=True)
    if shots := os.environ.get("WEBCHAT_SCREENSHOT_DIR"):
        await page.screenshot(path=str(Path(shots) / "hearth-webchat.png"), full_page=True)
    assert watch.errors == []


@pytest.mark.browser
async def test_follow_up_turn_it_off_uses_same_conversation(live_server: Any, browser: Browser) -> None:
    await _command(live_server, "kitchen_lights", "turn_off")
    watch = Watch()
    page = await _open(browser, live_server.url, live_server.token, watch)

    await _say(page, "turn on the kitchen lights", 0)
    async with asyncio.timeout(STEP_S):
        await page.wait_for_selector(f'{LIGHTS}[data-on="true"]')
    conversation_id = await page.evaluate("sessionStorage.getItem('hearth.conversation_id')")
    assert conversation_id

    await _say(page, "turn it off", 1)
    async with asyncio.timeout(STEP_S):
        await page.wait_for_selector(f'{LIGHTS}[data-on="false"][aria-pressed="false"]')

    turns = [f for f in watch.sent if f.get("type") == "conversation"]
    assert len(turns) == 2
    assert turns[1].get("conversation_id") == conversation_id
    assert any(e["state"].get("on") is False for e in watch.status_events("kitchen_lights"))
    assert watch.errors == []


@pytest.mark.browser
async def test_change_by_another_client_updates_tile_live(live_server: Any, browser: Browser) -> None:
    await _command(live_server, "kitchen_lights", "turn_off")
    watch = Watch()
    page = await _open(browser, live_server.url, live_server.token, watch)
    await page.wait_for_timeout(300)  # let the page settle so later requests are its own doing
    requests_before = len(watch.requests)

    await _command(live_server, "kitchen_lights", "turn_on")
    async with asyncio.timeout(STEP_S):
        await page.wait_for_selector(f'{LIGHTS}[data-on="true"]')
    await _command(live_server, "kitchen_lights", "turn_off")
    async with asyncio.timeout(STEP_S):
        await page.wait_for_selector(f'{LIGHTS}[data-on="false"]')

    # Pushed, not polled: the page made no HTTP request while the tile changed twice.
    assert [r.url for r in watch.requests[requests_before:]] == []
    assert len(watch.status_events("kitchen_lights")) >= 2
    assert watch.errors == []


@pytest.mark.browser
async def test_socket_down_falls_back_to_rest_then_catches_up(live_server: Any, browser: Browser) -> None:
    await _command(live_server, "kitchen_lights", "turn_off")
    await _command(live_server, "porch_light", "turn_off")
    socket_up = False

    async def outage(ws: WebSocketRoute) -> None:  # the network drops the socket until socket_up
        if socket_up:
            ws.connect_to_server()
        else:
            await ws.close(code=1011, reason="outage")

    watch = Watch()
    context = await browser.new_context()
    context.set_default_timeout(STEP_MS)
    page = await context.new_page()
    watch.attach(page)
    await page.route_web_socket("**/api/v1/ws", outage)
    async with asyncio.timeout(STEP_S):
        await page.goto(f"{live_server.url}/#token={live_server.token}")
        await page.wait_for_selector(f'{LIGHTS}[data-on="false"]')
        await page.wait_for_selector('#conn[data-state="offline"]')

    # Turns go over REST; the reply's actions update the tiles, and "it" still follows the last turn.
    await _say(page, "turn on the kitchen lights", 0)
    async with asyncio.timeout(STEP_S):
        await page.wait_for_selector(f'{LIGHTS}[data-on="true"]')
    await _say(page, "turn it off", 1)
    async with asyncio.timeout(STEP_S):
        await page.wait_for_selector(f'{LIGHTS}[data-on="false"]')
    posts = watch.api_calls("POST", "/api/v1/conversation")
    assert len(posts) == 2
    first_id = await page.evaluate("sessionStorage.getItem('hearth.conversation_id')")
    assert json.loads(posts[1].post_data or "{}").get("conversation_id") == first_id

    # Something changes while the page is offline; when the socket is back, the page catches up.
    await _command(live_server, "porch_light", "turn_on")
    socket_up = True
    async with asyncio.timeout(STEP_S):
        await page.wait_for_selector('#conn[data-state="online"]')
        await page.wait_for_selector('[data-device-id="porch_light"][data-on="true"]')
    assert watch.errors == []


@pytest.mark.browser
async def test_clicking_a_tile_toggles_the_device(live_server: Any, browser: Browser) -> None:
    await _command(live_server, "kitchen_lights", "turn_off")
    watch = Watch()
    page = await _open(browser, live_server.url, live_server.token, watch)

    async with asyncio.timeout(STEP_S):
        await page.click(LIGHTS)
        await page.wait_for_selector(f'{LIGHTS}[data-on="true"]:not([aria-busy])')
        await page.focus(LIGHTS)
        await page.keyboard.press("Space")  # keyboard works too
        await page.wait_for_selector(f'{LIGHTS}[data-on="false"]:not([aria-busy])')
    commands = watch.api_calls("POST", "/api/v1/devices/kitchen_lights/command")
    assert [json.loads(r.post_data or "{}")["name"] for r in commands] == ["turn_on", "turn_off"]
    assert watch.errors == []


@pytest.mark.browser
async def test_bad_token_shows_sign_in_form(live_server: Any, browser: Browser) -> None:
    watch = Watch()
    context = await browser.new_context()
    context.set_default_timeout(STEP_MS)
    page = await context.new_page()
    watch.attach(page)
    async with asyncio.timeout(STEP_S):
        await page.goto(f"{live_server.url}/#token=not-a-real-token")
        await page.wait_for_selector("#login:not([hidden])")
        await page.wait_for_selector("#login-error:not([hidden])")
    assert await page.evaluate("localStorage.getItem('hearth.token')") is None
    assert "token" not in page.url

    async with asyncio.timeout(STEP_S):
        await page.fill("#token-input", live_server.token)
        await page.press("#token-input", "Enter")
        await page.wait_for_selector(LIGHTS)
        await page.wait_for_selector('#conn[data-state="online"]')
    assert await page.is_hidden("#login")
    # The only console errors are the browser's own notes about the refused requests.
    assert all("401" in e for e in watch.errors), watch.errors


@pytest.mark.browser
async def test_microphone_records_16k_wav_and_posts_it(live_server: Any, browser: Browser) -> None:
    """Chromium's fake microphone plays a tone; the page must post it as 16 kHz mono 16-bit WAV."""
    watch = Watch()
    page = await _open(browser, live_server.url, live_server.token, watch)
    await page.context.grant_permissions(["microphone"], origin=live_server.url)
    bodies: list[bytes] = []

    async def observe(route: Route) -> None:  # look at the upload, then let it through untouched
        bodies.append(route.request.post_data_buffer or b"")
        await route.continue_()

    await page.route("**/api/v1/voice*", observe)
    async with asyncio.timeout(STEP_S):
        await page.focus("#mic")
        await page.keyboard.press("Enter")  # keyboard: first press starts, second stops and sends
        await page.wait_for_selector('#mic[aria-pressed="true"]')
        await page.wait_for_timeout(1500)
        async with page.expect_response("**/api/v1/voice*") as answer:
            await page.keyboard.press("Enter")
        response = await answer.value

    assert response.request.headers.get("content-type") == "audio/wav"
    assert response.request.headers.get("authorization") == f"Bearer {live_server.token}"
    with wave.open(io.BytesIO(bodies[0])) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        assert 1.0 * 16000 < wav.getnframes() < 5 * 16000
        samples = array.array("h", wav.readframes(wav.getnframes()))
    assert max(abs(v) for v in samples) > 1000  # the fake microphone's tone, not silence

    async with asyncio.timeout(STEP_S):
        if response.status in (404, 501):
            await page.wait_for_selector("#mic:disabled")
            assert "Voice is not enabled on this server" in await page.inner_text("#mic-status")
        else:
            assert response.status == 200, await response.text()
            await page.wait_for_selector('#log [data-role="assistant"]')
    unexpected = [e for e in watch.errors if str(response.status) not in e]
    assert unexpected == []
