"""Every exception the code raises on purpose, in one module, so a caller can see the whole tree.

    ValueError
     +-- PolicyError      a policy file that cannot be used; `problems` lists each one (rules.policy)
     +-- CalendarError    a calendar that cannot answer (rules.calendar)
     +-- PeriodError      a report period that cannot be read (rules.periods)
     +-- ServiceError     a user-facing problem, shown as is (bot.services, storage)
    KeyError
     +-- UnknownIdError   an unknown plan, severity or priority id (rules.policy)
    Exception
     +-- CliError         a command-line user error: one line, exit code 2 (bot.cli)

(`bot.runner.StartupError` stays with the runner: it tells the operator what to set.)
"""

from __future__ import annotations


class PolicyError(ValueError):
    """A policy file that cannot be used; `problems` lists each one, fully located."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid policy\n" + "\n".join(f"  - {p}" for p in problems))


class UnknownIdError(KeyError):
    def __init__(self, kind: str, value: str, valid: list[str], context: str | None = None):
        self.kind, self.value, self.valid = kind, value, valid
        where = f" in {context}" if context else ""
        super().__init__(f"unknown {kind} {value!r}{where}; valid: {', '.join(valid)}")

    def __str__(self) -> str:
        return str(self.args[0])


class CalendarError(ValueError):
    """Raised when a calendar cannot answer (no open time within years)."""


class PeriodError(ValueError):
    """A period the report cannot read; the message lists the valid forms."""


class ServiceError(ValueError):
    """A user-facing problem: the message is shown as is."""


class CliError(Exception):
    """A user error: printed as one line, exit code 2."""
