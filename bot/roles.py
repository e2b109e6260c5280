"""Who may do what. Checked server-side on every action: a forged button payload gets nowhere."""

from __future__ import annotations

import logging
import time
from enum import Enum

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery import slack_error_code
from bot.settings import Settings

log = logging.getLogger(__name__)
GROUP_CACHE_SECONDS = 60.0


class Role(Enum):
    """What a request needs: each includes the ones above it (an admin is a manager, a manager a responder)."""

    ADMIN = "admin"
    MANAGER = "manager"
    RESPONDER = "responder"


class Roles:
    def __init__(self, settings: Settings, client: AsyncWebClient):
        self.settings = settings
        self.client = client
        self._groups: dict[str, tuple[float, set[str]]] = {}

    async def _group_members(self, group: str | None) -> set[str]:
        """Members of a Slack user group, cached for a minute; the last known members if Slack fails."""
        if not group:
            return set()
        cached = self._groups.get(group)
        if cached and time.monotonic() - cached[0] < GROUP_CACHE_SECONDS:
            return cached[1]
        try:
            users = set((await self.client.usergroups_users_list(usergroup=group))["users"])
        except Exception as e:  # noqa: BLE001 - Slack refused, a proxy's text/plain 502, no answer: last known members
            why = slack_error_code(e) if isinstance(e, SlackApiError) else f"{type(e).__name__}: {e}"
            log.warning("cannot read user group %s (%s); using the last known members", group, why)
            return cached[1] if cached else set()
        self._groups[group] = (time.monotonic(), users)
        return users

    def is_admin(self, user_id: str) -> bool:
        return user_id in self.settings.admin_ids

    async def is_manager(self, user_id: str) -> bool:
        if user_id in self.settings.manager_ids or self.is_admin(user_id):
            return True
        return user_id in await self._group_members(self.settings.manager_group_id)

    async def is_responder(self, user_id: str) -> bool:
        if user_id in self.settings.responder_ids or await self.is_manager(user_id):
            return True
        return user_id in await self._group_members(self.settings.responder_group_id)

    async def has(self, user_id: str, role: Role) -> bool:
        if role is Role.ADMIN:
            return self.is_admin(user_id)
        if role is Role.MANAGER:
            return await self.is_manager(user_id)
        return await self.is_responder(user_id)
