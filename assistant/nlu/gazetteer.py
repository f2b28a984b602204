"""The Gazetteer: a home's live device, area and scene names, matched in utterances through inverted indexes.

Names and utterances are normalised the same way (lowercase, punctuation and articles dropped, a crude singular), so
"the Kitchen-Lights" matches "kitchen light". Tokens of four or more letters that are not in the vocabulary are
corrected to a vocabulary token one edit away through a SymSpell-style deletion index ("kichen" -> "kitchen").

Every lookup is a dictionary probe keyed by tokens, so matching costs the same whatever the size of the registry, and
`put` costs O(the thing's names): it indexes each name's exact token sequence, every (subset of modifiers, head noun)
pair for partial mentions ("lamp", "bedroom light"), its (area, head noun) pair and the one-deletion variants of new
tokens. remove() recomputes the same keys from the thing and files it out again. An ambiguous mention lists at most
MAX_CANDIDATES ids; for a bigger bucket the first ones are found once (linear in the bucket) and cached until the
bucket changes.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from itertools import combinations
from typing import Generic, TypeVar

from assistant.devices import DeviceKind
from assistant.nlu.engine import NamedThing, NameKind, Vocabulary
from assistant.nlu.result import Entity
from assistant.nlu.text import ARTICLES, Token, name_keys, tokenize

MAX_CANDIDATES = 20
MAX_SPAN = 6  # the longest name, in tokens, that can be matched
MAX_MODIFIERS = 6  # partial-match subsets are built from at most this many modifier tokens per name
FUZZY_MIN_LEN = 4  # tokens shorter than this are never corrected
FUZZY_SINGLE_MIN_LEN = 6  # a one-word mention made only of a corrected token needs at least this many letters

# Generic class words. Strong ones win over a partial device match ("the blinds" -> every cover, even with one set of
# blinds in the home); weak ones only apply when no device name fits. Either loses to a device named exactly so.
STRONG_CLASS_WORDS: dict[str, DeviceKind] = {
    "lights": DeviceKind.LIGHT, "lamps": DeviceKind.LIGHT, "bulbs": DeviceKind.LIGHT,
    "lighting": DeviceKind.LIGHT, "light bulbs": DeviceKind.LIGHT,
    "blinds": DeviceKind.COVER, "shades": DeviceKind.COVER, "curtains": DeviceKind.COVER,
    "shutters": DeviceKind.COVER, "drapes": DeviceKind.COVER,
    "fan": DeviceKind.FAN, "fans": DeviceKind.FAN,
    "heating": DeviceKind.CLIMATE, "thermostat": DeviceKind.CLIMATE, "thermostats": DeviceKind.CLIMATE,
    "heater": DeviceKind.CLIMATE, "heaters": DeviceKind.CLIMATE, "ac": DeviceKind.CLIMATE,
    "air conditioning": DeviceKind.CLIMATE, "air conditioner": DeviceKind.CLIMATE, "hvac": DeviceKind.CLIMATE,
    "locks": DeviceKind.LOCK, "door locks": DeviceKind.LOCK,
    "switches": DeviceKind.SWITCH, "plugs": DeviceKind.SWITCH, "smart plugs": DeviceKind.SWITCH,
    "outlets": DeviceKind.SWITCH, "sockets": DeviceKind.SWITCH,
    "sensors": DeviceKind.SENSOR, "motion sensors": DeviceKind.SENSOR,
}  # fmt: skip

# Words that are never corrected to a name even when one edit away ("make" is not "maker", "right" is not "light").
COMMON_WORDS: frozenset[str] = frozenset(
    """about after again also back been before bright brighter cant colour color could dark darker does doesnt dont
    down each else even ever from give going good have help here hers into just keep know last less like little make
    more most much need next night nothing once only open other over please right same should show some sorry start
    still stop such sure take than thank thanks that their them then there these they thing this those time turn
    turned upon very want warm warmer well were what when where which while will with would your yours mode scene
    tell name call rename dimmer lock unlock close""".split()
)

# Words that are verbs as often as nouns ("lock the shed", "the rule that locks the door"): alone, and after a
# word that usually comes before a verb, they are not taken as a device or class mention.
VERB_LIKE: frozenset[str] = frozenset({"lock", "switch", "light", "plug", "heat", "fan", "open", "close", "shade"})
_BEFORE_VERB: frozenset[str] = frozenset(
    """ to please pls plz you i we and then lets also not dont didnt cant wont will should must can could would
    hearth it that which who he she they just now""".split()
) | {""}
_SUBJECTS: frozenset[str] = frozenset({"that", "which", "who", "it", "he", "she", "this"})
_VERB_OBJECTS: frozenset[str] = ARTICLES | {"up", "it", "them", "everything", "down", "off", "on", "out"}
# Determiners that make a mention non-specific ("a new lock", "every light"): a class, not one device.
NON_SPECIFIC: frozenset[str] = frozenset({"a", "an", "another", "every", "each", "any"})
_SKIP_BEFORE = frozenset({"new", "other", "more", "single", "extra", "second", "third"})

_RANK_EXACT, _RANK_STRONG_CLASS, _RANK_PARTIAL, _RANK_WEAK_CLASS = 0, 1, 2, 3
_KIND_ORDER = (NameKind.DEVICE, NameKind.SCENE, NameKind.AREA)
_SCENE_WORDS = ("scene", "mode")

Ref = tuple[NameKind, str]
T = TypeVar("T", str, Ref)


class _Postings(Generic[T]):
    """key -> the items filed under it; most keys hold one item, kept bare instead of in a set to save memory."""

    __slots__ = ("_index",)

    def __init__(self) -> None:
        self._index: dict[str, T | set[T]] = {}

    def add(self, key: str, item: T) -> None:
        cur = self._index.get(key)
        if cur is None:
            self._index[key] = item
        elif isinstance(cur, set):
            cur.add(item)
        elif cur != item:
            self._index[key] = {cur, item}

    def discard(self, key: str, item: T) -> None:
        cur = self._index.get(key)
        if cur is None:
            return
        if isinstance(cur, set):
            cur.discard(item)
            if len(cur) == 1:
                self._index[key] = next(iter(cur))
        elif cur == item:
            del self._index[key]

    def get(self, key: str) -> Collection[T]:
        """The items under `key` (a live view for big buckets: do not modify)."""
        cur = self._index.get(key)
        if cur is None:
            return ()
        if isinstance(cur, set):
            return cur
        return (cur,)

    def __len__(self) -> int:
        return len(self._index)


@dataclass(slots=True)
class _Span:
    first: int
    last: int  # exclusive, in the article-free token list
    entity: str
    value: str
    rank: int
    fuzzy: int
    candidates: list[str] | None = None


class Gazetteer(Vocabulary):
    """A home's names with incremental indexes; `match` finds device, area, scene and device-class mentions."""

    def __init__(
        self,
        class_words: dict[str, str] | None = None,
        common_words: Iterable[str] = (),
    ) -> None:
        """`class_words`: extra generic words -> DeviceKind value (weak unless already strong, e.g. "lamp": "light");
        `common_words`: ordinary words (e.g. from training sentences) that must never be corrected into names."""
        self._things: dict[NameKind, dict[str, NamedThing]] = {k: {} for k in NameKind}
        self._phrases: _Postings[Ref] = _Postings()  # "living room lamp" -> (device, living_room_lamp)
        self._partials: _Postings[str] = _Postings()  # "living room|lamp" -> living_room_lamp, ...
        self._area_heads: _Postings[str] = _Postings()  # "living_room|lamp" -> living_room_lamp, floor_lamp
        self._token_refs: dict[str, int] = {}
        self._deletes: dict[str, set[str]] = {}
        self._sorted_cache: dict[str, list[str]] = {}
        self._class_words: dict[tuple[str, ...], tuple[str, bool]] = {}
        self._max_class_len = 1
        self._class_by_key: dict[str, str] = {}
        self._common: frozenset[str] = COMMON_WORDS
        self._area_kinds: dict[str, Counter[str]] = {}  # area id -> how many devices of each kind it holds
        self.configure(class_words or {}, common_words)

    def configure(self, class_words: dict[str, str], common_words: Iterable[str]) -> None:
        """Set the extra class words and protected common words (the engine does this once its model is loaded)."""
        table: dict[tuple[str, ...], tuple[str, bool]] = {}
        for word, kind in STRONG_CLASS_WORDS.items():
            table[tuple(t.text for t in tokenize(word))] = (str(kind), True)
        valid = {str(k) for k in DeviceKind}
        for word, value in class_words.items():
            key = tuple(t.text for t in tokenize(word))
            if key and value in valid and key not in table:
                table[key] = (value, False)
        self._class_words = table
        self._max_class_len = max((len(k) for k in table), default=1)
        by_key: dict[str, str] = {}
        for words, (value, _) in table.items():
            if len(words) == 1:
                by_key.setdefault(tokenize(words[0])[0].key, value)
        self._class_by_key = by_key
        self._common = COMMON_WORDS | frozenset(w.lower() for w in common_words)

    # -- Vocabulary ---------------------------------------------------------------------------------------------
    def put(self, thing: NamedThing) -> None:
        if thing.id in self._things[thing.kind]:
            self.remove(thing.kind, thing.id)
        keys = _index_keys(thing)
        ref: Ref = (thing.kind, thing.id)
        for phrase in keys.phrases:
            self._phrases.add(phrase, ref)
        for pkey in keys.partials:
            self._partials.add(pkey, thing.id)
            self._sorted_cache.pop(pkey, None)
        for akey in keys.area_heads:
            self._area_heads.add(akey, thing.id)
            self._sorted_cache.pop("@" + akey, None)
        for tok in keys.tokens:
            self._add_token(tok)
        self._things[thing.kind][thing.id] = thing
        if thing.kind is NameKind.DEVICE and thing.area and thing.device_class:
            self._area_kinds.setdefault(thing.area, Counter())[thing.device_class] += 1

    def remove(self, kind: NameKind, thing_id: str) -> None:
        thing = self._things[kind].pop(thing_id, None)
        if thing is None:
            return
        keys = _index_keys(thing)  # the same keys put() filed it under
        ref: Ref = (kind, thing_id)
        for phrase in keys.phrases:
            self._phrases.discard(phrase, ref)
        for pkey in keys.partials:
            self._partials.discard(pkey, thing_id)
            self._sorted_cache.pop(pkey, None)
        for akey in keys.area_heads:
            self._area_heads.discard(akey, thing_id)
            self._sorted_cache.pop("@" + akey, None)
        for tok in keys.tokens:
            self._remove_token(tok)
        if kind is NameKind.DEVICE and thing.area and thing.device_class:
            counts = self._area_kinds.get(thing.area)
            if counts is not None:
                counts[thing.device_class] -= 1
                if counts[thing.device_class] <= 0:
                    del counts[thing.device_class]
                if not counts:
                    del self._area_kinds[thing.area]

    def kinds_in_area(self, area_id: str) -> frozenset[str]:
        """The device kinds present in an area (kept up to date by put and remove)."""
        counts = self._area_kinds.get(area_id)
        return frozenset(counts) if counts else frozenset()

    def get(self, kind: NameKind, thing_id: str) -> NamedThing | None:
        return self._things[kind].get(thing_id)

    def things(self, kind: NameKind) -> list[NamedThing]:
        return list(self._things[kind].values())

    def __len__(self) -> int:
        return sum(len(v) for v in self._things.values())

    # -- matching -----------------------------------------------------------------------------------------------
    def match(self, text: str) -> list[Entity]:
        """Device, area, scene and device_class mentions in `text`, longest first, not overlapping, in text order."""
        return self.match_tokens(text, tokenize(text))

    def match_tokens(self, text: str, all_tokens: list[Token]) -> list[Entity]:
        """As match(), for an utterance already tokenised with text.tokenize."""
        toks: list[Token] = []
        before: list[str] = []  # the word before each kept token, skipping adjectives like "new"
        after: list[str] = []  # the word after each kept token
        last_word = ""
        for k, t in enumerate(all_tokens):
            if t.text in ARTICLES:
                last_word = t.text
                continue
            toks.append(t)
            before.append(last_word)
            after.append(all_tokens[k + 1].text if k + 1 < len(all_tokens) else "")
            if t.text not in _SKIP_BEFORE:
                last_word = t.text
        n = len(toks)
        if n == 0:
            return []
        keys: list[str | None] = []
        fuzzy: list[bool] = []
        for t in toks:
            if t.key in self._token_refs:
                keys.append(t.key)
                fuzzy.append(False)
            else:
                fixed = self._correct(t)
                keys.append(fixed)
                fuzzy.append(fixed is not None)
        # known[i]: where the run of known words starting at i ends. A span reaching past it can only be a class
        # word, so longer spans are not looked at (most spans of an utterance are ordinary words).
        known = [0] * (n + 1)
        known[n] = n
        for i in range(n - 1, -1, -1):
            known[i] = known[i + 1] if keys[i] is not None else i
        max_class = self._max_class_len
        found: list[_Span] = []
        for i in range(n):
            limit = min(n, i + MAX_SPAN)
            for j in range(limit, i, -1):
                if j > known[i] and j - i > max_class:
                    continue
                span = self._resolve(toks, keys, fuzzy, i, j, before[i], after[j - 1])
                if span is not None:
                    found.append(span)
        if not found:
            return []
        found.sort(key=lambda s: (s.first - s.last, s.fuzzy, s.rank, s.first))
        taken = [False] * n
        chosen: list[_Span] = []
        for span in found:
            if any(taken[span.first : span.last]):
                continue
            for k in range(span.first, span.last):
                taken[k] = True
            chosen.append(span)
        chosen.sort(key=lambda s: s.first)
        self._narrow_by_area(chosen)
        out: list[Entity] = []
        for s in chosen:
            start, end = toks[s.first].start, toks[s.last - 1].end
            confidence = 1.0 if s.rank == _RANK_EXACT else 0.9
            if s.candidates:
                confidence = 0.5
            confidence = max(0.5, confidence - 0.1 * s.fuzzy)
            out.append(
                Entity(
                    entity=s.entity,
                    value=s.value,
                    start=start,
                    end=end,
                    text=text[start:end],
                    confidence=confidence,
                    extractor="gazetteer",
                    candidates=s.candidates,
                )
            )
        return out

    def _resolve(
        self,
        toks: list[Token],
        keys: list[str | None],
        fuzzy: list[bool],
        i: int,
        j: int,
        before: str,
        after: str,
    ) -> _Span | None:
        nfuzzy = sum(fuzzy[i:j])
        span_keys = keys[i:j]
        complete = None not in span_keys
        single = j - i == 1
        if complete and nfuzzy and (single and len(toks[i].text) < FUZZY_SINGLE_MIN_LEN):
            complete = False
        if complete:
            key = tuple(k for k in span_keys if k is not None)
            refs = self._phrases.get(" ".join(key))
            if refs:
                return self._exact(refs, i, j, nfuzzy, toks)
        surface = tuple(t.text for t in toks[i:j])
        cls = self._class_words.get(surface) if j - i <= self._max_class_len else None
        if single and toks[i].key in VERB_LIKE:
            if toks[i].text == toks[i].key and _verb_use(before, after):
                return None  # "lock the shed"
            if toks[i].text != toks[i].key and before in _SUBJECTS:
                return None  # "the rule that locks the door"
        if cls is not None and cls[1]:
            return _Span(i, j, "device_class", cls[0], _RANK_STRONG_CLASS, 0)
        if single and before in NON_SPECIFIC:
            kind = self._class_by_key.get(toks[i].key)
            if kind is not None:
                return _Span(i, j, "device_class", kind, _RANK_STRONG_CLASS, 0)
        if complete:
            partial = self._partial(toks, key, i, j, nfuzzy)
            if partial is not None:
                return partial
        if cls is not None:
            return _Span(i, j, "device_class", cls[0], _RANK_WEAK_CLASS, 0)
        return None

    def _exact(self, refs: Collection[Ref], i: int, j: int, nfuzzy: int, toks: list[Token]) -> _Span:
        for kind in _KIND_ORDER:
            ids = sorted(tid for k, tid in refs if k is kind)
            if not ids:
                continue
            entity = str(kind)
            if len(ids) == 1:
                return _Span(i, j, entity, ids[0], _RANK_EXACT, nfuzzy)
            spoken = " ".join(t.text for t in toks[i:j])
            return _Span(i, j, entity, spoken, _RANK_EXACT, nfuzzy, ids[:MAX_CANDIDATES])
        raise AssertionError("unreachable: refs is non-empty")

    def _partial(self, toks: list[Token], key: tuple[str, ...], i: int, j: int, nfuzzy: int) -> _Span | None:
        split = _head_split(key)
        if split is None:
            return None
        head, mods = split
        head_tok = toks[j - 1] if key[-1] == head else toks[j - 2]
        if head_tok.text != head_tok.key:
            return None  # a plural head ("bedroom lights") means a group, not one device
        pkey = _partial_key(mods, head)
        found: Collection[str] = self._partials.get(pkey)
        area_id, rest = self._area_in(mods)
        if area_id is not None:
            # "office lamp": the lamps in the office (whatever their names), else names with the word "office"
            akey = f"{area_id}|{head}"
            in_area: Collection[str] = self._area_heads.get(akey)
            if rest and in_area:
                narrowed = self._partials.get(_partial_key(rest, head))
                small, big = (in_area, narrowed) if len(in_area) <= len(narrowed) else (narrowed, in_area)
                in_area = {d for d in small if d in big}
                akey = ""
            if len(in_area) > 1:
                named = self._named_after_area(area_id, rest, head, in_area)
                if named is not None:
                    return _Span(i, j, "device", named, _RANK_PARTIAL, nfuzzy)
            if in_area:
                found, pkey = in_area, ("@" + akey if akey else "")
        if not found:
            return None
        if len(found) == 1:
            return _Span(i, j, "device", next(iter(found)), _RANK_PARTIAL, nfuzzy)
        spoken = " ".join(t.text for t in toks[i:j])
        return _Span(i, j, "device", spoken, _RANK_PARTIAL, nfuzzy, self._first_sorted(pkey, found))

    def _named_after_area(self, area_id: str, rest: tuple[str, ...], head: str, in_area: Collection[str]) -> str | None:
        """ "lounge lamp" when the room's other name is lounge: the device named "<room name> lamp", if one is."""
        area = self._things[NameKind.AREA].get(area_id)
        if area is None:
            return None
        for name in area.names:
            refs = self._phrases.get(" ".join((*name_keys(name), *rest, head)))
            ids = [tid for k, tid in refs if k is NameKind.DEVICE and tid in in_area]
            if len(ids) == 1:
                return ids[0]
        return None

    def _first_sorted(self, cache_key: str, ids: Collection[str]) -> list[str]:
        """The first MAX_CANDIDATES ids in order; big buckets are sorted once and cached until they change."""
        if len(ids) <= MAX_CANDIDATES:
            return sorted(ids)
        cached = self._sorted_cache.get(cache_key) if cache_key else None
        if cached is None:
            cached = heapq.nsmallest(MAX_CANDIDATES, ids)
            if cache_key:
                self._sorted_cache[cache_key] = cached
        return cached

    def _area_in(self, mods: tuple[str, ...]) -> tuple[str | None, tuple[str, ...]]:
        """An area named by a run of the modifiers, and the modifiers left over."""
        n = len(mods)
        for size in range(n, 0, -1):
            for a in range(0, n - size + 1):
                refs = self._phrases.get(" ".join(mods[a : a + size]))
                if not refs:
                    continue
                areas = sorted(tid for k, tid in refs if k is NameKind.AREA)
                if areas:
                    return areas[0], mods[:a] + mods[a + size :]
        return None, mods

    def _area_of(self, device_id: str) -> str | None:
        thing = self._things[NameKind.DEVICE].get(device_id)
        return thing.area if thing else None

    def _narrow_by_area(self, chosen: list[_Span]) -> None:
        """ "the lamp in the office": when one area is named, keep the ambiguous device's candidates in that area."""
        areas = {s.value for s in chosen if s.entity == "area"}
        if len(areas) != 1:
            return
        (area_id,) = areas
        for s in chosen:
            if s.entity != "device" or not s.candidates:
                continue
            here = [d for d in s.candidates if self._area_of(d) == area_id]
            if len(here) == 1:
                s.value, s.candidates = here[0], None
            elif here:
                s.candidates = here

    # -- edit-distance-1 token lookup (SymSpell-style deletion index) ---------------------------------------------
    def _add_token(self, tok: str) -> None:
        count = self._token_refs.get(tok, 0)
        self._token_refs[tok] = count + 1
        if count == 0 and len(tok) >= FUZZY_MIN_LEN and tok.isalpha():
            for variant in _deletions(tok):
                self._deletes.setdefault(variant, set()).add(tok)

    def _remove_token(self, tok: str) -> None:
        count = self._token_refs.get(tok, 0) - 1
        if count > 0:
            self._token_refs[tok] = count
            return
        self._token_refs.pop(tok, None)
        if len(tok) >= FUZZY_MIN_LEN and tok.isalpha():
            for variant in _deletions(tok):
                _discard(self._deletes, variant, tok)

    def _correct(self, tok: Token) -> str | None:
        """The vocabulary token one edit away from an unknown token, if there is a best one."""
        word = tok.key
        if len(word) < FUZZY_MIN_LEN or not word.isalpha() or tok.text in self._common or word in self._common:
            return None
        found: set[str] = set(self._deletes.get(word, ()))  # the word lacks a letter ("kichen")
        for variant in _deletions(word):
            if variant in self._token_refs and len(variant) >= FUZZY_MIN_LEN:
                found.add(variant)  # the word has an extra letter ("lampp")
            found.update(self._deletes.get(variant, ()))  # a letter replaced or two swapped ("lamb", "ktichen")
        found = {w for w in found if _within_one_edit(word, w)}
        if not found:
            return None
        return min(found, key=lambda w: (w[0] != word[0], -self._token_refs.get(w, 0), w))


