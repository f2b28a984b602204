"""Small talk and help: greet, goodbye, thank, help, out_of_scope."""

from __future__ import annotations

from assistant.core import Core
from assistant.intents import Done, IntentCall, IntentHandler, Outcome
from assistant.turn import Reply, ReplyKind

HELP = (
    "I can switch lights and switches on and off, dim lights and change their colour, set the thermostat, "
    "lock and unlock doors, open and close blinds and the garage door, tell you the state of any device, "
    'start scenes like movie night, and undo what I just did. Try "turn on the kitchen lights".'
)


class Fixed(IntentHandler):
    speech: str

    async def handle(self, call: IntentCall) -> Outcome:
        return Done(Reply(self.speech, ReplyKind.ANSWER), undoable=False)


class Greet(Fixed):
    intent = "greet"
    speech = "Hi! What can I do for you?"


class Goodbye(Fixed):
    intent = "goodbye"
    speech = "Goodbye!"


class Thank(Fixed):
    intent = "thank"
    speech = "You're welcome."


class Help(Fixed):
    intent = "help"
    speech = HELP


class OutOfScope(Fixed):
    intent = "out_of_scope"
    speech = (
        "Sorry, that's not something I can help with. "
        "I look after your home: lights, heating, locks, blinds and scenes."
    )


def setup(core: Core) -> None:
    for handler in (Greet, Goodbye, Thank, Help, OutOfScope):
        core.dialogue.register(handler())
