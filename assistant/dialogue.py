"""The dialogue manager: text → NLU → pending question or intent handler → durable reply; the orchestrator."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from assistant import access, journal
from assistant.access import Role
from assistant.bus import BusEvent
from assistant.conversation import Conversations, ConversationState, LastRequest, Pending
from assistant.errors import ErrorCode, HearthError, NluError
from assistant.eventlog import EventOp, EventType, append_op
from assistant.intents import (
    Ask,
    Confirm,
    Done,
    IntentCall,
    IntentHandler,
    Outcome,
    SlotError,
    validate_slots,
)
from assistant.nlu.numbers import find_numbers
from assistant.nlu.result import FALLBACK_INTENT, Entity, IntentScore, NluResult
from assistant.nlu.text import tokenize
from assistant.readings import UtteranceReader
from assistant.registry import Home
from assistant.store import Change, WriteOp
from assistant.turn import ActionTaken, Reply, ReplyKind, Turn
from assistant.undo import Reverter, merge_group, needing_confirmation, revert
from assistant.validation import check_text

if TYPE_CHECKING:
    from assistant.core import Core

LOG = logging.getLogger(__name__)

# Intents the dialogue manager answers itself, and those that only make sense in a conversation's context.
OWN_INTENTS = {"affirm", "deny", "cancel", "undo"}
FLOW_INTENTS = OWN_INTENTS | {"inform", "correct"}
# A turn whose intent is some service's, at least this sure, is a request of its own: it replaces an open question
# it does not answer, and it is one part of a compound request.
REQUEST_CONFIDENCE = 0.5
NEXT_MOVE_CONFIDENCE = 0.15  # enough for a second reading when the first (yes/no) cannot apply at all
TARGET_ENTITIES = {"device", "area", "device_class", "scene"}
TARGET_SLOTS = ("device", "device_options", "device_mention", "area", "device_class", "scene")
DEVICE_DROPS = ("device", "device_options", "device_mention", "device_class", "scene")  # a destination room stays
AREA_DROPS = ("device", "device_options", "device_mention", "area")  # a new room keeps the kind ("lights")
SPLIT = re.compile(r"\s*(?:,\s*(?:and\s+|then\s+)?|\band then\b|\band\b|\bthen\b)\s*", re.IGNORECASE)
CONNECTIVES = {"and", "then", "also", "and then"}
ORDINALS = {
    "first": 0, "one": 0, "1st": 0, "second": 1, "two": 1, "2nd": 1, "third": 2, "three": 2, "3rd": 2,
    "fourth": 3, "four": 3, "4th": 3, "fifth": 4, "five": 4, "5th": 4,
}  # fmt: skip
ALL_WORDS = {"all", "both", "every", "everything", "each"}
WORD = re.compile(r"[a-z0-9]+")
NOT_UNDERSTOOD = 'Sorry, I didn\'t understand that. You can say things like "turn on the kitchen lights".'


def join_names(names: Iterable[str], conjunction: str = "and") -> str:
    """ "a", "a and b", "a, b and c"."""
    items = list(names)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def capitalized(text: str) -> str:
    """ "the desk lamp" -> "The desk lamp" (the rest as it is; "" stays "")."""
    return text[:1].upper() + text[1:]


def _sentence(text: str) -> str:
    """ "turn off the coffee maker." -> "Turn off the coffee maker" (for echoing a reading back as a question)."""
    return capitalized(text.strip().rstrip(".!?,;: "))


@dataclass(slots=True)
class _Users:
    """A conversation's lock and how many turns are using or waiting for it."""

    lock: asyncio.Lock
    count: int = 0


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _flow_reading(nlu: NluResult) -> str | None:
    """The best reading after the fallback when it is a conversation move (a fragment or a correction), said with
    confidence: a bare "the floor lamp" is below the bar for acting on its own, and means something only in context."""
    for score in nlu.intent_ranking:
        if score.name == FALLBACK_INTENT:
            continue
        return score.name if score.name in {"inform", "correct"} and score.confidence >= REQUEST_CONFIDENCE else None
    return None


def _next_move(nlu: NluResult) -> str | None:
    """The best reading other than yes/no when it is one the conversation can act on now (undo, cancel)."""
    for score in nlu.intent_ranking:
        if score.name in {"affirm", "deny", FALLBACK_INTENT}:
            continue
        return score.name if score.name in {"undo", "cancel"} and score.confidence >= NEXT_MOVE_CONFIDENCE else None
    return None


