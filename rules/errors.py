"""Every exception the code raises on purpose, in one module, so a caller can see the whole tree.

    TriageError                 anything raised on purpose; never a builtin's subclass
     +-- UserError              the person asking can fix it: the message is shown to them as is
     |    +-- InvalidInput      input that cannot be read or is incomplete (a command's words, a missing reason)
     |    |    +-- PeriodError  a report period that cannot be read; the message lists the valid forms
     |    +-- NotFound          no such ticket, customer or escalation role
     |    |    +-- UnknownIdError  an unknown plan, severity or priority id; `valid` lists the known ones
     |    +-- NotAllowed        the person's role does not allow it (handlers.middleware.require)
     |    +-- Conflict          the ticket's state, or what is already stored, does not allow it now
     +-- Unavailable            nobody's fault, passing: the database is not answering; try again in a minute
     +-- ConfigError            the operator must fix a file or a setting
          +-- PolicyError       a policy file that cannot be used; `problems` lists each one
          +-- CalendarError     a calendar that cannot answer (no open time within years)
          +-- StartupError      (bot.runner) a setting the bot cannot start with

Who maps them: `handlers.middleware` turns a database that is down (`storage.db.database_unavailable`)
into `Unavailable`, and a `UserError` or `Unavailable` into the reply the request kind
needs (ephemeral message, response_url, modal field error); the CLI prints any
`TriageError` as one line and exits with code 2. No class here derives from `KeyError`
or `ValueError`, so an `except KeyError` around a dict look-up never swallows one.
"""

from __future__ import annotations


class TriageError(Exception):
    """Raised on purpose by triage-bot; the message is one line a person can act on."""


class UserError(TriageError):
    """The person asking can fix it: the message is shown to them as is."""


class InvalidInput(UserError):
    """Input that cannot be read or is incomplete."""


class PeriodError(InvalidInput):
    """A period the report cannot read; the message lists the valid forms."""


class NotFound(UserError):
    """No such ticket, customer or escalation role."""


class UnknownIdError(NotFound):
    """An unknown plan, severity or priority id; the message lists the valid ones."""

    def __init__(self, kind: str, value: str, valid: list[str], context: str | None = None):
        self.kind, self.value, self.valid = kind, value, valid
        where = f" in {context}" if context else ""
        super().__init__(f"unknown {kind} {value!r}{where}; valid: {', '.join(valid)}")


class NotAllowed(UserError):
    """The person's role does not allow it; the message says who may and how to become one."""


class Conflict(UserError):
    """The ticket's state, or what is already stored, does not allow it now."""


class Unavailable(TriageError):
    """The database is not answering (down, restarting, unreachable): nothing was done; the same request will
    work once it is back. Said to the person as is; logged as one line, not as a bug."""


class ConfigError(TriageError):
    """The operator must fix a file or a setting."""


class PolicyError(ConfigError):
    """A policy file that cannot be used; `problems` lists each one, fully located."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid policy\n" + "\n".join(f"  - {p}" for p in problems))


class CalendarError(ConfigError):
    """Raised when a calendar cannot answer (no open time within years)."""
