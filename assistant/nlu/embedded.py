"""The embedded NLU engine: gazetteer + rules for entities, a numpy logistic-regression model for intents.

parse() in one pass: tokenise; find the home's names (Gazetteer) and rule-based values (ValueRules); keep the
longest non-overlapping mentions; classify the intent on the utterance with those mentions replaced by placeholders;
then decide the values that depend on the intent (a bare number is brightness or temperature, "half" is a brightness,
the new name in rename_device). Below NluConfig.threshold the intent is nlu_fallback, as Rasa's FallbackClassifier
does it: {"name": "nlu_fallback", "confidence": threshold}, inserted first in intent_ranking.

The model (model.npz + meta.json) lives in <model_dir>/embedded/. load() trains first when there is no model or the
data hash in meta.json does not match the files in data_dir.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from assistant.config import NluConfig
from assistant.devices import DeviceKind
from assistant.errors import ErrorCode, NluError
from assistant.nlu.classifier import IntentClassifier
from assistant.nlu.decoding import DESTRUCTIVE, STATE_CHANGING, Calibration, narrow_candidates, rescore, targets
from assistant.nlu.engine import NamedThing, NameKind, NluEngine, TrainReport, Vocabulary
from assistant.nlu.featurize import (
    ENTITY_PLACEHOLDERS,
    FEATURIZER_VERSION,
    KEEP_RAW,
    Delexicalised,
    Span,
    delexicalise,
)
from assistant.nlu.gazetteer import STRONG_CLASS_WORDS, Gazetteer
from assistant.nlu.result import FALLBACK_INTENT, Entity, IntentScore, NluResult
from assistant.nlu.text import ARTICLES, Token, normalise, singular, tokenize
from assistant.nlu.training_data import Example, TrainingData, data_files, data_hash, load_training_data
from assistant.nlu.values import TIERS, Mention, ValueRules, find_new_name, resolve

log = logging.getLogger(__name__)

_TRAINING_MODULES = ("text", "numbers", "gazetteer", "values", "featurize", "classifier", "embedded")


def _code_digest() -> str:
    """A hash of the modules that shape training, so a code change retrains like a data change does."""
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for name in _TRAINING_MODULES:
        try:
            digest.update((here / f"{name}.py").read_bytes())
        except OSError:
            digest.update(name.encode())
    return digest.hexdigest()[:16]


ENGINE_VERSION = f"embedded-{FEATURIZER_VERSION}-{_code_digest()}"
MODEL_SUBDIR = "embedded"
MAX_ANALYSED_CHARS = 5000  # the caller limits text; past this we only look at the start
RANKING_LENGTH = 10
DEFAULT_C = 100.0  # inverse regularisation strength, chosen by 5-fold cross-validation on nlu_data
# Head nouns of device names in the training data that say what kind of device it is (training only: at run time
# the registry knows every device's kind).
HEAD_KINDS: dict[str, str] = {
    "light": "light", "lamp": "light", "bulb": "light", "chandelier": "light", "nightlight": "light",
    "spotlight": "light", "floodlight": "light", "strip": "light", "lights": "light",
    "thermostat": "climate", "heater": "climate", "radiator": "climate", "heat pump": "climate",
    "ac": "climate", "air conditioner": "climate", "mini split": "climate",
    "fan": "fan", "lock": "lock", "deadbolt": "lock", "door lock": "lock", "front door": "lock",
    "back door": "lock", "side door": "lock", "blinds": "cover", "blind": "cover", "shades": "cover",
    "shade": "cover", "curtains": "cover", "curtain": "cover", "shutters": "cover", "garage door": "cover",
    "gate": "cover", "skylight": "cover", "plug": "switch", "socket": "switch", "outlet": "switch",
    "sensor": "sensor", "motion sensor": "sensor",
}  # fmt: skip
NO_TARGET_INTENTS = frozenset({"out_of_scope"})  # nlu_fallback keeps its entities, as in Rasa
_NAMED_ENTITIES = frozenset({"device", "device_class", "area", "scene"})
_FILLER = frozenset({"please", "pls", "plz", "hey", "hearth", "can", "you", "could", "would"})


@dataclass(slots=True)
class _Runtime:
    """A loaded model and the word lists trained with it."""

    classifier: IntentClassifier
    rules: ValueRules
    class_words: dict[str, str]
    common_words: frozenset[str]
    data_hash: str


class EmbeddedNluEngine(NluEngine):
    """The default NLU engine: no server, no network, sub-millisecond parses."""

    name: ClassVar[str] = "embedded"

    def __init__(self, config: NluConfig, c: float = DEFAULT_C) -> None:
        self.config = config
        self.c = c
        self.calibration = Calibration(threshold=config.threshold)
        self._runtime: _Runtime | None = None
        self._vocabularies: weakref.WeakSet[Gazetteer] = weakref.WeakSet()
        self._lock = threading.Lock()

    @property
    def model_dir(self) -> Path:
        return self.config.model_dir / MODEL_SUBDIR

    @property
    def loaded(self) -> bool:
        return self._runtime is not None

    # -- NluEngine ----------------------------------------------------------------------------------------------
    def new_vocabulary(self) -> Gazetteer:
        rt = self._runtime
        vocab = Gazetteer(
            class_words=rt.class_words if rt else None,
            common_words=rt.common_words if rt else (),
        )
        self._vocabularies.add(vocab)
        return vocab

    async def load(self) -> None:
        await asyncio.to_thread(self.load_sync)

    async def parse(self, text: str, vocabulary: Vocabulary) -> NluResult:
        return self.parse_sync(text, vocabulary)

    def train(self) -> TrainReport:
        with self._lock:
            return self._train()

    # -- loading ------------------------------------------------------------------------------------------------
    def load_sync(self) -> None:
        """Load the saved model, training first when it is missing or stale."""
        with self._lock:
            meta = IntentClassifier.read_meta(self.model_dir)
            have_data = bool(data_files(self.config.data_dir))
            if meta is None:
                if not have_data:
                    raise NluError(
                        ErrorCode.NOT_TRAINED,
                        f"no NLU model in {self.model_dir} and no training data in {self.config.data_dir}",
                    )
                log.info("nlu: no model in %s; training from %s", self.model_dir, self.config.data_dir)
                self._train()
                return
            if have_data:
                current = data_hash(self.config.data_dir)
                if meta.get("data_hash") != current or meta.get("version") != ENGINE_VERSION:
                    log.info("nlu: model in %s is stale (data or version changed); retraining", self.model_dir)
                    self._train()
                    return
            else:
                log.warning("nlu: no training data in %s; using the saved model as is", self.config.data_dir)
            try:
                runtime = self._runtime_from(meta)
            except NluError as exc:
                if not have_data:
                    raise
                log.warning("nlu: %s; retraining", exc.message)
                self._train()
                return
            self._install(runtime)

    def _runtime_from(self, meta: dict[str, Any]) -> _Runtime:
        classifier = IntentClassifier.load(self.model_dir, meta)
        return _Runtime(
            classifier=classifier,
            rules=ValueRules(meta.get("colors", ()), meta.get("tier_words", {})),
            class_words=dict(meta.get("class_words", {})),
            common_words=frozenset(meta.get("common_words", ())),
            data_hash=str(meta.get("data_hash", "")),
        )

    def _install(self, rt: _Runtime) -> None:
        self._runtime = rt
        for vocab in list(self._vocabularies):
            vocab.configure(rt.class_words, rt.common_words)

    # -- training -----------------------------------------------------------------------------------------------
    def _train(self) -> TrainReport:
        began = time.perf_counter()
        data = load_training_data(self.config.data_dir)
        prep = TrainingPrep(data)
        samples: list[Delexicalised] = []
        labels: list[str] = []
        for ex in data.examples:
            for d in prep.samples(ex):
                samples.append(d)
                labels.append(ex.intent)
        classifier = IntentClassifier.fit(samples, labels, c=self.c)
        correct = sum(
            classifier.labels[int(np.argmax(classifier.predict(d)))] == y for d, y in zip(samples, labels, strict=True)
        )
        seconds = time.perf_counter() - began
        meta = {
            "version": ENGINE_VERSION,
            "data_hash": data.data_hash,
            "trained_at": time.time(),
            "examples": len(data.examples),
            "samples": len(samples),
            "seconds": round(seconds, 3),
            "c": self.c,
            "class_words": prep.class_words,
            "common_words": sorted(prep.common_words),
            "colors": prep.colors,
            "tier_words": prep.tier_words,
        }
        path = classifier.save(self.model_dir, meta)
        self._install(_Runtime(classifier, prep.rules, prep.class_words, frozenset(prep.common_words), data.data_hash))
        seconds = time.perf_counter() - began
        log.info(
            "nlu: trained on %d examples (%d intents) in %.2fs -> %s",
            len(data.examples),
            len(classifier.labels),
            seconds,
            path,
        )
        return TrainReport(
            model_path=path,
            examples=len(data.examples),
            intents=len(classifier.labels),
            seconds=seconds,
            metrics={
                "samples": len(samples),
                "features": len(classifier.vocab),
                "train_accuracy": round(correct / max(1, len(samples)), 4),
                "conflicts": list(data.conflicts),
            },
        )

    # -- parsing ------------------------------------------------------------------------------------------------
    def parse_sync(self, text: str, vocabulary: Vocabulary) -> NluResult:
        """parse() without the coroutine: pure CPU, well under a millisecond."""
        rt = self._runtime
        if rt is None:
            raise NluError(ErrorCode.NOT_TRAINED, "the NLU model is not loaded; call load() first")
        threshold = self.config.threshold
        if not text or not text.strip():
            fallback = IntentScore(FALLBACK_INTENT, threshold)
            return NluResult(text=text, intent=fallback, entities=[], intent_ranking=[fallback])
        analysed = text[:MAX_ANALYSED_CHARS]
        tokens = tokenize(analysed)
        gazetteer = vocabulary if isinstance(vocabulary, Gazetteer) else _as_gazetteer(vocabulary, rt)
        named, mentions = choose(gazetteer.match_tokens(analysed, tokens), rt.rules.mentions(analysed, tokens))
        named = _drop_repeats(named)
        spans = [_entity_span(e, _live_kind(e, gazetteer)) for e in named]
        spans += [s for s in map(_mention_span, mentions) if s is not None]
        delexicalised = delexicalise(tokens, spans)
        ranked = rt.classifier.ranking(delexicalised, RANKING_LENGTH)
        # the intent and its target together: rescale each reading by what the named devices can do
        ranking = rescore([IntentScore(name, confidence) for name, confidence in ranked], targets(named, gazetteer))
        top = ranking[0]
        entities = list(named)
        narrow_candidates(entities, top.name, gazetteer)
        entities += resolve(mentions, tokens, top.name, _device_classes(entities, gazetteer))
        if top.name == "rename_device":
            new_name = find_new_name(analysed, tokens, named)
            if new_name is not None:
                entities = [e for e in entities if e.end <= new_name.start or e.start >= new_name.end]
                entities.append(new_name)
        for e in entities:
            if not e.text:
                e.text = analysed[e.start : e.end]
        entities.sort(key=lambda e: (e.start, e.end))
        # unknown words only count against a destructive reading when nothing of the home is named
        home_named = any(e.entity in ("device", "area") for e in named)
        unknown = 0 if home_named else self._unknown_words(tokens, spans, rt)
        intent, uncertain = self._calibrate(ranking, unknown, hedged(tokens))
        if intent.name in STATE_CHANGING and _only_names(delexicalised):
            # "the front door", "desk lamp please": a name alone does not say what to do with it; ask first
            uncertain = True
        if intent.name in NO_TARGET_INTENTS:
            # "what is a lock screen": the words name no device of this home when the request is about none
            entities = [e for e in entities if e.entity not in _NAMED_ENTITIES]
        if intent.name == FALLBACK_INTENT:
            ranking = [intent, *ranking][:RANKING_LENGTH]
        return NluResult(text=text, intent=intent, entities=entities, intent_ranking=ranking, uncertain=uncertain)

    @staticmethod
    def _unknown_words(tokens: list[Token], spans: list[Span], rt: _Runtime) -> int:
        """Words outside every name and value that training never saw ("cancel my netflix subscription")."""
        count = 0
        for t in tokens:
            if t.is_number or _known(t.text, rt.common_words) or any(s.start <= t.start < s.end for s in spans):
                continue
            count += 1
        return count

    def _calibrate(
        self, ranking: list[IntentScore], unknown: int = 0, asks_about: bool = False
    ) -> tuple[IntentScore, bool]:
        """The intent to report (nlu_fallback below its group's bar) and whether a state change should be asked.

        A destructive intent also falls back when the utterance holds a word training never saw: the request may
        be about something else entirely, and a guess must not delete or unlock anything. A question about the
        action or a negated one ("how can I cancel", "don't delete it") is never the action: the best harmless
        reading answers it, or nothing does."""
        cal = self.calibration
        top = ranking[0]
        if top.name in DESTRUCTIVE and asks_about:
            harmless = [s for s in ranking[1:] if s.name not in DESTRUCTIVE and s.name not in STATE_CHANGING]
            if harmless and harmless[0].confidence >= HARMLESS_FLOOR:
                return harmless[0], False
            return IntentScore(FALLBACK_INTENT, cal.threshold_for(top.name)), False
        margin = top.confidence - (ranking[1].confidence if len(ranking) > 1 else 0.0)
        bar = cal.threshold_for(top.name)
        if top.confidence < bar or (
            top.name in DESTRUCTIVE and (margin < cal.destructive_margin or unknown > cal.destructive_unknown_words)
        ):
            return IntentScore(FALLBACK_INTENT, bar), False
        uncertain = top.name in STATE_CHANGING and (top.confidence < cal.confirm_below or margin < cal.confirm_margin)
        return top, uncertain


_SUFFIXES = ("s", "es", "ed", "d", "ing", "ly", "er")

# Sentence shapes that talk ABOUT an action instead of asking for it (used only to hold back destructive intents).
HARMLESS_FLOOR = 0.02  # the least a harmless runner-up needs to answer a question about a destructive action
_FILLERS = frozenset({"um", "uh", "er", "erm", "so", "hey", "ok", "okay", "well", "and", "but", "hearth", "please"})
_WH = frozenset({"how", "what", "whats", "why", "where", "wheres", "when", "which", "whos", "who"})
_AUX = frozenset({"is", "are", "does", "do", "did", "will", "would", "should", "can", "could", "may", "might", "if"})
_ADDRESSEE = frozenset({"you", "ya", "u", "yall"})
_NEGATIONS = frozenset({"dont", "never", "not", "wont", "shouldnt", "doesnt", "didnt", "mustnt", "neither"})
_DESTROY_VERBS = frozenset(
    {"delete", "remove", "erase", "wipe", "cancel", "unlock", "clear", "forget", "end", "stop", "terminate", "purge"}
)


def hedged(tokens: list[Token]) -> bool:
    """A question about doing something ("how can I cancel", "is it possible to delete", "can I unlock") or a
    negated request ("don't delete my data"), as opposed to a request to do it ("can you delete my data")."""
    words = [t.text for t in tokens]
    k = 0
    while k < len(words) and words[k] in _FILLERS:
        k += 1
    if k < len(words):
        first, after = words[k], words[k + 1] if k + 1 < len(words) else ""
        if first in _WH or (first in _AUX and after not in _ADDRESSEE):
            return True
    for n, w in enumerate(words):
        if w in _NEGATIONS and any(v in _DESTROY_VERBS for v in words[n + 1 : n + 4]):
            return True
    return False


def _known(word: str, known: frozenset[str]) -> bool:
    """A word training saw, or an inflection of one ("deleted" from "delete", "cancelling" from "cancel")."""
    if word in known:
        return True
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            stem = word[: -len(suffix)]
            if stem in known or stem + "e" in known or (len(stem) > 3 and stem[-1] == stem[-2] and stem[:-1] in known):
                return True
    return False


def _only_names(d: Delexicalised) -> bool:
    """Nothing but device and room names (and articles, fillers): no word says what to do."""
    words = [w for w in d.words if w not in ARTICLES and w not in _FILLER]
    return bool(words) and all(w in ("__device__", "__area__") for w in words)


def _drop_repeats(named: list[Entity]) -> list[Entity]:
    """A device named outright is not named again by a partial word ("put the lock on the front door")."""
    exact = {e.value for e in named if e.entity == "device" and e.confidence >= 1.0 and not e.candidates}
    if not exact:
        return named
    return [e for e in named if not (e.entity == "device" and e.value in exact and e.confidence < 1.0)]


def choose(named: list[Entity], mentions: list[Mention]) -> tuple[list[Entity], list[Mention]]:
    """Keep the longest of overlapping mentions; on a tie an exact name beats a rule value, which beats a partial
    name or class word ("red lamp" is a device, "light blue" a colour, "lamp 2" a device)."""
    items: list[tuple[int, int, int, int, Entity | Mention]] = []
    for e in named:
        exact = e.confidence >= 1.0 and not e.candidates
        items.append((e.start, e.end, 0 if exact else 2, len(items), e))
    for m in mentions:
        items.append((m.start, m.end, 1, len(items), m))
    items.sort(key=lambda it: (it[0] - it[1], it[2], it[3]))
    taken: list[tuple[int, int]] = []
    keep_named: list[Entity] = []
    keep_mentions: list[Mention] = []
    for start, end, _, _, item in items:
        if any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        if isinstance(item, Entity):
            keep_named.append(item)
        else:
            keep_mentions.append(item)
    keep_named.sort(key=lambda e: e.start)
    keep_mentions.sort(key=lambda m: m.start)
    return keep_named, keep_mentions


def _entity_span(e: Entity, kind: str | None = None) -> Span:
    extra = f"kind={kind}" if kind else None
    return Span(e.start, e.end, (ENTITY_PLACEHOLDERS.get(e.entity, "__device__"),), e.entity in KEEP_RAW, extra)


def _live_kind(e: Entity, vocabulary: Gazetteer) -> str | None:
    """The device kind a mention stands for in the home: a class word's value, or the kind its devices share."""
    if e.entity == "device_class":
        return str(e.value)
    if e.entity != "device":
        return None
    kinds = set()
    for device_id in e.candidates or [str(e.value)]:
        thing = vocabulary.get(NameKind.DEVICE, device_id)
        kinds.add(thing.device_class if thing is not None else None)
    return kinds.pop() if len(kinds) == 1 else None


def _mention_span(m: Mention) -> Span | None:
    placeholder = m.placeholder
    return Span(m.start, m.end, placeholder) if placeholder else None


def _device_classes(named: list[Entity], vocabulary: Gazetteer) -> set[str]:
    classes: set[str] = set()
    for e in named:
        if e.entity == "device_class":
            classes.add(str(e.value))
        elif e.entity == "device":
            for device_id in e.candidates or [str(e.value)]:
                thing = vocabulary.get(NameKind.DEVICE, device_id)
                if thing is not None and thing.device_class:
                    classes.add(thing.device_class)
    return classes


def _as_gazetteer(vocabulary: Vocabulary, rt: _Runtime) -> Gazetteer:
    """Another Vocabulary implementation: copy it into a Gazetteer (linear; only for foreign vocabularies)."""
    g = Gazetteer(class_words=rt.class_words, common_words=rt.common_words)
    for kind in NameKind:
        for thing in vocabulary.things(kind):
            g.put(thing)
    return g


class TrainingPrep:
    """Turns training examples into classifier samples exactly the way parse() sees utterances.

    Annotated device/area/scene/device_class spans become placeholders; names the annotations use elsewhere (and the
    area and scene lookup tables) are matched in unannotated text with a Gazetteer, and rule values with the same
    ValueRules as at run time, so the placeholders a training sentence gets are the ones parse() would produce."""

    def __init__(self, data: TrainingData, raw_variant: bool = True) -> None:
        self.data = data
        self.raw_variant = raw_variant
        kinds = {str(k) for k in DeviceKind}
        self.class_words: dict[str, str] = {}
        for text, value in data.synonyms.items():
            if value in kinds:
                self.class_words[text] = value
        for ex in data.examples:
            for span in ex.entities:
                if span.entity == "device_class":
                    value = data.value_of(span)
                    if value in kinds:
                        self.class_words.setdefault(span.text.lower(), value)
        self.colors = sorted(
            {c.lower() for name in ("color", "colour", "colors", "colours") for c in data.lookups.get(name, [])}
        )
        self.tier_words = {text: value for text, value in data.synonyms.items() if value in TIERS}
        self.rules = ValueRules(self.colors, self.tier_words)
        self.kinds = kinds
        self.head_kinds: dict[str, str] = {w: str(k) for w, k in STRONG_CLASS_WORDS.items()}
        self.head_kinds.update(HEAD_KINDS)
        for word, kind in self.class_words.items():
            self.head_kinds.setdefault(word, kind)
        self.common_words = self._carrier_words(data.examples)
        self.gazetteer = Gazetteer(class_words=self.class_words, common_words=self.common_words)
        for thing in self._things():
            self.gazetteer.put(thing)

    def _things(self) -> Iterable[NamedThing]:
        names: dict[NameKind, set[str]] = {k: set() for k in NameKind}
        for ex in self.data.examples:
            for span in ex.entities:
                if span.entity in ("device", "area", "scene"):
                    names[NameKind(span.entity)].add(span.text)
        for lookup, kind in (("area", NameKind.AREA), ("areas", NameKind.AREA), ("scene", NameKind.SCENE)):
            names[kind].update(self.data.lookups.get(lookup, []))
        for kind, texts in names.items():
            for text in sorted(texts):
                key = normalise(text)
                if key:
                    yield NamedThing(kind, f"{kind}:{key}", (text,))

    def kind_of(self, e: Entity) -> str | None:
        """The device kind of a training mention: a class word's value, or what its head noun names ("porch
        lamp" is a light, "space heater" a climate device); None when the name does not tell ("coffee maker")."""
        if e.entity == "device_class":
            value = self.data.synonyms.get(str(e.value).lower(), str(e.value))
            return value if value in self.kinds else None
        if e.entity != "device":
            return None
        words = [t.text for t in tokenize(str(e.text)) if t.text not in ARTICLES]
        for size in (2, 1):
            if len(words) >= size:
                phrase = " ".join(words[-size:])
                kind = self.head_kinds.get(phrase) or self.head_kinds.get(singular(phrase))
                if kind is not None:
                    return kind
        return None

    @staticmethod
    def _carrier_words(examples: list[Example]) -> set[str]:
        words: set[str] = set()
        for ex in examples:
            for tok in tokenize(ex.text):
                if not any(s.start <= tok.start < s.end for s in ex.entities):
                    words.add(tok.text)
        return words

    def samples(self, ex: Example) -> list[Delexicalised]:
        """The example as the classifier will see it, plus a variant without articles and fillers."""
        tokens = tokenize(ex.text)
        annotated = [
            Entity(s.entity, s.value, s.start, s.end, s.text) for s in ex.entities if s.entity in ENTITY_PLACEHOLDERS
        ]
        found = [
            e
            for e in self.gazetteer.match_tokens(ex.text, tokens)
            if all(e.end <= a.start or e.start >= a.end for a in annotated)
        ]
        named, mentions = choose(annotated + found, self.rules.mentions(ex.text, tokens))
        spans = [_entity_span(e, self.kind_of(e)) for e in named] + [
            s for s in map(_mention_span, mentions) if s is not None
        ]
        out = [delexicalise(tokens, spans)]
        trimmed: list[Token] = [t for t in tokens if t.text not in ARTICLES and t.text not in _FILLER]
        if trimmed and len(trimmed) != len(tokens):
            out.append(delexicalise(trimmed, spans))
        if self.raw_variant and named:
            # the same sentence with its names left as words: the carrier words must carry the intent on their
            # own when a name is not in the home's vocabulary
            out.append(delexicalise(tokens, [s for s in map(_mention_span, mentions) if s is not None]))
        return out
