"""Routine intents: run one (its steps as one undoable turn), define or extend one by voice, delete, describe."""

from __future__ import annotations

import re
from dataclasses import replace

from assistant.dialogue import capitalized, join_names
from assistant.errors import ErrorCode, HearthError
from assistant.intents import (
    Ask,
    Confirm,
    Done,
    IntentCall,
    IntentHandler,
    Outcome,
    Slot,
    SlotError,
    SlotType,
    validate_slots,
)
from assistant.nlu.result import Entity, IntentScore, NluResult
from assistant.turn import ActionTaken, Reply, ReplyKind
from services.routines.book import RoutineBook
from services.routines.model import Routine, Step, phrase_key
from services.routines.reader import COMMAND_VERBS

_ID = re.compile(r"[^a-z0-9]+")
MAX_STEPS = 20


def split_command(command: str) -> list[str]:
    """ "turn off the lights and lock the door then close the blinds" -> one sentence per command verb."""
    parts: list[str] = []
    current: list[str] = []
    words = command.replace(",", " , ").split()
    for k, word in enumerate(words):
        nxt = words[k + 1] if k + 1 < len(words) else ""
        if word in {",", "then"} or (word == "and" and (nxt in COMMAND_VERBS or nxt == "then")):
            if current:
                parts.append(" ".join(current))
            current = []
            continue
        current.append(word)
    if current:
        parts.append(" ".join(current))
    return parts


class RoutineHandler(IntentHandler):
    def __init__(self, book: RoutineBook) -> None:
        self.book = book

    def find(self, call: IntentCall, name: str) -> Routine | None:
        key = phrase_key(name)
        found = self.book.by_phrase(call.home.id, key)
        if found is None:
            found = next((r for r in self.book.all(call.home.id) if r.id == _ID.sub("_", key).strip("_")), None)
        return found


class RunRoutine(RoutineHandler):
    """Runs each step as if it were said, in order; the actions of all steps are one turn and one undo."""

    intent = "run_routine"
    slots = (Slot("routine", SlotType.TEXT),)

    async def handle(self, call: IntentCall) -> Outcome:
        routine = self.book.get(call.home.id, str(call.slots.get("routine")))
        actions: list[ActionTaken] = []
        said: list[str] = []
        context: list[str] = []
        for step in routine.steps:
            outcome = await self.run_step(call, step)
            if outcome is None:
                continue
            if isinstance(outcome, Confirm):
                said.append(f"I didn't {step.say}: that needs your yes, so ask me on its own.")
                continue
            if isinstance(outcome, Ask):
                said.append(f"I couldn't {step.say}: {outcome.question}")
                continue
            actions += outcome.reply.actions
            context += outcome.context_devices or [a.device_id for a in outcome.reply.actions]
            if outcome.reply.kind in (ReplyKind.DONE, ReplyKind.ERROR) and outcome.reply.speech:
                said.append(outcome.reply.speech)
        if not said and not actions:
            said.append("There was nothing to change.")
        return Done(
            Reply(f"{capitalized(routine.name)}. " + " ".join(said), ReplyKind.DONE if actions else ReplyKind.ANSWER,
                  actions=actions, card={"routine": routine.id}),
            context_devices=list(dict.fromkeys(context)),
        )  # fmt: skip

    async def run_step(self, call: IntentCall, step: Step) -> Outcome | None:
        home = call.home
        if step.scene is not None:
            if step.scene not in home.scenes:
                return None  # the home has no such scene (a built-in routine in another home)
            text = f"activate {home.scenes[step.scene].name}"
            score = IntentScore("activate_scene", 1.0)
            nlu = NluResult(text, score, [Entity("scene", step.scene, 0, len(text))], [score])
        else:
            text = str(step.say)
            nlu = await call.core.nlu.parse(text, home.vocabulary)
        handler = call.core.dialogue.handlers.get(nlu.intent.name)
        if handler is None or nlu.intent.name in {"run_routine", "define_routine"}:
            return Done(Reply(f"I didn't understand the step {text!r}.", ReplyKind.ERROR), undoable=False)
        try:
            slots = validate_slots(handler.slots, nlu, home)
        except SlotError as err:
            return Done(Reply(err.message, ReplyKind.ERROR), undoable=False)
        sub = IntentCall(replace(call.turn, text=text), nlu, slots, home, call.conversation, call.core)
        return await handler.handle(sub)


