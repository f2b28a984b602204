"""The [zigbee2mqtt] config section: which broker, which base topic, which home."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.config import Config, plugin_section
from assistant.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Zigbee2MqttConfig:
    """Where the Zigbee2MQTT broker is and how Hearth talks to it."""

    host: str = "127.0.0.1"
    port: int = 1883
    base_topic: str = "zigbee2mqtt"
    username: str = ""
    password: str = ""
    tls: bool = False
    home: str = ""  # home id the devices join; empty = the demo home, else the first home
    client_id: str = ""  # empty = "hearth-<random>"
    reconnect_min_s: float = 0.5  # first wait after a lost connection; doubles up to reconnect_max_s
    reconnect_max_s: float = 30.0
    permit_join_s: int = 120  # how long "look for new devices" keeps the Zigbee network open
    area_from_description: bool = False  # a new device whose Zigbee2MQTT description names an area goes there
    events_topic: str = ""  # if set, Hearth's live events of that home go to <events_topic>/<type> (JSON)


def load(config: Config) -> Zigbee2MqttConfig:
    """The section, validated once."""
    section = plugin_section(config, "zigbee2mqtt", Zigbee2MqttConfig)
    if not 0 < section.port < 65536:
        raise ConfigError("zigbee2mqtt.port must be 1-65535", key="zigbee2mqtt.port")
    base = section.base_topic.strip("/")
    if not base or any(c in base for c in "#+"):
        raise ConfigError("zigbee2mqtt.base_topic must be a topic without wildcards", key="zigbee2mqtt.base_topic")
    if not 0 < section.reconnect_min_s <= section.reconnect_max_s <= 600:
        raise ConfigError(
            "zigbee2mqtt.reconnect_min_s must be above 0 and at most reconnect_max_s (at most 600)",
            key="zigbee2mqtt.reconnect_min_s",
        )
    events = section.events_topic.strip("/")
    if section.events_topic and (not events or any(c in events for c in "#+") or f"{events}/".startswith(f"{base}/")):
        raise ConfigError(
            "zigbee2mqtt.events_topic must be a topic without wildcards, outside base_topic",
            key="zigbee2mqtt.events_topic",
        )
    if not 0 <= section.permit_join_s <= 254:
        raise ConfigError("zigbee2mqtt.permit_join_s must be 0-254", key="zigbee2mqtt.permit_join_s")
    if bool(section.username) != bool(section.password) and section.password:
        raise ConfigError("zigbee2mqtt.password needs zigbee2mqtt.username", key="zigbee2mqtt.password")
    return section
