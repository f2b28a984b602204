"""The /api/v1/voice/stream WebSocket with real models: VAD ends the utterance, the turn runs, the reply streams."""

from __future__ import annotations

import asyncio

import pytest

from assistant.http import PUBLIC_PATHS
from tests.conftest import TIMEOUT, Api
from tests.voice_fixtures import Speaker, VoiceWs, device_state, noise, silence

pytestmark = pytest.mark.voice


async def test_vad_starts_the_turn_before_the_client_stops_sending(voice_api: Api, speaker: Speaker) -> None:
    client = await VoiceWs.connect(voice_api)
    listening = await client.start(area="office")
    assert listening["format"] == {"rate": 16000, "width": 2, "channels": 1}
    speech = await speaker.pcm16("Turn on the desk lamp.")
    trailing = silence(4.0)

    async def microphone() -> None:
        """Real-time audio: the speech, then silence for far longer than the turn needs."""
        await client.send_audio(silence(0.5) + speech + trailing, pace=1.0)

    sending = asyncio.ensure_future(microphone())
    try:
        done = await client.until("done", wait=TIMEOUT)
        assert not sending.done(), "the turn waited for the client to stop sending"
    finally:
        sending.cancel()
    types = client.log.types()
    assert types == [
        "listening", "speech_started", "speech_stopped", "transcript", "reply", "audio_start", "audio_stop", "done"
    ], types  # fmt: skip
    assert client.log.first("transcript")["text"].lower().strip(" .,!?") == "turn on the desk lamp"
    reply = client.log.first("reply")
    assert reply["reply"]["kind"] == "done" and reply["nlu"]["intent"]["name"] == "turn_on"
    assert (await device_state(voice_api, "desk_lamp"))["on"] is True
    start = client.log.first("audio_start")
    assert (start["rate"], start["width"], start["channels"]) == (22050, 2, 1)
    assert len(client.log.audio) / (2 * 22050) > 0.8  # the spoken reply came back as binary frames
    assert done["timings"]["command_ms"] < 2000 and done["timings"]["first_audio_ms"] >= done["timings"]["command_ms"]
    stopped = client.log.first("speech_stopped")["at"]
    assert 0.5 + len(speech) / 32000 < stopped < 0.5 + len(speech) / 32000 + 1.2
    await client.close()


async def test_two_utterances_on_one_socket_share_the_conversation(voice_api: Api, speaker: Speaker) -> None:
    client = await VoiceWs.connect(voice_api, header_auth=False) if "/api/v1/voice/stream" in PUBLIC_PATHS else None
    client = client or await VoiceWs.connect(voice_api)
    for said, expected in [("Turn on the desk lamp.", True), ("Turn it off.", False)]:
        await client.start()
        await client.send_audio(silence(0.3) + await speaker.pcm16(said) + silence(1.0))
        done = await client.until("done")
        assert (await device_state(voice_api, "desk_lamp"))["on"] is expected, client.log.events
        assert done["timings"]["speculative"] in (True, False)
    conversations = {e["conversation_id"] for e in client.log.events if e["type"] == "reply"}
    assert len(conversations) == 1
    await client.close()


async def test_stop_ends_the_utterance_and_silence_is_not_caught(voice_api: Api, speaker: Speaker) -> None:
    client = await VoiceWs.connect(voice_api)
    await client.start(speak=False)
    await client.send_audio(silence(0.3) + await speaker.pcm16("Turn on the porch light."))
    await client.ws.send_json({"type": "stop"})  # no trailing silence: the client says it is done
    done = await client.until("done")
    assert "audio_start" not in client.log.types()
    assert (await device_state(voice_api, "porch_light"))["on"] is True, client.log.events
    assert done["timings"]["command_ms"] > 0
    await client.start()
    await client.send_audio(silence(1.0) + noise(0.5, -60))
    await client.ws.send_json({"type": "stop"})
    await client.until("done")
    reply = [e for e in client.log.events if e["type"] == "reply"][-1]
    assert reply["transcript"] == "" and reply["nlu"] is None
    assert reply["reply"]["speech"] == "Sorry, I didn't catch that."
    await client.close()


