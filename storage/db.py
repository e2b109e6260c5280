"""Engine and sessions, built from settings by a factory (nothing at import time)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import Select, event
from sqlalchemy.engine import Connection, CursorResult, Result
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from rules.policy import PolicySet

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


_ASYNC_DRIVERS = {"postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}


def async_url(database_url: str) -> str:
    """`postgresql://…` and `sqlite:///…` as people write them, with the async driver we ship."""
    scheme, sep, rest = database_url.partition("://")
    if not sep:
        raise ValueError(f"DATABASE_URL {database_url!r} is not a URL (e.g. sqlite+aiosqlite:///triage.db)")
    return f"{_ASYNC_DRIVERS.get(scheme, scheme)}://{rest}"


CONNECT_TIMEOUT_SECONDS = 2.0
"""How long a new PostgreSQL connection may take: a request that needs the database must still be
answered within Slack's 3 s, with "try again in a minute" when the database does not answer."""


SQLITE_LOCK_WAIT_SECONDS = 30.0  # how long a write waits for SQLite's lock when no statement bound is given


def create_engine(
    database_url: str, connect_timeout: float = CONNECT_TIMEOUT_SECONDS, statement_timeout: float | None = None
) -> AsyncEngine:
    """`statement_timeout`: how long one statement may take (on SQLite: wait for the write lock) before it fails as
    "the database is not answering"; None for no bound (migrations, the command line, the report process)."""
    database_url = async_url(database_url)
    if database_url.startswith("sqlite"):
        engine = create_async_engine(database_url, connect_args={"timeout": statement_timeout or SQLITE_LOCK_WAIT_SECONDS})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        return engine
    # pre-ping: after the database restarts, pooled connections are found dead and replaced, no restart needed
    # command_timeout: a statement that stalls (a lock held elsewhere, a network that drops packets) is abandoned
    # client-side, its connection still usable, rather than holding the request and its pooled connection for good.
    return create_async_engine(
        database_url, pool_pre_ping=True, connect_args={"timeout": connect_timeout, "command_timeout": statement_timeout}
    )


_SQLITE_UNAVAILABLE = ("database is locked", "unable to open database file", "disk i/o error")


def database_unavailable(error: BaseException) -> str | None:
    """Why the database could not be used for this request, if that is what `error` says (it is down, restarting,
    unreachable, or too slow to connect), in a few words for a log line; None for any other error (a bug)."""
    import asyncpg
    from sqlalchemy import exc

    seen: set[int] = set()
    chain: list[BaseException] = [error]
    while chain:
        e = chain.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, exc.DBAPIError) and e.connection_invalidated:
            return "the connection was lost"
        if isinstance(e, exc.TimeoutError):  # no pooled connection came free in time
            return "no database connection came free in time"
        if isinstance(e, (asyncpg.CannotConnectNowError, asyncpg.exceptions.AdminShutdownError)):
            return f"PostgreSQL is starting or shutting down ({type(e).__name__})"
        if isinstance(e, (asyncpg.ConnectionDoesNotExistError, asyncpg.exceptions.ConnectionFailureError)):
            return f"the connection was lost ({type(e).__name__})"
        if isinstance(e, TimeoutError) and _raised_by_database_driver(e):
            return "it did not answer in time"
        if isinstance(e, OSError) and _raised_by_database_driver(e):
            return f"cannot connect ({type(e).__name__}: {e.strerror or e})"
        if isinstance(e, exc.OperationalError) and any(m in str(e.orig).lower() for m in _SQLITE_UNAVAILABLE):
            return f"SQLite: {e.orig}"
        chain.extend(x for x in (getattr(e, "orig", None), e.__cause__, e.__context__) if isinstance(x, BaseException))
    return None


