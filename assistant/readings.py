"""The UtteranceReader seam: a service reads utterances that the home's own data defines (a routine's phrases)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from assistant.nlu.result import NluResult

if TYPE_CHECKING:
    from assistant.registry import Home


class UtteranceReader(ABC):
    """Offers a reading of an utterance in place of the NLU's, for phrases the user defined as data.

    Readers run on every turn, before routing: keep `read` a dictionary probe, and return None for anything else."""

    @abstractmethod
    def read(self, text: str, home: Home, nlu: NluResult) -> NluResult | None:
        """The reading to use instead of `nlu`, or None to keep the NLU's."""