@dataclass(frozen=True, slots=True)
class _Keys:
    """Where one thing is filed; put() and remove() compute the same keys from the thing itself."""

    phrases: set[str]
    partials: set[str]
    area_heads: set[str]
    tokens: set[str]


def _index_keys(thing: NamedThing) -> _Keys:
    phrases: set[str] = set()
    partials: set[str] = set()
    area_heads: set[str] = set()
    tokens: set[str] = set()
    for name in thing.names:
        keys = name_keys(name)
        if not keys:
            continue
        for variant in _variants(keys, thing.kind):
            phrases.add(" ".join(variant))
            tokens.update(variant)
        split = _head_split(keys) if thing.kind is NameKind.DEVICE and len(keys) <= MAX_SPAN else None
        if split is not None:
            head, others = split
            mods = sorted(set(others) - {head})[:MAX_MODIFIERS]
            for size in range(len(mods) + 1):
                for subset in combinations(mods, size):
                    partials.add(" ".join(subset) + "|" + head)
            if thing.area:
                area_heads.add(f"{thing.area}|{head}")
    return _Keys(phrases, partials, area_heads, tokens)


def _partial_key(mods: Iterable[str], head: str) -> str:
    return " ".join(sorted(set(mods) - {head})) + "|" + head


def _head_split(keys: tuple[str, ...]) -> tuple[str, tuple[str, ...]] | None:
    """(head noun, the other words) of a name: its last word, or the word before a final number ("lamp 2")."""
    if keys[-1].isalpha():
        return keys[-1], keys[:-1]
    if len(keys) >= 2 and keys[-1].isdigit() and keys[-2].isalpha():
        return keys[-2], (*keys[:-2], keys[-1])
    return None


