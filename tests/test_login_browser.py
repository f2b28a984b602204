"""The web page signs in with a one-time login link (as `hearth serve` prints), in headless Chromium."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from playwright.async_api import Browser

from tests.conftest import LiveServer, hearth
from tests.test_webchat_browser import LIGHTS, STEP_MS, STEP_S, Watch, browser  # noqa: F401  (browser: a fixture)


@pytest.mark.browser
async def test_login_link_signs_in_once(live_server: LiveServer, browser: Browser) -> None:  # noqa: F811
    result = await asyncio.to_thread(hearth, "token", "link", db=live_server.db)
    assert result.returncode == 0, result.stderr
    link = result.stdout.strip().splitlines()[-1]
    path = link[link.index("/#code=") :]
    watch = Watch()
    context = await browser.new_context()
    context.set_default_timeout(STEP_MS)
    page = await context.new_page()
    watch.attach(page)
    async with asyncio.timeout(STEP_S):
        await page.goto(live_server.url + path)
        await page.wait_for_selector(LIGHTS)
        await page.wait_for_selector('#conn[data-state="online"]')
    assert "code" not in page.url  # the code left the address bar
    token: Any = await page.evaluate("localStorage.getItem('hearth.token')")
    assert isinstance(token, str) and token.startswith("hth_")
    assert watch.api_calls("POST", "/api/v1/auth/login")

    # The same link in a fresh browser is refused with a clear message, and nothing is stored.
    other = await browser.new_context()
    other.set_default_timeout(STEP_MS)
    page2 = await other.new_page()
    async with asyncio.timeout(STEP_S):
        await page2.goto(live_server.url + path)
        await page2.wait_for_selector("#login-error:not([hidden])")
    assert "hearth token link" in await page2.inner_text("#login-error")
    assert await page2.evaluate("localStorage.getItem('hearth.token')") is None
