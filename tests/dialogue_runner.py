"""Multi-turn dialogues written as data (YAML), run against a real Hearth server over HTTP or the WebSocket.

Run a file by hand: `.venv/bin/python -m tests.dialogue_runner tests/dialogues/heldout.yml [--ws] [--verbose]`."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import tempfile
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import TIMEOUT, Api, make_config, start_api

DIALOGUES = Path(__file__).resolve().parent / "dialogues"
KINDS = {"done", "answer", "ask", "confirm", "cancelled", "not_understood", "not_built", "error"}
TURN_KEYS = {
    "say", "area", "reply_to", "kind", "speech", "speech_any", "not_speech", "question", "states", "devices",
}  # fmt: skip


@dataclass(slots=True)
class Dialogue:
    """One scripted conversation: its id, category, starting states and turns."""

    id: str
    category: str
    turns: list[dict[str, Any]]
    setup: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Dialogue:
        turns = list(data["turns"])
        for turn in turns:
            unknown = set(turn) - TURN_KEYS
            if unknown or "say" not in turn:
                raise ValueError(f"dialogue {data['id']}: bad turn {turn} (unknown keys {sorted(unknown)})")
            kinds = turn.get("kind")
            for kind in [kinds] if isinstance(kinds, str) else kinds or []:
                if kind not in KINDS:
                    raise ValueError(f"dialogue {data['id']}: unknown reply kind {kind!r}")
        return cls(str(data["id"]), str(data["category"]), turns, dict(data.get("setup") or {}))


@dataclass(slots=True)
class Result:
    """How one dialogue went: passed, or the first failing turn and why."""

    dialogue: Dialogue
    failures: list[str] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


class _Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false, so `on:` stays a key and `yes` stays words."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load(path: Path) -> list[Dialogue]:
    data = yaml.load(path.read_text(), Loader=_Yaml12Loader)
    dialogues = [Dialogue.from_dict(d) for d in data["dialogues"]]
    ids = [d.id for d in dialogues]
    if len(ids) != len(set(ids)):
        raise ValueError(f"{path}: dialogue ids repeat")
    return dialogues


def _matches(actual: Any, expected: Any) -> bool:
    if isinstance(expected, str) and expected[:2] in {">=", "<=", "!="}:
        op, raw = expected[:2], expected[2:]
    elif isinstance(expected, str) and expected[:1] in {">", "<"}:
        op, raw = expected[:1], expected[1:]
    else:
        return bool(actual == expected)
    if op == "!=":
        return str(actual) != raw
    if not isinstance(actual, int | float):
        return False
    value = float(raw)
    return {">": actual > value, "<": actual < value, ">=": actual >= value, "<=": actual <= value}[op]


Say = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


async def run_dialogue(api: Api, dialogue: Dialogue, say: Say | None = None) -> Result:
    """Run one dialogue on a fresh server; check every expectation of every turn (all failures are listed)."""
    result = Result(dialogue)
    for device_id, wanted in dialogue.setup.items():
        status, body = await api.call(
            "POST",
            f"/api/v1/devices/{device_id}/command",
            json={"name": "restore", "params": {"state": wanted}, "confirm": True},  # set-up may unlock the door
        )
        if status != 200:
            result.failures.append(f"setup {device_id}: {status} {body}")
            return result
    conversation = f"dlg-{dialogue.id}"[:64]
    questions: list[str | None] = []
    last_question: str | None = None
    for n, turn in enumerate(dialogue.turns, 1):
        body: dict[str, Any] = {"text": turn["say"], "conversation_id": conversation}
        if turn.get("area"):
            body["area"] = turn["area"]
        if turn.get("reply_to"):
            ref = str(turn["reply_to"])
            if ref == "previous":
                body["reply_to"] = last_question or "none"
            elif ref.startswith("turn "):
                body["reply_to"] = questions[int(ref[5:]) - 1] or "none"
            else:
                body["reply_to"] = ref
        if say is None:
            status, out = await api.call("POST", "/api/v1/conversation", json=body)
            if status != 200:
                result.failures.append(f"turn {n} {turn['say']!r}: HTTP {status} {out}")
                return result
        else:
            out = await say(body)
        reply = out["reply"]
        questions.append(reply.get("question_id"))
        if reply.get("question_id"):
            last_question = reply["question_id"]
        result.transcript.append(f"  > {turn['say']}\n  < [{reply['kind']}] {reply['speech']}")
        where = f"turn {n} {turn['say']!r} -> [{reply['kind']}] {reply['speech']!r}"
        speech = reply["speech"].lower()
        kinds = turn.get("kind")
        if kinds is not None:
            allowed = [kinds] if isinstance(kinds, str) else list(kinds)
            if reply["kind"] not in allowed:
                result.failures.append(f"{where}: kind is not {allowed}")
        for part in turn.get("speech", []):
            if part.lower() not in speech:
                result.failures.append(f"{where}: speech lacks {part!r}")
        if turn.get("speech_any") and not any(p.lower() in speech for p in turn["speech_any"]):
            result.failures.append(f"{where}: speech has none of {turn['speech_any']}")
        for part in turn.get("not_speech", []):
            if part.lower() in speech:
                result.failures.append(f"{where}: speech has {part!r}")
        if "question" in turn and bool(reply["expects_answer"]) != bool(turn["question"]):
            result.failures.append(f"{where}: expects_answer is {reply['expects_answer']}")
        for device_id, wanted in (turn.get("states") or {}).items():
            status, view = await api.call("GET", f"/api/v1/devices/{device_id}")
            state = view.get("state", {}) if status == 200 else {}
            for key, value in wanted.items():
                if not _matches(state.get(key), value):
                    result.failures.append(f"{where}: {device_id}.{key} is {state.get(key)!r}, wanted {value!r}")
        for device_id, wanted in (turn.get("devices") or {}).items():
            status, view = await api.call("GET", f"/api/v1/devices/{device_id}")
            for key, value in wanted.items():
                if key == "aliases_include":
                    missing = [a for a in value if a not in view.get("aliases", [])]
                    if missing:
                        result.failures.append(f"{where}: {device_id} lacks aliases {missing}")
                elif view.get(key) != value:
                    result.failures.append(f"{where}: {device_id}.{key} is {view.get(key)!r}, wanted {value!r}")
    return result


async def run_on_fresh_server(dialogue: Dialogue, root: Path, websocket: bool = False) -> Result:
    """A new server (its own SQLite file, the demo home) for one dialogue, over HTTP or the WebSocket."""
    directory = root / dialogue.id
    directory.mkdir(parents=True, exist_ok=True)
    runner, api = await start_api(make_config(directory))
    try:
        if not websocket:
            return await run_dialogue(api, dialogue)
        async with asyncio.timeout(TIMEOUT * 5), api.session.ws_connect(api.url + "/api/v1/ws") as ws:
            await ws.send_json({"type": "auth", "token": api.token})
            assert (await ws.receive_json())["type"] == "auth_ok"
            counter = 0

            async def say(body: dict[str, Any]) -> dict[str, Any]:
                nonlocal counter
                counter += 1
                await ws.send_json({"type": "conversation", "id": counter, **body})
                async with asyncio.timeout(TIMEOUT):
                    while True:
                        msg = await ws.receive_json()
                        if msg["type"] == "result" and msg["id"] == counter:
                            return dict(msg)
                        if msg["type"] == "error":
                            raise AssertionError(f"WebSocket error: {msg}")

            return await run_dialogue(api, dialogue, say)
    finally:
        await api.session.close()
        await runner.cleanup()


async def run_all(dialogues: list[Dialogue], root: Path, websocket: bool = False) -> list[Result]:
    return [await run_on_fresh_server(d, root, websocket) for d in dialogues]


def report(results: list[Result], verbose: bool = False) -> str:
    """Per-category pass counts, then each failure."""
    by_category: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_category[r.dialogue.category].append(r)
    lines = [f"{'category':<16} passed"]
    for category, items in by_category.items():
        lines.append(f"{category:<16} {sum(r.passed for r in items)}/{len(items)}")
    passed = sum(r.passed for r in results)
    lines.append(f"{'total':<16} {passed}/{len(results)} ({100 * passed / max(1, len(results)):.0f}%)")
    for r in results:
        if not r.passed:
            lines.append(f"FAIL {r.dialogue.category}/{r.dialogue.id}:")
            lines.extend(f"    {f}" for f in r.failures)
            if verbose:
                lines.extend(r.transcript)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file", type=Path)
    parser.add_argument("--ws", action="store_true", help="send the turns over the WebSocket")
    parser.add_argument("--only", default="", help="run only dialogues whose id or category contains this")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from assistant.config import load_config
    from assistant.nlu.factory import create_nlu_engine

    asyncio.run(create_nlu_engine(load_config(env={}).nlu).load())
    dialogues = [d for d in load(args.file) if args.only in d.id or args.only in d.category]
    with tempfile.TemporaryDirectory() as tmp:
        results = asyncio.run(run_all(dialogues, Path(tmp), args.ws))
    if args.json:
        print(json.dumps({r.dialogue.id: r.failures for r in results}, indent=1))
    print(report(results, args.verbose))


if __name__ == "__main__":
    main()