async def test_bad_messages_get_errors_and_the_socket_stays_open(voice_api: Api, speaker: Speaker) -> None:
    client = await VoiceWs.connect(voice_api)
    await client.ws.send_bytes(silence(0.1))
    err = await client.until("error")
    assert "start" in err["error"]["message"]
    await client.ws.send_str("{not json")
    assert (await client.until("error"))["error"]["code"] == "invalid_json"
    await client.ws.send_json({"type": "dance"})
    assert (await client.until("error"))["error"]["code"] == "validation_error"
    await client.ws.send_json({"type": "start", "rate": 3})
    assert (await client.until("error"))["error"]["code"] == "validation_error"
    await client.ws.send_json({"type": "ping"})
    await client.until("pong")
    await client.start(rate=22050)  # other rates are resampled on the way in
    raw, fmt = await speaker.piper("Turn on the coffee maker.")
    await client.ws.send_bytes(bytes(int(0.3 * fmt.rate) * 2) + raw + bytes(fmt.rate * 2))
    await client.until("done")
    assert (await device_state(voice_api, "coffee_maker"))["on"] is True, client.log.events
    await client.close()


async def test_cancel_drops_the_utterance(voice_api: Api, speaker: Speaker) -> None:
    """The audio after `cancel` would end the utterance and run its turn (trailing silence) if cancel did nothing."""
    client = await VoiceWs.connect(voice_api, header_auth=False)
    await client.start(speak=False)
    await client.send_audio(silence(0.3) + await speaker.pcm16("Turn on the TV."))
    await client.ws.send_json({"type": "cancel"})
    await client.until("cancelled")
    await client.send_audio(silence(1.5))  # enough to end the utterance and run it, had it not been dropped
    assert (await client.until("error"))["error"]["message"] == 'Send {"type": "start"} before audio.'
    await client.start(speak=False)  # the socket listens again: a later command still works
    await client.send_audio(silence(0.3) + await speaker.pcm16("Turn on the desk lamp.") + silence(1.5))
    done = await client.until("done")
    replies = [e for e in client.log.events if e["type"] == "reply"]
    assert [r["nlu"]["intent"]["name"] for r in replies] == ["turn_on"], client.log.events
    assert [a["device_id"] for a in replies[0]["reply"]["actions"]] == ["desk_lamp"], replies
    assert (await device_state(voice_api, "desk_lamp"))["on"] is True and done["conversation_id"]
    assert (await device_state(voice_api, "tv"))["on"] is False, client.log.events
    await client.close()


async def test_stream_auth(voice_api: Api) -> None:
    url = voice_api.url.replace("http", "ws", 1) + "/api/v1/voice/stream"
    if "/api/v1/voice/stream" in PUBLIC_PATHS:
        async with asyncio.timeout(TIMEOUT):
            ws = await voice_api.session.ws_connect(url)
            await ws.send_json({"type": "auth", "token": "hearth_nope"})
            msg = await ws.receive_json()
            assert msg["type"] == "error" and msg["error"]["code"] == "unauthorized"
            closed = await ws.receive()
            assert ws.close_code == 4401, closed
    else:
        async with voice_api.session.get(url, headers={"Authorization": "Bearer hearth_nope"}) as resp:
            assert resp.status == 401


async def test_continuous_listening_takes_one_command_after_another(voice_api: Api, speaker: Speaker) -> None:
    client = await VoiceWs.connect(voice_api)
    await client.start(continuous=True, speak=False, conversation_id="hands-free")
    first = await speaker.pcm16("Turn on the desk lamp.")
    second = await speaker.pcm16("Turn it off.")
    await client.send_audio(silence(0.3) + first + silence(1.5) + second + silence(1.5), pace=1.0)
    await client.until("done")
    await client.until("done")
    await client.until("listening")
    assert client.log.types().count("listening") == 3  # the start, then again after each turn
    replies = [e for e in client.log.events if e["type"] == "reply"]
    # each command was heard and acted on: the lamp went on, then "it" (the lamp) went off again
    acted = [
        (r["nlu"]["intent"]["name"], [(a["device_id"], a["after"].get("on")) for a in r["reply"]["actions"]])
        for r in replies
    ]
    assert acted == [("turn_on", [("desk_lamp", True)]), ("turn_off", [("desk_lamp", False)])], acted
    assert {r["conversation_id"] for r in replies} == {"hands-free"}
    assert (await device_state(voice_api, "desk_lamp"))["on"] is False
    await client.close()
