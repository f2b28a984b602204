"""Capability-aware decoding and calibration: the intent and its target are chosen together against the home.

The classifier reads only words. Decoding rescales each ranked intent by how well the devices the utterance names
(or the class, or the room) can do it: a light cannot be locked or set to 21 degrees, a lock is not a cover, a
thermostat has no brightness. A device whose kind fits but lacks the capability (a lamp that cannot dim) only
loses a little, so the handler can say why it cannot. Then ambiguous device mentions keep only the candidates that
fit the chosen intent ("unlock the door": the door with a lock).

Calibration decides what to do with the result: per intent group a threshold, and a margin between the top two
intents. Below the threshold the intent is nlu_fallback (Rasa's FallbackClassifier shape). A destructive intent
needs a higher bar; one that misses it falls back, so it is never acted on by a guess. A state-changing intent
near the bar is marked `uncertain`, so the dialogue asks before acting.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from assistant.nlu.engine import NameKind
from assistant.nlu.gazetteer import Gazetteer
from assistant.nlu.result import Entity, IntentScore

_SWITCHABLE = frozenset({"light", "switch", "fan", "climate"})
# The device kinds an intent can act on; intents not listed take any target (or none).
INTENT_KINDS: dict[str, frozenset[str]] = {
    "turn_on": _SWITCHABLE,
    "turn_off": _SWITCHABLE,
    "set_brightness": frozenset({"light"}),
    "set_color": frozenset({"light"}),
    "set_temperature": frozenset({"climate"}),
    "lock": frozenset({"lock"}),
    "unlock": frozenset({"lock"}),
    "open_cover": frozenset({"cover"}),
    "close_cover": frozenset({"cover"}),
}
# The capability an intent needs from a device of a fitting kind.
INTENT_CAPABILITY: dict[str, str] = {
    "set_brightness": "brightness",
    "set_color": "color",
    "set_temperature": "setpoint",
    "lock": "lock",
    "unlock": "lock",
    "open_cover": "position",
    "close_cover": "position",
}
KIND_MISMATCH = 0.02  # the named device cannot do this at all
CAPABILITY_MISSING = 0.6  # the right kind of device, without the feature (the handler explains)
AREA_MISMATCH = 0.3  # nothing in the named room can do it (weaker evidence: the room may be loosely named)
SCENE_ONLY = 0.2  # a device intent when only a scene is named
UNEXPLAINED = 0.25  # the share of the mass of ill-fitting readings that stays unexplained (see rescore)

DESTRUCTIVE = frozenset({"delete_data", "cancel_subscription", "delete_automation", "unlock"})
STATE_CHANGING = frozenset(
    {"turn_on", "turn_off", "set_brightness", "set_color", "set_temperature", "lock", "open_cover", "close_cover"}
    | {"activate_scene"}
)
SOCIAL = frozenset({"affirm", "deny", "cancel", "greet", "goodbye", "thank"})


@dataclass(frozen=True, slots=True)
class Calibration:
    """Thresholds per intent group and the margin tests (chosen by 5-fold cross-validation on nlu_data, never on
    the evaluation sets: see docs/decisions.md)."""

    threshold: float = 0.35  # every other intent (the configured nlu.threshold)
    social_threshold: float = 0.25  # yes / no / cancel / greetings: short, and harmless when wrong
    destructive_threshold: float = 0.5  # delete_data, cancel_subscription, delete_automation, unlock
    destructive_margin: float = 0.2  # ... and this far ahead of the runner-up
    destructive_unknown_words: int = 0  # ... with at most this many words training never saw
    confirm_below: float = 0.45  # a state change below this confidence is asked about, not done
    confirm_margin: float = 0.1  # ... or when the runner-up is this close

    def threshold_for(self, intent: str) -> float:
        if intent in DESTRUCTIVE:
            return self.destructive_threshold
        if intent in SOCIAL:
            return self.social_threshold
        return self.threshold


@dataclass(slots=True)
class Target:
    """What one mention can be: the device kinds and capabilities behind it."""

    kinds: frozenset[str]
    capabilities: frozenset[str] | None  # None: unknown (a class word, a room)
    weight_if_wrong: float


def targets(entities: Iterable[Entity], vocabulary: Gazetteer) -> list[list[Target]]:
    """For each device-like mention, the readings it allows (one per candidate device)."""
    out: list[list[Target]] = []
    areas: list[str] = []
    scenes = 0
    for e in entities:
        if e.entity == "device":
            readings: list[Target] = []
            for device_id in e.candidates or [str(e.value)]:
                thing = vocabulary.get(NameKind.DEVICE, device_id)
                if thing is not None and thing.device_class:
                    caps = thing.capabilities or None
                    readings.append(Target(frozenset({thing.device_class}), caps, KIND_MISMATCH))
            if readings:
                out.append(readings)
        elif e.entity == "device_class":
            out.append([Target(frozenset({str(e.value)}), None, KIND_MISMATCH)])
        elif e.entity == "area":
            areas.append(str(e.value))
        elif e.entity == "scene":
            scenes += 1
    if not out and not areas and scenes:
        # "put on the bedtime scene": a scene is no device, so a device intent does not fit it
        out.append([Target(frozenset({"scene"}), None, SCENE_ONLY)])
    if not out and len(areas) == 1:
        kinds = vocabulary.kinds_in_area(areas[0])
        if kinds:
            out.append([Target(kinds, None, AREA_MISMATCH)])
    return out


def fit(intent: str, mentions: list[list[Target]]) -> float:
    """How well the named targets can do `intent` (1.0 when the intent takes any target or none is named)."""
    allowed = INTENT_KINDS.get(intent)
    if allowed is None or not mentions:
        return 1.0
    need = INTENT_CAPABILITY.get(intent)
    worst = 1.0
    for readings in mentions:
        best = 0.0
        for t in readings:
            if not t.kinds & allowed:
                score = t.weight_if_wrong
            elif need is not None and t.capabilities is not None and need not in t.capabilities:
                score = CAPABILITY_MISSING
            else:
                score = 1.0
            best = max(best, score)
        worst = min(worst, best)
    return worst


def rescore(ranking: list[IntentScore], mentions: list[list[Target]]) -> list[IntentScore]:
    """The ranking with each intent weighted by fit, best first.

    The mass taken from readings that do not fit is shared out again, except a part (UNEXPLAINED) that stays
    with "none of these": when the words only fit a reading the device cannot do ("lock the desk lamp"), what
    is left is a weak guess and falls back, instead of the runner-up becoming certain."""
    if not mentions:
        return ranking
    weighted = [IntentScore(s.name, s.confidence * fit(s.name, mentions)) for s in ranking]
    kept = sum(s.confidence for s in weighted)
    lost = sum(s.confidence for s in ranking) - kept
    total = kept + UNEXPLAINED * lost
    if total <= 0:
        return ranking
    scale = (kept + lost) / total
    out = [IntentScore(s.name, s.confidence * scale) for s in weighted]
    out.sort(key=lambda s: -s.confidence)
    return out


def narrow_candidates(entities: list[Entity], intent: str, vocabulary: Gazetteer) -> None:
    """Ambiguous device mentions keep the candidates that can do `intent`; one left is the device."""
    allowed = INTENT_KINDS.get(intent)
    if allowed is None:
        return
    need = INTENT_CAPABILITY.get(intent)
    for e in entities:
        if e.entity != "device" or not e.candidates:
            continue
        kinds_ok = []
        for device_id in e.candidates:
            thing = vocabulary.get(NameKind.DEVICE, device_id)
            if thing is not None and thing.device_class in allowed:
                kinds_ok.append((device_id, need is None or not thing.capabilities or need in thing.capabilities))
        able = [d for d, ok in kinds_ok if ok] or [d for d, _ in kinds_ok]
        if len(able) == 1:
            e.value, e.candidates, e.confidence = able[0], None, max(e.confidence, 0.8)
        elif able:
            e.candidates = able
