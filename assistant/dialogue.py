"""The dialogue manager: text → NLU → pending question or intent handler → durable reply; the orchestrator."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from assistant.bus import BusEvent
from assistant.conversation import Conversations, ConversationState, Pending
from assistant.devices import Command, CommandName, settable_state
from assistant.errors import ErrorCode, HearthError, NluError
from assistant.eventlog import EventType, append_op
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
from assistant.store import Change
from assistant.turn import Reply, ReplyKind, Turn
from assistant.validation import check_text

if TYPE_CHECKING:
    from assistant.core import Core

LOG = logging.getLogger(__name__)

# Intents the dialogue manager answers itself.
OWN_INTENTS = {"affirm", "deny", "cancel", "undo"}
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


def _sentence(text: str) -> str:
    """ "turn off the coffee maker." -> "Turn off the coffee maker" (for echoing a reading back as a question)."""
    text = text.strip().rstrip(".!?,;: ")
    return text[:1].upper() + text[1:]


@dataclass(slots=True)
class _Users:
    """A conversation's lock and how many turns are using or waiting for it."""

    lock: asyncio.Lock
    count: int = 0


class DialogueManager:
    """Keeps conversations going: asks back, confirms risky actions, resolves "it", undoes, and routes intents."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.handlers: dict[str, IntentHandler] = {}
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
        try:
            async with holder.lock:
                return await self._handle(turn)
        finally:
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
            nlu = await self.core.nlu.parse(text, home.vocabulary)
        except NluError as err:  # e.g. the Rasa server is down and no fallback is configured
            nlu, nlu_error = NluResult(text=text, intent=IntentScore(FALLBACK_INTENT, 0.0)), err
        else:
            for reader in self.readers:
                reading = reader.read(text, home, nlu)
                if reading is not None:
                    nlu = reading
                    break
        try:
            if nlu_error is not None:
                raise nlu_error
            outcome = await self._route(turn, nlu, home, conv)
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
        reply = self._finish(outcome, nlu, conv)
        reply.conversation_id = conv.id
        if reply.intent is None:
            reply.intent = nlu.intent.name
        await self._commit(turn, nlu, home, conv, reply, outcome)
        LOG.debug("turn %.1f ms: %r -> %s", (time.perf_counter() - started) * 1000, text, reply.kind)
        return reply, nlu

    # -- routing ------------------------------------------------------------------------------------------------
    async def _route(self, turn: Turn, nlu: NluResult, home: Home, conv: ConversationState) -> Outcome:
        if not turn.text:
            return Done(
                Reply(
                    "I didn't catch that. What would you like me to do?",
                    ReplyKind.NOT_UNDERSTOOD,
                    expects_answer=True,
                ),
                undoable=False,
            )
        intent = nlu.intent.name
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
            if pending.awaiting == "confirm":
                if intent == "affirm":
                    return await self._run(pending.intent, pending.slots, turn, nlu, home, conv, confirmed=True)
                if intent in {"deny", "cancel"}:
                    return Done(Reply("Okay, I won't.", ReplyKind.CANCELLED), undoable=False)
            else:
                if intent == "cancel" or (intent == "deny" and not nlu.entities):
                    return Done(Reply("Okay, never mind.", ReplyKind.CANCELLED), undoable=False)
                slots = self._fill(pending, turn, nlu, home)
                if slots is not None:
                    return await self._run(pending.intent, slots, turn, nlu, home, conv)
                if intent == FALLBACK_INTENT or intent == pending.intent or intent in {"affirm", "deny"}:
                    conv.pending = pending  # keep waiting; ask again
                    return Ask(
                        f"Sorry, I still need to know: {pending.question}",
                        pending.awaiting,
                        pending.options,
                    )
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

    async def _run(
        self,
        intent: str,
        slots: dict[str, Any] | None,
        turn: Turn,
        nlu: NluResult,
        home: Home,
        conv: ConversationState,
        confirmed: bool = False,
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
        outcome: Outcome
        if not confirmed and nlu.intent.name == intent and turn.speech and turn.speech.doubt(intent) is not None:
            # a doubtful spoken reading, or one whose opposite was heard too: say what was heard and ask
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
        elif isinstance(outcome, Done) and outcome.reply.intent is None:
            outcome.reply.intent = intent
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
        for w in words:
            if w in ORDINALS and ORDINALS[w] < len(options) and ("one" in words or w != "one"):
                return [options[ORDINALS[w]]]
        if "last" in words:
            return [options[-1]]
        areas = [e.value for e in nlu.entities if e.entity == "area"]
        if areas:
            in_area = [o for o in options if home.devices[o].device.area in areas]
            if in_area:
                return in_area
        wanted = set(words) - {"the", "one", "a", "please", "that", "i", "mean"}
        scored = []
        for o in options:
            name_words = set(WORD.findall(home.devices[o].device.name.lower())) | set(o.split("_"))
            scored.append((len(wanted & name_words), o))
        best = max((s for s, _ in scored), default=0)
        winners = [o for s, o in scored if s == best and best > 0]
        return winners if len(winners) == 1 else []

    async def _undo(self, home: Home, conv: ConversationState) -> Outcome:
        group = conv.pop_undo()
        if not group:
            return Done(Reply("There's nothing to undo.", ReplyKind.ANSWER, intent="undo"), undoable=False)
        commands = []
        for action in reversed(group):
            entry = home.devices.get(action.device_id)
            if entry is not None:
                commands.append(
                    (entry.device, Command(CommandName.RESTORE, {"state": settable_state(entry.device, action.before)}))
                )
        outcome = await self.core.control.execute(home, commands)
        names = join_names(f"the {home.devices[a.device_id].device.name}" for a in outcome.actions)
        if outcome.failures and not outcome.actions:
            conv.remember(group)
            raise outcome.failures[0][1]
        speech = f"Undone: {names} {'is' if len(outcome.actions) == 1 else 'are'} back as before."
        if outcome.failures:
            speech += " " + " ".join(err.message for _, err in outcome.failures)
        return Done(
            Reply(speech, ReplyKind.DONE, actions=outcome.actions, intent="undo"),
            ops=[append_op(home.id, EventType.UNDO, {"devices": [a.device_id for a in outcome.actions]})],
            context_devices=[a.device_id for a in outcome.actions],
            undoable=False,
        )

    # -- finishing ----------------------------------------------------------------------------------------------
    @staticmethod
    def _finish(outcome: Outcome, nlu: NluResult, conv: ConversationState) -> Reply:
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
        if outcome.context_devices is not None:
            conv.last_devices = list(outcome.context_devices)
        elif reply.actions:
            conv.last_devices = list(dict.fromkeys(a.device_id for a in reply.actions))
        if reply.actions and outcome.undoable:
            conv.remember(reply.actions)
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
        return change