def _raised_by_database_driver(error: BaseException) -> bool:
    """A socket error or timeout from connecting to the database (SQLAlchemy re-raises asyncpg's as they are),
    not one from a file or from Slack."""
    import traceback

    return any(
        str(frame.f_globals.get("__name__", "")).startswith(("sqlalchemy.", "asyncpg.", "aiosqlite."))
        for frame, _line in traceback.walk_tb(error.__traceback__)
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


def is_postgres(s: AsyncSession) -> bool:
    """Whether this session talks to PostgreSQL (row locks, SKIP LOCKED); SQLite has neither."""
    return s.get_bind().dialect.name == "postgresql"


async def lease_rows(s: AsyncSession, query: Select[Any], replica_id: str, until: datetime) -> list[Any]:
    """Take the rows of a claim query (timers, owed posts) for `replica_id` until `until`, one more attempt each.

    On PostgreSQL they are locked with SKIP LOCKED: two replicas never take the same row. The caller commits.
    """
    if is_postgres(s):
        query = query.with_for_update(skip_locked=True)
    rows = list((await s.execute(query)).scalars())
    for row in rows:
        row.state, row.claimed_by, row.lease_until = "claimed", replica_id, until
        row.attempts += 1
    return rows


def rowcount(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE touched (`session.execute` is typed as returning a plain `Result`)."""
    return int(cast("CursorResult[Any]", result).rowcount or 0)


class StoreContext(Protocol):
    """What storage's functions are handed (it is `bot.services.Services`): sessions, and the loaded policies."""

    sessions: async_sessionmaker[AsyncSession]
    policies: PolicySet


def _alembic_config(connection: Connection, policies: PolicySet | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    cfg.attributes["policies"] = policies
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "head", policies: PolicySet | None = None) -> None:
    """Apply migrations on this engine's database (`triage-bot db upgrade`, and at `run` start).

    `policies`: the plans a data migration measures existing tickets by (default: presets and `POLICY_DIR`).
    """
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync_conn: command.upgrade(_alembic_config(sync_conn, policies), revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


def sqlite_folder_problem(url: str) -> str | None:
    """An SQLite file in a folder that does not exist: said before any connection is tried."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    folder = Path(u.database).expanduser().absolute().parent
    if folder.is_dir():
        return None
    return f"DATABASE_URL: the folder {folder} does not exist: create it (mkdir -p {folder}) or point DATABASE_URL elsewhere"


def explain_connect_error(url: str, error: BaseException) -> str | None:
    """One line saying what to do when the database cannot be opened, or None for anything else."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    orig = getattr(error, "orig", None)
    cause = getattr(orig, "__cause__", None) or orig
    text = str(orig or error)
    if u.get_backend_name() == "postgresql":
        where = f"{u.host or 'localhost'}:{u.port or 5432}"
        if getattr(cause, "sqlstate", None) == "3D000" or "does not exist" in text and "database" in text:
            user = f" -U {u.username}" if u.username else ""
            return (
                f"DATABASE_URL: PostgreSQL at {where} has no database {u.database!r}: create it with "
                f"`createdb -h {u.host or 'localhost'} -p {u.port or 5432}{user} {u.database}`"
            )
        if isinstance(error, TimeoutError) or isinstance(cause, TimeoutError):
            return f"DATABASE_URL: PostgreSQL at {where} did not answer within {CONNECT_TIMEOUT_SECONDS:g} s: check it is up and the host and port are right"
        if isinstance(error, OSError) or isinstance(cause, OSError):
            return f"DATABASE_URL: cannot reach PostgreSQL at {where} ({error}): start it, or fix the host and port"
        if getattr(cause, "sqlstate", None) == "28P01" or "password authentication failed" in text:
            return f"DATABASE_URL: PostgreSQL at {where} refused user {u.username!r}: fix the user or password"
    if u.get_backend_name() == "sqlite" and "unable to open database file" in text and u.database:
        return sqlite_folder_problem(url) or f"DATABASE_URL: cannot open the SQLite file {u.database} (check the folder's permissions)"
    return None
