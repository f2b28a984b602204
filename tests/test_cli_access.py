"""`hearth token|home|user`, login links from `hearth serve`, file modes, configuration precedence (real processes)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, LiveServer, free_port, hearth


def http(url: str, token: str | None = None, body: dict[str, Any] | None = None, method: str = "GET") -> Any:
    """(status, JSON body) of one request."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextlib.contextmanager
def serve(db: Path, *flags: str) -> Iterator[tuple[str, str]]:
    """`hearth serve` with its login link printed; yields (base url, the line it printed)."""
    port = free_port()
    log_path = db.parent / f"serve-{port}.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HEARTH_VOICE__STT": "none", "HEARTH_VOICE__TTS": "none"}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "serve", "--db", str(db), "--port", str(port), *flags],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while "Hearth is running" not in log_path.read_text():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"hearth serve did not start: {log_path.read_text()}")
                time.sleep(0.1)
            line = next(x for x in log_path.read_text().splitlines() if "Hearth is running" in x)
            base = f"http://127.0.0.1:{port}"
            while True:  # the line is printed at start-up, just before the port is bound
                try:
                    if http(base + "/api/v1/health")[0] == 200:
                        break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"hearth serve did not answer: {log_path.read_text()}")
                time.sleep(0.1)
            yield base, line
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


def exchange(base: str, line: str) -> tuple[int, Any]:
    found = re.search(r"#code=(hlc_[A-Za-z0-9_-]+)", line)
    assert found, line
    return http(base + "/api/v1/auth/login", body={"code": found.group(1)}, method="POST")  # type: ignore[no-any-return]


