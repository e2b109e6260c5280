"""`triage-bot run`, `doctor` and `db upgrade`: running the bot and checking what it stands on."""

from __future__ import annotations

import argparse

from bot.cli.common import load_policy_files, with_services
from bot.settings import Settings


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from bot.logs import configure_logging
    from bot.runner import serve

    configure_logging(
        settings.log_level,
        settings.log_format,
        secrets=[settings.slack_bot_token or "", settings.slack_signing_secret or "", settings.slack_app_token or ""],
    )
    load_policy_files(settings)  # a bad policy file stops the start with its message
    try:
        asyncio.run(serve(settings))  # a StartupError is printed by main()
    except KeyboardInterrupt:
        pass
    return 0


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from bot.doctor import run_checks

    checks = asyncio.run(run_checks(settings))
    for check in checks:
        print(check.line())
    failed = [c for c in checks if not c.ok]
    print(f"{len(failed)} of {len(checks)} checks failed" if failed else f"all {len(checks)} checks passed")
    return 1 if failed else 0


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from storage.db import current_revision

    rev = with_services(settings, lambda services: current_revision(services.engine))
    print(f"database at revision {rev} ({_safe_url(settings.database_url)})")
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def register(sub: argparse._SubParsersAction) -> None:
    """`run`, `doctor` and `db upgrade`."""
    r = sub.add_parser("run", help="run the bot (HTTP on PORT, or Socket Mode with SLACK_APP_TOKEN)")
    r.set_defaults(func=cmd_run)

    sub.add_parser("doctor", help="check the token, scopes, channels, policies, migrations and scheduler").set_defaults(func=cmd_doctor)
    db = sub.add_parser("db", help="database")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply migrations to DATABASE_URL").set_defaults(func=cmd_db_upgrade)
