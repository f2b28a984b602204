"""Intents whose services are not built yet: understood, and answered honestly that Hearth can't do them yet."""

from __future__ import annotations

from assistant.core import Core
from assistant.errors import ErrorCode
from assistant.intents import Done, IntentCall, IntentHandler, Outcome
from assistant.turn import Reply, ReplyKind

NOT_YET: dict[str, str] = {
    "create_automation": "I can't create automations yet.",
    "list_automations": "I can't manage automations yet, so there are none to list.",
    "delete_automation": "I can't manage automations yet, so there is nothing to delete.",
    "report_problem": "I can't file problem reports yet. You can check a device by asking me whether it's on.",
    "how_to": 'I don\'t have a how-to guide yet. Say "help" to hear what I can do.',
    "contact_support": "I can't contact support yet.",
    "current_plan": "I can't look up subscription plans yet.",
    "upgrade_plan": "I can't change subscription plans yet.",
    "cancel_subscription": "I can't manage subscriptions yet, so nothing was cancelled.",
    "value_report": "I can't make value reports yet.",
    "start_onboarding": "Guided set-up isn't available yet.",
    "export_data": "I can't export your data yet.",
    "delete_data": "I can't delete your data by voice yet, so nothing was deleted.",
    "privacy_settings": "I can't change privacy settings by voice yet. Transcripts are kept for {retention}.",
}


class NotBuilt(IntentHandler):
    """Says plainly that this part of Hearth does not exist yet; never pretends."""

    def __init__(self, intent: str, speech: str) -> None:
        self.intent = intent  # type: ignore[misc]
        self.speech = speech

    async def handle(self, call: IntentCall) -> Outcome:
        days = call.core.config.store.retention_days
        retention = "no time at all" if days == 0 else "1 day" if days == 1 else f"{days} days"
        return Done(
            Reply(self.speech.format(retention=retention), ReplyKind.NOT_BUILT, error_code=str(ErrorCode.NOT_BUILT)),
            undoable=False,
        )


def setup(core: Core) -> None:
    for intent, speech in NOT_YET.items():
        if intent not in core.dialogue.handlers:
            core.dialogue.register(NotBuilt(intent, speech))
