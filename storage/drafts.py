"""Report drafts as stored: the two-step modal's text and choices, keyed by the modal's view id.

`DraftStore` is mixed into `bot.services.Services`, which gives it `sessions`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import ReportDraftRow

DRAFT_KEPT = timedelta(days=7)  # a modal left open longer than this is gone from Slack too
PURGE_EVERY = timedelta(hours=1)  # how often a new draft also deletes the old ones (each replica)


class DraftStore:
    """Draft queries of `bot.services.Services`."""

    sessions: async_sessionmaker[AsyncSession]
    _drafts_purged_at: datetime | None = None

    async def save_draft(
        self,
        view_id: str,
        user_id: str,
        channel_id: str,
        data: dict[str, Any],
        now: datetime,
        source_message_ts: str | None = None,
    ) -> None:
        """Remember a newly opened report modal, and at most every `PURGE_EVERY` forget drafts older than `DRAFT_KEPT`.

        Every `/incident` writes one: deleting the old drafts each time cost a third of the write's CPU, for a
        statement that almost always finds nothing to delete.
        """
        last = self._drafts_purged_at
        purge = last is None or not timedelta(0) <= now - last < PURGE_EVERY
        async with self.sessions() as s:
            if purge:
                await s.execute(delete(ReportDraftRow).where(ReportDraftRow.created_at < now - DRAFT_KEPT))
            s.add(
                ReportDraftRow(
                    view_id=view_id,
                    user_id=user_id,
                    channel_id=channel_id,
                    source_message_ts=source_message_ts,
                    data=data,
                    created_at=now,
                    updated_at=now,
                )
            )
            await s.commit()
        if purge:
            self._drafts_purged_at = now

    async def get_draft(self, view_id: str, user_id: str) -> ReportDraftRow | None:
        """The draft of this view, only for the user who opened it."""
        async with self.sessions() as s:
            row = await s.get(ReportDraftRow, view_id)
            return row if row is not None and row.user_id == user_id else None

    async def update_draft(self, view_id: str, data: dict[str, Any], now: datetime) -> None:
        async with self.sessions() as s:
            row = await s.get(ReportDraftRow, view_id)
            if row is not None:
                row.data = {**row.data, **data}
                row.updated_at = now
                await s.commit()
