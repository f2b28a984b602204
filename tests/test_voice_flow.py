"""Issue 15's conversation-flow categories spoken through POST /api/v1/voice (real faster-whisper and Piper):
a follow-up without a verb, a correction, undo, a compound request and a new request that replaces a question."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.voice_fixtures import Speaker, device_state, speak

pytestmark = pytest.mark.voice


async def say(api: Api, speaker: Speaker, text: str) -> dict[str, Any]:
    return await speak(api, speaker, text, conversation_id="flow")


async def test_conversation_flow_by_voice(voice_api: Api, speaker: Speaker) -> None:
    body = await say(voice_api, speaker, "Turn on the porch light.")
    assert (await device_state(voice_api, "porch_light"))["on"] is True, body["transcript"]
    body = await say(voice_api, speaker, "And the kitchen.")
    assert (await device_state(voice_api, "kitchen_lights"))["on"] is True, body["transcript"]
    status, porch = await voice_api.call("GET", "/api/v1/devices/porch_light")
    assert status == 200 and porch["area"] == "porch"
    body = await say(voice_api, speaker, "Turn on the TV.")
    assert (await device_state(voice_api, "tv"))["on"] is True, body["transcript"]
    body = await say(voice_api, speaker, "No, I meant the coffee maker.")
    assert (await device_state(voice_api, "tv"))["on"] is False, body["transcript"]
    assert (await device_state(voice_api, "coffee_maker"))["on"] is True
    body = await say(voice_api, speaker, "Put it back the way it was.")
    assert (await device_state(voice_api, "coffee_maker"))["on"] is False, body["transcript"]
    body = await say(voice_api, speaker, "Switch off the porch light and close the bedroom blinds.")
    assert (await device_state(voice_api, "porch_light"))["on"] is False, body["transcript"]
    assert (await device_state(voice_api, "bedroom_blinds"))["position"] == 0
    body = await say(voice_api, speaker, "Turn on the lamp.")
    assert body["reply"]["kind"] == "ask", body["transcript"]
    body = await say(voice_api, speaker, "Open the bedroom blinds.")
    assert body["reply"]["kind"] == "done", (body["transcript"], body["reply"])
    assert (await device_state(voice_api, "bedroom_blinds"))["position"] == 100
    assert (await device_state(voice_api, "floor_lamp"))["on"] is False
