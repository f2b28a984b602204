"""POST /api/v1/voice end to end with real models: Piper speaks a command, Hearth hears it and the device changes."""

from __future__ import annotations

import base64
import io
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.speech.audio import wav_bytes
from assistant.speech.engine import AudioFormat
from tests.conftest import Api, make_config, start_api
from tests.voice_fixtures import Speaker, device_state, noise, post_voice, silence, speak

pytestmark = pytest.mark.voice


# (text typed first to set the scene, what is said, device, the state expected afterwards)
ROUND_TRIPS: list[tuple[str | None, str, str, dict[str, Any]]] = [
    (None, "Turn on the kitchen lights.", "kitchen_lights", {"on": True}),
    ("turn on the kitchen lights", "Turn off the kitchen lights.", "kitchen_lights", {"on": False}),
    (None, "Set the living room lamp to 30 percent.", "living_room_lamp", {"brightness": 30}),
    (None, "Dim the floor lamp to 50 percent.", "floor_lamp", {"brightness": 50}),
    (None, "Make the kitchen lights blue.", "kitchen_lights", {"color": "blue"}),
    (None, "Make the bedroom ceiling light warm white.", "bedroom_ceiling_light", {"on": True}),
    (None, "Set the thermostat to 22 degrees.", "thermostat", {"target_temperature": 22}),
    (None, "Set the heating to 19 degrees.", "thermostat", {"target_temperature": 19}),
    ("unlock the front door|yes", "Lock the front door.", "front_door", {"locked": True}),
    ("open the garage door|yes", "Close the garage door.", "garage_door", {"position": 0}),
    (None, "Open the bedroom blinds.", "bedroom_blinds", {"position": 100}),
    ("open the bedroom blinds", "Close the bedroom blinds.", "bedroom_blinds", {"position": 0}),
    (None, "Activate movie night.", "tv", {"on": True}),
    (None, "Activate bedtime.", "thermostat", {"target_temperature": 18}),
    (None, "Turn on the coffee maker.", "coffee_maker", {"on": True}),
    (None, "Turn on the TV.", "tv", {"on": True}),
    (None, "Turn on the ceiling fan.", "ceiling_fan", {"on": True}),
    ("turn on the ceiling fan", "Turn off the ceiling fan.", "ceiling_fan", {"on": False}),
    (None, "Turn on the hallway light.", "hallway_light", {"on": True}),
    (None, "Switch on the porch light.", "porch_light", {"on": True}),
    (None, "Set the bedroom ceiling light to 40 percent.", "bedroom_ceiling_light", {"brightness": 40}),
    (None, "Turn on the desk lamp.", "desk_lamp", {"on": True}),
]


@pytest.mark.parametrize(("setup", "said", "device", "expected"), ROUND_TRIPS, ids=[r[1] for r in ROUND_TRIPS])
async def test_spoken_command_changes_the_device(
    voice_api: Api, speaker: Speaker, setup: str | None, said: str, device: str, expected: dict[str, Any]
) -> None:
    for text in (setup or "").split("|"):
        if text:
            await voice_api.say(text, conversation_id="setup")
    before = await device_state(voice_api, device)
    body = await speak(voice_api, speaker, said)
    state = await device_state(voice_api, device)
    assert {k: state.get(k) for k in expected} == expected, (body["transcript"], body["reply"]["speech"], before)
    assert body["reply"]["kind"] == "done"
    assert body["nlu"]["text"] == body["transcript"]  # the words heard are the words understood
    assert body["audio_base64"] is None  # speak=false


@pytest.mark.parametrize(
    ("said", "intent", "answer"),
    [
        ("Is the porch light on?", "query_state", "porch light is off"),
        ("What's the temperature in the bathroom?", "query_state", "21.5 degrees"),
        ("Is the front door locked?", "query_state", "front door is locked"),
    ],
)
async def test_spoken_questions_are_answered(
    voice_api: Api, speaker: Speaker, said: str, intent: str, answer: str
) -> None:
    body = await speak(voice_api, speaker, said)
    assert body["nlu"]["intent"]["name"] == intent
    assert answer in body["reply"]["speech"]


