"""Who a satellite acts as: its name, home, user and default area, resolved from SatelliteConfig."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from assistant.config import SatelliteConfig
from assistant.demo import DEMO_HOME_ID
from assistant.errors import ConfigError
from assistant.registry import Home

if TYPE_CHECKING:
    from assistant.core import Core

USER_PREFIX = "satellite:"
SATELLITE_ROLE = "member"
_WORDS = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True, slots=True)
class SatelliteIdentity:
    """The home and user a satellite's turns run as."""

    name: str
    home_id: str
    user_id: str
    user_name: str


def check_uri(uri: str) -> str:
    """The URI if Hearth can connect to it (tcp://host:port or unix:///path), else ConfigError."""
    parsed = urlparse(uri)
    if parsed.scheme == "tcp":
        try:
            port = parsed.port
        except ValueError:
            port = None
        if parsed.hostname and port:
            return uri
    elif parsed.scheme == "unix" and parsed.path:
        return uri
    raise ConfigError(
        f"voice.satellites: {uri!r} is not a satellite address; use tcp://host:10700 or unix:///path",
        key="voice.satellites.uri",
    )


def satellite_name(config: SatelliteConfig) -> str:
    """The configured name; else the area; else host:port from the URI."""
    if config.name.strip():
        return " ".join(config.name.split())
    if config.area and config.area.strip():
        return " ".join(config.area.split())
    parsed = urlparse(config.uri)
    return f"{parsed.hostname}:{parsed.port}" if parsed.scheme == "tcp" else parsed.path


def user_name(config: SatelliteConfig, name: str) -> str:
    return config.user.strip() or f"{USER_PREFIX}{name}"


def _key(text: str) -> str:
    return " ".join(_WORDS.findall(text.lower().replace("_", " ")))


def resolve_area(home: Home, wanted: str | None) -> str | None:
    """The id of the home's area named `wanted` (by id, name or alias, ignoring case and spacing), or None."""
    if not wanted or not wanted.strip():
        return None
    if wanted in home.areas:
        return wanted
    key = _key(wanted)
    for area in home.areas.values():
        if key in {_key(area.id), _key(area.name), *(_key(a) for a in area.aliases)}:
            return area.id
    return None


def default_home(core: Core) -> str:
    """The demo home if it exists, else the only home; ConfigError when that is ambiguous."""
    homes = core.registry.homes
    if DEMO_HOME_ID in homes:
        return DEMO_HOME_ID
    if len(homes) == 1:
        return next(iter(homes))
    if not homes:
        raise ConfigError("there is no home for the satellites to act in; create one first")
    raise ConfigError("several homes exist: set `home` for each satellite", key="voice.satellites.home")


def resolve_identity(core: Core, config: SatelliteConfig, name: str) -> SatelliteIdentity:
    """The satellite's home and user (the user is created as a member of the home when new)."""
    home_id = config.home.strip() or default_home(core)
    if home_id not in core.registry.homes:
        raise ConfigError(f"satellite {name!r}: there is no home {home_id!r}", home=home_id)
    user = user_name(config, name)
    user_id = core.auth.ensure_user(user, home_id, role=SATELLITE_ROLE)
    return SatelliteIdentity(name, home_id, user_id, user)
