"""The composition root: builds the core and the web app from configuration, loading the named plug-ins."""

from __future__ import annotations

import importlib
import logging
from types import ModuleType

from aiohttp import web

from assistant.channel import Channel
from assistant.config import Config
from assistant.core import Core
from assistant.devices import DeviceAdapter
from assistant.errors import ConfigError
from assistant.nlu.factory import create_nlu_engine
from assistant.server import build_server
from assistant.speech.factory import create_stt, create_tts
from assistant.store import Store

LOG = logging.getLogger(__name__)


def _module(name: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ConfigError(f"cannot load {what} {name!r}: {exc}", plugin=name) from exc


def load_adapters(config: Config) -> dict[str, DeviceAdapter]:
    adapters: dict[str, DeviceAdapter] = {}
    for name in config.adapters:
        factory = getattr(_module(name, "adapter"), "create_adapter", None)
        if factory is None:
            raise ConfigError(f"adapter module {name!r} has no create_adapter(config)", plugin=name)
        adapter = factory(config)
        adapters[adapter.name] = adapter
    return adapters


def build_core(config: Config) -> Core:
    """The core with its store, NLU engine, adapters and services, not yet started. An adapter module may also have
    `setup(core)` (to add devices it discovers, or intent hooks); it is called once the core exists."""
    core = Core(
        config,
        Store(config.store.path),
        create_nlu_engine(config.nlu),
        load_adapters(config),
        create_stt(config.voice),
        create_tts(config.voice),
    )
    for name in config.adapters:
        adapter_setup = getattr(_module(name, "adapter"), "setup", None)
        if adapter_setup is not None:
            adapter_setup(core)
    for name in config.services:
        setup = getattr(_module(name, "service"), "setup", None)
        if setup is None:
            raise ConfigError(f"service module {name!r} has no setup(core)", plugin=name)
        setup(core)
    return core


def load_channels(config: Config) -> list[Channel]:
    channels: list[Channel] = []
    for name in config.channels:
        cls = getattr(_module(name, "channel"), "CHANNEL", None)
        if cls is None:
            raise ConfigError(f"channel module {name!r} has no CHANNEL", plugin=name)
        channels.append(cls())
    return channels


def create_app(config: Config) -> web.Application:
    """The aiohttp application `hearth serve` runs."""
    core = build_core(config)
    return build_server(core, load_channels(config))
