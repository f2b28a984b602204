"""Roles and what each may do: the one policy table, checked for every API route and every device command."""

from __future__ import annotations

from contextvars import ContextVar, Token
from enum import StrEnum
from typing import Any

from assistant.devices import Capability, Command, CommandName, Device, DeviceKind, DeviceState
from assistant.errors import ErrorCode, HearthError


class Role(StrEnum):
    """A user's role in one home."""

    OWNER = "owner"
    MEMBER = "member"
    GUEST = "guest"


class Permission(StrEnum):
    """What a request or a command needs."""

    VIEW = "view"  # read the home: devices, areas, scenes, the event log
    CONTROL = "control"  # talk to Hearth and command ordinary devices
    SECURE = "secure"  # unlock a lock; open a garage door, gate or door
    CONFIGURE = "configure"  # add, change and remove devices, floors, areas and scenes
    MANAGE = "manage"  # tokens, users and homes


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission),
    Role.MEMBER: frozenset({Permission.VIEW, Permission.CONTROL, Permission.SECURE, Permission.CONFIGURE}),
    Role.GUEST: frozenset({Permission.VIEW, Permission.CONTROL}),
}

# What each route needs. GET and HEAD need VIEW unless listed; any other method not listed needs CONFIGURE, so a new
# route that changes the home is closed to guests until it is listed here. Keys are aiohttp's canonical route paths.
ROUTE_PERMISSIONS: dict[tuple[str, str], Permission] = {
    ("POST", "/api/v1/conversation"): Permission.CONTROL,
    ("POST", "/api/v1/nlu/parse"): Permission.CONTROL,
    ("POST", "/api/v1/devices/{device_id}/command"): Permission.CONTROL,
    ("POST", "/api/v1/voice"): Permission.CONTROL,
    ("GET", "/api/v1/tokens"): Permission.MANAGE,
    ("POST", "/api/v1/tokens"): Permission.MANAGE,
    ("DELETE", "/api/v1/tokens/{token_id}"): Permission.MANAGE,
    ("GET", "/api/v1/users"): Permission.MANAGE,
    ("POST", "/api/v1/users"): Permission.MANAGE,
    ("PATCH", "/api/v1/users/{user_id}"): Permission.MANAGE,
    ("DELETE", "/api/v1/users/{user_id}"): Permission.MANAGE,
    ("POST", "/api/v1/homes"): Permission.MANAGE,
}

_WHAT: dict[Permission, str] = {
    Permission.SECURE: "unlock locks or open garage doors and gates",
    Permission.CONFIGURE: "add, change or remove devices, floors, areas or scenes",
    Permission.MANAGE: "manage tokens, users or homes",
}

# The role of whoever is acting in this task (set per request and per turn); None = Hearth itself (automations).
_ACTOR: ContextVar[Role | None] = ContextVar("hearth_actor", default=None)


def allowed(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]


def require(role: Role, permission: Permission) -> None:
    """FORBIDDEN unless the role has the permission."""
    if not allowed(role, permission):
        what = _WHAT.get(permission, "do that")
        raise HearthError(
            ErrorCode.FORBIDDEN,
            f"A {role} of this home cannot {what}.",
            {"role": str(role), "needs": str(permission)},
        )


def route_permission(method: str, route: str) -> Permission:
    found = ROUTE_PERMISSIONS.get((method, route))
    if found is not None:
        return found
    return Permission.VIEW if method in ("GET", "HEAD") else Permission.CONFIGURE


def act_as(role: Role | None) -> Token[Role | None]:
    """Make `role` the actor for device commands in this task (and the tasks it starts)."""
    return _ACTOR.set(role)


def stop_acting(token: Token[Role | None]) -> None:
    _ACTOR.reset(token)


def actor() -> Role | None:
    return _ACTOR.get()


# -- what lets people in: needs an explicit yes (every path) and a member or owner (every role check) -----------
ENTRY_WORDS = ("garage", "gate", "door")


def lets_people_in(device: Device) -> bool:
    """Covers that are ways into the home (garage doors, gates, doors), as opposed to blinds and curtains."""
    text = f"{device.id} {device.name}".lower()
    return device.kind == DeviceKind.COVER and any(word in text for word in ENTRY_WORDS)


def needs_confirmation(device: Device, command: Command, state: DeviceState | None = None) -> str | None:
    """Why this command needs an explicit yes first (None when it does not): it unlocks a lock, or it opens a
    garage door, gate or door further than it is now. `state` is the device's current state (None: unknown, so
    any opening counts)."""
    params = command.params
    target: Any = None
    match command.name:
        case CommandName.UNLOCK:
            return f"Unlocking the {device.name} needs a confirmation first."
        case CommandName.OPEN:
            target = 100
        case CommandName.SET_POSITION:
            target = params.get("position")
        case CommandName.RESTORE:
            wanted = params.get("state") or {}
            if wanted.get("locked") is False and (state is None or state.locked is not False):
                return f"Unlocking the {device.name} needs a confirmation first."
            target = wanted.get("position")
        case _:
            return None
    if not lets_people_in(device) or isinstance(target, bool) or not isinstance(target, int | float):
        return None
    if target > ((state.position if state is not None else None) or 0):
        return f"Opening the {device.name} needs a confirmation first."
    return None


def command_permission(device: Device, command: Command, state: DeviceState | None = None) -> Permission:
    """SECURE for the commands that need a confirmation (they let people in), CONTROL for the rest."""
    return Permission.SECURE if needs_confirmation(device, command, state) is not None else Permission.CONTROL


def check_command(device: Device, command: Command, state: DeviceState | None = None) -> None:
    """FORBIDDEN when the acting role may not send this command (Hearth itself may send anything)."""
    role = _ACTOR.get()
    if role is None or allowed(role, Permission.SECURE):
        return
    if command_permission(device, command, state) == Permission.SECURE:
        raise HearthError(
            ErrorCode.FORBIDDEN,
            f"A {role} can't {_verb(device)} the {device.name}; ask a member or owner of this home.",
            {"role": str(role), "needs": str(Permission.SECURE), "device": device.id},
        )


def _verb(device: Device) -> str:
    return "unlock" if Capability.LOCK in device.capabilities else "open"
