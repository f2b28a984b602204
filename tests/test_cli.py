"""The `hearth` CLI, run as a real process."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

from tests.conftest import LiveServer, free_port, hearth


def test_say_keeps_the_conversation_between_calls(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    out = hearth("say", "turn on the kitchen lights", db=db)
    assert out.returncode == 0, out.stderr
    assert "was created with the demo home" in out.stderr  # a new database is never made quietly
    assert "kitchen lights" in out.stdout.lower()
    out = hearth("say", "turn it off", "--json", db=db)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["reply"]["actions"][0]["device_id"] == "kitchen_lights"
    assert result["reply"]["actions"][0]["after"]["on"] is False
    devices = json.loads(hearth("devices", "--json", db=db).stdout)
    assert {d["id"]: d for d in devices}["kitchen_lights"]["state"]["on"] is False
    assert len(devices) == 16


def test_parse_single_and_batch(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    out = hearth("parse", "lock the front door", db=db)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["intent"]["name"] == "lock"
    assert {"entity": "device", "value": "front_door"}.items() <= result["entities"][0].items()
    lines = "turn on the tv\n\nset the thermostat to 21\nwhat can you do\n"
    out = hearth("parse", "--batch", db=db, stdin=lines)
    assert out.returncode == 0, out.stderr
    results = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["intent"]["name"] for r in results] == ["turn_on", "set_temperature", "help"]


def test_devices_table_and_token(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    out = hearth("devices", db=db)
    assert out.returncode == 0 and "front_door" in out.stdout
    out = hearth("token", "create", "--user", "demo", db=db)
    assert out.returncode == 0 and out.stdout.strip().startswith("hth_")


def test_train_reports(tmp_path: Path) -> None:
    out = hearth("train", db=tmp_path / "t.db", timeout=300)
    assert out.returncode == 0, out.stderr
    assert "trained" in out.stdout


def _device(server: LiveServer, device_id: str) -> dict[str, Any]:
    req = urllib.request.Request(
        f"{server.url}/api/v1/devices/{device_id}", headers={"Authorization": f"Bearer {server.token}"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        body: dict[str, Any] = json.loads(resp.read())
        return body


def _one_error_line(out: subprocess.CompletedProcess[str]) -> str:
    """A failed command: non-zero exit, one line on stderr starting with `hearth:`, no traceback."""
    assert out.returncode != 0, out
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hearth: "), out.stderr
    return lines[0]


def test_say_finds_the_server_that_owns_the_database(live_server: LiveServer) -> None:
    # The server listens on a random port, not the configured 8470: the lock beside the database says where.
    out = hearth("say", "turn on the floor lamp", db=live_server.db)
    assert out.returncode == 0, out.stderr
    assert "floor lamp" in out.stdout.lower()
    assert _device(live_server, "floor_lamp")["state"]["on"] is True  # the server's own state changed
    # "it" follows on in the same conversation, through the server
    out = hearth("say", "turn it off", "--json", db=live_server.db)
    assert json.loads(out.stdout)["reply"]["actions"][0]["device_id"] == "floor_lamp"
    assert _device(live_server, "floor_lamp")["state"]["on"] is False
    # devices and parse go through the same server
    devices = json.loads(hearth("devices", "--json", db=live_server.db).stdout)
    assert {d["id"]: d for d in devices}["floor_lamp"]["state"]["on"] is False
    parsed = json.loads(hearth("parse", "lock the front door", db=live_server.db).stdout)
    assert parsed["intent"]["name"] == "lock"


def test_a_login_link_points_at_the_server_that_owns_the_database(live_server: LiveServer) -> None:
    out = hearth("token", "link", db=live_server.db)  # the server listens on a random port, not the configured one
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith(f"{live_server.url}/#code="), out.stdout


def test_commands_never_write_a_database_that_a_server_owns(live_server: LiveServer) -> None:
    before = live_server.db.stat().st_mtime_ns, (live_server.db.parent / "live.db-wal").stat().st_size
    # (`hearth token|user|home` write only the auth and home tables, which the server re-reads: see test_cli_access.py.)
    for args in (("say", "turn on the porch light", "--local"),):
        line = _one_error_line(hearth(*args, db=live_server.db))
        assert f"belongs to the server at {live_server.url}" in line, line
    after = live_server.db.stat().st_mtime_ns, (live_server.db.parent / "live.db-wal").stat().st_size
    assert before == after
    assert _device(live_server, "porch_light")["state"].get("on") is not True


def test_from_another_directory_while_a_server_runs(live_server: LiveServer, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    port = live_server.url.rsplit(":", 1)[1]
    env = {"HEARTH_SERVER__PORT": port}  # the server answers on the configured port, but owns another database
    line = _one_error_line(hearth("say", "turn on the desk lamp", db=None, cwd=elsewhere, env=env))
    assert f"running at {live_server.url}, but not on {elsewhere / 'hearth.db'}" in line
    assert "--db" in line and "--token" in line
    assert not (elsewhere / "hearth.db").exists()  # no second demo home appeared
    assert _device(live_server, "desk_lamp")["state"].get("on") is not True
    # Told which database, it works from anywhere; so does an explicit server and token.
    out = hearth("say", "turn on the desk lamp", db=live_server.db, cwd=elsewhere, env=env)
    assert out.returncode == 0, out.stderr
    assert _device(live_server, "desk_lamp")["state"]["on"] is True
    out = hearth(
        "say", "turn off the desk lamp", "--server", live_server.url, "--token", live_server.token,
        db=None, cwd=elsewhere,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert _device(live_server, "desk_lamp")["state"]["on"] is False
    # A token the server does not know is one line, not a 401 traceback.
    bad = "hth_" + "x" * 43
    line = _one_error_line(hearth("say", "hi", "--server", live_server.url, "--token", bad, db=None, cwd=elsewhere))
    assert f"the server at {live_server.url} did not accept the token from --token" in line


def test_the_clis_own_variables_are_not_settings(live_server: LiveServer, tmp_path: Path) -> None:
    """$HEARTH_TOKEN and HEARTH_DEBUG, which the README tells people to set, are read by the CLI itself: they must
    not be taken for configuration settings ("unknown setting(s) ['token']") and stop every command."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    port = live_server.url.rsplit(":", 1)[1]
    env = {"HEARTH_SERVER__PORT": port, "HEARTH_TOKEN": live_server.token}
    out = hearth("say", "turn on the desk lamp", "--server", live_server.url, db=None, cwd=elsewhere, env=env)
    assert out.returncode == 0, out.stderr
    assert _device(live_server, "desk_lamp")["state"]["on"] is True
    out = hearth("devices", db=live_server.db, env={"HEARTH_DEBUG": "1"})
    assert out.returncode == 0, out.stderr
    assert "desk_lamp" in out.stdout


