"""The `hearth` command line: serve, say, parse, train, devices, token."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sqlite3
import sys
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

from assistant import instance
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


def _quiet(config: Config) -> Config:
    """The configuration for a one-shot command: no speech models, no channels, no simulated device latency."""
    return replace(config, voice=replace(config.voice, stt="none", tts="none"), channels=(), virtual_latency_ms=0.0)


async def _with_core(config: Config, work: Callable[[Any], Awaitable[int]]) -> int:
    """Run a one-shot command on the database itself; never on one that a running server owns."""
    from assistant.app import build_core

    db = config.store.path
    new = str(db) != ":memory:" and not db.exists()
    with instance.local_use(db):
        core = build_core(_quiet(config))
        await core.start(seed=config.demo)  # with --no-demo no home is made here (serve makes an empty one)
        empty = new and not core.registry.homes
        try:
            if empty:
                raise HearthError(
                    ErrorCode.NOT_FOUND,
                    f"no server is running and {db.absolute()} does not exist; with --no-demo there would be no home "
                    "in it, so it was not created",
                )
            if new:
                print(
                    f"hearth: no server is running and {db.absolute()} did not exist, so it was created with the "
                    "demo home",
                    file=sys.stderr,
                )
            return await work(core)
        finally:
            await core.stop()
            if empty:  # a command that failed on a database it had just made leaves nothing behind
                _remove_database(db)


def _remove_database(db: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


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
SERVER_START_WAIT_S = 120.0  # how long a command waits for a server that is still loading its models
SHUTDOWN_GRACE_S = 1.0  # requests still running at Ctrl-C get this long; WebSockets are closed at once (1001)


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from assistant.app import create_app
    from assistant.http import CORE_KEY

    config = _config(args)
    logging.getLogger().setLevel(config.log_level)
    # The port and the database are claimed before any model loads, so a clash is one line at once.
    sock = instance.bind(config.server.host, config.server.port)
    url = instance.client_url(config.server.host, sock.getsockname()[1])
    ownership = instance.Ownership(config.store.path)
    try:
        ownership.claim(url)
        app = create_app(config)
        core = app[CORE_KEY]

        async def announce(app: web.Application) -> None:
            instance.ensure_cli_token(core, config.store.path)
            # Revoked or expired while the server runs: write a new one, so the CLI is not locked out until a restart.
            core.access_changed.append(lambda: instance.ensure_cli_token(core, config.store.path))
            row = core.store.query_one("SELECT 1 AS ok FROM memberships LIMIT 1")
            base = f"{url}/"
            if row is not None and not args.quiet:
                link = login_link(core, url)
                print(f"Hearth is running. Open {link}", flush=True)
                print("  (the link works once, for 15 minutes; `hearth token link` prints another)", flush=True)
            else:
                print(f"Hearth is running on {base}", flush=True)
            if not args.quiet:
                print("Press Ctrl-C to stop.", flush=True)

        app.on_startup.append(announce)
        loop = _event_loop()
        web.run_app(
            app, sock=sock, print=None, access_log=None, loop=loop, shutdown_timeout=SHUTDOWN_GRACE_S,
        )  # fmt: skip
    finally:
        ownership.release()
        sock.close()
    # Everything is closed and saved: sockets, store, lock. Freeing the loaded models object by object at interpreter
    # exit takes seconds (the speech models most of all); the operating system reclaims the memory at once.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


# -- client side: one way to find a running server ---------------------------------------------------------------
def _find_server(args: argparse.Namespace, config: Config) -> instance.Found | None:
    """The server this command should go through, or None to work on the database itself (see assistant.instance).
    With an explicit --db, a server on the configured port that does not own that database is left alone."""
    if getattr(args, "local", False):
        return None
    return instance.locate(
        config.store.path,
        config.server.host,
        config.server.port,
        server=getattr(args, "server", None),
        probe_port=not args.db,
    )


def _server_token(args: argparse.Namespace, config: Config, found: instance.Found) -> tuple[str, str]:
    """(token, where it came from): --token, $HEARTH_TOKEN, or the CLI token the owning server wrote."""
    if getattr(args, "token", None):
        return args.token.strip(), "--token"
    if os.environ.get("HEARTH_TOKEN"):
        return os.environ["HEARTH_TOKEN"].strip(), "$HEARTH_TOKEN"
    path = instance.token_path(config.store.path)
    db = config.store.path.absolute()
    url = found.record.url
    if found.owns_db and not path.exists() and url:
        instance.answers(url, timeout=SERVER_START_WAIT_S)  # a starting server writes the token once it has loaded
    if path.exists() and (found.owns_db or getattr(args, "server", None)):
        try:
            return path.read_text().strip(), str(path)
        except OSError as exc:
            raise HearthError(ErrorCode.UNAUTHORIZED, f"cannot read the CLI token {path}: {exc.strerror}") from None
    if found.owns_db:
        raise HearthError(
            ErrorCode.UNAUTHORIZED,
            f"the server at {url} owns {db} but has written no CLI token to {path} yet; try again once it has "
            "started, or pass --token",
        )
    if getattr(args, "server", None):
        raise HearthError(
            ErrorCode.UNAUTHORIZED,
            f"--server {url} needs a token: --token T or $HEARTH_TOKEN (on that server's machine, "
            "`hearth token create --user NAME` prints one)",
        )
    raise HearthError(
        ErrorCode.UNAUTHORIZED,
        f"a Hearth server is running at {url}, but not on {db}: give its database (--db FILE) or a token for it "
        f"(--token or $HEARTH_TOKEN), or pass --local to use {db} on its own",
    )


def _call_server(
    args: argparse.Namespace, config: Config, found: instance.Found, method: str, path: str, body: Any = None
) -> Any:
    """One API call to the running server; every failure becomes one HearthError line."""
    token, source = _server_token(args, config, found)
    url = found.record.url
    request = urllib.request.Request(
        url + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            error = json.loads(exc.read()).get("error") or {}
        except (ValueError, AttributeError):
            error = {}
        if exc.code == 401:
            raise HearthError(
                ErrorCode.UNAUTHORIZED,
                f"the server at {url} did not accept the token from {source} (is it serving another database? "
                "give its --db, or --token)",
            ) from None
        message = error.get("message") or f"the server at {url} answered {exc.code} {exc.reason}"
        raise HearthError(ErrorCode.BAD_REQUEST, message) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise HearthError(ErrorCode.BUSY, f"cannot reach the server at {url}: {reason}") from None
    except ValueError:
        raise HearthError(ErrorCode.INTERNAL, f"the server at {url} did not answer with JSON") from None


# -- say --------------------------------------------------------------------------------------------------------
def cmd_say(args: argparse.Namespace) -> int:
    config = _config(args)
    text = " ".join(args.text)
    body: dict[str, Any] = {"text": text, "conversation_id": args.conversation}
    if args.area:
        body["area"] = args.area
    result: dict[str, Any] = {}
    found = _find_server(args, config)
    if found is not None:
        result = _call_server(args, config, found, "POST", "/api/v1/conversation", body)
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

    def texts() -> Iterator[str]:
        lines: Iterable[str] = sys.stdin if args.batch else [" ".join(args.text)]
        for line in lines:
            text = " ".join(line.split())
            if text or not args.batch:
                yield text

    if not args.batch and not args.text:
        print("hearth: parse needs TEXT or --batch", file=sys.stderr)
        return 2
    found = _find_server(args, config)
    if found is not None:
        for text in texts():
            result = _call_server(args, config, found, "POST", "/api/v1/nlu/parse", {"text": text})
            print(json.dumps(result, ensure_ascii=False), flush=args.batch)
        return 0

    async def work(core: Any) -> int:
        home_id, _ = core.default_principal()
        vocab = core.registry.home(home_id).vocabulary
        for text in texts():
            result = await core.nlu.parse(text, vocab)
            print(json.dumps(result.to_dict(), ensure_ascii=False), flush=args.batch)
        return 0

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

    def show(views: list[dict[str, Any]]) -> int:
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

    found = _find_server(args, config)
    if found is not None:
        return show(_call_server(args, config, found, "GET", "/api/v1/devices")["devices"])

    async def work(core: Any) -> int:
        home_id, _ = core.default_principal()
        home = core.registry.home(home_id)
        return show([e.view(home.areas) for e in home.devices.values()])

    return asyncio.run(_with_core(config, work))


# -- token, home, user -----------------------------------------------------------------------------------------
async def _with_admin_core(config: Config, work: Callable[[Any], Awaitable[int]], seed: bool = True) -> int:
    """Manage tokens, users and homes. A new database (when `seed`) is created with its home as every command does.
    Otherwise the core is built but not started: no adapter runs and no device state is touched, only the auth and
    home tables are written. That is safe even while a server owns the database, because the server picks such
    changes up within a second (docs/decisions.md, "Access")."""
    from assistant.app import build_core

    db = config.store.path
    if seed and (str(db) == ":memory:" or not db.exists()):
        return await _with_core(config, work)
    core = build_core(_quiet(config))
    try:
        core.registry.load()
        return await work(core)
    finally:
        core.store.close()


def _when(ts: float | None) -> str:
    import time

    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def _member_id(core: Any, home_id: str, name: str) -> str:
    user_id = core.auth.user_id(name)
    if user_id is None or core.auth.role(home_id, user_id) is None:
        raise HearthError(
            ErrorCode.NOT_FOUND,
            f"{name} is not a member of home {home_id}; add them with `hearth user add {name} --home {home_id}`.",
        )
    return str(user_id)


def login_link(core: Any, base_url: str, user: str | None = None, home: str | None = None) -> str:
    """A one-time login link (valid for 15 minutes) for the user, by default the demo user or the first owner."""
    if user is None:
        home_id, user_id = core.default_principal()
        home_id = home or home_id
    else:
        home_id = home or core.default_principal()[0]
        user_id = _member_id(core, home_id, user)
    code = core.auth.create_login_code(user_id, home_id)
    return f"{base_url}/#code={code}"


def cmd_token(args: argparse.Namespace) -> int:
    config = _config(args)

    async def work(core: Any) -> int:
        if args.token_command == "create":
            home_id = args.home or core.default_principal()[0]
            core.registry.home(home_id)
            user_id = core.auth.user_id(args.user)
            if user_id is None or core.auth.role(home_id, user_id) is None:  # a new user joins as a member
                user_id = core.auth.ensure_user(args.user, home_id, role="member")
                print(f"hearth: added {args.user} to home {home_id} as a member", file=sys.stderr)
            label = args.label or f"cli for {args.user}"
            print(core.auth.create_token(user_id, home_id, label, args.expires))
        elif args.token_command == "list":
            tokens = core.auth.tokens(args.home)
            if args.json:
                print(json.dumps([t.to_dict() for t in tokens], ensure_ascii=False))
                return 0
            print(
                f"{'id':16} {'home':16} {'user':14} {'status':8} {'created':16} {'last used':16} {'expires':16} label"
            )
            for t in tokens:
                print(
                    f"{t.id:16} {t.home_id:16} {t.user_name:14} {t.status:8} {_when(t.created_at):16} "
                    f"{_when(t.last_used_at):16} {_when(t.expires_at):16} {t.label}"
                )
        elif args.token_command == "revoke":
            core.auth.revoke(args.id)
            print(f"revoked {args.id}")
        else:  # link: to the server that owns this database (whatever its port), else the configured address
            record = instance.owner(config.store.path)
            base = record.url if record and record.url else instance.client_url(config.server.host, config.server.port)
            print(login_link(core, base, args.user, args.home))
        return 0

    return asyncio.run(_with_admin_core(config, work))


def cmd_home(args: argparse.Namespace) -> int:
    config = _config(args)

    async def work(core: Any) -> int:
        if args.home_command == "create":
            print(await core.create_home(args.name, demo=args.demo))
        else:
            for home in core.registry.homes.values():
                print(f"{home.id:16} {len(home.devices):4} devices  {home.name}")
            if not core.registry.homes:
                print("no homes yet; create one with `hearth home create NAME`")
        return 0

    return asyncio.run(_with_admin_core(config, work, seed=False))


def cmd_user(args: argparse.Namespace) -> int:
    config = _config(args)

    async def work(core: Any) -> int:
        from assistant.access import Role

        core.registry.home(args.home)
        if args.user_command == "add":
            user_id, ops = core.auth.member_ops(args.name, args.home, Role(args.role))
            core.store.write_sync(*ops)
            print(f"{user_id} {args.name} is now {args.role} of {args.home}")
        else:
            for m in core.auth.members(args.home):
                print(f"{m.user_id:16} {m.role:7} {m.name}")
        return 0

    return asyncio.run(_with_admin_core(config, work, seed=False))


def _add_access_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("token", parents=[common], help="API tokens: create, list, revoke; login links")
    tsub = p.add_subparsers(dest="token_command", required=True)
    t = tsub.add_parser("create", parents=[common], help="create a bearer token for a member of a home")
    t.add_argument("--user", required=True, help="user name (added to the home as a member if new to it)")
    t.add_argument("--home", help="home id (default: the demo home, else the first)")
    t.add_argument("--label", help="what the token is for")
    t.add_argument("--expires", type=float, metavar="DAYS", help="expire after this many days (default: never)")
    t.set_defaults(func=cmd_token)
    t = tsub.add_parser("list", parents=[common], help="list tokens (never their secrets)")
    t.add_argument("--home", help="only this home")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_token)
    t = tsub.add_parser("revoke", parents=[common], help="revoke a token at once (a running server closes its sockets)")
    t.add_argument("id", help="token id (from `hearth token list`)")
    t.set_defaults(func=cmd_token)
    t = tsub.add_parser("link", parents=[common], help="print a one-time login link for the web page (15 minutes)")
    t.add_argument("--user", help="user name (default: the demo user, else the first owner)")
    t.add_argument("--home", help="home id")
    t.set_defaults(func=cmd_token)

    p = sub.add_parser("home", parents=[common], help="homes: create, list")
    hsub = p.add_subparsers(dest="home_command", required=True)
    h = hsub.add_parser("create", parents=[common], help="create a home; prints its id")
    h.add_argument("name")
    h.add_argument("--demo", action="store_true", help="with the demo areas, devices and scenes (default: empty)")
    h.set_defaults(func=cmd_home)
    h = hsub.add_parser("list", parents=[common], help="list homes")
    h.set_defaults(func=cmd_home)

    p = sub.add_parser("user", parents=[common], help="users: add to a home, list")
    usub = p.add_subparsers(dest="user_command", required=True)
    u = usub.add_parser("add", parents=[common], help="add a user to a home with a role")
    u.add_argument("name")
    u.add_argument("--home", required=True, help="home id")
    u.add_argument("--role", choices=["owner", "member", "guest"], default="member")
    u.set_defaults(func=cmd_user)
    u = usub.add_parser("list", parents=[common], help="list a home's users and roles")
    u.add_argument("--home", required=True, help="home id")
    u.set_defaults(func=cmd_user)


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake as one line (and where to read more) instead of the whole usage text."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"hearth: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hearth", description="Hearth: a local voice-first smart-home assistant")
    common = _Parser(add_help=False)
    common.add_argument("--config", help="TOML config file (default: $HEARTH_CONFIG)")
    common.add_argument("--db", help="SQLite database path (default: hearth.db)")
    # Commands that go through a running server when there is one (see assistant.instance.locate).
    client = _Parser(add_help=False)
    client.add_argument("--server", metavar="URL", help="the running server to use (default: the one that owns --db)")
    client.add_argument("--token", help="bearer token for --server (default: $HEARTH_TOKEN, or the server's CLI token)")
    client.add_argument(
        "--local", action="store_true", help="work on the database itself (refused while a server owns it)"
    )
    client.add_argument("--no-demo", action="store_true", help="do not create the demo home in a new database")
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

    p = sub.add_parser("say", parents=[common, client], help="one conversation turn; prints the reply")
    p.add_argument("text", nargs="+")
    p.add_argument("--conversation", default=CLI_CONVERSATION, help="conversation id (kept between calls)")
    p.add_argument("--area", help="default area for this turn")
    p.add_argument("--json", action="store_true", help="print the whole result as JSON")
    p.set_defaults(func=cmd_say)

    p = sub.add_parser("parse", parents=[common, client], help="NLU only: Rasa /model/parse JSON")
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

    p = sub.add_parser("devices", parents=[common, client], help="list devices and their state")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_devices)

    _add_access_commands(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Every failure is one line on stderr and a non-zero exit; HEARTH_DEBUG=1 shows the traceback instead."""
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
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`hearth parse --batch | head`): nothing more to say
        sys.stderr.close()
        return 141
    except Exception as err:
        if os.environ.get("HEARTH_DEBUG"):
            raise
        print(f"hearth: {_one_line(err)}", file=sys.stderr)
        return 1


def _one_line(err: Exception) -> str:
    if isinstance(err, HearthError):
        message = err.message
    elif isinstance(err, sqlite3.DatabaseError):
        message = f"the database cannot be used: {err} (is --db a Hearth database?)"
    elif isinstance(err, OSError) and err.filename:
        message = f"{err.filename}: {err.strerror}"
    else:
        message = f"{type(err).__name__}: {err} (set HEARTH_DEBUG=1 to see where)"
    return " ".join(message.split())


if __name__ == "__main__":
    sys.exit(main())
