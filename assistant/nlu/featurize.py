"""Features for the intent classifier: a delexicalised utterance as word n-grams and character n-grams.

Entity spans are replaced by placeholders (__device__, __area__, __scene__, __number__, __color__, __time__,
__duration__, __tier__), so an unseen device name reads exactly like a known one. Scene names keep their words as
extra features too ("good morning" is a greeting as often as a scene). A device span also adds its kind when known
("kind=light"): the words "set the __device__ to __number__" mean a brightness for a light and a temperature for a
thermostat, and the classifier learns that from the kind feature.

Features are strings: "w:" word unigrams, "b:" word bigrams (with sentence boundaries), "x:" extra words and
"c:" char_wb 2-4 grams of the non-placeholder words. Word-side and char-side features are each scaled to unit length,
the same way at training and at run time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from assistant.nlu.text import Token

FEATURIZER_VERSION = 4
CHAR_NGRAMS = (2, 3, 4)
ENTITY_PLACEHOLDERS: dict[str, str] = {
    "device": "__device__",
    "device_class": "__device__",
    "area": "__area__",
    "scene": "__scene__",
}
KEEP_RAW = frozenset({"scene"})  # entity types whose words are kept as extra features


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of the utterance to replace by placeholder words when classifying."""

    start: int
    end: int
    placeholder: tuple[str, ...]
    keep_raw: bool = False
    extra: str | None = None  # an extra feature for the span, e.g. "kind=light" for a device that is a light


@dataclass(slots=True)
class Delexicalised:
    """An utterance as the classifier sees it."""

    words: list[str]
    extras: list[str]


def delexicalise(tokens: list[Token], spans: Iterable[Span]) -> Delexicalised:
    """Replace the tokens inside each span by its placeholder (once per span)."""
    ordered = sorted(spans, key=lambda s: s.start)
    words: list[str] = []
    extras: list[str] = []
    k = 0
    n = len(ordered)
    emitted = -1
    for tok in tokens:
        while k < n and ordered[k].end <= tok.start:
            k += 1
        if k < n and ordered[k].start < tok.end and tok.start < ordered[k].end:
            span = ordered[k]
            if emitted != k:
                words.extend(span.placeholder)
                if span.extra is not None:
                    extras.append(span.extra)
                emitted = k
            if span.keep_raw:
                extras.append(tok.text)
            continue
        words.append(tok.text)
    return Delexicalised(words, extras)


def word_features(d: Delexicalised) -> list[str]:
    """Unigrams, bigrams with boundaries, and extra words; duplicates removed, order kept."""
    feats: list[str] = []
    prev = "<s>"
    for w in d.words:
        feats.append("w:" + w)
        feats.append("b:" + prev + " " + w)
        prev = w
    feats.append("b:" + prev + " </s>")
    if not d.words:
        feats.append("w:<empty>")
    for x in d.extras:
        feats.append("x:" + x)
    return list(dict.fromkeys(feats))


def char_features(d: Delexicalised) -> list[str]:
    """char_wb n-grams of each non-placeholder word (the word padded with a space on each side)."""
    feats: dict[str, None] = {}
    for w in d.words:
        if w.startswith("__"):
            continue
        padded = f" {w} "
        size = len(padded)
        for n in CHAR_NGRAMS:
            if n > size:
                break
            for i in range(size - n + 1):
                feats["c:" + padded[i : i + n]] = None
    return list(feats)
