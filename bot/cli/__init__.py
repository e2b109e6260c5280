"""`triage-bot` command line: for people (tables) and for scripts (`--json`). What it shows is built in bot.text.

One module per command group (`policies`, `ops`, `customers`, `report`, `oncall`), each with its
`register`; what they share is in `common`. `python -m bot.cli` runs `main` (`__main__.py`).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from pydantic import ValidationError

from bot.cli import customers, oncall, ops, policies, report
from bot.settings import Settings
from rules.errors import ConfigError, TriageError

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="triage-bot", description="Incident intake and SLA clocks for Slack.")
    sub = parser.add_subparsers(dest="command", required=True)
    policies.register(sub)
    ops.register(sub)
    customers.register_customers(sub)
    report.register(sub)
    customers.register_contacts(sub)
    oncall.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _main(args)
    except BrokenPipeError:
        # `triage-bot policies --json | head`: the reader left; say nothing more (Python's documented recipe).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _main(args: argparse.Namespace) -> int:
    try:
        try:
            settings = Settings()
        except ValidationError as e:  # every bad setting, one line each
            raise ConfigError("\n".join(f"setting {str(err['loc'][0]).upper()}: {err['msg']}" for err in e.errors())) from None
        return int(args.func(args, settings) or 0)
    except TriageError as e:
        print(f"triage-bot: error: {e}", file=sys.stderr)
        return EXIT_USAGE