async def test_unlock_asks_and_a_spoken_yes_confirms(voice_api: Api, speaker: Speaker) -> None:
    body = await speak(voice_api, speaker, "Please unlock the front door.", conversation_id="door")
    assert body["reply"]["kind"] == "confirm" and body["reply"]["expects_answer"]
    assert (await device_state(voice_api, "front_door"))["locked"] is True
    body = await speak(voice_api, speaker, "Yes.", conversation_id="door")
    assert body["reply"]["kind"] == "done", body
    assert (await device_state(voice_api, "front_door"))["locked"] is False


async def test_turn_it_off_after_a_spoken_command_and_text_shares_the_conversation(
    voice_api: Api, speaker: Speaker
) -> None:
    body = await speak(voice_api, speaker, "Turn on the desk lamp.", conversation_id="desk")
    assert body["conversation_id"] == "desk"
    assert (await device_state(voice_api, "desk_lamp"))["on"] is True
    body = await speak(voice_api, speaker, "Turn it off.", conversation_id="desk")
    assert (await device_state(voice_api, "desk_lamp"))["on"] is False, body
    # typed text continues the same conversation ("undo" the spoken "turn it off")
    await speak(voice_api, speaker, "Turn on the desk lamp.", conversation_id="mixed")
    reply = await voice_api.say("turn it off", conversation_id="mixed")
    assert reply["reply"]["kind"] == "done"
    assert (await device_state(voice_api, "desk_lamp"))["on"] is False


async def test_the_reply_comes_back_as_a_wav_with_timings(voice_api: Api, speaker: Speaker) -> None:
    body = await speak(voice_api, speaker, "Turn on the porch light.", speak=True, area="porch")
    assert body["content_type"] == "audio/wav"
    with wave.open(io.BytesIO(base64.b64decode(body["audio_base64"]))) as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (22050, 2, 1)
        assert wav.getnframes() / 22050 > 0.8
    timings = body["timings"]
    assert timings["command_ms"] >= timings["stt_ms"] > 0
    assert timings["first_audio_ms"] >= timings["command_ms"]
    assert timings["audio_s"] == pytest.approx(1.6, abs=0.8)


async def test_raw_pcm_and_json_bodies(voice_api: Api, speaker: Speaker) -> None:
    pcm = await speaker.pcm16("Turn on the ceiling fan.")
    status, body = await post_voice(voice_api, pcm, "application/octet-stream", params={"rate": 16000, "speak": 0})
    assert status == 200 and (await device_state(voice_api, "ceiling_fan"))["on"] is True, body
    raw, fmt = await speaker.piper("Turn off the ceiling fan.")
    big = np.frombuffer(raw, "<i2").astype(">i2").tobytes()
    status, body = await post_voice(voice_api, big, f"audio/L16; rate={fmt.rate}", params={"speak": "false"})
    assert status == 200 and (await device_state(voice_api, "ceiling_fan"))["on"] is False, body
    payload = {"audio_base64": base64.b64encode(await speaker.wav("Turn on the TV.")).decode(), "speak": False}
    status, body = await voice_api.call("POST", "/api/v1/voice", json=payload)
    assert status == 200 and body["transcript"].lower().startswith("turn on the tv"), body
    status, body = await voice_api.call("POST", "/api/v1/voice", json={"audio_base64": "@@@not base64"})
    assert status == 422 and body["error"]["code"] == "bad_audio"


