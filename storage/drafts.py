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


class DraftStore:
    """Draft queries of `bot.services.Services`."""

    sessions: async_sessionmaker[AsyncSession]

    async def save_draft(
        self,
        view_id: str,
        user_id: str,
        channel_id: str,
        data: dict[str, Any],
        now: datetime,
        source_message_ts: str | None = None,
    ) -> None:
        """Remember a newly opened report modal (and forget drafts older than `DRAFT_KEPT`)."""
        async with self.sessions() as s:
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
