"""Client side of the stand-in: plays Slack calling the bot's Request URL.

Why: the bot's ``/slack/events`` endpoint must be exercised with requests
that look exactly like Slack's — same content types, same payload shapes,
same ``X-Slack-Signature`` — so signature checks, bolt's routing and ack
handling are tested for real instead of being bypassed.

Shapes follow Slack's docs and slack_bolt's own fixtures: slash commands
are form-encoded fields; Events API callbacks are a JSON ``event_callback``
envelope; interactivity (block_actions, view_submission, shortcut,
message_action) is form-encoded ``payload=<json>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp

from .models import JSONDict, new_id
from .server import SlackStandIn

_FORM = "application/x-www-form-urlencoded"
_JSON = "application/json"
_USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


@dataclass(frozen=True)
class SenderResponse:
    """What the bot answered: status, headers, raw text and parsed JSON (if JSON)."""

    status: int
    headers: Mapping[str, str]
    text: str
    json: Any | None

    @property
    def ok(self) -> bool:
        """2xx, i.e. Slack would consider the request acknowledged."""
        return 200 <= self.status < 300


def slack_signature(signing_secret: str, timestamp: str, body: str | bytes) -> str:
    """Slack's v0 request signature: ``v0=`` + HMAC-SHA256 over ``v0:{ts}:{body}``."""
    base = f"v0:{timestamp}:".encode() + (body if isinstance(body, bytes) else body.encode())
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