async def test_resampled_stereo_44k_is_understood(voice_api: Api, speaker: Speaker) -> None:
    from assistant.speech.audio import convert

    raw, fmt = await speaker.piper("Turn on the hallway light.")
    mono = convert(raw, fmt, AudioFormat(44100, 2, 1))
    stereo = np.repeat(np.frombuffer(mono, "<i2")[:, None], 2, axis=1).tobytes()
    status, body = await post_voice(voice_api, wav_bytes(stereo, AudioFormat(44100, 2, 2)), "audio/x-wav")
    assert status == 200, body
    assert (await device_state(voice_api, "hallway_light"))["on"] is True, body["transcript"]


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code", "words"),
    [
        (b"definitely not a wav file", "audio/wav", 422, "bad_audio", "not a WAV file"),
        (b"", "audio/wav", 422, "bad_audio", "empty"),
        (wav_bytes(silence(2.0)), "audio/wav", 422, "bad_audio", "silent"),
        (wav_bytes(noise(31.0, -20)), "audio/wav", 422, "bad_audio", "limit is 30 s"),
        (b"OggS" + bytes(200), "audio/ogg", 415, "unsupported_media_type", "Ogg"),
    ],
    ids=["not-wav", "empty", "silence", "too-long", "ogg"],
)
async def test_bad_audio_is_a_clear_4xx(
    voice_api: Api, data: bytes, content_type: str, status: int, code: str, words: str
) -> None:
    got, body = await post_voice(voice_api, data, content_type)
    assert got == status, body
    assert body["error"]["code"] == code and words in body["error"]["message"]


async def test_noise_without_words_is_not_caught_and_runs_no_turn(voice_api: Api) -> None:
    status, body = await post_voice(voice_api, wav_bytes(noise(1.5, -40)), "audio/wav", params={"speak": True})
    assert status == 200, body
    assert body["transcript"] == ""
    assert body["nlu"] is None
    assert body["reply"]["speech"] == "Sorry, I didn't catch that." and body["reply"]["kind"] == "not_understood"
    assert body["audio_base64"]  # the apology is spoken too


async def test_body_limit_auth_and_status(tmp_path: Path, speaker: Speaker) -> None:
    config = make_config(tmp_path, voice={"stt": "faster-whisper", "tts": "piper"}, server={"max_audio_bytes": 50000})
    runner, api = await start_api(config)
    try:
        wav = await speaker.wav("Set the bedroom ceiling light to 40 percent.")
        status, body = await post_voice(api, wav, "audio/wav")
        assert status == 413 and body["error"]["code"] == "body_too_large"
        status, body = await post_voice(api, wav[:40000], "audio/wav", token="hearth_wrong")
        assert status == 401
        status, body = await api.call("GET", "/api/v1/voice")
        assert status == 200 and body["enabled"] is True
        assert body["stt"]["engine"] == "faster-whisper" and body["tts"]["engine"] == "piper"
        assert body["queue"]["workers"] == 2
        status, doc = await api.call("GET", "/api/v1/openapi.json")
        assert {"/api/v1/voice", "/api/v1/voice/stream"} <= set(doc["paths"])
    finally:
        await api.session.close()
        await runner.cleanup()


async def test_renamed_device_is_heard_by_its_new_name(voice_api: Api, speaker: Speaker) -> None:
    status, body = await voice_api.call("PATCH", "/api/v1/devices/desk_lamp", json={"name": "reading nook light"})
    assert status == 200, body
    body = await speak(voice_api, speaker, "Turn on the reading nook light.")
    assert "reading nook light" in body["transcript"].lower()
    assert (await device_state(voice_api, "desk_lamp"))["on"] is True


async def test_voice_off_answers_501_everywhere(tmp_path: Path) -> None:
    runner, api = await start_api(make_config(tmp_path, voice={"stt": "none", "tts": "none"}))
    try:
        status, body = await post_voice(api, wav_bytes(noise(1.0)), "audio/wav")
        assert status == 501 and body["error"]["code"] == "not_built_yet"
        assert "Voice is not enabled on this server" in body["error"]["message"]
        url = api.url.replace("http", "ws", 1) + "/api/v1/voice/stream"
        async with api.session.get(url, headers=api.headers()) as resp:
            assert resp.status == 501
        status, body = await api.call("GET", "/api/v1/voice")
        assert status == 200 and body["enabled"] is False and body["stt"] is None
        reply = await api.say("turn on the kitchen lights")  # text is unaffected
        assert reply["reply"]["kind"] == "done"
    finally:
        await api.session.close()
        await runner.cleanup()
