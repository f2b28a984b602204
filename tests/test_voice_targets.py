"""Issue 15's target categories spoken through POST /api/v1/voice (real faster-whisper and Piper): the same dialogue
manager and conversation as text."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.voice_fixtures import Speaker, device_state, speak

pytestmark = pytest.mark.voice


async def say(api: Api, speaker: Speaker, text: str) -> dict[str, Any]:
    return await speak(api, speaker, text, conversation_id="spoken")


async def test_targets_by_voice(voice_api: Api, speaker: Speaker) -> None:
    body = await say(voice_api, speaker, "Turn on every light downstairs.")
    assert (await device_state(voice_api, "kitchen_lights"))["on"] is True, body["transcript"]
    assert (await device_state(voice_api, "bedroom_ceiling_light"))["on"] is False
    body = await say(voice_api, speaker, "A bit dimmer.")
    assert (await device_state(voice_api, "hallway_light"))["brightness"] == 90, body["transcript"]
    body = await say(voice_api, speaker, "Turn on the sauna.")
    assert body["reply"]["speech"].startswith("I don't know a device called"), body["transcript"]
    body = await say(voice_api, speaker, "Turn on the fan in the bedroom.")
    assert (await device_state(voice_api, "ceiling_fan"))["on"] is True, body["transcript"]
    assert (await device_state(voice_api, "bedroom_ceiling_light"))["on"] is False
    body = await say(voice_api, speaker, "Who turned on the ceiling fan?")
    assert body["reply"]["speech"].startswith("You turned on the ceiling fan"), body["reply"]["speech"]
    body = await say(voice_api, speaker, "Good night.")
    assert body["reply"]["intent"] == "run_routine", body["transcript"]
    assert (await device_state(voice_api, "kitchen_lights"))["on"] is False
    assert (await device_state(voice_api, "front_door"))["locked"] is True
