"""Choosing the NLU engine named in the configuration."""

from __future__ import annotations

from assistant.config import NluConfig
from assistant.errors import ConfigError
from assistant.nlu.engine import NluEngine

ENGINES: tuple[str, ...] = ("embedded", "rasa")


def create_nlu_engine(config: NluConfig) -> NluEngine:
    """The engine for `config.engine`; ConfigError naming the valid choices for anything else."""
    if config.engine == "embedded":
        from assistant.nlu.embedded import EmbeddedNluEngine

        return EmbeddedNluEngine(config)
    if config.engine == "rasa":
        from assistant.nlu.rasa import RasaNluEngine

        return RasaNluEngine(config)
    raise ConfigError(
        f"unknown nlu.engine {config.engine!r}; valid choices: {', '.join(ENGINES)}",
        key="nlu.engine",
        valid=list(ENGINES),
    )