def _verb_use(before: str, after: str) -> bool:
    """Is a verb-like word used as a verb here? "lock the shed", "please lock it", "bed lock up the house"."""
    if before in _BEFORE_VERB:
        return True
    return before not in ARTICLES and after in _VERB_OBJECTS


def _variants(keys: tuple[str, ...], kind: NameKind) -> set[tuple[str, ...]]:
    """A name's token sequence plus tolerated spellings: adjacent words joined ("livingroom"), scene/mode words."""
    out = {keys}
    for k in range(len(keys) - 1):
        out.add((*keys[:k], keys[k] + keys[k + 1], *keys[k + 2 :]))
    if kind is NameKind.SCENE:
        base = keys
        if len(keys) > 1 and keys[-1] in _SCENE_WORDS:
            base = keys[:-1]
            out.add(base)
        for word in _SCENE_WORDS:
            out.add((*base, word))
            out.add((word, *base))
    return {v for v in out if v and len(v) <= MAX_SPAN}


def _deletions(word: str) -> set[str]:
    return {word[:k] + word[k + 1 :] for k in range(len(word))}


def _within_one_edit(a: str, b: str) -> bool:
    """Optimal-string-alignment distance <= 1 (one insertion, deletion, substitution or adjacent swap)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [k for k in range(la) if a[k] != b[k]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long_ = (a, b) if la < lb else (b, a)
    k = 0
    while k < len(short) and short[k] == long_[k]:
        k += 1
    return short[k:] == long_[k + 1 :]


def _discard(index: dict[str, set[str]], key: str, item: str) -> None:
    bucket = index.get(key)
    if bucket is not None:
        bucket.discard(item)
        if not bucket:
            del index[key]
