"""The [zigbee2mqtt] section: read from the TOML file and HEARTH_ZIGBEE2MQTT__* variables, validated once."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.zigbee2mqtt import create_adapter
from assistant.app import build_core
from assistant.config import load_config
from assistant.errors import ConfigError


def test_the_section_is_read_from_the_file_and_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "hearth.toml"
    path.write_text(
        'adapters = ["adapters.virtual", "adapters.zigbee2mqtt"]\n'
        '[zigbee2mqtt]\nhost = "broker.lan"\nport = 8883\ntls = true\nusername = "hearth"\npassword = "pw"\n'
    )
    config = load_config(path, env={"HEARTH_ZIGBEE2MQTT__BASE_TOPIC": "z2m"})
    adapter = create_adapter(config)
    assert (adapter.config.host, adapter.config.port, adapter.config.tls) == ("broker.lan", 8883, True)
    assert adapter.base == "z2m"
    health = adapter.health()
    assert health["state"] == "disconnected" and "pw" not in str(health)


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("port = 0", "zigbee2mqtt.port"),
        ('base_topic = "zigbee2mqtt/#"', "zigbee2mqtt.base_topic"),
        ('hots = "typo"', "hots"),
        ('port = "many"', "zigbee2mqtt.port"),
        ('events_topic = "zigbee2mqtt/hearth"', "zigbee2mqtt.events_topic"),
    ],
)
def test_a_bad_section_stops_hearth_with_the_key(tmp_path: Path, section: str, key: str) -> None:
    path = tmp_path / "hearth.toml"
    path.write_text(f'adapters = ["adapters.zigbee2mqtt"]\n[zigbee2mqtt]\n{section}\n')
    config = load_config(path, env={})
    with pytest.raises(ConfigError) as caught:
        build_core(config)
    assert key in str(caught.value) or key in str(caught.value.details)


def test_a_section_for_no_configured_plugin_is_still_an_error(tmp_path: Path) -> None:
    path = tmp_path / "hearth.toml"
    path.write_text('[zigbee2mqtt]\nhost = "x"\n')  # the adapter is not in `adapters`
    with pytest.raises(ConfigError, match="unknown setting"):
        load_config(path, env={})
