"""Multi-turn dialogues written as data (tests/dialogues/*.yml), each on a fresh real server over HTTP; a sample over
the WebSocket. The held-out set is reported per category and must stay above its floor."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dialogue_runner import DIALOGUES, load, report, run_all, run_on_fresh_server

HELDOUT = load(DIALOGUES / "heldout.yml")
DEVELOPMENT = load(DIALOGUES / "development.yml")
# 55/55 pass today; the floor leaves one dialogue of slack for NLU retraining (the target is 95%, 53).
HELDOUT_FLOOR = 54
WEBSOCKET_SAMPLE = (
    "question-replaced-by-new-command",
    "old-button-answers-nothing",
    "undo-scene-restores-every-device",
)


def test_heldout_set_is_big_enough_and_covers_every_category() -> None:
    assert len(HELDOUT) >= 40
    assert {d.category for d in HELDOUT} >= {
        "open_question", "follow_up", "undo", "correction", "compound", "relative", "group", "unknown_name",
        "rename_alias", "class_in_room", "routine", "state_history",
    }  # fmt: skip
    assert not {d.id for d in HELDOUT} & {d.id for d in DEVELOPMENT}


async def test_heldout_dialogues(tmp_path: Path) -> None:
    results = await run_all(HELDOUT, tmp_path)
    print("\n" + report(results))
    passed = sum(r.passed for r in results)
    assert passed >= HELDOUT_FLOOR, report(results)


@pytest.mark.parametrize("dialogue", DEVELOPMENT, ids=[d.id for d in DEVELOPMENT])
async def test_development_dialogue(dialogue, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = await run_on_fresh_server(dialogue, tmp_path)
    assert result.passed, "\n".join(result.failures + result.transcript)


@pytest.mark.parametrize("dialogue_id", WEBSOCKET_SAMPLE)
async def test_dialogue_over_the_websocket(dialogue_id: str, tmp_path: Path) -> None:
    dialogue = next(d for d in HELDOUT if d.id == dialogue_id)
    result = await run_on_fresh_server(dialogue, tmp_path, websocket=True)
    assert result.passed, "\n".join(result.failures + result.transcript)
