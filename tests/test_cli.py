"""The `hearth` CLI, run as a real process."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import LiveServer, hearth


def test_say_keeps_the_conversation_between_calls(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    out = hearth("say", "turn on the kitchen lights", db=db)
    assert out.returncode == 0, out.stderr
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
    out = hearth("token", "create", "--user", "bob", db=db)
    assert out.returncode == 0 and out.stdout.strip().startswith("hth_")


def test_train_reports(tmp_path: Path) -> None:
    out = hearth("train", db=tmp_path / "t.db", timeout=300)
    assert out.returncode == 0, out.stderr
    assert "trained" in out.stdout


def test_say_goes_through_a_running_server(live_server: LiveServer) -> None:
    import urllib.request

    port = live_server.url.rsplit(":", 1)[1]
    env_config = live_server.db.parent / "c.toml"
    env_config.write_text(f"[server]\nport = {port}\n")
    out = hearth("say", "turn on the floor lamp", "--config", str(env_config), db=live_server.db)
    assert out.returncode == 0, out.stderr
    req = urllib.request.Request(
        live_server.url + "/api/v1/devices/floor_lamp",
        headers={"Authorization": f"Bearer {live_server.token}"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert json.loads(resp.read())["state"]["on"] is True  # the server's own state changed
