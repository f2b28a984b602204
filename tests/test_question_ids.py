"""Question ids: a reply that asks carries "question_id"; a turn with "reply_to" answers only that question."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import TIMEOUT, Api


async def state(api: Api, device_id: str) -> dict[str, Any]:
    status, body = await api.call("GET", f"/api/v1/devices/{device_id}")
    assert status == 200, body
    return body["state"]


async def test_questions_carry_ids_and_answers_without_one_still_work(api: Api) -> None:
    out = await api.say("unlock the front door", "q1")
    reply = out["reply"]
    assert reply["kind"] == "confirm" and reply["expects_answer"] is True
    assert isinstance(reply["question_id"], str) and reply["question_id"]
    done = await api.say("turn on the desk lamp", "q2")
    assert done["reply"]["question_id"] is None
    out = await api.say("yes", "q1")
    assert out["reply"]["kind"] == "done", out["reply"]
    assert (await state(api, "front_door"))["locked"] is False


async def test_reply_to_the_open_question_answers_it(api: Api) -> None:
    asked = (await api.say("unlock the front door", "q"))["reply"]
    out = await api.say("yes", "q", reply_to=asked["question_id"])
    assert out["reply"]["kind"] == "done", out["reply"]
    assert (await state(api, "front_door"))["locked"] is False


async def test_an_old_button_answers_nothing_and_the_open_question_stays(api: Api) -> None:
    first = (await api.say("unlock the front door", "q"))["reply"]
    await api.say("no", "q")  # that question is closed now
    assert (await state(api, "front_door"))["locked"] is True
    second = (await api.say("unlock the front door", "q"))["reply"]
    assert second["question_id"] != first["question_id"]
    stale = (await api.say("yes", "q", reply_to=first["question_id"]))["reply"]
    assert stale["kind"] == "error" and stale["error_code"] == "question_closed", stale
    assert "no longer open" in stale["speech"]
    assert stale["question_id"] == second["question_id"]  # the question that is open now
    assert (await state(api, "front_door"))["locked"] is True
    # the open question was not touched: its own button still answers it
    out = await api.say("yes", "q", reply_to=second["question_id"])
    assert out["reply"]["kind"] == "done", out["reply"]
    assert (await state(api, "front_door"))["locked"] is False


async def test_reply_to_with_nothing_open_does_nothing(api: Api) -> None:
    out = (await api.say("turn on the desk lamp", "q", reply_to="abc123"))["reply"]
    assert out["error_code"] == "question_closed", out
    assert (await state(api, "desk_lamp"))["on"] is False


async def test_reply_to_is_validated(api: Api) -> None:
    status, body = await api.call("POST", "/api/v1/conversation", json={"text": "yes", "reply_to": "not an id!"})
    assert status == 422 and body["error"]["code"] == "validation_error", body


async def test_websocket_turn_accepts_reply_to(api: Api) -> None:
    async with asyncio.timeout(TIMEOUT), api.session.ws_connect(api.url + "/api/v1/ws") as ws:
        await ws.send_json({"type": "auth", "token": api.token})
        assert (await ws.receive_json())["type"] == "auth_ok"

        async def result(message: dict[str, Any]) -> dict[str, Any]:
            await ws.send_json({"type": "conversation", "conversation_id": "w", **message})
            while True:
                msg = await ws.receive_json()
                if msg["type"] == "result":
                    return dict(msg["reply"])

        asked = await result({"id": 1, "text": "unlock the front door"})
        assert asked["kind"] == "confirm" and asked["question_id"]
        stale = await result({"id": 2, "text": "yes", "reply_to": "old0000"})
        assert stale["error_code"] == "question_closed"
        assert (await state(api, "front_door"))["locked"] is True
        done = await result({"id": 3, "text": "yes", "reply_to": asked["question_id"]})
        assert done["kind"] == "done", done
    assert (await state(api, "front_door"))["locked"] is False


async def test_openapi_documents_question_ids(api: Api) -> None:
    status, doc = await api.call("GET", "/api/v1/openapi.json")
    assert status == 200
    assert "question_id" in doc["components"]["schemas"]["Reply"]["properties"]
    body = doc["paths"]["/api/v1/conversation"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "reply_to" in body["properties"]
