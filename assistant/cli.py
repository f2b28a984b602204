"""The `hearth` command line: serve, say, parse, train, devices, token."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from assistant.config import Config, load_config
from assistant.errors import ErrorCode, HearthError
from assistant.validation import is_valid_text

CLI_CONVERSATION = "cli"


def _config(args: argparse.Namespace) -> Config:
    overrides: dict[str, Any] = {}
    if getattr(args, "db", None):
        overrides.setdefault("store", {})["path"] = args.db
    if getattr(args, "host", None):
        overrides.setdefault("server", {})["host"] = args.host
    if getattr(args, "port", None):
        overrides.setdefault("server", {})["port"] = args.port
    if getattr(args, "no_demo", False):
        overrides["demo"] = False
    return load_config(Path(args.config) if args.config else None, overrides=overrides)


async def _with_core(config: Config, work: Callable[[Any], Awaitable[int]]) -> int:
    from assistant.app import build_core

    # One-shot commands need neither speech models nor channels.
    quiet = replace(config, voice=replace(config.voice, stt="none", tts="none"), channels=())
    core = build_core(replace(quiet, virtual_latency_ms=0.0))
    await core.start()
    try:
        return await work(core)
    finally:
        await core.stop()


def _event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (it roughly doubles request throughput), else asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        loop = asyncio.new_event_loop()
    else:
        loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    return loop


# -- serve ------------------------------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from assistant.app import create_app
    from assistant.demo import DEMO_USER
    from assistant.http import CORE_KEY

    config = _config(args)
    logging.getLogger().setLevel(config.log_level)
    app = create_app(config)
    core = app[CORE_KEY]

    async def announce(app: web.Application) -> None:
        row = core.store.query_one("SELECT id FROM users WHERE name = ?", (DEMO_USER,))
        base = f"http://{config.server.host}:{config.server.port}/"
        if row is not None and not args.quiet:
            home_id, user_id = core.default_principal()
            token = core.auth.create_token(user_id, home_id, "web chat (hearth serve)")
            print(f"Hearth is running. Open {base}#token={token}", flush=True)
        else:
            print(f"Hearth is running on {base}", flush=True)

    app.on_startup.append(announce)
    loop = _event_loop()
    web.run_app(app, host=config.server.host, port=config.server.port, print=None, access_log=None, loop=loop)
    return 0


# -- say --------------------------------------------------------------------------------------------------------
def _token_file(config: Config) -> Path:
    return Path(f"{config.store.path}.cli-token")


def _server_up(config: Config) -> bool:
    url = f"http://{config.server.host}:{config.server.port}/api/v1/health"
    try:
        with urllib.request.urlopen(url, timeout=0.3) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _say_via_server(config: Config, body: dict[str, Any]) -> dict[str, Any]:
    """A running server owns the devices: send the turn to it with this machine's CLI token."""
    path = _token_file(config)
    if not path.exists():
        from assistant.auth import Auth
        from assistant.store import Store

        store = Store(config.store.path)
        try:
            home_id, user_id = _local_principal(store)
            token = Auth(store).create_token(user_id, home_id, "hearth say")
        finally:
            store.close()
        path.write_text(token)
        os.chmod(path, 0o600)
    request = urllib.request.Request(
        f"http://{config.server.host}:{config.server.port}/api/v1/conversation",
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {path.read_text().strip()}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        result: dict[str, Any] = json.loads(resp.read())
        return result


def _local_principal(store: Any) -> tuple[str, str]:
    from assistant.demo import DEMO_USER

    row = store.query_one(
        "SELECT m.home_id, m.user_id FROM memberships m JOIN users u ON u.id = m.user_id "
        "ORDER BY (u.name = ?) DESC, m.rowid LIMIT 1",
        (DEMO_USER,),
    )
    if row is None:
        raise HearthError(ErrorCode.NOT_FOUND, "No home exists yet; run `hearth serve` once.")
    return row["home_id"], row["user_id"]


def cmd_say(args: argparse.Namespace) -> int:
    config = _config(args)
    text = " ".join(args.text)
    body: dict[str, Any] = {"text": text, "conversation_id": args.conversation}
    if args.area:
        body["area"] = args.area
    result: dict[str, Any] = {}
    if not args.local and _server_up(config):
        result = _say_via_server(config, body)
    else:

        async def work(core: Any) -> int:
            from assistant.http import run_turn

            home_id, user_id = core.default_principal()
            result.update(await run_turn(core, home_id, user_id, body, "cli"))
            return 0

        asyncio.run(_with_core(config, work))
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(result["reply"]["speech"])
    return 0


# -- parse ------------------------------------------------------------------------------------------------------
def cmd_parse(args: argparse.Namespace) -> int:
    config = _config(args)

    async def work(core: Any) -> int:
        home_id, _ = core.default_principal()
        vocab = core.registry.home(home_id).vocabulary
        lines: Iterable[str] = sys.stdin if args.batch else [" ".join(args.text)]
        for line in lines:
            text = " ".join(line.split())
            if args.batch and not text:
                continue
            result = await core.nlu.parse(text, vocab)
            print(json.dumps(result.to_dict(), ensure_ascii=False), flush=args.batch)
        return 0

    if not args.batch and not args.text:
        print("hearth parse: give TEXT or --batch", file=sys.stderr)
        return 2
    return asyncio.run(_with_core(config, work))


# -- train ------------------------------------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace) -> int:
    from assistant.nlu.factory import create_nlu_engine

    config = _config(args)
    if args.backend:
        config = replace(config, nlu=replace(config.nlu, engine=args.backend))
    report = create_nlu_engine(config.nlu).train()
    print(
        f"trained {report.intents} intents from {report.examples} examples in {report.seconds:.1f} s "
        f"-> {report.model_path}"
    )
    for key, value in report.metrics.items():
        print(f"  {key}: {value}")
    return 0


# -- devices ----------------------------------------------------------------------------------------------------
def cmd_devices(args: argparse.Namespace) -> int:
    config = _config(args)

    async def work(core: Any) -> int:
        home_id, _ = core.default_principal()
        home = core.registry.home(home_id)
        views = [e.view(home.areas) for e in home.devices.values()]
        if args.json:
            print(json.dumps(views, ensure_ascii=False))
            return 0
        print(f"{'id':24} {'name':24} {'kind':8} {'area':12} state")
        for v in views:
            state = ", ".join(f"{k}={val}" for k, val in v["state"].items())
            if not v["available"]:
                state = "UNAVAILABLE " + state
            print(f"{v['id']:24} {v['name']:24} {v['kind']:8} {v['area'] or '':12} {state}")
        return 0

    return asyncio.run(_with_core(config, work))


# -- token ------------------------------------------------------------------------------------------------------
def cmd_token(args: argparse.Namespace) -> int:
    config = _config(args)

    async def work(core: Any) -> int:
        home_id = args.home or core.default_principal()[0]
        core.registry.home(home_id)
        user_id = core.auth.ensure_user(args.user, home_id)
        print(core.auth.create_token(user_id, home_id, args.label or f"cli for {args.user}"))
        return 0

    return asyncio.run(_with_core(config, work))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hearth", description="Hearth: a local voice-first smart-home assistant")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="TOML config file (default: $HEARTH_CONFIG)")
    common.add_argument("--db", help="SQLite database path (default: hearth.db)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "serve",
        parents=[common],
        help="run the server (creates the demo home on an empty database)",
    )
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--no-demo", action="store_true", help="do not create the demo home")
    p.add_argument("--quiet", action="store_true", help="do not print a login link")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("say", parents=[common], help="one conversation turn; prints the reply")
    p.add_argument("text", nargs="+")
    p.add_argument("--conversation", default=CLI_CONVERSATION, help="conversation id (kept between calls)")
    p.add_argument("--area", help="default area for this turn")
    p.add_argument("--json", action="store_true", help="print the whole result as JSON")
    p.add_argument("--local", action="store_true", help="use the database directly even if a server runs")
    p.set_defaults(func=cmd_say)

    p = sub.add_parser("parse", parents=[common], help="NLU only: Rasa /model/parse JSON")
    p.add_argument("text", nargs="*")
    p.add_argument(
        "--batch",
        action="store_true",
        help="one utterance per stdin line, one JSON per output line",
    )
    p.set_defaults(func=cmd_parse)

    p = sub.add_parser("train", parents=[common], help="train the NLU model from nlu_data/")
    p.add_argument(
        "--backend",
        choices=("embedded", "rasa"),
        help="which engine to train (default: nlu.engine); rasa trains in .venv-rasa (./scripts/setup-rasa)",
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("devices", parents=[common], help="list devices and their state")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_devices)

    p = sub.add_parser("token", parents=[common], help="API tokens")
    tsub = p.add_subparsers(dest="token_command", required=True)
    t = tsub.add_parser("create", parents=[common], help="create a bearer token for a user")
    t.add_argument("--user", required=True)
    t.add_argument("--home", help="home id (default: the demo home)")
    t.add_argument("--label")
    t.set_defaults(func=cmd_token)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    raw = list(sys.argv[1:] if argv is None else argv)
    bad = next((a for a in raw if not is_valid_text(a)), None)
    if bad is not None:  # bytes that are not UTF-8 arrive as lone surrogates; nothing downstream could store them
        print(
            f"hearth: an argument is not valid UTF-8 text: {bad.encode('utf-8', 'replace').decode()!r}", file=sys.stderr
        )
        return 2
    args = build_parser().parse_args(raw)
    try:
        return int(args.func(args))
    except HearthError as err:
        print(f"hearth: {err.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
