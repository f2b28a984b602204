"""Zigbee2MQTT as a Hearth capability: the adapter, its [zigbee2mqtt] section, and adding the devices it lists."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from adapters.zigbee2mqtt.adapter import Found, Zigbee2MqttAdapter
from adapters.zigbee2mqtt.config import load
from adapters.zigbee2mqtt.exposes import slug, spoken_name
from assistant.config import Config
from assistant.demo import DEMO_HOME_ID
from assistant.devices import Device
from assistant.errors import HearthError
from assistant.store import Change

if TYPE_CHECKING:
    from assistant.core import Core

LOG = logging.getLogger(__name__)

__all__ = ["Zigbee2MqttAdapter", "create_adapter", "setup"]


def create_adapter(config: Config) -> Zigbee2MqttAdapter:
    """Factory the composition root calls."""
    return Zigbee2MqttAdapter(load(config))


def setup(core: Core) -> None:
    """Devices the bridge lists become devices of the configured home (by IEEE address, so ids and history survive
    renames and restarts)."""
    adapter = core.control.adapters.get(Zigbee2MqttAdapter.name)
    if not isinstance(adapter, Zigbee2MqttAdapter):
        return
    wanted = adapter.config.home

    async def directory(found: list[Found]) -> list[Device]:
        homes = core.registry.homes
        home_id = wanted or (DEMO_HOME_ID if DEMO_HOME_ID in homes else next(iter(homes), ""))
        if home_id not in homes:
            LOG.warning("zigbee2mqtt: there is no home %r to add devices to", home_id)
            return []
        home = homes[home_id]
        if adapter.config.events_topic and adapter.events is None:
            adapter.events = core.bus.subscribe(home_id)
        by_ieee = {e.device.address: e.device for e in home.devices.values() if e.device.adapter == adapter.name}
        taken = set(home.devices)
        change = Change()
        devices: list[Device] = []
        for item in found:
            name = spoken_name(item.friendly_name)
            old = by_ieee.get(item.ieee)
            if old is None:
                base = slug(item.friendly_name)
                dev_id, n = base, 2
                while dev_id in taken:
                    dev_id, n = f"{base}_{n}", n + 1
                taken.add(dev_id)
                area = slug(item.friendly_name.split("/", 1)[0]) if "/" in item.friendly_name else None
                if area not in home.areas and adapter.config.area_from_description and item.description:
                    area = _area_named(home.areas, item.description)
                dev = Device(home_id, dev_id, name, item.model.kind, area if area in home.areas else None,
                             item.model.capabilities, adapter.name, (), item.ieee)  # fmt: skip
            else:  # renamed in Zigbee2MQTT, or a new firmware with other features: same id, same history
                dev = replace(old, name=name, kind=item.model.kind, capabilities=item.model.capabilities)
                if dev == old:
                    devices.append(old)
                    continue
                if old.name != name and old.name not in dev.aliases:
                    dev = replace(dev, aliases=(*dev.aliases, old.name))
            try:
                staged = core.registry.put_device(dev)
            except HearthError as exc:
                LOG.warning("zigbee2mqtt: cannot add %r: %s", item.friendly_name, exc)
                continue
            change.add(staged)
            devices.append(dev)
        if change.ops:
            await core.store.commit(change)
        return devices

    adapter.directory = directory


def _area_named(areas: dict[str, Any], text: str) -> str | None:
    """The area whose id, name or alias the text is (case and spacing aside), if any."""
    wanted = slug(text)
    for area_id, area in areas.items():
        if wanted in {area_id, slug(area.name), *(slug(a) for a in area.aliases)}:
            return str(area_id)
    return None