class SlackSender:
    """Sends signed Slack-shaped requests to a bot's ``/slack/events`` endpoint.

    ``bot_url`` is either the full Request URL or the bot's base URL (then
    ``/slack/events`` is appended). Pass ``slack=`` to link a
    :class:`SlackStandIn`: trigger_ids and response_urls are then issued by
    it (so views.open works), user/channel names come from its registry, and
    a view_submission answer is applied to its view stack.
    """

    def __init__(
        self,
        bot_url: str,
        signing_secret: str,
        *,
        slack: SlackStandIn | None = None,
        team_id: str | None = None,
        team_domain: str | None = None,
        api_app_id: str | None = None,
        verification_token: str = "legacy-verification-token",
    ) -> None:
        path = urlsplit(bot_url).path
        self.url = bot_url.rstrip("/") + "/slack/events" if path in ("", "/") else bot_url
        self.signing_secret = signing_secret
        self.slack = slack
        self.team_id = team_id or (slack.team_id if slack else "T0STANDIN1")
        self.team_domain = team_domain or (slack.team_domain if slack else "standin")
        self.api_app_id = api_app_id or (slack.app_id if slack else "A0STANDAPP")
        self.verification_token = verification_token

    # ------------------------------------------------------------------ low level

    def sign(self, body: str | bytes, timestamp: str) -> str:
        """Signature header value for ``body`` sent at ``timestamp``."""
        return slack_signature(self.signing_secret, timestamp, body)

    async def send(
        self,
        body: str | bytes,
        content_type: str,
        *,
        headers: Mapping[str, str] | None = None,
        timestamp: int | None = None,
        signature: str | None = None,
    ) -> SenderResponse:
        """POST a raw body (bytes are sent as they are: not UTF-8, say), signed; override ``timestamp``/``signature``
        to test rejection."""
        self.last_sent = (body, content_type)
        ts = str(int(time.time()) if timestamp is None else timestamp)
        request_headers = {
            "Content-Type": content_type,
            "User-Agent": _USER_AGENT,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature if signature is not None else self.sign(body, ts),
            **(headers or {}),
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.url, data=body if isinstance(body, bytes) else body.encode(), headers=request_headers) as resp,
        ):
            text = await resp.text()
            parsed: Any | None = None
            if resp.content_type == _JSON or text.startswith(("{", "[")):
                try:
                    parsed = json.loads(text) if text else None
                except ValueError:
                    parsed = None
            return SenderResponse(status=resp.status, headers=dict(resp.headers), text=text, json=parsed)

    async def resend(self, retry_num: int, retry_reason: str = "http_timeout") -> SenderResponse:
        """The last request again, byte for byte, as Slack (or a proxy) re-sends it: ``X-Slack-Retry-Num``."""
        body, content_type = self.last_sent
        headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        return await self.send(body, content_type, headers=headers)

    async def send_form(self, fields: Mapping[str, str], **kwargs: Any) -> SenderResponse:
        """Form-encoded body (slash commands)."""
        return await self.send(urlencode(fields), _FORM, **kwargs)

    async def send_payload(self, payload: JSONDict, **kwargs: Any) -> SenderResponse:
        """Interactivity body: form field ``payload`` holding JSON."""
        return await self.send(urlencode({"payload": json.dumps(payload)}), _FORM, **kwargs)

    async def send_json(self, data: JSONDict, **kwargs: Any) -> SenderResponse:
        """JSON body (Events API)."""
        return await self.send(json.dumps(data), _JSON, **kwargs)

    # ------------------------------------------------------------------ helpers

    def _trigger_id(self, trigger_id: str | None, user_id: str, view_id: str | None = None) -> str:
        if trigger_id is not None:
            return trigger_id
        if self.slack is not None:
            return self.slack.new_trigger_id(user_id, view_id=view_id)
        return f"{int(time.time())}.{secrets.randbelow(10**7)}.{secrets.token_hex(16)}"

    def _response_url(self, channel_id: str | None, user_id: str, message_ts: str | None = None) -> str:
        if self.slack is not None:
            return self.slack.new_response_url(channel_id, user_id, message_ts)
        # Unlinked: a well-formed URL nobody listens on (port 9 is "discard").
        return f"http://127.0.0.1:9/response_url/{secrets.token_hex(8)}"

    def _user_name(self, user_id: str) -> str:
        if self.slack is not None and user_id in self.slack.users:
            return self.slack.users[user_id].name
        return user_id.lower()

    def _channel_name(self, channel_id: str) -> str:
        if self.slack is not None and channel_id in self.slack.channels:
            channel = self.slack.channels[channel_id]
            return "directmessage" if channel.is_im else channel.name
        return channel_id.lower()

    def _user(self, user_id: str) -> JSONDict:
        name = self._user_name(user_id)
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}

    def _team(self) -> JSONDict:
        return {"id": self.team_id, "domain": self.team_domain}

    # ------------------------------------------------------------------ slash commands & events

    async def slash_command(
        self,
        command: str,
        text: str,
        user_id: str,
        channel_id: str,
        trigger_id: str | None = None,
        **kwargs: Any,
    ) -> SenderResponse:
        """A slash command, form-encoded with the fields Slack sends."""
        fields = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": self._channel_name(channel_id),
            "user_id": user_id,
            "user_name": self._user_name(user_id),
            "command": command if command.startswith("/") else "/" + command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": self._response_url(channel_id, user_id),
            "trigger_id": self._trigger_id(trigger_id, user_id),
        }
        return await self.send_form(fields, **kwargs)

    def event_envelope(self, event: JSONDict, event_id: str | None = None) -> JSONDict:
        """The Events API ``event_callback`` wrapper around ``event``."""
        event_time = int(time.time())
        bot_user = self.slack.bot_user_id if self.slack is not None else "U0STANDBOT"
        return {
            "token": self.verification_token,
            "team_id": self.team_id,
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or new_id("Ev"),
            "event_time": event_time,
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": bot_user,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": secrets.token_hex(24),
        }

    async def event(
        self,
        event: JSONDict,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
        **kwargs: Any,
    ) -> SenderResponse:
        """Deliver an Events API callback; ``retry_num`` makes it a Slack retry.

        Retries carry ``X-Slack-Retry-Num`` and ``X-Slack-Retry-Reason``
        (default reason ``http_timeout``) and should reuse the ``event_id``.
        """
        headers = dict(kwargs.pop("headers", None) or {})
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        return await self.send_json(self.event_envelope(event, event_id), headers=headers, **kwargs)

    async def app_mention(
        self,
        text: str,
        user_id: str,
        channel_id: str,
        *,
        thread_ts: str | None = None,
        event_id: str | None = None,
    ) -> SenderResponse:
        """Convenience: an ``app_mention`` event (a fresh message ts is invented)."""
        ts = f"{time.time():.6f}"
        event: JSONDict = {
            "type": "app_mention",
            "user": user_id,
            "text": text,
            "ts": ts,
            "channel": channel_id,
            "event_ts": ts,
            "team": self.team_id,
            "client_msg_id": secrets.token_hex(16),
        }
        if thread_ts is not None:
            event["thread_ts"] = thread_ts
        return await self.event(event, event_id=event_id)

    async def url_verification(self, challenge: str) -> SenderResponse:
        """The handshake Slack sends when the Request URL is configured."""
        body = {"token": self.verification_token, "challenge": challenge, "type": "url_verification"}
        return await self.send_json(body)

    # ------------------------------------------------------------------ interactivity

    async def block_action(
        self,
        action_id: str,
        user_id: str,
        *,
        value: str | None = None,
        block_id: str = "actions",
        action_type: str = "button",
        channel_id: str | None = None,
        message_ts: str | None = None,
        view: JSONDict | None = None,
        selected_option: JSONDict | None = None,
        trigger_id: str | None = None,
        action: JSONDict | None = None,
    ) -> SenderResponse:
        """A ``block_actions`` payload from a message (``channel_id``+``message_ts``) or a ``view``.

        ``action`` overrides the generated action element entirely.
        """
        action_ts = f"{time.time():.6f}"
        element: JSONDict = dict(action) if action else {"action_id": action_id, "block_id": block_id, "type": action_type}
        element.setdefault("action_ts", action_ts)
        if action is None:
            if value is not None:
                element["value"] = value
            if selected_option is not None:
                element["selected_option"] = selected_option
            if action_type == "button":
                element["text"] = {"type": "plain_text", "text": action_id, "emoji": True}
        payload: JSONDict = {
            "type": "block_actions",
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "trigger_id": self._trigger_id(trigger_id, user_id, view.get("id") if view else None),
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
            "actions": [element],
        }
        if view is not None:
            payload["container"] = {"type": "view", "view_id": view.get("id")}
            payload["view"] = view
        elif channel_id is not None:
            payload["container"] = {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel_id,
                "is_ephemeral": False,
            }
            payload["channel"] = {"id": channel_id, "name": self._channel_name(channel_id)}
            payload["response_url"] = self._response_url(channel_id, user_id, message_ts)
            message = self.slack.find_message(channel_id, message_ts) if self.slack and message_ts else None
            if message is not None:
                payload["message"] = message.to_api()
        return await self.send_payload(payload)

    async def view_submission(
        self,
        view: JSONDict,
        user_id: str,
        values: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        trigger_id: str | None = None,
        response_urls: list[JSONDict] | None = None,
    ) -> SenderResponse:
        """Submit a modal. ``values`` is ``{block_id: {action_id: state}}``.

        A state is Slack's dict (``{"type": ..., "value"|"selected_option"|...}``);
        a plain string is shorthand for a ``plain_text_input`` value. With a
        linked stand-in the bot's answer (``response_action``) is applied to it.
        """
        state: dict[str, dict[str, Any]] = {}
        for block_id, actions in (values or {}).items():
            state[block_id] = {
                action_id: ({"type": "plain_text_input", "value": v} if isinstance(v, str) else dict(v)) for action_id, v in actions.items()
            }
        submitted = json.loads(json.dumps(view))  # detached copy
        submitted.setdefault("id", new_id("V"))
        submitted.setdefault("hash", f"{int(time.time())}.{secrets.token_hex(4)}")
        submitted["state"] = {"values": state}
        payload: JSONDict = {
            "type": "view_submission",
            "team": self._team(),
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "trigger_id": self._trigger_id(trigger_id, user_id, submitted["id"]),
            "view": submitted,
            "response_urls": response_urls or [],
            "enterprise": None,
            "is_enterprise_install": False,
        }
        response = await self.send_payload(payload)
        if self.slack is not None and response.ok:
            answer = response.json if isinstance(response.json, dict) else None
            self.slack.apply_view_submission_response(submitted["id"], answer)
        return response

    async def view_closed(self, view: JSONDict, user_id: str, *, is_cleared: bool = False) -> SenderResponse:
        """The user closed a modal (sent only for views with ``notify_on_close``)."""
        payload: JSONDict = {
            "type": "view_closed",
            "team": self._team(),
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "view": view,
            "is_cleared": is_cleared,
            "enterprise": None,
            "is_enterprise_install": False,
        }
        if self.slack is not None and view.get("id"):
            self.slack.close_view(str(view["id"]), clear=is_cleared)
        return await self.send_payload(payload)

    async def shortcut(self, callback_id: str, user_id: str, *, trigger_id: str | None = None) -> SenderResponse:
        """A global shortcut (``type: shortcut``)."""
        payload: JSONDict = {
            "type": "shortcut",
            "token": self.verification_token,
            "action_ts": f"{time.time():.6f}",
            "team": self._team(),
            "user": self._user(user_id),
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self._trigger_id(trigger_id, user_id),
        }
        return await self.send_payload(payload)

    async def message_action(
        self,
        callback_id: str,
        user_id: str,
        channel_id: str,
        message_ts: str,
        *,
        message: JSONDict | None = None,
        trigger_id: str | None = None,
    ) -> SenderResponse:
        """A message shortcut (``type: message_action``) on ``message_ts``.

        ``message`` defaults to the stand-in's copy of that message.
        """
        if message is None and self.slack is not None:
            found = self.slack.find_message(channel_id, message_ts)
            message = found.to_api() if found is not None else None
        payload: JSONDict = {
            "type": "message_action",
            "token": self.verification_token,
            "action_ts": f"{time.time():.6f}",
            "team": self._team(),
            "user": self._user(user_id),
            "channel": {"id": channel_id, "name": self._channel_name(channel_id)},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self._trigger_id(trigger_id, user_id),
            "message_ts": message_ts,
            "message": message or {"type": "message", "text": "", "ts": message_ts},
            "response_url": self._response_url(channel_id, user_id, message_ts),
        }
        return await self.send_payload(payload)
