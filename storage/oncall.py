"""Who is on call for each escalation role, as stored (`oncall` rows)."""

from __future__ import annotations

from sqlalchemy import select

from rules.oncall import OnCallSetting
from storage.db import StoreContext
from storage.models import OnCallEntry


def _setting(row: OnCallEntry) -> OnCallSetting:
    return OnCallSetting(row.role, row.user_id, row.group_id, tuple(row.rotation or ()), row.rotation_start, row.rotation_days)


async def all_oncall(services: StoreContext) -> dict[str, OnCallSetting]:
    async with services.sessions() as s:
        rows = (await s.execute(select(OnCallEntry))).scalars().all()
    return {r.role: _setting(r) for r in rows}
