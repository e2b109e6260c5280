"""Plain data records kept by the Slack stand-in.

They are dataclasses (not dicts) so tests can assert on attributes, and each
knows how to render itself the way the Slack Web API would (``to_api``).
Shapes follow the examples in Slack's method reference (users.info,
conversations.info, usergroups.list, chat.postMessage).
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

JSONDict = dict[str, Any]

_ID_ALPHABET = string.ascii_uppercase + string.digits


def new_id(prefix: str, length: int = 10) -> str:
    """Slack-looking id (``U…``, ``C…``, ``V…``): prefix plus upper-case alphanumerics."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def tz_offset_seconds(tz: str, at: datetime | None = None) -> int:
    """Current UTC offset of an IANA zone in seconds, as Slack's ``tz_offset``."""
    offset = (at or datetime.now(ZoneInfo(tz))).astimezone(ZoneInfo(tz)).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


@dataclass
class User:
    """A workspace member; ``tz``/``tz_offset`` matter for SLA clocks."""

    id: str
    name: str
    real_name: str
    tz: str = "UTC"
    tz_offset: int | None = None
    email: str | None = None
    is_bot: bool = False
    is_admin: bool = False
    deleted: bool = False
    team_id: str = ""

    def __post_init__(self) -> None:
        if self.tz_offset is None:
            self.tz_offset = tz_offset_seconds(self.tz)

    @property
    def tz_label(self) -> str:
        """Short zone label; Slack uses long names, the abbreviation is close enough."""
        return datetime.now(ZoneInfo(self.tz)).tzname() or self.tz

    def to_api(self) -> JSONDict:
        """User object as returned by users.info / users.lookupByEmail."""
        profile: JSONDict = {
            "real_name": self.real_name,
            "real_name_normalized": self.real_name,
            "display_name": self.name,
            "display_name_normalized": self.name,
            "team": self.team_id,
        }
        if self.email is not None:
            profile["email"] = self.email
        return {
            "id": self.id,
            "team_id": self.team_id,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": self.real_name,
            "tz": self.tz,
            "tz_label": self.tz_label,
            "tz_offset": self.tz_offset,
            "profile": profile,
            "is_admin": self.is_admin,
            "is_owner": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": int(time.time()),
        }


@dataclass
class Channel:
    """A conversation: public/private channel, or an IM opened with conversations.open."""

    id: str
    name: str
    is_private: bool = False
    is_im: bool = False
    is_mpim: bool = False
    user: str | None = None  # the other party of an IM
    members: list[str] = field(default_factory=list)
    created: int = field(default_factory=lambda: int(time.time()))
    is_archived: bool = False
    bot_member: bool = True  # conversations.info's is_member, as seen by the bot

    def to_api(self) -> JSONDict:
        """Channel object as returned by conversations.info."""
        if self.is_im:
            return {
                "id": self.id,
                "created": self.created,
                "is_im": True,
                "is_org_shared": False,
                "user": self.user,
                "is_open": True,
                "priority": 0,
            }
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not self.is_private and not self.is_mpim,
            "is_group": self.is_private,
            "is_im": False,
            "is_mpim": self.is_mpim,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_general": False,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_member": self.bot_member,
            "created": self.created,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }


@dataclass
class UserGroup:
    """A user group (``@handle``), e.g. an on-call rotation."""

    id: str
    handle: str
    name: str
    users: list[str] = field(default_factory=list)
    description: str = ""
    team_id: str = ""

    def to_api(self, *, include_users: bool = False, include_count: bool = False) -> JSONDict:
        """Usergroup object as returned by usergroups.list."""
        data: JSONDict = {
            "id": self.id,
            "team_id": self.team_id,
            "is_usergroup": True,
            "name": self.name,
            "description": self.description,
            "handle": self.handle,
            "is_external": False,
            "date_create": 0,
            "date_update": 0,
            "date_delete": 0,
            "auto_type": None,
            "created_by": "USLACKBOT",
            "updated_by": "USLACKBOT",
            "deleted_by": None,
            "prefs": {"channels": [], "groups": []},
        }
        if include_users:
            data["users"] = list(self.users)
        if include_count:
            data["user_count"] = len(self.users)
        return data