def test_server_without_a_token_says_that_a_token_is_missing(live_server: LiveServer, tmp_path: Path) -> None:
    """--server URL names the server: without a token the line asks for one, not for that server's database."""
    line = _one_error_line(hearth("say", "hi", "--server", live_server.url, db=None, cwd=tmp_path))
    assert "--token" in line and "HEARTH_TOKEN" in line and "but not on" not in line, line
    assert not (tmp_path / "hearth.db").exists()


def test_in_a_new_directory_without_a_server_it_says_what_it_created(tmp_path: Path) -> None:
    env = {"HEARTH_SERVER__PORT": str(free_port())}  # nothing answers there
    out = hearth("say", "turn on the kitchen lights", db=None, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert "kitchen lights" in out.stdout.lower()
    assert out.stderr.strip() == (
        f"hearth: no server is running and {tmp_path / 'hearth.db'} did not exist, so it was created with the demo home"
    )
    out = hearth("say", "turn it off", db=None, cwd=tmp_path, env=env)
    assert out.returncode == 0 and out.stderr == "", out.stderr  # the second time there is nothing to announce
    empty = tmp_path / "empty"
    empty.mkdir()
    line = _one_error_line(hearth("say", "hello", "--no-demo", db=None, cwd=empty, env=env))
    assert "with --no-demo there would be no home in it, so it was not created" in line
    assert not (empty / "hearth.db").exists()


def test_every_error_is_one_line(tmp_path: Path) -> None:
    not_a_db = tmp_path / "notes.db"
    not_a_db.write_text("this is not a database\n" * 100)
    assert "cannot be used" in _one_error_line(hearth("devices", db=not_a_db))
    line = _one_error_line(
        hearth("say", "hi", "--server", f"http://127.0.0.1:{free_port()}", "--token", "hth_x", db=None)
    )
    assert "cannot reach the server at http://127.0.0.1:" in line
    assert hearth("devices", db=tmp_path / "a.db").returncode == 0
    assert "home" in _one_error_line(hearth("token", "create", "--user", "x", "--home", "nope", db=tmp_path / "a.db"))
    usage = hearth("say", db=tmp_path / "c.db")  # no text: a usage mistake is one line too, not the whole usage
    assert _one_error_line(usage) == "hearth: the following arguments are required: text (see `hearth say --help`)"
    assert usage.returncode == 2
    bad_config = tmp_path / "bad.toml"
    bad_config.write_text("[server]\nport = 'many'\n")
    assert "server.port" in _one_error_line(hearth("devices", "--config", str(bad_config), db=tmp_path / "b.db"))
