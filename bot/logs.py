"""Logging set-up: plain text, or `LOG_FORMAT=json` (one JSON object per line, python-json-logger).

Every record carries, where they apply, the ticket key, the Slack team, channel
and user ids and the timer id, from a context variable set by a bolt middleware
(for each request), the services (for the ticket a request works on) and the
scheduler (for each post). Asyncio tasks copy the context when created, so
concurrent requests and posts never mix their fields.

Secrets never reach a log line: Slack tokens (`xox…-`, `xapp-…`) and the
signing secret are masked in every message. Text users typed is not logged at
INFO or above: log ids and keys, not summaries or updates.
"""

from __future__ import annotations

import logging
import re
import sys
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any, Iterator

from pythonjsonlogger.json import JsonFormatter

CONTEXT_FIELDS = ("ticket", "team_id", "channel_id", "user_id", "timer_id")
_context: ContextVar[dict[str, Any]] = ContextVar("triage_log_context", default={})
_TOKEN = re.compile(r"\b(xox[a-z]|xapp)-[A-Za-z0-9-]+")


def bind(**fields: Any) -> None:
    """Add fields to this task's log context (and the tasks it starts from now on)."""
    _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})


def begin(**fields: Any) -> None:
    """A fresh log context for one Slack request: its fields only (what an earlier request set is gone)."""
    _context.set({k: v for k, v in fields.items() if v is not None})


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Fields in the log context for the duration of a block."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def current() -> dict[str, Any]:
    return dict(_context.get())


class ContextFilter(logging.Filter):
    """Copies the log context onto each record (as attributes the JSON formatter writes out)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, val in _context.get().items():
            if not hasattr(record, key):
                setattr(record, key, val)
        return True


class RedactFilter(logging.Filter):
    """Masks Slack tokens and the given secrets in the final message (and drops args once formatted)."""

    def __init__(self, secrets: list[str]):
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = _TOKEN.sub(lambda m: f"{m.group(1)}-***", message)
        for secret in self.secrets:
            clean = clean.replace(secret, "***")
        if clean != message:
            record.msg, record.args = clean, None
        return True


class _Json(JsonFormatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        return datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")


def json_formatter() -> logging.Formatter:
    return _Json(
        "{asctime}{levelname}{name}{message}",
        style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
    )


def configure_logging(level: str, fmt: str, secrets: list[str]) -> None:
    """One handler on the root logger, to stderr: text or JSON lines, with context fields and secrets masked."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactFilter(secrets))
    if fmt == "json":
        handler.setFormatter(json_formatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
