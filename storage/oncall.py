"""Who is on call for each escalation role, as stored (`oncall` rows)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from rules.oncall import OnCallSetting
from storage.db import StoreContext, rowcount
from storage.models import OnCallEntry


def _setting(row: OnCallEntry) -> OnCallSetting:
    return OnCallSetting(row.role, row.user_id, row.group_id, tuple(row.rotation or ()), row.rotation_start, row.rotation_days)


async def all_oncall(services: StoreContext) -> dict[str, OnCallSetting]:
    async with services.sessions() as s:
        rows = (await s.execute(select(OnCallEntry))).scalars().all()
    return {r.role: _setting(r) for r in rows}


async def oncall_entry(s: AsyncSession, role: str) -> OnCallEntry | None:
    """The stored row of one escalation role, if anyone is set for it."""
    return (await s.execute(select(OnCallEntry).where(OnCallEntry.role == role))).scalar_one_or_none()


async def delete_oncall(services: StoreContext, role: str) -> bool:
    """Forget who is on call for `role`; False when nobody was."""
    async with services.sessions() as s:
        gone = rowcount(await s.execute(delete(OnCallEntry).where(OnCallEntry.role == role)))
        await s.commit()
    return bool(gone)
