"""Choosing what was said: the recogniser's n-best readings rescored by the NLU and the home's names, how sure the
choice is, and whether the words so far make a finished command (for ending the turn early).

Each distinct reading gets a score: its log-likelihood from the decoder (turned into a share of the n-best's
probability mass), plus the log of the NLU's intent confidence, plus a bonus for each entity that resolves to one
thing in the home's live registry, minus a penalty when the NLU cannot place it at all. The best score wins. The
shares of the rescored readings then say how sure the choice is: `SpeechEvidence.confidence` is the share of every
reading that means the same (intent and entity values) as the chosen one, and the alternatives that mean something
else are passed on with their intents, so the dialogue manager can confirm a doubtful reading or one whose opposite
("turn on" for "turn off") was heard too. The weights were set on the tuning commands, never on the held-out ones.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from assistant.nlu.engine import NameKind, Vocabulary
from assistant.nlu.result import NluResult
from assistant.speech.engine import Hypothesis, Transcript
from assistant.turn import SpeechEvidence, SpokenReading

if TYPE_CHECKING:
    from assistant.intents import IntentHandler

NLU_WEIGHT = 1.0  # per unit of log intent confidence
ENTITY_BONUS = 0.5  # per entity that names one known thing (device, area, scene) or a value
FALLBACK_PENALTY = 3.0  # a reading the NLU cannot place
MIN_CONFIDENCE = 0.01
UNSURE_WORD = 0.6  # words with a smaller n-best share are reported as unsure
# A finished command: the NLU is this sure of its intent, and the runner-up is this far behind.
COMPLETE_CONFIDENCE = 0.8
COMPLETE_MARGIN = 0.4
# Words that do not end an English command: the speaker is still talking.
OPEN_ENDINGS = frozenset(
    "and or but the a an to of for in on at into with my your our their his her its this that these those then "
    "set turn make switch please um uh er like so".split()
)  # the last word "on" is allowed below when it closes a verb ("turn it on")
TARGET_SLOTS = ("device", "area", "device_class")
MAX_SCANNED_THINGS = 2000
ANSWERS = frozenset({"affirm", "deny", "cancel", "undo"})  # complete on their own, with no handler
REFERENCES = frozenset({"it", "them", "that", "everything", "all"})  # a target the conversation supplies
_WORD = re.compile(r"[a-z0-9']+")

Parse = Callable[[str], Awaitable[NluResult]]


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class Completeness(StrEnum):
    """Whether the words so far make a command that can run now."""

    COMPLETE = "complete"  # confident, every slot it needs, nothing dangling: end the turn after a short pause
    UNSURE = "unsure"  # could be finished: wait for the full window
    INCOMPLETE = "incomplete"  # plainly unfinished ("turn off the"): wait longer


@dataclass(slots=True)
class Reading:
    """One distinct reading, what the NLU made of it, and its scores."""

    hypothesis: Hypothesis
    nlu: NluResult
    score: float
    share: float = 0.0

    @property
    def text(self) -> str:
        return self.hypothesis.text

    @property
    def meaning(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        return meaning(self.nlu)


@dataclass(slots=True)
class Understood:
    """The chosen reading of an utterance and the evidence behind it."""

    text: str
    nlu: NluResult | None  # None when nothing was heard
    evidence: SpeechEvidence | None
    readings: list[Reading] = field(default_factory=list)
    chosen_rank: int = 0  # where the chosen reading was in the recogniser's own order

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "evidence": self.evidence.to_dict() if self.evidence is not None else None,
            "chosen_rank": self.chosen_rank,
        }


def meaning(nlu: NluResult) -> tuple[str, tuple[tuple[str, str], ...]]:
    """What must match for two readings to mean the same: the intent and every (entity, value)."""
    return nlu.intent.name, tuple(sorted((e.entity, str(e.value)) for e in nlu.entities))


def resolved_entities(nlu: NluResult, vocabulary: Vocabulary) -> int:
    """Entities that name exactly one thing the home has, or carry a value (a number, a colour)."""
    count = 0
    for e in nlu.entities:
        kind = {"device": NameKind.DEVICE, "area": NameKind.AREA, "scene": NameKind.SCENE}.get(e.entity)
        if kind is None:
            count += 1
        elif not e.candidates and vocabulary.get(kind, str(e.value)) is not None:
            count += 1
    return count


def _shares(scores: Sequence[float]) -> list[float]:
    top = max(scores)
    weights = [math.exp(s - top) for s in scores]
    total = sum(weights)
    return [w / total for w in weights]


async def choose(transcript: Transcript, parse: Parse, vocabulary: Vocabulary, *, rescore: bool = True) -> Understood:
    """The reading the NLU and the home's names explain best, with the evidence for the dialogue manager.

    Without `rescore` (or with one reading) the recogniser's first reading is taken as it is, with no evidence."""
    hypotheses = [h for h in transcript.alternatives if h.text.strip()]
    if not hypotheses and transcript.text.strip():
        hypotheses = [Hypothesis(transcript.text.strip(), 0.0, 1)]
    if not hypotheses:
        return Understood("", None, None)
    if not rescore:
        text = " ".join(hypotheses[0].text.split())
        return Understood(text, await parse(text), None)
    readings: list[Reading] = []
    for hyp in hypotheses:
        nlu = await parse(" ".join(hyp.text.split()))
        readings.append(Reading(hyp, nlu, 0.0))
    acoustic = _shares([r.hypothesis.total for r in readings])
    for reading, share in zip(readings, acoustic, strict=True):
        nlu = reading.nlu
        score = math.log(max(share, 1e-9))
        score += NLU_WEIGHT * math.log(max(nlu.intent.confidence, MIN_CONFIDENCE))
        score += ENTITY_BONUS * resolved_entities(nlu, vocabulary)
        if nlu.is_fallback:
            score -= FALLBACK_PENALTY
        reading.score = score
    for reading, share in zip(readings, _shares([r.score for r in readings]), strict=True):
        reading.share = share
    best = max(range(len(readings)), key=lambda i: readings[i].score)
    chosen = readings[best]
    same = chosen.meaning
    confidence = sum(r.share for r in readings if r.meaning == same)
    others: dict[tuple[str, tuple[tuple[str, str], ...]], SpokenReading] = {}
    for r in readings:
        if r.meaning == same:
            continue
        found = others.get(r.meaning)
        share = r.share + (found.share if found is not None else 0.0)
        others[r.meaning] = SpokenReading(found.text if found else r.text, r.nlu.intent.name, share)
    evidence = SpeechEvidence(
        confidence,
        tuple(sorted(others.values(), key=lambda a: -a.share)),
        unsure_words(chosen.text, readings),
    )
    return Understood(" ".join(chosen.text.split()), chosen.nlu, evidence, readings, best)


