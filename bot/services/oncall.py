"""On call per escalation role (the policy's `notify` names): the roles, and setting who answers one."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from rules.errors import InvalidInput, NotFound
from rules.oncall import OnCallSetting, check_rotation_days
from storage.models import OnCallEntry
from storage.oncall import _setting, delete_oncall, oncall_entry

if TYPE_CHECKING:
    from bot.services import Services


def known_roles(services: Services) -> list[str]:
    roles: list[str] = []
    for policy in services.policies.policies:
        for n in [policy.file.notifications, *(p.notifications for p in policy.file.plans if p.notifications)]:
            for level in n.escalation:
                if level.notify not in roles:
                    roles.append(level.notify)
    return roles


async def set_oncall(
    services: Services,
    role: str,
    actor_id: str,
    *,
    user_id: str | None = None,
    group_id: str | None = None,
    rotation: list[str] | None = None,
    rotation_start: datetime | None = None,
    rotation_days: int = 7,
) -> OnCallSetting:
    roles = known_roles(services)
    if role not in roles:
        raise NotFound(f"unknown escalation role {role!r}; the policies use: {', '.join(roles)}")
    if sum(x is not None and x != [] for x in (user_id, group_id, rotation)) != 1:
        raise InvalidInput("set exactly one of a user, a user group or a rotation")
    if rotation is not None:
        if rotation_start is None or rotation_start.tzinfo is None:
            raise InvalidInput("a rotation needs a start with a time zone")
        check_rotation_days(rotation_days)
    async with services.sessions() as s:
        row = await oncall_entry(s, role)
        if row is None:
            row = OnCallEntry(role=role, updated_at=services.clock.now())
            s.add(row)
        row.user_id, row.group_id = user_id, group_id
        row.rotation = list(rotation) if rotation else None
        row.rotation_start = rotation_start if rotation else None
        row.rotation_days = rotation_days if rotation else None
        row.updated_by, row.updated_at = actor_id, services.clock.now()
        await s.commit()
    return _setting(row)


async def clear_oncall(services: Services, role: str) -> bool:
    """Nobody on call for `role` any more; False when nobody was."""
    roles = known_roles(services)
    if role not in roles:
        raise NotFound(f"unknown escalation role {role!r}; the policies use: {', '.join(roles)}")
    return await delete_oncall(services, role)