def test_token_create_list_and_revoke(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    token = ok(hearth("token", "create", "--user", "demo", "--label", "kitchen tablet", "--expires", "2", db=db))
    assert token.startswith("hth_")
    listed = json.loads(ok(hearth("token", "list", "--json", db=db)))
    assert len(listed) == 1 and "token" not in listed[0]
    made = listed[0]
    assert made["label"] == "kitchen tablet" and made["user_name"] == "demo" and made["status"] == "active"
    assert made["expires_at"] == pytest.approx(time.time() + 2 * 86400, abs=120)
    assert made["last_used_at"] is None
    table = hearth("token", "list", db=db).stdout
    assert made["id"] in table and "kitchen tablet" in table and token not in table
    assert ok(hearth("token", "revoke", made["id"], db=db)) == f"revoked {made['id']}"
    assert json.loads(ok(hearth("token", "list", "--json", db=db)))[0]["status"] == "revoked"
    # A user new to the home joins it as a member (never as an owner), and is told so.
    made = hearth("token", "create", "--user", "newbie", db=db)
    assert made.returncode == 0 and "added newbie to home demo as a member" in made.stderr
    assert re.search(r"member\s+newbie", hearth("user", "list", "--home", "demo", db=db).stdout)
    # Clear one-line errors.
    for args in (("token", "revoke", "t_nope"), ("token", "create", "--user", "x", "--home", "nope")):
        result = hearth(*args, db=db)
        assert result.returncode == 1 and result.stderr.startswith("hearth: ") and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_home_and_user_commands_reach_a_running_server(live_server: LiveServer) -> None:
    db, url = live_server.db, live_server.url
    home = ok(hearth("home", "create", "Alice's flat", db=db))
    assert re.fullmatch(r"h_[0-9a-f]{12}", home), home
    ok(hearth("user", "add", "alice", "--home", home, "--role", "owner", db=db))
    ok(hearth("user", "add", "gus", "--home", home, "--role", "guest", db=db))
    assert "gus" in hearth("user", "list", "--home", home, db=db).stdout
    alice = ok(hearth("token", "create", "--user", "alice", "--home", home, db=db))
    # The running server serves the new, empty home at once, and only that home to its users.
    status, body = http(url + "/api/v1/devices", alice)
    assert status == 200 and body["devices"] == []
    status, body = http(url + "/api/v1/home", alice)
    assert body["name"] == "Alice's flat" and body["role"] == "owner"
    assert {u["name"] for u in http(url + "/api/v1/users", alice)[1]["users"]} == {"alice", "gus"}
    # A demo copy, with a guest who cannot unlock its door.
    copy = ok(hearth("home", "create", "Showroom", "--demo", db=db))
    ok(hearth("user", "add", "gus", "--home", copy, "--role", "guest", db=db))
    gus = ok(hearth("token", "create", "--user", "gus", "--home", copy, db=db))
    assert len(http(url + "/api/v1/devices", gus)[1]["devices"]) == 16
    status, body = http(url + "/api/v1/devices/front_door/command", gus, {"name": "unlock"}, "POST")
    assert status == 403 and body["error"]["code"] == "forbidden"
    homes = hearth("home", "list", db=db).stdout
    assert home in homes and copy in homes and "demo" in homes
    bad = hearth("user", "add", "eve", "--home", "h_nope", db=db)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr


def test_cli_revocation_reaches_a_running_server_and_its_websocket(live_server: LiveServer) -> None:
    import asyncio

    import aiohttp

    db, url = live_server.db, live_server.url
    token = ok(hearth("token", "create", "--user", "demo", "--label", "doomed", db=db))
    assert http(url + "/api/v1/areas", token)[0] == 200
    token_id = next(t["id"] for t in json.loads(ok(hearth("token", "list", "--json", db=db))) if t["label"] == "doomed")

    async def scenario() -> tuple[int | None, int]:
        async with asyncio.timeout(60), aiohttp.ClientSession() as session:
            async with session.ws_connect(url + "/api/v1/ws") as ws:
                await ws.send_json({"type": "auth", "token": token})
                assert (await ws.receive_json())["type"] == "auth_ok"
                revoke = await asyncio.to_thread(hearth, "token", "revoke", token_id, db=db)
                assert revoke.returncode == 0, revoke.stderr
                async with asyncio.timeout(5):  # another process revoked it: the server notices within a second
                    while (msg := await ws.receive()).type != aiohttp.WSMsgType.CLOSE:
                        assert msg.type == aiohttp.WSMsgType.TEXT, msg
                    code = msg.data  # the close code the server sent
                async with session.get(url + "/api/v1/areas", headers={"Authorization": f"Bearer {token}"}) as r:
                    return code, r.status

    close_code, status = asyncio.run(scenario())
    assert close_code == 4401 and status == 401
    # Its last use was recorded by the server.
    listed = {t["id"]: t for t in json.loads(ok(hearth("token", "list", "--json", db=db)))}
    assert listed[token_id]["last_used_at"] is not None and listed[token_id]["status"] == "revoked"


def test_serve_prints_a_one_time_login_link_and_no_demo_gives_an_empty_home(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    with serve(db, "--no-demo") as (base, line):
        assert "#token=" not in line
        status, session = exchange(base, line)
        assert status == 200, session
        assert session["role"] == "owner"
        status, body = http(base + "/api/v1/devices", session["token"])
        assert status == 200 and body["devices"] == []
        assert http(base + "/api/v1/areas", session["token"])[1]["areas"] == []
        assert http(base + "/api/v1/home", session["token"])[1]["name"] == "Home"
        again = exchange(base, line)
        assert again[0] == 401 and "hearth token link" in again[1]["error"]["message"]
    # Restarting mints no token: only the one the link was exchanged for exists.
    with serve(db, "--no-demo") as (base, line):
        assert exchange(base, line)[0] == 200
    with serve(db, "--no-demo") as (base, line):
        pass
    tokens = json.loads(ok(hearth("token", "list", "--json", db=db)))
    web = [t for t in tokens if t["label"] != "hearth CLI"]  # the server's one token for this machine's CLI, reused
    assert len(web) == 2 and all(t["expires_at"] for t in web)
    assert {t["label"] for t in web} == {"web chat (login link)"}
    assert len(tokens) == 3


def test_database_and_cli_token_file_are_private(live_server: LiveServer) -> None:
    os.umask(0o022)
    port = live_server.url.rsplit(":", 1)[1]
    config = live_server.db.parent / "c.toml"
    config.write_text(f"[server]\nport = {port}\n")
    ok(hearth("say", "turn on the floor lamp", "--config", str(config), db=live_server.db))
    token_file = Path(f"{live_server.db}.cli-token")
    assert mode(token_file) == 0o600
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{live_server.db}{suffix}")
        assert path.exists(), path
        assert mode(path) == 0o600, (path, oct(mode(path)))
    # A database made by any command is private too, and an existing loose one is tightened.
    other = live_server.db.parent / "other.db"
    ok(hearth("home", "list", db=other))
    assert mode(other) == 0o600
    other.chmod(0o644)
    ok(hearth("home", "list", db=other))
    assert mode(other) == 0o600


def test_configuration_precedence_toml_then_environment_then_flags(tmp_path: Path) -> None:
    config = tmp_path / "hearth.toml"
    config.write_text(f'[store]\npath = "{tmp_path / "from_toml.db"}"\n')

    def run(env_db: str | None, flag_db: str | None) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
        env["HEARTH_CONFIG"] = str(config)
        if env_db:
            env["HEARTH_STORE__PATH"] = str(tmp_path / env_db)
        args = [sys.executable, "-m", "assistant.cli", "home", "list"]
        if flag_db:
            args += ["--db", str(tmp_path / flag_db)]
        result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr

    def made() -> set[str]:
        return {p.name for p in tmp_path.glob("*.db")}

    run(None, None)
    assert made() == {"from_toml.db"}
    run("from_env.db", None)
    assert made() == {"from_toml.db", "from_env.db"}
    run("from_env.db", "from_flag.db")
    assert made() == {"from_toml.db", "from_env.db", "from_flag.db"}


def test_a_revoked_cli_token_is_replaced_by_the_running_server(live_server: LiveServer) -> None:
    """Revoking the server's own CLI token (by mistake, or to rotate it) must not leave `hearth say` refused until a
    restart: the server writes a new one, and the next command goes through."""
    db = live_server.db
    cli_token = Path(f"{db}.cli-token")
    assert ok(hearth("say", "turn on the porch light", db=db)) == "Turned on the porch light."
    old = cli_token.read_text().strip()
    token_id = next(
        t["id"] for t in json.loads(ok(hearth("token", "list", "--json", db=db))) if t["label"] == "hearth CLI"
    )
    ok(hearth("token", "revoke", token_id, db=db))
    deadline = time.monotonic() + 10
    while cli_token.read_text().strip() == old and time.monotonic() < deadline:
        time.sleep(0.2)
    assert cli_token.read_text().strip() != old and mode(cli_token) == 0o600
    assert ok(hearth("say", "turn off the porch light", db=db)) == "Turned off the porch light."
    statuses = [
        t["status"] for t in json.loads(ok(hearth("token", "list", "--json", db=db))) if t["label"] == "hearth CLI"
    ]
    assert sorted(statuses) == ["active", "revoked"]