class DefineRoutine(RoutineHandler):
    """ "When I say party time, turn on the tv and dim the lamp": a new routine, or new steps for an existing one."""

    intent = "define_routine"
    slots = (Slot("routine_phrase", SlotType.TEXT),)

    async def handle(self, call: IntentCall) -> Outcome:
        phrase = str(call.slots.get("routine_phrase") or "")
        steps = tuple(Step(say=s) for s in split_command(_command(call)))[:MAX_STEPS]
        if not phrase or not steps:
            return Ask("What should I do when you say that?", "command")
        existing = self.find(call, phrase)
        if existing is not None:
            routine = replace(existing, steps=steps, builtin=False)
        else:
            routine_id = _ID.sub("_", phrase_key(phrase)).strip("_")[:64] or "routine"
            routine = Routine(routine_id, phrase, (), steps)
        self.book.check(call.home.id, routine)
        change = self.book.stage_put(call.home.id, routine)
        doing = join_names(s.say or "" for s in steps)
        return Done(
            Reply(f"Okay: when you say {phrase}, I'll {doing}.", ReplyKind.DONE, card={"routine": routine.to_dict()}),
            changes=[change],
            undoable=False,
        )


class AddRoutineStep(RoutineHandler):
    """ "Add close the blinds to goodnight"."""

    intent = "add_routine_step"
    slots = (Slot("routine_name", SlotType.TEXT),)

    async def handle(self, call: IntentCall) -> Outcome:
        routine = self.find(call, str(call.slots.get("routine_name") or ""))
        if routine is None:
            return _no_routine(str(call.slots.get("routine_name")))
        added = tuple(Step(say=s) for s in split_command(_command(call)))
        if len(routine.steps) + len(added) > MAX_STEPS:
            raise HearthError(ErrorCode.VALIDATION, f"A routine can have at most {MAX_STEPS} steps.")
        updated = replace(routine, steps=routine.steps + added, builtin=False)
        doing = join_names(s.say or "" for s in added)
        return Done(
            Reply(f"Okay, {routine.name} will also {doing}.", ReplyKind.DONE),
            changes=[self.book.stage_put(call.home.id, updated)],
            undoable=False,
        )


class DeleteRoutine(RoutineHandler):
    intent = "delete_routine"
    slots = (Slot("routine_name", SlotType.TEXT),)

    async def handle(self, call: IntentCall) -> Outcome:
        routine = self.find(call, str(call.slots.get("routine_name") or ""))
        if routine is None:
            return _no_routine(str(call.slots.get("routine_name")))
        return Done(
            Reply(f"Okay, I deleted the routine {routine.name}.", ReplyKind.DONE),
            changes=[self.book.stage_delete(call.home.id, routine.id)],
            undoable=False,
        )


class DescribeRoutine(RoutineHandler):
    intent = "describe_routine"
    slots = (Slot("routine_name", SlotType.TEXT),)

    async def handle(self, call: IntentCall) -> Outcome:
        routine = self.find(call, str(call.slots.get("routine_name") or ""))
        if routine is None:
            return _no_routine(str(call.slots.get("routine_name")))
        home = call.home
        steps = [
            (f"activate {home.scenes[s.scene].name}" if s.scene in home.scenes else "") if s.scene else str(s.say)
            for s in routine.steps
        ]
        doing = join_names(s for s in steps if s) or "nothing yet"
        return Done(
            Reply(f"When you say {routine.name}, I {doing}.", ReplyKind.ANSWER, card={"routine": routine.to_dict()}),
            undoable=False,
        )


def _command(call: IntentCall) -> str:
    """The command part of "when I say X, <command>" (free text; not a slot, which caps its length)."""
    found = call.nlu.first("command")
    return str(found.value) if found is not None else ""


def _no_routine(name: str) -> Done:
    return Done(
        Reply(f"I don't have a routine called {name}.", ReplyKind.ERROR, error_code=str(ErrorCode.NOT_FOUND)),
        undoable=False,
    )
