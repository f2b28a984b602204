"""Fixtures for the Zigbee2MQTT tests: a real mosquitto on a free loopback port, and the shared Hearth fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.zigbee2mqtt.tests.broker import Mosquitto
from tests.conftest import trained_model

__all__ = ["mosquitto", "trained_model"]


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "mosquitto")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
