"""The Rasa NLU backend: intents and entities from a Rasa server's /model/parse, names resolved against the registry.

Rasa Open Source 3.6 needs Python < 3.11, so it never runs inside Hearth's process: `scripts/setup-rasa` makes its own
virtual environment (`.venv-rasa`), `hearth train --backend rasa` trains a model there from `nlu_data/` with the
pipeline in `assistant/nlu/rasa_pipeline.yml`, and `rasa run --enable-api` serves it. This engine calls that server.

What comes back is made to mean the same as the embedded engine's answer. Rasa's device, area and scene spans are
resolved against the home's live vocabulary (a device renamed a second ago works), its number-like values are
normalised by the same value rules, and registry names that Rasa did not mark are added from the gazetteer. Hearth's
own confidence threshold decides `nlu_fallback` for both engines. When the server does not answer, the engine falls
back to the embedded engine (`nlu.rasa_fallback`, on by default) or answers with a typed error.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import aiohttp

from assistant.config import ROOT, NluConfig
from assistant.errors import ErrorCode, NluError
from assistant.nlu.embedded import EmbeddedNluEngine
from assistant.nlu.engine import NluEngine, TrainReport, Vocabulary
from assistant.nlu.gazetteer import Gazetteer
from assistant.nlu.result import FALLBACK_INTENT, Entity, IntentScore, NluResult
from assistant.nlu.training_data import data_hash, load_training_data

LOG = logging.getLogger(__name__)

PIPELINE = Path(__file__).resolve().parent / "rasa_pipeline.yml"
MODEL_SUBDIR = "rasa"
MODEL_NAME = "hearth-nlu"
NAMED = ("device", "area", "scene", "device_class")
RETRY_AFTER_S = 5.0  # after a failure, the fallback answers alone this long before the server is tried again


def rasa_venv(config: NluConfig) -> Path:
    """The Python 3.10 environment that has Rasa: `nlu.rasa_venv` (`HEARTH_NLU__RASA_VENV`), else `.venv-rasa`."""
    return Path(config.rasa_venv) if config.rasa_venv else ROOT / ".venv-rasa"


def rasa_executable(config: NluConfig) -> Path:
    """The `rasa` program in that environment; NluError with the set-up command when it is missing."""
    exe = rasa_venv(config) / "bin" / "rasa"
    if not exe.exists():
        raise NluError(
            ErrorCode.NOT_TRAINED,
            f"Rasa is not installed at {exe.parent.parent}: run ./scripts/setup-rasa (it needs Python 3.10)",
            {"venv": str(exe.parent.parent)},
        )
    return exe


def rasa_env() -> dict[str, str]:
    """The environment Rasa runs in: no telemetry, quiet TensorFlow, no GPU probing."""
    return {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": "",
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
    }


@dataclass(slots=True)
class RasaStatus:
    """How the Rasa server has been answering (for the health endpoint and logs)."""

    url: str
    ok: bool | None = None  # None: not asked yet
    last_error: str = ""
    failed_at: float = 0.0
    fallbacks: int = 0
    model: str = ""

    def to_dict(self) -> dict[str, Any]:
        state = "unknown" if self.ok is None else "ok" if self.ok else "unreachable"
        out: dict[str, Any] = {"url": self.url, "state": state, "fallbacks": self.fallbacks}
        if self.model:
            out["model"] = self.model
        if self.last_error:
            out["last_error"] = self.last_error
        return out


class RasaNluEngine(NluEngine):
    """Rasa over HTTP for the intent and entity spans; the embedded engine's gazetteer and value rules for meaning."""

    name: ClassVar[str] = "rasa"

    def __init__(self, config: NluConfig, local: EmbeddedNluEngine | None = None) -> None:
        self.config = config
        self.local = local or EmbeddedNluEngine(config)
        self.status = RasaStatus(config.rasa_url.rstrip("/"))
        self._session: aiohttp.ClientSession | None = None

    @property
    def model_dir(self) -> Path:
        return self.config.model_dir / MODEL_SUBDIR

    # -- NluEngine ----------------------------------------------------------------------------------------------
    def new_vocabulary(self) -> Gazetteer:
        return self.local.new_vocabulary()

    async def load(self) -> None:
        """Load the local engine (vocabulary, rules, fallback) and ask the server how it is; never fatal."""
        await self.local.load()
        try:
            async with asyncio.timeout(self.config.rasa_timeout_s):
                async with self._client().get(self.status.url + "/status") as resp:
                    resp.raise_for_status()
                    body = await resp.json()
            self.status.ok = True
            self.status.model = str(body.get("model_file", ""))
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            self._failed(exc)
            LOG.warning("nlu: the Rasa server at %s is not answering (%s)", self.status.url, self.status.last_error)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def health(self) -> dict[str, Any]:
        """Public (the health endpoint needs no token): the state only, never the URL or the error text."""
        state = self.status.to_dict()["state"]
        return {"engine": self.name, "state": state, "fallback": self.config.rasa_fallback}

    async def parse(self, text: str, vocabulary: Vocabulary) -> NluResult:
        local = self.local.parse_sync(text, vocabulary)
        if not text.strip():
            return local
        if not self.status.ok and time.monotonic() - self.status.failed_at < RETRY_AFTER_S and self.status.failed_at:
            return self._fallback(local, None)
        try:
            data = await self._post(text)
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError) as exc:
            return self._fallback(local, exc)
        self.status.ok = True
        return self.merge(text, data, local, vocabulary)

    def train(self) -> TrainReport:
        """Train a Rasa NLU model from nlu_data/ in Rasa's own environment (a subprocess; minutes, CPU-bound)."""
        exe = rasa_executable(self.config)
        data = load_training_data(self.config.data_dir)
        out = self.model_dir
        out.mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()
        pipeline = self.config.rasa_pipeline or str(PIPELINE)
        cmd = [
            str(exe), "train", "nlu", "--nlu", str(self.config.data_dir), "--config", pipeline,
            "--out", str(out), "--fixed-model-name", MODEL_NAME,
        ]  # fmt: skip
        proc = subprocess.run(
            cmd, cwd=out, env=rasa_env(), capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
        )
        log_text = proc.stdout + proc.stderr
        (out / "train.log").write_text(log_text)
        if proc.returncode != 0:
            tail = "\n".join(log_text.strip().splitlines()[-5:])
            raise NluError(ErrorCode.NOT_TRAINED, f"rasa train failed ({proc.returncode}): {tail}")
        seconds = time.perf_counter() - began
        (out / "data_hash").write_text(data_hash(self.config.data_dir))
        warnings = [line for line in log_text.splitlines() if "Misaligned entity annotation" in line]
        return TrainReport(
            model_path=out / f"{MODEL_NAME}.tar.gz",
            examples=len(data.examples),
            intents=len(data.intents),
            seconds=seconds,
            metrics={"misaligned_annotations": len(warnings), "log": str(out / "train.log")},
        )

    # -- the server ---------------------------------------------------------------------------------------------
    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def _post(self, text: str) -> dict[str, Any]:
        async with asyncio.timeout(self.config.rasa_timeout_s):
            async with self._client().post(self.status.url + "/model/parse", json={"text": text}) as resp:
                resp.raise_for_status()
                data = await resp.json()
        if not isinstance(data, dict) or not isinstance(data.get("intent"), dict):
            raise ValueError("the Rasa server answered without an intent")
        return data

    def _failed(self, exc: BaseException) -> None:
        self.status.ok = False
        self.status.failed_at = time.monotonic()
        self.status.last_error = f"{type(exc).__name__}: {exc}"[:200] if str(exc) else type(exc).__name__

    def _fallback(self, local: NluResult, exc: BaseException | None) -> NluResult:
        if exc is not None:
            was_ok = self.status.ok is not False
            self._failed(exc)
            if was_ok:
                LOG.warning("nlu: the Rasa server failed (%s)", self.status.last_error)
        if not self.config.rasa_fallback:
            raise NluError(
                ErrorCode.NLU_UNAVAILABLE,
                "My language understanding service isn't answering right now. Please try again shortly.",
                {"engine": self.name},
            )
        self.status.fallbacks += 1
        return local

    # -- meaning ------------------------------------------------------------------------------------------------
    def merge(self, text: str, data: dict[str, Any], local: NluResult, vocabulary: Vocabulary) -> NluResult:
        """Rasa's answer in Hearth's terms: names resolved against the live vocabulary, values normalised."""
        ranking = [
            IntentScore(str(r["name"]), float(r["confidence"]))
            for r in data.get("intent_ranking") or [data["intent"]]
            if r.get("name") and r["name"] != FALLBACK_INTENT
        ]
        if not ranking:
            ranking = [IntentScore(FALLBACK_INTENT, 0.0)]
        entities: list[Entity] = []
        for raw in data.get("entities") or []:
            entity = self._entity(text, raw, local, vocabulary)
            if entity is not None and not any(_overlaps(entity, e) for e in entities):
                entities.append(entity)
        # names from the live registry that Rasa never saw in training (added or renamed at run time)
        for e in local.entities:
            if e.entity in NAMED and not any(_overlaps(e, other) for other in entities):
                entities.append(e)
        entities.sort(key=lambda e: (e.start, e.end))
        intent = ranking[0]
        if intent.confidence < self.config.threshold:
            intent = IntentScore(FALLBACK_INTENT, self.config.threshold)
            ranking = [intent, *ranking]
        return NluResult(text=text, intent=intent, entities=entities, intent_ranking=ranking[:10])

    @staticmethod
    def _entity(text: str, raw: dict[str, Any], local: NluResult, vocabulary: Vocabulary) -> Entity | None:
        kind = str(raw.get("entity", ""))
        start, end = int(raw.get("start", 0)), int(raw.get("end", 0))
        if not kind or not 0 <= start < end <= len(text):
            return None
        confidence = float(raw.get("confidence_entity") or 1.0)
        span = Entity(kind, raw.get("value"), start, end, text[start:end], confidence, "rasa")
        # the embedded engine's reading of the same words: the same normalised value the handlers expect
        twin = next((e for e in local.entities if e.entity == kind and _overlaps(e, span)), None)
        if twin is not None:
            return twin
        if kind in NAMED:
            if isinstance(vocabulary, Gazetteer):
                found = [e for e in vocabulary.match(span.text) if e.entity == kind]
                if found:
                    hit = found[0]
                    hit.start, hit.end, hit.text = start, end, span.text
                    return hit
            span.value = span.text  # a name Hearth does not know: kept as said, so it can be reported
            return span
        span.value = _number(span.value)
        return span


def _overlaps(a: Entity, b: Entity) -> bool:
    return a.start < b.end and b.start < a.end


def _number(value: Any) -> Any:
    """Rasa gives entity values as the text it saw; numbers become numbers (percent signs and degrees dropped)."""
    if not isinstance(value, str):
        return value
    cleaned = value.strip().rstrip("%°").strip()
    try:
        number = float(cleaned)
    except ValueError:
        return value
    return int(number) if number.is_integer() else number