@dataclass
class Message:
    """A message in a channel; the bot's own posts carry ``bot_id``."""

    channel: str
    ts: str
    text: str = ""
    blocks: list[JSONDict] | None = None
    attachments: list[JSONDict] | None = None
    thread_ts: str | None = None
    user: str | None = None
    bot_id: str | None = None
    app_id: str | None = None
    team: str | None = None
    metadata: JSONDict | None = None
    files: list[JSONDict] | None = None
    reply_broadcast: bool = False
    reactions: dict[str, list[str]] = field(default_factory=dict)
    edited_ts: str | None = None
    history: list[JSONDict] = field(default_factory=list)  # earlier versions, oldest first
    ephemeral_to: str | None = None  # set for chat.postEphemeral messages

    @property
    def is_reply(self) -> bool:
        """True for thread replies (not for thread parents)."""
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_api(self) -> JSONDict:
        """Message object as embedded in chat.postMessage / chat.update responses."""
        data: JSONDict = {"type": "message", "text": self.text, "ts": self.ts}
        if self.user is not None:
            data["user"] = self.user
        if self.bot_id is not None:
            data["bot_id"] = self.bot_id
            data["app_id"] = self.app_id
        if self.team is not None:
            data["team"] = self.team
        if self.blocks is not None:
            data["blocks"] = self.blocks
        if self.attachments is not None:
            data["attachments"] = self.attachments
        if self.thread_ts is not None:
            data["thread_ts"] = self.thread_ts
        if self.metadata is not None:
            data["metadata"] = self.metadata
        if self.files is not None:
            data["files"] = self.files
            data["upload"] = True
        if self.edited_ts is not None:
            data["edited"] = {"user": self.user, "ts": self.edited_ts}
        if self.reactions:
            data["reactions"] = [{"name": name, "users": list(users), "count": len(users)} for name, users in self.reactions.items()]
        return data


@dataclass(frozen=True)
class Call:
    """One Web API request as the stand-in saw it.

    Iterates/indexes as the triple ``(method, params, response)`` so tests can
    unpack it; ``status`` is the HTTP status that was sent back.
    """

    method: str
    params: JSONDict
    response: JSONDict
    status: int = 200
    at: float = field(default_factory=time.time)
    connection: int | None = None  # which TCP connection it came over (the stand-in's count), to see keep-alive

    def _triple(self) -> tuple[str, JSONDict, JSONDict]:
        return (self.method, self.params, self.response)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._triple())

    def __getitem__(self, index: int) -> Any:
        return self._triple()[index]

    def __len__(self) -> int:
        return 3

    @property
    def ok(self) -> bool:
        """Whether the API call succeeded (HTTP 200 and ``ok: true``)."""
        return self.status == 200 and bool(self.response.get("ok"))


@dataclass
class Fault:
    """A queued failure for the next ``times`` calls of one method."""

    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    times: int = 1
    plain_text: str | None = None  # answer this text/plain body instead of JSON (a proxy's 502 page)
    accept: bool = False  # perform the call (the message is posted), then answer the fault anyway
    stall: float = 0.0  # seconds to wait before answering (past the client's timeout: no answer at all)


@dataclass
class Trigger:
    """A trigger_id: single use, valid until ``expires_at`` (monotonic clock)."""

    id: str
    expires_at: float
    user_id: str | None = None
    view_id: str | None = None  # set when issued from an interaction inside a modal
    used: bool = False


@dataclass
class UploadedFile:
    """A file given to files.upload or files.getUploadURLExternal (+ completeUploadExternal)."""

    id: str
    filename: str
    length: int | None = None
    content: bytes | None = None
    title: str | None = None
    channels: list[str] = field(default_factory=list)
    initial_comment: str | None = None
    thread_ts: str | None = None
    completed: bool = False

    def to_api(self) -> JSONDict:
        """File object (minimal) as in files.completeUploadExternal / files.upload."""
        return {
            "id": self.id,
            "name": self.filename,
            "title": self.title or self.filename,
            "size": len(self.content) if self.content is not None else (self.length or 0),
            "channels": list(self.channels),
        }


@dataclass
class ResponseUrlPost:
    """A POST the bot made to a response_url the stand-in handed out."""

    url_id: str
    body: JSONDict
    channel_id: str | None = None
    user_id: str | None = None
    at: float = field(default_factory=time.time)
