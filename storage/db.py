"""Engine and sessions, built from settings by a factory (nothing at import time)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection
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


def create_engine(database_url: str) -> AsyncEngine:
    database_url = async_url(database_url)
    if database_url.startswith("sqlite"):
        engine = create_async_engine(database_url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        return engine
    return create_async_engine(database_url, pool_pre_ping=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


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
