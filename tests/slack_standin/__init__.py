"""A local stand-in for Slack, for tests that must not (and cannot) reach slack.com.

- :class:`SlackStandIn` serves the Slack Web API on 127.0.0.1 (ephemeral port)
  with workspace state, trigger_id rules, call recording and fault injection.
- :class:`SlackSender` plays Slack calling the bot: signed slash commands,
  Events API callbacks and interactivity payloads.
"""

from .models import Call, Channel, Message, ResponseUrlPost, Trigger, UploadedFile, User, UserGroup
from .sender import SenderResponse, SlackSender, slack_signature
from .server import FOREVER, SlackError, SlackStandIn

__all__ = [
    "FOREVER",
    "Call",
    "Channel",
    "Message",
    "ResponseUrlPost",
    "SenderResponse",
    "SlackError",
    "SlackSender",
    "SlackStandIn",
    "Trigger",
    "UploadedFile",
    "User",
    "UserGroup",
    "slack_signature",
]
