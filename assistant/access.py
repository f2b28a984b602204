"""Roles and what each may do: the one policy table, checked for every API route and every device command."""

from __future__ import annotations

from contextvars import ContextVar, Token
from enum import StrEnum

from assistant.devices import Capability, Command, CommandName, Device, DeviceState
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


def risky_to_open(device: Device) -> bool:
    """Doors that let people in (garage doors, gates, doors) need a yes, and a member or owner, to open."""
    text = f"{device.id} {device.name}".lower()
    return any(word in text for word in ("garage", "gate", "door"))


def command_permission(device: Device, command: Command, state: DeviceState | None = None) -> Permission:
    """SECURE for commands that let people in: unlock, or open a garage door, gate or door further than it is now
    (`state`, when known), also by `restore`."""
    name = command.name
    if name == CommandName.UNLOCK:
        return Permission.SECURE
    target: object = None
    if name == CommandName.OPEN:
        target = 100
    elif name == CommandName.SET_POSITION:
        target = command.params.get("position")
    elif name == CommandName.RESTORE and isinstance(command.params.get("state"), dict):
        wanted = command.params["state"]
        if Capability.LOCK in device.capabilities and wanted.get("locked") is False:
            return Permission.SECURE
        target = wanted.get("position")
    current = state.position if state is not None else None
    opens = _positive(target) and (current is None or float(target) > current)  # type: ignore[arg-type]
    if opens and Capability.POSITION in device.capabilities and risky_to_open(device):
        return Permission.SECURE
    return Permission.CONTROL


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


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _verb(device: Device) -> str:
    return "unlock" if Capability.LOCK in device.capabilities else "open"
