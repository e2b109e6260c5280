"""An in-process HTTP stand-in for the Slack Web API.

Why: nothing here can reach slack.com, and mocking ``AsyncWebClient`` would
skip the parts that break in production (HTTP status handling, retries,
trigger expiry, form vs JSON bodies). This server speaks the same wire
protocol as ``https://slack.com/api/`` so the real ``slack_sdk`` client and
``slack_bolt`` app run unmodified against it: point
``AsyncWebClient(base_url=slack.api_url)`` at it.

Behaviour follows Slack's method reference: every answer is HTTP 200 with
``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``, except injected
faults (HTTP 429 with ``Retry-After``, HTTP 5xx). Arguments are accepted from
the query string, form bodies, multipart bodies and JSON bodies; the token
from ``Authorization: Bearer`` or a ``token`` argument.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import math
import re
import secrets
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from types import TracebackType
from typing import Any, cast

from aiohttp import BodyPartReader, WSMsgType, web

from .blockkit import BlockKitError, check_message, check_view
from .models import (
    Call,
    Channel,
    Fault,
    JSONDict,
    Message,
    ResponseUrlPost,
    Trigger,
    UploadedFile,
    User,
    UserGroup,
    new_id,
)

# The bot scopes of an app installed from app-manifest.yml (what the stand-in's bot token is granted by default).
MANIFEST_BOT_SCOPES = (
    "app_mentions:read",
    "channels:history",
    "groups:history",
    "im:history",
    "mpim:history",
    "channels:join",
    "channels:read",
    "groups:read",
    "im:read",
    "mpim:read",
    "chat:write",
    "chat:write.public",
    "commands",
    "usergroups:read",
    "files:write",
    "im:write",
)

Handler = Callable[[JSONDict], JSONDict | Awaitable[JSONDict]]

# Arguments Slack documents as "JSON-encoded string" when sent form-encoded.
_JSON_ARGS = frozenset({"blocks", "attachments", "view", "files", "metadata", "user_auth_blocks"})
_TRIGGER_RE = re.compile(r"^\d+\.\d+\.[0-9a-f]+$")
_MAX_VIEW_STACK = 3  # a modal plus two pushed views (views.push docs)
_MAX_TEXT = 40_000
_connection: ContextVar[int | None] = ContextVar("standin_connection", default=None)  # of the API request being answered
FOREVER = 10**9  # fail_next(times=FOREVER): Slack stays down until clear_faults()


class SlackError(Exception):
    """Raised by method handlers; becomes ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def _invalid_arguments(message: str) -> SlackError:
    return SlackError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {message}"]})


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes"}


def _as_str(value: Any) -> str | None:
    if value is None:
        return None
    return str(value)


def _split_ids(value: Any) -> list[str]:
    """Slack list arguments come as ``"a,b"`` or as a JSON array."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if str(v)]
    return [part.strip() for part in str(value).split(",") if part.strip()]


# Files sent to an upload_url (files.getUploadURLExternal): Slack takes files up to 1 GB. The API methods and
# response_urls keep aiohttp's 1 MiB request cap (web.Application's client_max_size).
UPLOAD_LIMIT = 1_000_000_000


async def _read_capped(source: Any, limit: int) -> bytes | None:
    """Read a body (a request's StreamReader or a multipart part) in chunks; None past `limit` bytes."""
    chunks, size = [], 0
    while True:
        chunk = await source.read_chunk(1 << 16) if isinstance(source, BodyPartReader) else await source.read(1 << 16)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)