def unsure_words(text: str, readings: Sequence[Reading]) -> tuple[str, ...]:
    """Words of `text` that less than UNSURE_WORD of the readings' share agrees on (n-best word posteriors)."""
    chosen = words(text)
    agree = [0.0] * len(chosen)
    for r in readings:
        theirs = words(r.text)
        for i, w in enumerate(chosen):
            # the same word near the same place (readings differ by a word or two, rarely more)
            if w in theirs[max(0, i - 2) : i + 3]:
                agree[i] += r.share
    return tuple(w for w, a in zip(chosen, agree, strict=True) if a < UNSURE_WORD)


def completeness(understood: Understood, handlers: dict[str, IntentHandler], vocabulary: Vocabulary) -> Completeness:
    """Whether the utterance so far is a finished command (see Completeness)."""
    nlu = understood.nlu
    said = words(understood.text)
    if nlu is None or not said:
        return Completeness.UNSURE
    last = said[-1]
    if last in OPEN_ENDINGS and not (last == "on" and len(said) > 1 and said[-2] not in OPEN_ENDINGS):
        return Completeness.INCOMPLETE
    handler = handlers.get(nlu.intent.name)
    if handler is None and nlu.intent.name not in ANSWERS:
        return Completeness.UNSURE  # a follow-up the dialogue reads against earlier turns ("inform", "correct")
    if handler is not None:
        filled = {e.entity for e in nlu.entities}
        declared = [s.name for s in handler.slots]
        if any(s not in filled for s in declared if s not in TARGET_SLOTS):
            return Completeness.INCOMPLETE  # "set the living room lamp": the value is still to come
        targets = [s for s in declared if s in TARGET_SLOTS]
        if targets and not filled & set(targets) and not REFERENCES & set(said):
            return Completeness.UNSURE  # "turn off": no device, room or kind (yet)
    if nlu.is_fallback:
        return Completeness.UNSURE
    ranking = nlu.intent_ranking
    runner_up = ranking[1].confidence if len(ranking) > 1 else 0.0
    if nlu.intent.confidence < COMPLETE_CONFIDENCE or nlu.intent.confidence - runner_up < COMPLETE_MARGIN:
        return Completeness.UNSURE
    if understood.evidence is not None and understood.evidence.doubt(nlu.intent.name) is not None:
        return Completeness.UNSURE
    if _may_continue(said, vocabulary):
        return Completeness.UNSURE  # "turn on the kitchen" may yet become "the kitchen lights"
    return Completeness.COMPLETE


def _may_continue(said: list[str], vocabulary: Vocabulary) -> bool:
    """The last words begin a longer name the home has ("the kitchen" of "kitchen lights").

    The names are scanned on the event loop, so only in homes of up to MAX_SCANNED_THINGS things; a bigger home
    skips this check (its streamed commands then end early a little more often in the middle of a name)."""
    things = [t for kind in (NameKind.DEVICE, NameKind.SCENE, NameKind.AREA) for t in vocabulary.things(kind)]
    if len(things) > MAX_SCANNED_THINGS:
        return False
    last = said[-1]
    for thing in things:
        for name in thing.names:
            if last not in name.lower():
                continue
            parts = words(name)
            for k in range(1, len(parts)):
                if said[-k:] == parts[:k]:
                    return True
    return False
