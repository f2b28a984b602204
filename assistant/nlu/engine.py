"""The NluEngine seam: turns text into an NluResult, resolving names against a home's live vocabulary."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from assistant.nlu.result import NluResult


class NameKind(StrEnum):
    """Kinds of named things a home's vocabulary holds."""

    DEVICE = "device"
    AREA = "area"
    SCENE = "scene"


@dataclass(frozen=True, slots=True)
class NamedThing:
    """A device, area or scene as the NLU sees it: an id and the names people call it."""

    kind: NameKind
    id: str
    names: tuple[str, ...]  # the name first, then aliases
    area: str | None = None  # devices: their area id
    device_class: str | None = None  # devices: DeviceKind value
    capabilities: frozenset[str] = frozenset()  # devices: Capability values (empty: not known)


class Vocabulary(ABC):
    """A home's live names; the registry keeps it current, the NLU matches against it."""

    @abstractmethod
    def put(self, thing: NamedThing) -> None:
        """Add or replace a thing (a rename replaces the old names at once)."""

    @abstractmethod
    def remove(self, kind: NameKind, thing_id: str) -> None:
        """Forget a thing."""

    @abstractmethod
    def get(self, kind: NameKind, thing_id: str) -> NamedThing | None:
        """The thing with this id, if any."""

    @abstractmethod
    def things(self, kind: NameKind) -> list[NamedThing]:
        """All things of a kind."""


@dataclass(slots=True)
class TrainReport:
    """What training produced."""

    model_path: Path
    examples: int
    intents: int
    seconds: float
    metrics: dict[str, Any] = field(default_factory=dict)


class NluEngine(ABC):
    """The NLU backend seam: embedded (the default) or Rasa over HTTP, chosen by `nlu.engine`."""

    name: ClassVar[str]

    @abstractmethod
    def new_vocabulary(self) -> Vocabulary:
        """An empty vocabulary of the kind this engine matches against."""

    @abstractmethod
    async def load(self) -> None:
        """Load the trained model (training first if none exists yet)."""

    @abstractmethod
    async def parse(self, text: str, vocabulary: Vocabulary) -> NluResult:
        """Understand one utterance in Rasa's /model/parse shape."""

    @abstractmethod
    def train(self) -> TrainReport:
        """Train from the configured data directory and save under the model directory (CPU-bound)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (engines that talk to a server)."""

    def health(self) -> dict[str, Any]:
        """How the engine is (for the health endpoint)."""
        return {"engine": self.name}
