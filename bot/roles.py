"""Who may do what. Checked server-side on every action: a forged button payload gets nowhere."""

from __future__ import annotations

import logging
import time

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings

log = logging.getLogger(__name__)
GROUP_CACHE_SECONDS = 60.0


class Roles:
    def __init__(self, settings: Settings, client: AsyncWebClient):
        self.settings = settings
        self.client = client
        self._group: tuple[float, set[str]] | None = None

    async def _group_members(self) -> set[str]:
        group = self.settings.responder_group_id
        if not group:
            return set()
        if self._group and time.monotonic() - self._group[0] < GROUP_CACHE_SECONDS:
            return self._group[1]
        try:
            users = set((await self.client.usergroups_users_list(usergroup=group))["users"])
        except SlackApiError as e:
            log.warning("cannot read responder group %s: %s", group, e.response.get("error"))
            return self._group[1] if self._group else set()
        self._group = (time.monotonic(), users)
        return users

    def is_admin(self, user_id: str) -> bool:
        return user_id in self.settings.admin_ids

    def is_manager(self, user_id: str) -> bool:
        return user_id in self.settings.manager_ids or self.is_admin(user_id)

    async def is_responder(self, user_id: str) -> bool:
        if user_id in self.settings.responder_ids or self.is_manager(user_id):
            return True
        return user_id in await self._group_members()