class SlackStandIn:
    """A fake Slack workspace served over HTTP on 127.0.0.1 (ephemeral port).

    Use ``async with SlackStandIn() as slack:`` (or ``start()``/``stop()``),
    seed it with ``add_user``/``add_channel``/``add_usergroup``, hand
    ``slack.api_url`` to ``AsyncWebClient(base_url=...)`` and inspect
    ``slack.calls``, ``slack.messages``, ``slack.views`` afterwards.

    ``strict=True`` (default) answers ``channel_not_found``/``user_not_found``
    for ids that were not seeded, as Slack would; ``strict=False`` creates
    channels on first use, which is handy for tests that do not care.
    """

    def __init__(
        self,
        bot_token: str = "xoxb-test-token",
        *,
        team_id: str = "T0STANDIN1",
        team_name: str = "Stand-in Workspace",
        team_domain: str = "standin",
        bot_user_id: str = "U0STANDBOT",
        bot_id: str = "B0STANDBOT",
        app_id: str = "A0STANDAPP",
        bot_name: str = "triage-bot",
        trigger_ttl: float = 3.0,
        post_rate: float | None = 1.0,
        post_burst: int = 5,
        strict: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        self.bot_token = bot_token
        self.valid_tokens: set[str] = {bot_token}
        # Scopes granted to each token: Slack sends them in the x-oauth-scopes header of every Web API answer.
        self.token_scopes: dict[str, list[str]] = {bot_token: list(MANIFEST_BOT_SCOPES)}
        self.app_tokens: set[str] = {"xapp-test-token"}  # app-level tokens: only for apps.connections.open
        self.sockets: list[web.WebSocketResponse] = []  # Socket Mode connections from the bot
        self.socket_acks: list[JSONDict] = []  # what the bot sent back over them
        self.team_id = team_id
        self.team_name = team_name
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.bot_name = bot_name
        self.trigger_ttl = trigger_ttl
        # chat.postMessage "generally allows posting one message per second per channel", short bursts over that
        # are tolerated and the rest answered HTTP 429 with Retry-After
        # (https://docs.slack.dev/apis/web-api/rate-limits, "Posting messages"; chat.postMessage "Rate limiting").
        # A token bucket per channel: `post_burst` posts at once, refilled at `post_rate` per second; None: no limit.
        self.post_rate = post_rate
        self.post_burst = post_burst
        self._post_buckets: dict[str, tuple[float, float]] = {}  # channel -> (tokens, monotonic time of that count)
        self.strict = strict
        self.host = host

        # Workspace state.
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.usergroups: dict[str, UserGroup] = {}
        self.messages: list[Message] = []
        self.ephemeral_messages: list[Message] = []
        self.views: dict[str, JSONDict] = {}  # view id -> current view object
        self.home_views: dict[str, str] = {}  # user id -> view id of the App Home
        self.files: dict[str, UploadedFile] = {}
        self.triggers: dict[str, Trigger] = {}
        self.response_posts: list[ResponseUrlPost] = []

        # Observability and fault injection.
        self.calls: list[Call] = []
        self._connections: dict[tuple, int] = {}  # a client's (host, port) -> its connection's number, by first use
        # Every payload refused for breaking Block Kit's limits (the `[ERROR] ... [json-pointer:...]` lines):
        # a test that makes one has found something real Slack would refuse.
        self.refusals: list[list[str]] = []
        self._faults: dict[str, list[Fault]] = {}
        self._delays: dict[str, float] = {}
        self._holds: dict[str, asyncio.Event] = {}
        self.in_flight: Counter[str] = Counter()  # method -> calls received and not yet answered

        self._stacks: dict[str, list[str]] = {}  # root view id -> open view ids, bottom first
        self._user_root: dict[str, str] = {}  # user id -> root view id of their open modal
        self._last_view_id: str | None = None
        self._response_urls: dict[str, JSONDict] = {}
        self._last_ts_micros = 0
        self._trigger_seq = 0

        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._methods: dict[str, Handler] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "users.lookupByEmail": self._users_lookup_by_email,
            "usergroups.list": self._usergroups_list,
            "usergroups.users.list": self._usergroups_users_list,
            "conversations.info": self._conversations_info,
            "conversations.replies": self._conversations_replies,
            "conversations.history": self._conversations_history,
            "apps.connections.open": lambda params: {},  # answered before dispatch: it takes the app token
            "conversations.open": self._conversations_open,
            "conversations.join": self._conversations_join,
            "files.upload": self._files_upload,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
            "reactions.add": self._reactions_add,
        }
        # The bot is a member of its own workspace (users.info on it works).
        self.add_user(bot_user_id, bot_name, real_name=bot_name, is_bot=True)

    # ------------------------------------------------------------------ lifecycle

    async def _handle_socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode: say hello, then relay envelopes pushed with `socket_send`; record the bot's acks."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": len(self.sockets), "connection_info": {"app_id": self.app_id}})
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self.socket_acks.append(json.loads(msg.data))
        finally:
            self.sockets.remove(ws)
        return ws

    async def socket_send(self, envelope: JSONDict) -> None:
        """Deliver one Socket Mode envelope (events_api, slash_commands, interactive) to the connected bot."""
        if not self.sockets:
            raise RuntimeError("no Socket Mode connection from the bot")
        await self.sockets[-1].send_json(envelope)

    async def start(self) -> None:
        """Bind 127.0.0.1 on an ephemeral port and serve (safe for parallel tests)."""
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response_url/{url_id}", self._handle_response_url)
        app.router.add_post("/upload/v1/{file_id}", self._handle_upload)
        app.router.add_get("/socket", self._handle_socket)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(runner, sock).start()
        self._runner = runner

    async def stop(self) -> None:
        """Stop serving; recorded state stays readable."""
        for ws in list(self.sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SlackStandIn:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The bound port (only after ``start()``)."""
        if self._port is None:
            raise RuntimeError("SlackStandIn is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """Web API root for ``AsyncWebClient(base_url=...)``; ends with ``/``."""
        return f"{self.base_url}/api/"

    # ------------------------------------------------------------------ seeding

    def add_user(
        self,
        user_id: str | None = None,
        name: str | None = None,
        *,
        real_name: str | None = None,
        tz: str = "UTC",
        tz_offset: int | None = None,
        email: str | None = None,
        is_bot: bool = False,
        is_admin: bool = False,
        deleted: bool = False,
    ) -> User:
        """Register a member; ``tz_offset`` defaults to the zone's current offset."""
        uid = user_id or new_id("U")
        user = User(
            id=uid,
            name=name or uid.lower(),
            real_name=real_name or (name or uid),
            tz=tz,
            tz_offset=tz_offset,
            email=email,
            is_bot=is_bot,
            is_admin=is_admin,
            deleted=deleted,
            team_id=self.team_id,
        )
        self.users[uid] = user
        return user

    def add_channel(
        self,
        channel_id: str | None = None,
        name: str | None = None,
        *,
        is_private: bool = False,
        members: list[str] | None = None,
        bot_member: bool = True,
    ) -> Channel:
        """Register a public (``C…``) or private (``G…`` by default) channel; ``bot_member=False``: the bot has not joined."""
        cid = channel_id or new_id("G" if is_private else "C")
        channel = Channel(id=cid, name=name or cid.lower(), is_private=is_private, members=list(members or []), bot_member=bot_member)
        self.channels[cid] = channel
        return channel

    def add_usergroup(
        self,
        usergroup_id: str | None = None,
        handle: str | None = None,
        *,
        users: list[str] | None = None,
        name: str | None = None,
        description: str = "",
    ) -> UserGroup:
        """Register a user group (``S…``) with its member ids."""
        gid = usergroup_id or new_id("S")
        group = UserGroup(
            id=gid,
            handle=handle or gid.lower(),
            name=name or (handle or gid),
            users=list(users or []),
            description=description,
            team_id=self.team_id,
        )
        self.usergroups[gid] = group
        return group

    def add_message(
        self,
        channel: str,
        text: str,
        *,
        user: str,
        thread_ts: str | None = None,
        blocks: list[JSONDict] | None = None,
    ) -> Message:
        """Seed a message written by a human (e.g. the one a message shortcut targets)."""
        chan = self._resolve_channel(channel)
        if chan is None:
            raise KeyError(f"unknown channel {channel!r}; add_channel() it first")
        return self._store_message(chan.id, text=text, blocks=blocks, thread_ts=thread_ts, user=user, bot=False)

    # ------------------------------------------------------------------ triggers & response urls

    def new_trigger_id(self, user_id: str | None = None, *, view_id: str | None = None) -> str:
        """Issue a single-use trigger_id valid for ``trigger_ttl`` seconds.

        ``user_id``/``view_id`` tell views.push which open modal the
        interaction came from (Slack knows that from the trigger itself).
        """
        self._trigger_seq += 1
        trigger_id = f"{int(time.time())}.{self._trigger_seq}.{secrets.token_hex(16)}"
        self.triggers[trigger_id] = Trigger(
            id=trigger_id,
            expires_at=time.monotonic() + self.trigger_ttl,
            user_id=user_id,
            view_id=view_id,
        )
        return trigger_id

    def new_response_url(
        self,
        channel_id: str | None = None,
        user_id: str | None = None,
        message_ts: str | None = None,
    ) -> str:
        """A response_url on this server; posts to it land in ``response_posts``."""
        url_id = secrets.token_hex(8)
        self._response_urls[url_id] = {"channel_id": channel_id, "user_id": user_id, "message_ts": message_ts}
        return f"{self.base_url}/response_url/{url_id}"

    # ------------------------------------------------------------------ fault injection

    def fail_next(
        self,
        method: str,
        *,
        status: int | None = None,
        error: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        plain_text: str | None = None,
        accept: bool = False,
        stall: float = 0.0,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail.

        ``status=429`` answers HTTP 429, ``Retry-After: retry_after`` (default 1)
        and ``{"ok": false, "error": "ratelimited"}``; ``status=5xx`` answers that
        status; ``error="..."`` answers HTTP 200 ``{"ok": false, "error": ...}``.
        ``plain_text="Bad Gateway"`` answers that body as text/plain (a proxy in
        front of Slack). ``stall=s`` answers only after ``s`` seconds (a Slack that
        does not answer: the client times out first). Failed calls have no side
        effects, unless ``accept=True``: the call is performed (a message is
        posted) and the fault answered anyway, as when Slack accepts a post and a
        proxy or timeout loses the answer. ``times=FOREVER`` fails until
        ``clear_faults()`` (Slack down until it comes back). Queued faults apply in order.
        """
        if status is None and error is None:
            raise ValueError("give status= and/or error=")
        if times < 1:
            raise ValueError("times must be >= 1")
        resolved_status = status if status is not None else 200
        if resolved_status == 429 and retry_after is None:
            retry_after = 1
        fault = Fault(
            status=resolved_status,
            error=error,
            retry_after=retry_after,
            times=times,
            plain_text=plain_text,
            accept=accept,
            stall=stall,
        )
        self._faults.setdefault(method, []).append(fault)

    def delay(self, method: str, seconds: float) -> None:
        """Answer every later call of ``method`` only after ``seconds`` (0 clears)."""
        if seconds <= 0:
            self._delays.pop(method, None)
        else:
            self._delays[method] = seconds

    def hold(self, method: str) -> None:
        """Keep every later call of ``method`` unanswered until :meth:`release`.

        For tests that must act while a call is at Slack (kill the bot mid-post):
        they wait on ``in_flight`` instead of guessing how long a delay must be.
        Faults are taken when the call is answered, so one queued after the
        call arrived still applies to it.
        """
        self._holds.setdefault(method, asyncio.Event())

    def release(self, method: str) -> None:
        """Answer the held calls of ``method`` now, and stop holding it."""
        gate = self._holds.pop(method, None)
        if gate is not None:
            gate.set()

    def clear_faults(self) -> None:
        """Drop all pending faults and delays; release held calls."""
        self._faults.clear()
        self._delays.clear()
        for method in list(self._holds):
            self.release(method)

    # ------------------------------------------------------------------ inspection helpers

    def calls_to(self, method: str) -> list[Call]:
        """Recorded calls of one Web API method, oldest first."""
        return [call for call in self.calls if call.method == method]

    def messages_in(self, channel: str, thread_ts: str | None = None) -> list[Message]:
        """Messages as Slack would list them, oldest first.

        Without ``thread_ts``: the channel history (top-level messages plus
        replies broadcast to the channel), like conversations.history.
        With ``thread_ts``: the thread parent (if known) then its replies,
        like conversations.replies. ``channel`` may be an id or ``#name``.
        """
        chan = self._resolve_channel(channel)
        channel_id = chan.id if chan is not None else channel
        in_channel = [m for m in self.messages if m.channel == channel_id]
        if thread_ts is None:
            return [m for m in in_channel if not m.is_reply or m.reply_broadcast]
        return [m for m in in_channel if m.ts == thread_ts or m.thread_ts == thread_ts]

    def find_message(self, channel: str, ts: str) -> Message | None:
        """The message with ``ts`` in ``channel`` (id or name), if any."""
        chan = self._resolve_channel(channel)
        channel_id = chan.id if chan is not None else channel
        for message in self.messages:
            if message.channel == channel_id and message.ts == ts:
                return message
        return None

    def last_view(self) -> JSONDict | None:
        """The view most recently opened, pushed, updated or published."""
        return self.views.get(self._last_view_id) if self._last_view_id else None

    def view_stack(self, user_id: str | None = None) -> list[JSONDict]:
        """Open modal views (bottom first) of ``user_id``, or of the latest modal."""
        root = self._user_root.get(user_id) if user_id else None
        if root is None and self._stacks and user_id is None:
            root = next(reversed(self._stacks))
        if root is None or root not in self._stacks:
            return []
        return [self.views[vid] for vid in self._stacks[root]]

    def close_view(self, view_id: str, *, clear: bool = False) -> None:
        """Close a modal view (and those pushed above it); ``clear`` closes the whole stack."""
        root = self._root_of(view_id)
        if root is None:
            return
        stack = self._stacks[root]
        if clear:
            stack.clear()
        else:
            del stack[stack.index(view_id) :]
        if not stack:
            del self._stacks[root]
            for user, user_root in list(self._user_root.items()):
                if user_root == root:
                    del self._user_root[user]

    def apply_view_submission_response(self, view_id: str, response: JSONDict | None) -> None:
        """Do what Slack does with the bot's answer to a view_submission.

        ``response_action``: ``errors`` keeps the view, ``update`` replaces it,
        ``push`` stacks a new view, ``clear`` closes every view; an empty
        answer closes the submitted view.
        """
        action = (response or {}).get("response_action")
        if action in ("update", "push") and response is not None:
            try:
                self._check_view(response.get("view"), expected_type="modal")
            except SlackError as e:
                # Slack shows the user an error and keeps the view; the bot's answer is recorded as refused.
                self.calls.append(
                    Call(method=f"view_submission:{action}", params=response, response={"ok": False, "error": e.error, **e.extra})
                )
                return
        if action == "errors":
            current = self.views.get(view_id) or {}
            inputs = {b.get("block_id") for b in current.get("blocks", []) if b.get("type") == "input"}
            unknown = sorted(set((response or {}).get("errors") or {}) - inputs) if current else []
            if unknown:
                # https://docs.slack.dev/surfaces/modals ("errors": keys are block_ids of input blocks in the view)
                self.refusals.append([f"[ERROR] no input block with block_id {b!r} [json-pointer:/errors/{b}]" for b in unknown])
            return
        if action == "update" and response is not None and isinstance(response.get("view"), dict):
            current = self.views.get(view_id)
            if current is not None:
                self._store_view(
                    response["view"],
                    view_id=view_id,
                    root_view_id=current.get("root_view_id"),
                    previous_view_id=current.get("previous_view_id"),
                )
            return
        if action == "push" and response is not None and isinstance(response.get("view"), dict):
            root = self._root_of(view_id)
            if root is not None:
                stack = self._stacks[root]
                new_view = self._store_view(response["view"], view_id=new_id("V"), root_view_id=root, previous_view_id=stack[-1])
                stack.append(new_view["id"])
            return
        self.close_view(view_id, clear=action == "clear")

    # ------------------------------------------------------------------ HTTP plumbing

    async def _read_params(self, request: web.Request) -> tuple[JSONDict, str | None]:
        """Merge query string and body arguments; pull out the token."""
        params: JSONDict = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError as exc:
                    raise SlackError("invalid_json") from exc
                if not isinstance(body, dict):
                    raise SlackError("invalid_json")
                params.update(body)
            elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        params[key] = {"filename": value.filename, "content": value.file.read()}
                    else:
                        params[key] = value
        for key in _JSON_ARGS & params.keys():
            value = params[key]
            if isinstance(value, str):
                try:
                    params[key] = json.loads(value)
                except ValueError as exc:
                    error = "invalid_blocks_format" if key == "blocks" else "invalid_arguments"
                    raise SlackError(error) from exc
        token: str | None = None
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip() or None
        body_token = params.pop("token", None)
        if token is None and body_token:
            token = str(body_token)
        return params, token

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        peer = request.transport.get_extra_info("peername") if request.transport is not None else None
        if peer is not None:
            _connection.set(self._connections.setdefault(tuple(peer), len(self._connections) + 1))
        try:
            params, token = await self._read_params(request)
        except SlackError as exc:
            return self._reply(method, {}, {"ok": False, "error": exc.error, **exc.extra})

        self.in_flight[method] += 1
        try:
            response = await self._answer_api(method, params, token)
        finally:
            self.in_flight[method] -= 1
        if token in self.valid_tokens and token in self.token_scopes:
            response.headers["x-oauth-scopes"] = ",".join(self.token_scopes[token])
        return response

    async def _answer_api(self, method: str, params: JSONDict, token: str | None) -> web.Response:
        delay = self._delays.get(method)
        if delay:
            await asyncio.sleep(delay)
        gate = self._holds.get(method)
        if gate is not None:
            await gate.wait()

        handler = self._methods.get(method)
        if handler is None:
            return self._reply(method, params, {"ok": False, "error": "unknown_method", "req_method": method})
        if token is None:
            return self._reply(method, params, {"ok": False, "error": "not_authed"})
        if method == "apps.connections.open":
            if token not in self.app_tokens:
                return self._reply(method, params, {"ok": False, "error": "invalid_auth"})
            return self._reply(method, params, {"ok": True, "url": f"ws://{self.host}:{self.port}/socket"})
        if token not in self.valid_tokens:
            return self._reply(method, params, {"ok": False, "error": "invalid_auth"})

        fault = self._take_fault(method)
        if fault is not None:
            if fault.stall:
                await asyncio.sleep(fault.stall)
            if fault.accept:
                try:
                    result = handler(params)
                    if inspect.isawaitable(result):
                        await result
                except SlackError:
                    pass
            return self._fault_reply(method, params, fault)
        if method == "chat.postMessage":
            wait = self._take_post_token(str(params.get("channel") or ""))
            if wait is not None:
                return self._fault_reply(method, params, Fault(status=429, retry_after=max(1, math.ceil(wait))))

        try:
            result = handler(params)
            if inspect.isawaitable(result):
                result = await result
        except SlackError as exc:
            body: JSONDict = {"ok": False, "error": exc.error, **exc.extra}
        else:
            body = {"ok": True, **result}
        return self._reply(method, params, body)

    def _reply(self, method: str, params: JSONDict, body: JSONDict, status: int = 200) -> web.Response:
        self.calls.append(Call(method=method, params=params, response=body, status=status, connection=_connection.get()))
        return web.json_response(body, status=status)

    def set_post_rate(self, rate: float | None, burst: int) -> None:
        """chat.postMessage: `burst` posts per channel at once, then `rate` per second (None: unlimited); buckets refill."""
        self.post_rate, self.post_burst = rate, burst
        self._post_buckets.clear()

    def _take_post_token(self, channel: str) -> float | None:
        """None when a post to `channel` may go now; else the seconds until it may (the 429's Retry-After)."""
        if self.post_rate is None or not channel:
            return None
        resolved = self._resolve_channel(channel)
        key = resolved.id if resolved is not None else channel
        now = time.monotonic()
        tokens, since = self._post_buckets.get(key, (float(self.post_burst), now))
        tokens = min(float(self.post_burst), tokens + (now - since) * self.post_rate)
        if tokens < 1.0:
            self._post_buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.post_rate
        self._post_buckets[key] = (tokens - 1.0, now)
        return None

    def _take_fault(self, method: str) -> Fault | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.pop(0)
        return fault

    def _fault_reply(self, method: str, params: JSONDict, fault: Fault) -> web.Response:
        if fault.status == 429:
            body: JSONDict = {"ok": False, "error": fault.error or "ratelimited"}
        elif fault.status >= 500:
            body = {"ok": False, "error": fault.error or "internal_error"}
        else:
            body = {"ok": False, "error": fault.error or "fatal_error"}
        self.calls.append(Call(method=method, params=params, response=body, status=fault.status, connection=_connection.get()))
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
        if fault.plain_text is not None:
            return web.Response(text=fault.plain_text, status=fault.status, headers=headers, content_type="text/plain")
        return web.json_response(body, status=fault.status, headers=headers)

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        """Record what the bot sends to a response_url and apply it like Slack."""
        url_id = request.match_info["url_id"]
        meta = self._response_urls.get(url_id)
        if meta is None:
            return web.Response(status=404, text="no_active_hooks", content_type="text/plain")
        raw = await request.text()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            form = await request.post()
            payload = form.get("payload")
            body = json.loads(payload) if isinstance(payload, str) else dict(form)
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid_payload", content_type="text/plain")
        try:
            check_message(body)
        except BlockKitError as e:
            self.refusals.append(e.messages)
            return web.Response(status=400, text="invalid_blocks", content_type="text/plain")
        self.response_posts.append(ResponseUrlPost(url_id=url_id, body=body, channel_id=meta["channel_id"], user_id=meta["user_id"]))
        self._apply_response_url_body(meta, body)
        return web.Response(text="ok", content_type="text/plain")

    def _apply_response_url_body(self, meta: JSONDict, body: JSONDict) -> None:
        channel_id: str | None = meta["channel_id"]
        message_ts: str | None = meta["message_ts"]
        if channel_id is None:
            return
        original = self.find_message(channel_id, message_ts) if message_ts else None
        if _as_bool(body.get("delete_original", False)) and original is not None:
            self.messages.remove(original)
            return
        if _as_bool(body.get("replace_original", False)) and original is not None:
            self._edit_message(original, body)
            return
        text = str(body.get("text", ""))
        blocks = body.get("blocks")
        thread_ts = _as_str(body.get("thread_ts"))
        if body.get("response_type") == "in_channel":
            self._store_message(channel_id, text=text, blocks=blocks, thread_ts=thread_ts)
        else:
            ephemeral = Message(
                channel=channel_id,
                ts=self._next_ts(),
                text=text,
                blocks=blocks,
                thread_ts=thread_ts,
                user=self.bot_user_id,
                bot_id=self.bot_id,
                app_id=self.app_id,
                ephemeral_to=meta["user_id"],
            )
            self.ephemeral_messages.append(ephemeral)

    async def _handle_upload(self, request: web.Request) -> web.Response:
        """The upload_url of files.getUploadURLExternal (answers like files.slack.com).

        Not bound by the 1 MiB request cap of the API methods: Slack takes files up to 1 GB
        (UPLOAD_LIMIT), sent as raw bytes or multipart form data; a bigger body gets HTTP 413.
        """
        upload = self.files.get(request.match_info["file_id"])
        if upload is None or upload.completed:
            return web.Response(status=404, text="file_not_found", content_type="text/plain")
        too_large = web.Response(status=413, text="file_too_large", content_type="text/plain")
        if (request.content_length or 0) > UPLOAD_LIMIT:
            return too_large
        content = b""
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                if isinstance(part, BodyPartReader) and part.name in ("file", "filename"):
                    content = await _read_capped(part, UPLOAD_LIMIT)
                    if part.filename is not None or part.name == "file":
                        break
        else:
            content = await _read_capped(request.content, UPLOAD_LIMIT)
        if content is None:
            return too_large
        upload.content = content
        return web.Response(text=f"OK - {len(content)}", content_type="text/plain")

    # ------------------------------------------------------------------ shared helpers

    def _next_ts(self) -> str:
        """Unique, increasing message ts in Slack's ``seconds.micros`` format."""
        micros = max(int(time.time() * 1_000_000), self._last_ts_micros + 1)
        self._last_ts_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _dm_channel(self, user_id: str) -> Channel:
        channel_id = "D" + user_id[1:]
        channel = self.channels.get(channel_id)
        if channel is None:
            channel = Channel(id=channel_id, name=channel_id.lower(), is_im=True, user=user_id)
            self.channels[channel_id] = channel
        return channel

    def _resolve_channel(self, ref: str | None, *, create: bool = False) -> Channel | None:
        """Find a channel by id, ``#name``/name, or user id (meaning the DM with them)."""
        if not ref:
            return None
        if ref in self.channels:
            return self.channels[ref]
        if ref in self.users:
            return self._dm_channel(ref)
        name = ref.lstrip("#")
        for channel in self.channels.values():
            if channel.name == name and not channel.is_im:
                return channel
        if ref.startswith("D") and ("U" + ref[1:]) in self.users:
            return self._dm_channel("U" + ref[1:])
        if create and not self.strict:
            if ref.startswith("#") or not ref[:1].isupper():
                return self.add_channel(name=name)
            return self.add_channel(ref)
        return None

    def _store_message(
        self,
        channel_id: str,
        *,
        text: str,
        blocks: list[JSONDict] | None = None,
        attachments: list[JSONDict] | None = None,
        thread_ts: str | None = None,
        metadata: JSONDict | None = None,
        reply_broadcast: bool = False,
        files: list[JSONDict] | None = None,
        user: str | None = None,
        bot: bool = True,
    ) -> Message:
        if thread_ts is not None:
            parent = self.find_message(channel_id, thread_ts)
            if parent is not None:
                if parent.is_reply and parent.thread_ts is not None:
                    thread_ts = parent.thread_ts  # replies to a reply join the parent's thread
                else:
                    parent.thread_ts = parent.ts
        message = Message(
            channel=channel_id,
            ts=self._next_ts(),
            text=text,
            blocks=blocks,
            attachments=attachments,
            thread_ts=thread_ts,
            user=self.bot_user_id if bot else user,
            bot_id=self.bot_id if bot else None,
            app_id=self.app_id if bot else None,
            team=self.team_id,
            metadata=metadata,
            reply_broadcast=reply_broadcast,
            files=files,
        )
        self.messages.append(message)
        return message

    def _edit_message(self, message: Message, params: JSONDict) -> None:
        """Apply chat.update semantics: text replaced; blocks/attachments kept unless given."""
        message.history.append(message.to_api())
        if "text" in params:
            message.text = str(params["text"] or "")
        if "blocks" in params:
            message.blocks = params["blocks"] or None
        if "attachments" in params:
            message.attachments = params["attachments"] or None
        if "metadata" in params:
            message.metadata = params["metadata"] or None
        message.edited_ts = self._next_ts()

    def _message_content(self, params: JSONDict) -> tuple[str, list[JSONDict] | None, list[JSONDict] | None]:
        text = params.get("text") or params.get("markdown_text") or ""
        blocks = params.get("blocks")
        attachments = params.get("attachments")
        if blocks is not None and not isinstance(blocks, list):
            raise SlackError("invalid_blocks_format")
        if attachments is not None and not isinstance(attachments, list):
            raise SlackError("invalid_attachments")
        if not text and not blocks and not attachments:
            raise SlackError("no_text")
        if len(str(text)) > _MAX_TEXT:
            raise SlackError("msg_too_long")
        self._check_blocks(params)
        return str(text), blocks, attachments

    def _check_blocks(self, params: JSONDict) -> None:
        """Slack's `invalid_blocks`, with the problems and where (json-pointer) in response_metadata."""
        try:
            check_message(params)
        except BlockKitError as e:
            self.refusals.append(e.messages)
            raise SlackError("invalid_blocks", errors=e.messages, response_metadata={"messages": e.messages}) from e

    def _exchange_trigger(self, trigger_id: Any) -> Trigger:
        """Consume a trigger: Slack's invalid/expired/exchanged_trigger_id errors."""
        if not trigger_id:
            raise _invalid_arguments("missing required field: trigger_id")
        trigger = self.triggers.get(str(trigger_id))
        if trigger is None:
            # Malformed or never issued by this workspace.
            raise SlackError("invalid_trigger_id")
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        if time.monotonic() > trigger.expires_at:
            raise SlackError("expired_trigger_id")
        trigger.used = True
        return trigger

    def _check_view(self, view: Any, *, expected_type: str) -> JSONDict:
        if not isinstance(view, dict):
            raise _invalid_arguments("missing required field: view")
        view_type = view.get("type")
        if view_type != expected_type:
            raise _invalid_arguments(f"view type must be {expected_type!r}, got {view_type!r}")
        if not isinstance(view.get("blocks", []), list):
            raise _invalid_arguments("blocks must be an array")
        if expected_type == "modal" and not isinstance(view.get("title"), dict):
            raise _invalid_arguments("missing required field: title")
        try:
            check_view(view)
        except BlockKitError as e:
            self.refusals.append(e.messages)
            raise SlackError("invalid_arguments", response_metadata={"messages": e.messages}) from e
        return view

    def _check_external_id(self, view: JSONDict, *, own_view_id: str | None = None) -> None:
        external_id = view.get("external_id")
        if not external_id:
            return
        for vid, existing in self.views.items():
            if vid != own_view_id and existing.get("external_id") == external_id:
                raise SlackError("duplicate_external_id")

    def _store_view(
        self,
        view: JSONDict,
        *,
        view_id: str,
        root_view_id: str | None,
        previous_view_id: str | None,
    ) -> JSONDict:
        """Render a view the way views.* return it and remember it."""
        rendered: JSONDict = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view.get("type", "modal"),
            "title": view.get("title"),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "root_view_id": root_view_id,
            "previous_view_id": previous_view_id,
            "app_id": self.app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        self.views[view_id] = rendered
        self._last_view_id = view_id
        return rendered

    def _root_of(self, view_id: str) -> str | None:
        for root, stack in self._stacks.items():
            if view_id in stack:
                return root
        return None

    def _require_user(self, user_id: Any) -> User:
        user = self.users.get(str(user_id)) if user_id else None
        if user is None:
            raise SlackError("user_not_found")
        return user

    def _require_channel(self, ref: Any, *, create: bool = False) -> Channel:
        channel = self._resolve_channel(_as_str(ref), create=create)
        if channel is None:
            raise SlackError("channel_not_found")
        return channel

    def _share_file(self, upload: UploadedFile, channel_ids: list[str]) -> None:
        """Sharing a file posts a message carrying it, as Slack does."""
        upload.channels = channel_ids
        upload.completed = True
        for channel_id in channel_ids:
            self._store_message(
                channel_id,
                text=upload.initial_comment or "",
                thread_ts=upload.thread_ts,
                files=[upload.to_api()],
            )

    # ------------------------------------------------------------------ Web API methods

    def _api_test(self, params: JSONDict) -> JSONDict:
        return {"args": {k: v for k, v in params.items() if isinstance(v, str)}}

    def _auth_test(self, params: JSONDict) -> JSONDict:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, params: JSONDict) -> JSONDict:
        channel = self._require_channel(params.get("channel"), create=True)
        text, blocks, attachments = self._message_content(params)
        metadata = params.get("metadata")
        message = self._store_message(
            channel.id,
            text=text,
            blocks=blocks,
            attachments=attachments,
            thread_ts=_as_str(params.get("thread_ts")) or None,
            metadata=metadata if isinstance(metadata, dict) else None,
            reply_broadcast=_as_bool(params.get("reply_broadcast", False)),
        )
        return {"channel": channel.id, "ts": message.ts, "message": message.to_api()}

    def _chat_update(self, params: JSONDict) -> JSONDict:
        channel = self._require_channel(params.get("channel"))
        ts = _as_str(params.get("ts"))
        message = self.find_message(channel.id, ts) if ts else None
        if message is None:
            raise SlackError("message_not_found")
        if message.bot_id != self.bot_id:
            # Exists, but a bot token may only edit what the bot posted.
            raise SlackError("cant_update_message")
        if not any(params.get(k) for k in ("text", "blocks", "attachments", "markdown_text")):
            raise SlackError("no_text")
        if len(str(params.get("text") or "")) > _MAX_TEXT:
            raise SlackError("msg_too_long")
        self._check_blocks(params)
        self._edit_message(message, params)
        return {"channel": channel.id, "ts": message.ts, "text": message.text, "message": message.to_api()}

    def _chat_post_ephemeral(self, params: JSONDict) -> JSONDict:
        channel = self._require_channel(params.get("channel"))
        user_id = _as_str(params.get("user"))
        if not user_id or user_id not in self.users:
            raise SlackError("user_not_in_channel")
        text, blocks, attachments = self._message_content(params)
        message = Message(
            channel=channel.id,
            ts=self._next_ts(),
            text=text,
            blocks=blocks,
            attachments=attachments,
            thread_ts=_as_str(params.get("thread_ts")) or None,
            user=self.bot_user_id,
            bot_id=self.bot_id,
            app_id=self.app_id,
            ephemeral_to=user_id,
        )
        self.ephemeral_messages.append(message)
        return {"message_ts": message.ts}

    def _chat_get_permalink(self, params: JSONDict) -> JSONDict:
        channel = self._require_channel(params.get("channel"))
        ts = _as_str(params.get("message_ts"))
        message = self.find_message(channel.id, ts) if ts else None
        if message is None:
            raise SlackError("message_not_found")
        link = f"https://{self.team_domain}.slack.com/archives/{channel.id}/p{message.ts.replace('.', '')}"
        if message.is_reply:
            link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
        return {"channel": channel.id, "permalink": link}

    def _views_open(self, params: JSONDict) -> JSONDict:
        view = self._check_view(params.get("view"), expected_type="modal")
        self._check_external_id(view)
        trigger = self._exchange_trigger(params.get("trigger_id") or params.get("interactivity_pointer"))
        view_id = new_id("V")
        rendered = self._store_view(view, view_id=view_id, root_view_id=view_id, previous_view_id=None)
        self._stacks[view_id] = [view_id]
        if trigger.user_id:
            self._user_root[trigger.user_id] = view_id
        return {"view": rendered}

    def _views_push(self, params: JSONDict) -> JSONDict:
        view = self._check_view(params.get("view"), expected_type="modal")
        self._check_external_id(view)
        trigger = self._exchange_trigger(params.get("trigger_id") or params.get("interactivity_pointer"))
        root: str | None = None
        if trigger.view_id:
            root = self._root_of(trigger.view_id)
        if root is None and trigger.user_id:
            root = self._user_root.get(trigger.user_id)
        if root is None and self._stacks and not trigger.user_id:
            root = next(reversed(self._stacks))
        if root is None or root not in self._stacks:
            raise SlackError("not_found")  # nothing open to push onto
        stack = self._stacks[root]
        if len(stack) >= _MAX_VIEW_STACK:
            raise SlackError("push_limit_reached")
        rendered = self._store_view(view, view_id=new_id("V"), root_view_id=root, previous_view_id=stack[-1])
        stack.append(rendered["id"])
        return {"view": rendered}

    def _views_update(self, params: JSONDict) -> JSONDict:
        view_id = _as_str(params.get("view_id"))
        external_id = _as_str(params.get("external_id"))
        if not view_id and not external_id:
            raise _invalid_arguments("either view_id or external_id is required")
        if not view_id:
            view_id = next((vid for vid, v in self.views.items() if v.get("external_id") == external_id), None)
        current = self.views.get(view_id) if view_id else None
        is_open = view_id is not None and (self._root_of(view_id) is not None or view_id in self.home_views.values())
        if current is None or view_id is None or not is_open:
            raise SlackError("not_found")
        view = self._check_view(params.get("view"), expected_type=current["type"])
        expected_hash = _as_str(params.get("hash"))
        if expected_hash and expected_hash != current["hash"]:
            raise SlackError("hash_conflict")
        self._check_external_id(view, own_view_id=view_id)
        rendered = self._store_view(
            view,
            view_id=view_id,
            root_view_id=current.get("root_view_id"),
            previous_view_id=current.get("previous_view_id"),
        )
        return {"view": rendered}

    def _views_publish(self, params: JSONDict) -> JSONDict:
        user_id = _as_str(params.get("user_id"))
        if not user_id or user_id not in self.users:
            raise _invalid_arguments("invalid `user_id`")
        view = self._check_view(params.get("view"), expected_type="home")
        existing_id = self.home_views.get(user_id)
        expected_hash = _as_str(params.get("hash"))
        if existing_id and expected_hash and expected_hash != self.views[existing_id]["hash"]:
            raise SlackError("hash_conflict")
        view_id = existing_id or new_id("V")
        self._check_external_id(view, own_view_id=view_id)
        rendered = self._store_view(view, view_id=view_id, root_view_id=view_id, previous_view_id=None)
        self.home_views[user_id] = view_id
        return {"view": rendered}

    def _users_info(self, params: JSONDict) -> JSONDict:
        return {"user": self._require_user(params.get("user")).to_api()}

    def _users_lookup_by_email(self, params: JSONDict) -> JSONDict:
        email = str(params.get("email") or "").lower()
        for user in self.users.values():
            if user.email is not None and user.email.lower() == email:
                return {"user": user.to_api()}
        raise SlackError("users_not_found")

    def _usergroups_list(self, params: JSONDict) -> JSONDict:
        include_users = _as_bool(params.get("include_users", False))
        include_count = _as_bool(params.get("include_count", False))
        groups = [g.to_api(include_users=include_users, include_count=include_count) for g in self.usergroups.values()]
        return {"usergroups": groups}

    def _usergroups_users_list(self, params: JSONDict) -> JSONDict:
        group = self.usergroups.get(str(params.get("usergroup") or ""))
        if group is None:
            raise SlackError("no_such_subteam")
        return {"users": list(group.users)}

    def _conversations_info(self, params: JSONDict) -> JSONDict:
        ref = _as_str(params.get("channel"))
        channel = self.channels.get(ref) if ref else None
        if channel is None:
            raise SlackError("channel_not_found")
        data = channel.to_api()
        if _as_bool(params.get("include_num_members", False)):
            data["num_members"] = len(channel.members)
        return {"channel": data}

    def _conversations_replies(self, params: JSONDict) -> JSONDict:
        """A thread, parent first; metadata only with include_all_metadata, as in Slack."""
        ref = _as_str(params.get("channel"))
        ts = _as_str(params.get("ts"))
        if ts is None:
            raise _invalid_arguments("missing required field: ts")
        channel = self.channels.get(ref) if ref else None
        if channel is None:
            raise SlackError("channel_not_found")
        thread = self.messages_in(channel.id, thread_ts=ts)
        if not thread:
            raise SlackError("thread_not_found")
        with_metadata = _as_bool(params.get("include_all_metadata", False))
        out = []
        for m in thread:
            data = m.to_api()
            if not with_metadata:
                data.pop("metadata", None)
            out.append(data)
        return {"messages": out, "has_more": False, "response_metadata": {"next_cursor": ""}}

    def _conversations_history(self, params: JSONDict) -> JSONDict:
        """A channel's top-level messages, newest first, from ``oldest`` on; metadata only with include_all_metadata."""
        ref = _as_str(params.get("channel"))
        channel = self.channels.get(ref) if ref else None
        if channel is None:
            raise SlackError("channel_not_found")
        oldest = float(params.get("oldest") or 0)
        limit = int(params.get("limit") or 100)
        with_metadata = _as_bool(params.get("include_all_metadata", False))
        found = [m for m in self.messages_in(channel.id) if float(m.ts) >= oldest]
        out = []
        for m in reversed(found[-limit:] if limit else found):
            data = m.to_api()
            if not with_metadata:
                data.pop("metadata", None)
            out.append(data)
        return {"messages": out, "has_more": len(found) > limit, "response_metadata": {"next_cursor": ""}}

    def _conversations_join(self, params: JSONDict) -> JSONDict:
        """Join a public channel (https://docs.slack.dev/reference/methods/conversations.join)."""
        ref = _as_str(params.get("channel"))
        channel = self.channels.get(ref) if ref else None
        if channel is None:
            raise SlackError("channel_not_found")
        if channel.is_private or channel.is_im or channel.is_mpim:
            raise SlackError("method_not_supported_for_channel_type")
        if channel.is_archived:
            raise SlackError("is_archived")
        if self.bot_user_id in channel.members:
            return {"channel": channel.to_api(), "warning": "already_in_channel", "response_metadata": {"warnings": ["already_in_channel"]}}
        channel.members.append(self.bot_user_id)
        return {"channel": channel.to_api()}

    def _conversations_open(self, params: JSONDict) -> JSONDict:
        channel_ref = _as_str(params.get("channel"))
        user_ids = _split_ids(params.get("users"))
        if channel_ref:
            channel = self.channels.get(channel_ref)
            if channel is None or not (channel.is_im or channel.is_mpim):
                raise SlackError("channel_not_found")
            return {"no_op": True, "already_open": True, "channel": channel.to_api()}
        if not user_ids:
            raise SlackError("users_list_not_supplied")
        for user_id in user_ids:
            self._require_user(user_id)
        if len(user_ids) > 8:
            raise SlackError("too_many_users")
        if len(user_ids) == 1:
            channel_id = "D" + user_ids[0][1:]
            already_open = channel_id in self.channels
            channel = self._dm_channel(user_ids[0])
        else:
            members = sorted(set(user_ids) | {self.bot_user_id})
            channel_id = "G" + hashlib.sha1(",".join(members).encode()).hexdigest()[:10].upper()
            already_open = channel_id in self.channels
            channel = self.channels.get(channel_id) or Channel(
                id=channel_id, name=f"mpdm-{'--'.join(members)}-1", is_private=True, is_mpim=True, members=members
            )
            self.channels[channel_id] = channel
        if _as_bool(params.get("return_im", False)) or already_open:
            data: JSONDict = {"channel": channel.to_api()}
            if already_open:
                data.update({"no_op": True, "already_open": True})
            return data
        return {"channel": {"id": channel.id}}

    def _files_upload(self, params: JSONDict) -> JSONDict:
        """Legacy files.upload (retired by Slack; slack_sdk's files_upload_v2 uses the pair below)."""
        part = params.get("file")
        if isinstance(part, dict):
            filename = str(params.get("filename") or part.get("filename") or "file")
            content = cast(bytes, part.get("content", b""))
        elif "content" in params:
            filename = str(params.get("filename") or "snippet.txt")
            content = str(params["content"]).encode()
        else:
            raise SlackError("no_file_data")
        channel_ids = [self._require_channel(c).id for c in _split_ids(params.get("channels"))]
        upload = UploadedFile(
            id=new_id("F"),
            filename=filename,
            content=content,
            title=_as_str(params.get("title")),
            initial_comment=_as_str(params.get("initial_comment")),
            thread_ts=_as_str(params.get("thread_ts")),
        )
        self.files[upload.id] = upload
        self._share_file(upload, channel_ids)
        return {"file": upload.to_api()}

    def _files_get_upload_url_external(self, params: JSONDict) -> JSONDict:
        filename = _as_str(params.get("filename"))
        length = params.get("length")
        if not filename or length is None or not str(length).isdigit():
            raise _invalid_arguments("filename and length are required")
        upload = UploadedFile(
            id=new_id("F"),
            filename=filename,
            length=int(length),
        )
        self.files[upload.id] = upload
        return {"upload_url": f"{self.base_url}/upload/v1/{upload.id}", "file_id": upload.id}

    def _files_complete_upload_external(self, params: JSONDict) -> JSONDict:
        entries = params.get("files")
        if not isinstance(entries, list) or not entries:
            raise _invalid_arguments("files must be a non-empty array")
        channel_refs = _split_ids(params.get("channel_id")) + _split_ids(params.get("channels"))
        channel_ids: list[str] = []
        for ref in channel_refs:
            channel = self._resolve_channel(ref)
            if channel is None:
                raise SlackError("invalid_channel")
            channel_ids.append(channel.id)
        uploads: list[UploadedFile] = []
        for entry in entries:
            upload = self.files.get(str(entry.get("id"))) if isinstance(entry, dict) else None
            if upload is None or upload.completed or upload.content is None:
                raise SlackError("file_not_found")
            upload.title = _as_str(entry.get("title")) or upload.filename
            uploads.append(upload)
        for upload in uploads:
            upload.initial_comment = _as_str(params.get("initial_comment"))
            upload.thread_ts = _as_str(params.get("thread_ts"))
            self._share_file(upload, channel_ids)
        return {"files": [{"id": u.id, "title": u.title} for u in uploads]}

    def _reactions_add(self, params: JSONDict) -> JSONDict:
        name = str(params.get("name") or "").strip(":")
        channel_ref = _as_str(params.get("channel"))
        ts = _as_str(params.get("timestamp"))
        if not channel_ref or not ts:
            raise SlackError("no_item_specified")
        if not name:
            raise SlackError("invalid_name")
        channel = self._require_channel(channel_ref)
        message = self.find_message(channel.id, ts)
        if message is None:
            raise SlackError("message_not_found")
        users = message.reactions.setdefault(name, [])
        if self.bot_user_id in users:
            raise SlackError("already_reacted")
        users.append(self.bot_user_id)
        return {}
