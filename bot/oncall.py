"""On-call per escalation role (the policy's `notify` names): set, show, and resolve to a Slack mention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.services import ServiceError, Services
from rules.oncall import on_call_in_rotation
from storage.models import OnCallEntry


def known_roles(services: Services) -> list[str]:
    roles: list[str] = []
    for policy in services.policies.policies:
        for n in [policy.file.notifications, *(p.notifications for p in policy.file.plans if p.notifications)]:
            for level in n.escalation:
                if level.notify not in roles:
                    roles.append(level.notify)
    return roles


@dataclass(frozen=True)
class OnCallSetting:
    role: str
    user_id: str | None = None
    group_id: str | None = None
    rotation: tuple[str, ...] = ()
    rotation_start: datetime | None = None
    rotation_days: int | None = None

    def mention(self, tz: ZoneInfo, now: datetime) -> str:
        if self.user_id:
            return f"<@{self.user_id}>"
        if self.group_id:
            return f"<!subteam^{self.group_id}>"
        assert self.rotation_start is not None and self.rotation_days
        return f"<@{on_call_in_rotation(self.rotation, self.rotation_start, self.rotation_days, tz, now)}>"

    def describe(self) -> str:
        if self.user_id:
            return f"<@{self.user_id}>"
        if self.group_id:
            return f"<!subteam^{self.group_id}>"
        people = ", ".join(f"<@{u}>" for u in self.rotation)
        return f"rotation {people}, hand-off every {self.rotation_days} d from {self.rotation_start:%Y-%m-%d %H:%M} (plan time)"


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
        raise ServiceError(f"unknown escalation role {role!r}; the policies use: {', '.join(roles)}")
    if sum(x is not None and x != [] for x in (user_id, group_id, rotation)) != 1:
        raise ServiceError("set exactly one of a user, a user group or a rotation")
    if rotation is not None:
        if rotation_start is None or rotation_start.tzinfo is None:
            raise ServiceError("a rotation needs a start with a time zone")
        if rotation_days < 1:
            raise ServiceError("hand-offs must be at least one day apart")
    async with services.sessions() as s:
        row = (await s.execute(select(OnCallEntry).where(OnCallEntry.role == role))).scalar_one_or_none()
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


def _setting(row: OnCallEntry) -> OnCallSetting:
    return OnCallSetting(row.role, row.user_id, row.group_id, tuple(row.rotation or ()), row.rotation_start, row.rotation_days)


async def all_oncall(services: Services) -> dict[str, OnCallSetting]:
    async with services.sessions() as s:
        rows = (await s.execute(select(OnCallEntry))).scalars().all()
    return {r.role: _setting(r) for r in rows}