def _targets(nlu: NluResult) -> bool:
    """Whether the turn names a target (a device, a room, a kind of device or a scene)."""
    return any(e.entity in TARGET_ENTITIES for e in nlu.entities)


def _asking(
    question: Ask | Confirm,
    said: list[str],
    actions: list[ActionTaken],
    ops: list[WriteOp],
    changes: list[Change],
    intent: str,
    context: list[str] | None = None,
) -> Done:
    """A reply that reports what was done and asks the question (whose Pending is already set)."""
    kind = ReplyKind.CONFIRM if isinstance(question, Confirm) else ReplyKind.ASK
    options = question.options if isinstance(question, Ask) else []
    reply = Reply(
        " ".join([*said, question.question]),
        kind,
        actions=actions,
        expects_answer=True,
        card={"options": options} if options else None,
        intent=intent,
    )
    return Done(reply, ops=ops, changes=changes, context_devices=list(dict.fromkeys(context)) if context else None)


class DialogueManager:
    """Keeps conversations going: asks back, confirms risky actions, resolves "it", undoes, and routes intents."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.handlers: dict[str, IntentHandler] = {}
        self.reverters: dict[str, Reverter] = {}  # services' own undo of what they note in the journal
        self.readers: list[UtteranceReader] = []  # services' readings of phrases the home defines (routines)
        self.conversations = Conversations(core.store)
        self._locks: dict[tuple[str, str, str], _Users] = {}

    def register(self, handler: IntentHandler) -> None:
        if handler.intent in self.handlers:
            raise HearthError(ErrorCode.CONFIG, f"two handlers for intent {handler.intent!r}")
        self.handlers[handler.intent] = handler

    async def handle(self, turn: Turn) -> tuple[Reply, NluResult]:
        """Run one turn to a reply that is durable (committed) before it is returned.

        Turns of one conversation run one at a time, in order ("turn it off" must see "turn on X" done)."""
        check_text(turn.text)  # every channel's text (typed, transcribed, relayed) passes here
        key = (turn.home_id, turn.user_id, turn.conversation_id)
        holder = self._locks.get(key)
        if holder is None:
            holder = self._locks[key] = _Users(asyncio.Lock())
        holder.count += 1
        acting = access.act_as(self.core.auth.role(turn.home_id, turn.user_id) or Role.GUEST)
        try:
            async with holder.lock:
                return await self._handle(turn)
        finally:
            access.stop_acting(acting)
            holder.count -= 1
            if holder.count == 0:
                del self._locks[key]

    async def _handle(self, turn: Turn) -> tuple[Reply, NluResult]:
        started = time.perf_counter()
        home = self.core.registry.home(turn.home_id)
        conv = self.conversations.get(turn.home_id, turn.user_id, turn.conversation_id)
        text = " ".join(turn.text.split())
        turn.text = text
        if turn.area is not None and turn.area not in home.areas:
            turn.area = None  # an unknown default area is ignored, not fatal
        nlu_error: HearthError | None = None
        try:
            nlu, whole = await self._read(text, home)
        except NluError as err:  # e.g. the Rasa server is down and no fallback is configured
            nlu, whole, nlu_error = NluResult(text=text, intent=IntentScore(FALLBACK_INTENT, 0.0)), True, err
        recording = journal.start()
        try:
            if nlu_error is not None:
                raise nlu_error
            outcome = await self._route(turn, nlu, home, conv, whole)
        except HearthError as err:
            outcome = Done(Reply(err.message, ReplyKind.ERROR, error_code=str(err.code)), undoable=False)
        except Exception:
            LOG.exception("turn failed: %r", text)
            outcome = Done(
                Reply(
                    "Sorry, something went wrong on my side.",
                    ReplyKind.ERROR,
                    error_code=str(ErrorCode.INTERNAL),
                ),
                undoable=False,
            )
        finally:
            changes = journal.stop(recording)
        reply = self._finish(outcome, conv, changes)
        reply.conversation_id = conv.id
        if reply.intent is None:
            reply.intent = nlu.intent.name
        await self._commit(turn, nlu, home, conv, reply, outcome)
        LOG.debug("turn %.1f ms: %r -> %s", (time.perf_counter() - started) * 1000, text, reply.kind)
        return reply, nlu

    async def _read(self, text: str, home: Home) -> tuple[NluResult, bool]:
        """What the NLU makes of the text, unless a service's reader knows better (a routine's phrase); and whether
        a reader gave it (then it is the whole utterance's meaning, never split into parts)."""
        nlu = await self.core.nlu.parse(text, home.vocabulary)
        for reader in self.readers:
            reading = reader.read(text, home, nlu)
            if reading is not None:
                return reading, True
        return nlu, False

    # -- routing ------------------------------------------------------------------------------------------------
    async def _route(
        self, turn: Turn, nlu: NluResult, home: Home, conv: ConversationState, whole: bool = False
    ) -> Outcome:
        if not turn.text:
            return Done(
                Reply(
                    "I didn't catch that. What would you like me to do?",
                    ReplyKind.NOT_UNDERSTOOD,
                    expects_answer=True,
                ),
                undoable=False,
            )
        pending = conv.live_pending()
        if turn.reply_to is not None and (pending is None or pending.id != turn.reply_to):
            # a button of an old question: it answers nothing now, and the open question (if any) stays open
            return Done(
                Reply(
                    "That question is no longer open, so I did nothing.",
                    ReplyKind.ERROR,
                    error_code=str(ErrorCode.QUESTION_CLOSED),
                    question_id=pending.id if pending is not None else None,
                    expects_answer=pending is not None,
                ),
                undoable=False,
            )
        if pending is not None:
            conv.pending = None
            answered = await self._answer(pending, turn, nlu, home, conv, forced=turn.reply_to is not None)
            if answered is not None:
                return answered
            # not an answer to it: the question is dropped and the turn stands on its own; a correction of it
            # ("actually, the tv") redoes the request the question was about, on the corrected target
            if _flow_reading(nlu) == "correct" and pending.awaiting != "confirm":
                conv.last_action = LastRequest(pending.intent, pending.slots)
        parts = None if whole else await self._split(turn.text, home)
        if parts is not None:
            return await self._compound(parts, turn, home, conv)
        return await self._dispatch(turn, nlu, home, conv)

    async def _answer(
        self, pending: Pending, turn: Turn, nlu: NluResult, home: Home, conv: ConversationState, forced: bool
    ) -> Outcome | None:
        """The open question's answer, a re-ask, or None when the turn is something else (the question is dropped).

        A turn answers the question only if it fits it; a new, complete, confident request replaces it."""
        intent = nlu.intent.name
        if pending.awaiting == "confirm":
            if intent == "affirm" and pending.intent == "undo":
                return await self._undo(home, conv, confirmed=True)
            if intent == "affirm" and pending.then:
                return await self._run_all_confirmed(pending, turn, nlu, home, conv)
            if intent == "affirm":
                return await self._run(pending.intent, pending.slots, turn, nlu, home, conv, confirmed=True)
            if intent in {"deny", "cancel"}:
                return Done(Reply("Okay, I won't.", ReplyKind.CANCELLED), undoable=False)
            if forced or intent == FALLBACK_INTENT:
                conv.pending = pending
                return Confirm(f"Sorry, I need a yes or no: {pending.question}")
            return None
        if intent == "cancel" or (intent == "deny" and not _targets(nlu)):
            return Done(Reply("Okay, never mind.", ReplyKind.CANCELLED), undoable=False)
        new_request = self._is_request(nlu)
        if new_request and intent != pending.intent and not forced:
            return None
        slots = self._fill(pending, turn, nlu, home)
        if slots is not None:
            return await self._run(pending.intent, slots, turn, nlu, home, conv)
        if forced or (not new_request and intent in {FALLBACK_INTENT, pending.intent, "affirm", "deny", "inform"}):
            conv.pending = pending  # keep waiting; ask again
            return Ask(f"Sorry, I still need to know: {pending.question}", pending.awaiting, pending.options)
        return None

    def _is_request(self, nlu: NluResult) -> bool:
        """A complete request of its own: an intent some service handles, said with confidence."""
        intent = nlu.intent
        return (
            intent.name in self.handlers and intent.name not in FLOW_INTENTS and intent.confidence >= REQUEST_CONFIDENCE
        )

    async def _dispatch(self, turn: Turn, nlu: NluResult, home: Home, conv: ConversationState) -> Outcome:
        intent = nlu.intent.name
        if intent == FALLBACK_INTENT and _targets(nlu):
            # a bare name is below the NLU's bar for acting, but as a conversation move it is a fragment
            intent = _flow_reading(nlu) or intent
        elif intent in {"affirm", "deny"} and not _targets(nlu):
            # nothing waits for a yes or no: "no wait, undo that" means the next reading, if it is a conversation move
            intent = _next_move(nlu) or intent
        if intent == "inform":
            return await self._follow_up(turn, nlu, home, conv)
        if intent == "correct" or (intent == "deny" and _targets(nlu) and conv.last_action):
            return await self._correct(turn, nlu, home, conv)
        if intent == FALLBACK_INTENT:
            return Done(Reply(NOT_UNDERSTOOD, ReplyKind.NOT_UNDERSTOOD), undoable=False)
        if intent == "cancel":
            return Done(Reply("Okay.", ReplyKind.CANCELLED), undoable=False)
        if intent in {"affirm", "deny"}:
            return Done(
                Reply("There's nothing waiting for a yes or no right now.", ReplyKind.ANSWER),
                undoable=False,
            )
        if intent == "undo":
            return await self._undo(home, conv)
        return await self._run(intent, None, turn, nlu, home, conv)

    # -- follow-ups and corrections -----------------------------------------------------------------------------
    @staticmethod
    def _replay(turn: Turn, conv: ConversationState) -> Turn:
        """The turn as the handler sees it when the last request runs again: with that request's words, so that
        its cues ("brighter", "all") hold for the new target; the new target itself comes in the slots."""
        text = conv.last_action.text if conv.last_action else None
        return replace(turn, text=text) if text else turn

    def _retarget(
        self, nlu: NluResult, home: Home, conv: ConversationState, correction: bool
    ) -> tuple[str, dict[str, Any]] | Done:
        """The last request's intent with its slots, its target replaced by the one this turn names. A bare
        fragment repeats only intents that allow it; a correction ("no, I meant the kitchen") redoes any."""
        last = conv.last_action
        handler = self.handlers.get(last.intent) if last else None
        if last is None or handler is None or not (handler.follow_up or correction):
            what = join_names(f"the {e.text}" for e in nlu.entities if e.entity in TARGET_ENTITIES)
            speech = f"What should I do with {what}?" if what else NOT_UNDERSTOOD
            return Done(Reply(speech, ReplyKind.NOT_UNDERSTOOD), undoable=False)
        if correction:
            # "not the office, the kitchen": the target said before is the one being taken back
            old = last.slots
            said_before = {*(old.get("device") or ()), *(old.get("device_options") or ()), old.get("area")}
            fresh = [e for e in nlu.entities if not (e.entity in {"device", "area"} and e.value in said_before)]
            if any(e.entity in TARGET_ENTITIES for e in fresh):
                nlu = replace(nlu, entities=fresh)
        try:
            new = validate_slots(handler.slots, nlu, home)
        except SlotError as err:
            return Done(Reply(err.message, ReplyKind.ERROR, error_code=str(err.code)), undoable=False)
        if not any(k in new for k in TARGET_SLOTS):
            return Done(Reply(NOT_UNDERSTOOD, ReplyKind.NOT_UNDERSTOOD), undoable=False)
        slots = dict(last.slots)
        if {"device", "device_options", "device_class"} & new.keys():
            dropped: tuple[str, ...] = TARGET_SLOTS if handler.area_is_target else DEVICE_DROPS
        else:
            dropped = AREA_DROPS if handler.area_is_target else ("area",)
        for key in dropped:
            slots.pop(key, None)
        slots.update(new)
        return last.intent, slots

    async def _follow_up(self, turn: Turn, nlu: NluResult, home: Home, conv: ConversationState) -> Outcome:
        """ "the bedroom as well", "now the office": the last request again, on the new target."""
        found = self._retarget(nlu, home, conv, correction=False)
        if isinstance(found, Done):
            return found
        intent, slots = found
        return await self._run(intent, slots, self._replay(turn, conv), nlu, home, conv, follow_up=True)

    async def _correct(self, turn: Turn, nlu: NluResult, home: Home, conv: ConversationState) -> Outcome:
        """ "no, I meant the coffee maker": put back what the last request did, then do it to the right target;
        one undo step for both."""
        found = self._retarget(nlu, home, conv, correction=True)
        if isinstance(found, Done):
            if conv.last_action is not None and not _targets(nlu):
                return Done(Reply("Sorry. What did you mean?", ReplyKind.ANSWER), undoable=False)
            return found
        intent, slots = found
        last_turn = conv.last_action.turn if conv.last_action else None
        reverted = None
        prior: list[dict[str, Any]] = []
        if conv.history and conv.history[-1].get("turn") == last_turn:
            prior = [conv.history.pop()]
            reverted = await revert(self.core, home, prior[0])
        outcome = await self._run(intent, slots, self._replay(turn, conv), nlu, home, conv, follow_up=True)
        if reverted is None:
            return outcome
        if not isinstance(outcome, Done):
            # the corrected request asks first (which one? are you sure?): what was done stays put back, and is said
            said = f"Okay, {'; '.join(reverted.said)}." if reverted.said else ""
            return _asking(outcome, [said] if said else [], reverted.actions, [], reverted.changes, intent)
        outcome.reply.actions = reverted.actions + outcome.reply.actions
        outcome.changes = reverted.changes + outcome.changes
        outcome.merge_undo = prior
        if reverted.failures:
            outcome.reply.speech += " " + " ".join(reverted.failures)
        return outcome

    # -- compound requests --------------------------------------------------------------------------------------
    async def _split(self, text: str, home: Home) -> list[NluResult] | None:
        """Parts of a compound request ("switch off the fan and close the blinds"), each parsed on its own; None
        when the turn is one request. A part without its own verb ("and the hallway light") stays with the one
        before it."""
        lowered = text.lower()
        if not any(c in lowered for c in (" and ", " then ", ",")):
            return None
        pieces = [p.strip(" ,") for p in SPLIT.split(text)]
        pieces = [p for p in pieces if p and p.lower() not in CONNECTIVES]
        if len(pieces) < 2:
            return None
        parts: list[tuple[str, NluResult]] = []
        for piece in pieces:
            parsed, _ = await self._read(piece, home)
            if self._is_request(parsed) and parsed.intent.name != "undo":
                parts.append((piece, parsed))
            elif parts:
                joined = f"{parts[-1][0]} and {piece}"
                parts[-1] = (joined, (await self._read(joined, home))[0])
            else:
                return None
        if len(parts) < 2:
            return None
        return [p for _, p in parts]

    async def _compound(self, parts: list[NluResult], turn: Turn, home: Home, conv: ConversationState) -> Outcome:
        """Each part with its own intent and target, in order ("them" in a later part is the earlier part's target).
        A part that asks (a confirmation for unlocking) does not hold back the others; the reply covers every part."""
        speech: list[str] = []
        actions: list[ActionTaken] = []
        ops: list[WriteOp] = []
        changes: list[Change] = []
        question: Ask | Confirm | None = None
        question_pending: Pending | None = None
        errors: list[str] = []
        context: list[str] = []
        intents: list[str] = []
        for part in parts:
            sub = replace(turn, text=part.text)
            outcome = await self._run(part.intent.name, None, sub, part, home, conv)
            intents.append(part.intent.name)
            if isinstance(outcome, Ask | Confirm):
                asked = conv.pending
                if question is None:
                    question, question_pending = outcome, asked
                elif (
                    isinstance(question, Confirm)
                    and isinstance(outcome, Confirm)
                    and question_pending is not None
                    and asked is not None
                ):
                    # two risky parts: one question for both, and one "yes" runs both
                    question_pending.then.append({"intent": asked.intent, "slots": asked.slots})
                    question = Confirm(f"{question.question} And {_lower_first(outcome.question)}")
                    question_pending.question = question.question
                else:
                    speech.append(f"I didn't do this part yet: {part.text}.")
                conv.pending = question_pending
                continue
            reply = outcome.reply
            speech.append(reply.speech)
            actions += reply.actions
            ops += outcome.ops
            changes += outcome.changes
            if reply.kind == ReplyKind.ERROR:
                errors.append(reply.error_code or "")
            devices = outcome.context_devices or [a.device_id for a in reply.actions]
            if devices:
                conv.last_devices = list(dict.fromkeys(devices))
                context += devices
        conv.pending = question_pending
        if question is not None:
            return _asking(question, speech, actions, ops, changes, intents[0], context)
        kind = ReplyKind.DONE if actions or changes else ReplyKind.ERROR if errors else ReplyKind.ANSWER
        reply = Reply(" ".join(speech), kind, actions=actions, intent=intents[0])
        return Done(reply, ops=ops, changes=changes, context_devices=list(dict.fromkeys(context)) or None)

    async def _run_all_confirmed(
        self, pending: Pending, turn: Turn, nlu: NluResult, home: Home, conv: ConversationState
    ) -> Outcome:
        """ "Yes" to one question about several risky parts: run each, confirmed; one reply, one undo step."""
        done: list[Done] = []
        for item in [{"intent": pending.intent, "slots": pending.slots}, *pending.then]:
            outcome = await self._run(str(item["intent"]), dict(item["slots"]), turn, nlu, home, conv, confirmed=True)
            if isinstance(outcome, Done):
                done.append(outcome)
        conv.pending = None
        if not done:
            return Done(Reply("Sorry, I couldn't do that.", ReplyKind.ERROR), undoable=False)
        first = done[0]
        for extra in done[1:]:
            first.reply.speech = f"{first.reply.speech} {extra.reply.speech}"
            first.reply.actions += extra.reply.actions
            first.ops += extra.ops
            first.changes += extra.changes
        if any(d.reply.actions for d in done):
            first.reply.kind = ReplyKind.DONE
        first.context_devices = None
        return first

    # -- running a handler --------------------------------------------------------------------------------------
    async def _run(
        self,
        intent: str,
        slots: dict[str, Any] | None,
        turn: Turn,
        nlu: NluResult,
        home: Home,
        conv: ConversationState,
        confirmed: bool = False,
        follow_up: bool = False,
    ) -> Outcome:
        handler = self.handlers.get(intent)
        if handler is None:
            return Done(
                Reply(
                    "I understood that, but I can't do it yet.",
                    ReplyKind.NOT_BUILT,
                    error_code=str(ErrorCode.NOT_BUILT),
                ),
                undoable=False,
            )
        if slots is None:
            try:
                slots = validate_slots(handler.slots, nlu, home)
            except SlotError as err:
                return Done(
                    Reply(err.message, ReplyKind.ERROR, intent=intent, error_code=str(err.code)),
                    undoable=False,
                )
        if follow_up:
            turn = replace(turn, area=None)  # the new target is said; the default room does not narrow it
        outcome: Outcome
        if (
            not confirmed
            and nlu.intent.name == intent
            and (nlu.uncertain or (turn.speech and turn.speech.doubt(intent) is not None))
        ):
            # a doubtful spoken reading, or one whose opposite was heard too, or a state change the NLU is not sure
            # of (near its threshold, or the runner-up close): say what was understood and ask
            outcome = Confirm(f"{_sentence(turn.text)}?")
        else:
            outcome = await handler.handle(IntentCall(turn, nlu, slots, home, conv, self.core, confirmed))
        if isinstance(outcome, Ask | Confirm):
            conv.pending = Pending(
                intent,
                slots,
                "confirm" if isinstance(outcome, Confirm) else outcome.slot,
                outcome.question,
                outcome.options if isinstance(outcome, Ask) else [],
            )
        else:
            if outcome.reply.intent is None:
                outcome.reply.intent = intent
            if handler.slots and outcome.reply.kind in {ReplyKind.DONE, ReplyKind.ANSWER}:
                conv.last_action = LastRequest(intent, slots, conv.turns, turn.text)
        return outcome

    def _fill(self, pending: Pending, turn: Turn, nlu: NluResult, home: Home) -> dict[str, Any] | None:
        """Fill the awaited slot from the answer; None when the answer does not fill it."""
        slots = dict(pending.slots)
        words = WORD.findall(turn.text.lower())
        if pending.awaiting == "device":
            chosen = self._choose(pending.options, words, nlu, home)
            if not chosen:
                return None
            slots["device"] = chosen
            slots.pop("device_options", None)
            slots.pop("device_mention", None)
            return slots
        if pending.awaiting == "area":
            area = next(
                (e.value for e in nlu.entities if e.entity == "area" and e.value in home.areas),
                None,
            )
            if area is None:
                return None
            slots["area"] = area
            return slots
        handler = self.handlers.get(pending.intent)
        if handler is None:
            return None
        try:
            found = validate_slots(handler.slots, nlu, home)
        except SlotError:
            return None
        if pending.awaiting not in found:
            numbers = find_numbers(tokenize(turn.text))  # a bare answer: "fifty", "21.5"
            if not numbers or pending.awaiting not in {"brightness", "temperature"}:
                return None
            answer = Entity(pending.awaiting, numbers[0].value, numbers[0].start, numbers[0].end)
            try:
                found = validate_slots(handler.slots, replace(nlu, entities=[answer]), home)
            except SlotError:
                return None
        slots.update(found)
        return slots

    @staticmethod
    def _choose(options: list[str], words: list[str], nlu: NluResult, home: Home) -> list[str]:
        """Which of the offered devices the answer names: by id, ordinal, "both", area, or words of the name."""
        if not options:
            ids = [
                e.value for e in nlu.entities if e.entity == "device" and not e.candidates and e.value in home.devices
            ]
            return ids
        named = [e.value for e in nlu.entities if e.entity == "device" and e.value in options]
        if named:
            return list(dict.fromkeys(named))
        for e in nlu.entities:
            if e.entity == "device" and e.candidates:
                inter = [c for c in e.candidates if c in options]
                if len(inter) == 1:
                    return inter
        if ALL_WORDS & set(words):
            return list(options)
        areas = [e.value for e in nlu.entities if e.entity == "area"]
        if areas:
            in_area = [o for o in options if home.devices[o].device.area in areas]
            if in_area:
                return in_area
        # words of a name ("the floor one") before ordinals: "one" is a placeholder there, not a number
        wanted = set(words) - {"the", "one", "a", "please", "that", "i", "mean", "number", "last"} - ORDINALS.keys()
        scored = []
        for o in options:
            name_words = set(WORD.findall(home.devices[o].device.name.lower())) | set(o.split("_"))
            scored.append((len(wanted & name_words), o))
        best = max((s for s, _ in scored), default=0)
        winners = [o for s, o in scored if s == best and best > 0]
        if len(winners) == 1:
            return winners
        for w in words:
            counts = w != "one" or words == ["one"] or "number" in words
            if w in ORDINALS and ORDINALS[w] < len(options) and counts:
                return [options[ORDINALS[w]]]
        if "last" in words:
            return [options[-1]]
        return []

    async def _undo(self, home: Home, conv: ConversationState, confirmed: bool = False) -> Outcome:
        group = conv.pop_undo()
        if group is None:
            return Done(Reply("There's nothing to undo.", ReplyKind.ANSWER, intent="undo"), undoable=False)
        if group.get("irreversible") and not group.get("actions") and not group.get("changes"):
            what = join_names(group["irreversible"])
            return Done(Reply(f"Sorry, I can't undo that ({what}).", ReplyKind.ANSWER, intent="undo"), undoable=False)
        risky = needing_confirmation(home, group)
        if risky and not confirmed:  # undoing "lock the door" unlocks it: the same yes as any unlock
            conv.remember(group)
            names = join_names(f"the {d.name}" for d in risky)
            question = f"Undoing that would open or unlock {names}. Are you sure?"
            conv.pending = Pending("undo", {}, "confirm", question)
            return Confirm(question)
        done = await revert(self.core, home, group, confirmed)
        if done.failures and not done.actions and not done.changes:
            conv.remember(group)
            return Done(
                Reply(" ".join(done.failures), ReplyKind.ERROR, intent="undo", error_code=str(ErrorCode.INTERNAL)),
                undoable=False,
            )
        speech = f"Undone: {'; '.join(done.said)}." if done.said else "Undone."
        if done.failures:
            speech += " " + " ".join(done.failures)
        if group.get("irreversible"):
            speech += f" I can't undo {join_names(group['irreversible'])}."
        moved = [d for d in done.devices if d not in {a.device_id for a in done.actions}]
        if moved:  # registry entries put back: live views hear of them once committed
            done.changes.append(Change().then(lambda: self.core.control.publish(home, moved)))
        return Done(
            Reply(speech, ReplyKind.DONE, actions=done.actions, intent="undo"),
            ops=[append_op(home.id, EventType.UNDO, {"devices": done.devices})],
            changes=done.changes,
            context_devices=done.devices,
            undoable=False,
        )

    # -- finishing ----------------------------------------------------------------------------------------------
    @staticmethod
    def _finish(outcome: Outcome, conv: ConversationState, changes: list[dict[str, Any]]) -> Reply:
        question_id = conv.pending.id if conv.pending is not None else None
        if isinstance(outcome, Ask):
            return Reply(
                outcome.question,
                ReplyKind.ASK,
                expects_answer=True,
                card={"options": outcome.options} if outcome.options else None,
                question_id=question_id,
            )
        if isinstance(outcome, Confirm):
            return Reply(outcome.question, ReplyKind.CONFIRM, expects_answer=True, question_id=question_id)
        reply = outcome.reply
        if reply.expects_answer:
            reply.question_id = question_id
        if outcome.context_devices is not None:
            conv.last_devices = list(outcome.context_devices)
        elif reply.actions:
            conv.last_devices = list(dict.fromkeys(a.device_id for a in reply.actions))
        if reply.intent == "undo":
            return reply
        step: dict[str, Any] = {"actions": [a.to_dict() for a in reply.actions] if outcome.undoable else []}
        step["changes"] = changes
        if (reply.actions and not outcome.undoable) or (outcome.changes and not changes):
            # done, but not in a form undo can put back: an "undo" now says so instead of undoing something older
            step["irreversible"] = [str(reply.intent or "that").replace("_", " ")]
        if step["actions"] or step["changes"] or step.get("irreversible") or outcome.merge_undo:
            group = merge_group([*outcome.merge_undo, step])
            group["turn"] = conv.turns
            conv.remember(group)
        return reply

    async def _commit(
        self,
        turn: Turn,
        nlu: NluResult,
        home: Home,
        conv: ConversationState,
        reply: Reply,
        outcome: Outcome,
    ) -> None:
        conv.turns += 1
        try:
            change = self._stage(turn, nlu, home, conv, reply, outcome)
        except BaseException:
            await self.core.control.revert(home, reply.actions)
            self.conversations.drop(conv)
            raise
        try:
            await self.core.control.commit_actions(home, reply.actions, change)
        except BaseException:
            # Nothing of this turn is kept: the devices were put back, and the conversation is read again from the
            # store next time.
            self.conversations.drop(conv)
            raise

    def _stage(
        self,
        turn: Turn,
        nlu: NluResult,
        home: Home,
        conv: ConversationState,
        reply: Reply,
        outcome: Outcome,
    ) -> Change:
        """Everything a turn changes, as one staged change: device states and events, the handler's own changes,
        the conversation state, the transcript; live events once committed."""
        meta = {"user_id": turn.user_id, "conversation_id": conv.id, "channel": turn.channel}
        change = self.core.control.record(home, reply.actions, **meta)
        if isinstance(outcome, Done):
            for done_change in outcome.changes:
                self._attribute(done_change.ops, meta)
            self._attribute(outcome.ops, meta)
            change.write(*outcome.ops).add(*outcome.changes)
        change.write(self.conversations.save_op(conv))
        row = (
            turn.home_id, turn.user_id, conv.id, time.time(), turn.channel,
            turn.text if self.core.config.store.retention_days > 0 else None,
            nlu.intent.name, reply.speech, str(reply.kind),
        )  # fmt: skip
        change.write(
            lambda c: c.execute(
                "INSERT INTO turns (home_id, user_id, conversation_id, ts, channel, text, intent, reply, reply_kind) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        )
        if self.core.bus.subscribers(home.id):
            event = BusEvent(
                home.id,
                "conversation.reply",
                {"conversation_id": conv.id, "channel": turn.channel, "text": turn.text, "reply": reply.to_dict()},
            )
            change.then(lambda: self.core.bus.publish(event))
        return self.core.control.log_live(home, change)

    @staticmethod
    def _attribute(ops: Iterable[object], meta: dict[str, Any]) -> None:
        """Events that a handler logs say who asked for them, and through which channel."""
        for op in ops:
            if isinstance(op, EventOp):
                op.data = {**op.data, **meta}
