"""The web chat microphone end to end: Chromium's fake microphone says a command, the page sends it, Hearth acts."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import time
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Route, async_playwright

from assistant.speech.audio import convert, wav_bytes
from assistant.speech.engine import AudioFormat
from tests.conftest import LiveServer, serve_subprocess
from tests.test_webchat_browser import CHROMIUM, CHROMIUM_ARGS, FAKE_MIC_ARGS, LIGHTS, Watch
from tests.voice_fixtures import shared_speaker

COMMAND = "turn on the kitchen lights"
LEAD_S = 0.5  # silence before the command: covers the time the page takes to start its recorder
TAIL_S = 1.5  # silence after it: Chromium loops the file, so the recording must end before the next take
MIC_FORMAT = AudioFormat(48000, 2, 1)  # the fake microphone's file (16 kHz works as well in Chromium 156)
START_S = 90.0  # `hearth serve` with speech models
STEP_S = 30.0  # ceiling for any single wait in the browser (a spoken turn runs STT, NLU and TTS on CPU)
STEP_MS = STEP_S * 1000

# The page plays its reply with `new Audio(url).play()`, an element outside the DOM: note every play() and its fate.
WATCH_PLAYBACK = """
window.__playback = [];
const play = HTMLMediaElement.prototype.play;
HTMLMediaElement.prototype.play = function () {
  const entry = { src: this.src, playing: false, ended: false, duration: null, error: null };
  window.__playback.push(entry);
  this.addEventListener('playing', () => { entry.playing = true; entry.duration = this.duration; });
  this.addEventListener('ended', () => { entry.ended = true; });
  const started = play.call(this);
  started.catch((err) => { entry.error = String(err); });
  return started;
};
"""


@pytest.fixture
def voice_live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """`hearth serve` as a subprocess with local speech (faster-whisper, Piper) and a token for the demo user."""
    with serve_subprocess(tmp_path, stt="faster-whisper", tts="piper", start_s=START_S) as server:
        yield server


@pytest.fixture
async def spoken_command(tmp_path: Path) -> tuple[Path, float]:
    """The command as Piper says it (noise off: the same audio every run), padded with silence, as a WAV file."""
    async with asyncio.timeout(STEP_S):
        pcm, fmt = await shared_speaker().piper(COMMAND)
    speech = await asyncio.to_thread(convert, pcm, fmt, MIC_FORMAT)
    frame = MIC_FORMAT.width * MIC_FORMAT.channels

    def silence(seconds: float) -> bytes:
        return bytes(int(seconds * MIC_FORMAT.rate) * frame)

    audio = silence(LEAD_S) + speech + silence(TAIL_S)
    path = tmp_path / "command.wav"
    path.write_bytes(wav_bytes(audio, MIC_FORMAT))
    return path, len(audio) / frame / MIC_FORMAT.rate


@pytest.fixture
async def voice_browser(spoken_command: tuple[Path, float]) -> AsyncIterator[Browser]:
    """Headless Chromium whose microphone plays the spoken command (in a loop) and which may autoplay audio."""
    wav, _ = spoken_command
    args = [
        *CHROMIUM_ARGS,
        *FAKE_MIC_ARGS,
        f"--use-file-for-fake-audio-capture={wav}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=args, timeout=STEP_MS)
        try:
            yield launched
        finally:
            await launched.close()


async def _api(server: LiveServer, method: str, path: str, body: Any = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {server.token}"}
    async with asyncio.timeout(STEP_S), aiohttp.ClientSession() as http:
        async with http.request(method, server.url + path, json=body, headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            answer: dict[str, Any] = await resp.json()
            return answer


@pytest.mark.browser
@pytest.mark.voice
async def test_spoken_command_from_the_microphone_turns_the_tile_on(
    voice_live_server: LiveServer,
    voice_browser: Browser,
    spoken_command: tuple[Path, float],
    tmp_path: Path,
) -> None:
    server = voice_live_server
    _, command_s = spoken_command
    await _api(server, "POST", "/api/v1/devices/kitchen_lights/command", {"name": "turn_off"})
    status = await _api(server, "GET", "/api/v1/voice")
    assert status["enabled"] is True, status

    watch = Watch()
    context = await voice_browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(STEP_MS)
    await context.grant_permissions(["microphone"], origin=server.url)
    await context.add_init_script(WATCH_PLAYBACK)
    page = await context.new_page()
    watch.attach(page)
    uploads: list[bytes] = []

    async def observe(route: Route) -> None:  # keep the upload, then let it through untouched
        uploads.append(route.request.post_data_buffer or b"")
        await route.continue_()

    await page.route("**/api/v1/voice*", observe)
    async with asyncio.timeout(STEP_S):
        await page.goto(f"{server.url}/#token={server.token}")
        await page.wait_for_selector(f'{LIGHTS}[data-on="false"]')
        await page.wait_for_selector('#conn[data-state="online"]')

    # Hold to talk: press the mic, keep it down for the length of the file, release to send. Chromium plays the file
    # from its start when the page opens the microphone (the speech begins at LEAD_S in the upload too), so a hold a
    # little shorter than the file records the whole command once.
    box = await page.locator("#mic").bounding_box()
    assert box is not None
    started = time.monotonic()
    async with asyncio.timeout(STEP_S):
        await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        await page.mouse.down()
        await page.wait_for_selector('#mic[aria-pressed="true"]')
        await page.wait_for_timeout(command_s * 1000 - 250)
        async with page.expect_response("**/api/v1/voice*") as answer:
            await page.mouse.up()
        response = await answer.value
        body: dict[str, Any] = await response.json()
    turn_s = time.monotonic() - started
    (tmp_path / "upload.wav").write_bytes(uploads[0] if uploads else b"")
    assert response.status == 200, body
    assert response.request.headers.get("content-type") == "audio/wav"
    assert response.request.url.split("?")[0].endswith("/api/v1/voice")

    # What the page recorded: 16 kHz mono 16-bit WAV, about as long as the hold.
    with wave.open(io.BytesIO(uploads[0])) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        recorded_s = wav.getnframes() / 16000
    assert command_s - 1.0 < recorded_s < command_s + 1.0, recorded_s

    # The transcript and the reply show in the chat; the tile turns on (pushed over the WebSocket).
    async with asyncio.timeout(STEP_S):
        said = page.locator('#log [data-role="user"]').last
        await said.wait_for()
        reply = page.locator('#log [data-role="assistant"]').last
        await reply.wait_for()
        await page.wait_for_selector(f'{LIGHTS}[data-on="true"][aria-pressed="true"]')
    transcript = (await said.locator(".text").inner_text()).strip()
    assert "kitchen" in transcript.lower(), (transcript, body)
    assert transcript == body["transcript"].strip()
    assert await said.locator(".via").count() == 1  # marked as spoken
    assert "kitchen" in (await reply.inner_text()).lower(), body
    assert await reply.get_attribute("data-kind") == "done", body
    assert any(a["device_id"] == "kitchen_lights" for a in body["reply"]["actions"]), body
    device = await _api(server, "GET", "/api/v1/devices/kitchen_lights")
    assert device["state"]["on"] is True, device
    assert any(e["state"].get("on") is True for e in watch.status_events("kitchen_lights"))

    # The spoken reply came back as a WAV and the page played it to the end.
    assert body["audio_base64"], body
    with wave.open(io.BytesIO(base64.b64decode(body["audio_base64"]))) as spoken:
        reply_s = spoken.getnframes() / spoken.getframerate()
    assert reply_s > 0.5
    async with asyncio.timeout(STEP_S):
        await page.wait_for_function("() => window.__playback.some((p) => p.ended)")
    playback = await page.evaluate("window.__playback")
    assert len(playback) == 1, playback
    assert playback[0]["src"].startswith("blob:") and playback[0]["error"] is None, playback
    assert abs(playback[0]["duration"] - reply_s) < 0.2, (playback, reply_s)
    assert await page.inner_text("#mic-status") == ""
    assert await page.get_attribute("#mic", "aria-pressed") == "false"

    await page.screenshot(path=str(tmp_path / "voice.png"), full_page=True)
    if shots := os.environ.get("WEBCHAT_SCREENSHOT_DIR"):
        await page.screenshot(path=str(Path(shots) / "hearth-webchat-voice.png"), full_page=True)
    print(f"turn {turn_s:.2f} s (hold {command_s:.2f} s), recorded {recorded_s:.2f} s, heard {transcript!r}")
    print(f"timings {body.get('timings')}")
    assert watch.errors == []
