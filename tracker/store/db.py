"""Engines, sessions and migrations. The entry point owns the engine and disposes of it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# pg_advisory_xact_lock key serialising migrations: any fixed 64-bit number no other code uses ("ITAMIGR1").
MIGRATION_LOCK_KEY = 0x4954414D49475231


def open_engine(url: str) -> Engine:
    """An engine for `url`. SQLite gets its folder created, foreign keys on, WAL and a busy timeout so
    that two processes (scheduler and CLI) can share one file."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def safe_url(url: str) -> str:
    """The URL with its password masked, for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises."""
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session, session.begin():
        yield session


def _alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        # The engine travels in attributes, never as a URL string: its password must not reach a log.
        cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> tuple[str | None, str]:
    """Create or upgrade the schema to the newest revision. Returns (revision before, revision after).

    Processes starting together on an empty database (the release step and the scheduler, two
    schedulers) take turns: the migration runs under a lock held to its commit, and whoever waited
    finds the schema already at the head. PostgreSQL: a transaction-scoped advisory lock. SQLite: an
    exclusive transaction around the whole migration (the driver would otherwise commit each DDL
    statement on its own, leaving a half-made schema for the other process to trip on)."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            # AUTOCOMMIT hands transaction control to us: the driver issues no BEGIN of its own.
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.exec_driver_sql("BEGIN EXCLUSIVE")
            try:
                before = _upgrade(engine, connection)
            except BaseException:
                connection.exec_driver_sql("ROLLBACK")
                raise
            connection.exec_driver_sql("COMMIT")
        return before, head_revision()
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        before = _upgrade(engine, connection)
    return before, head_revision()


def _upgrade(engine: Engine, connection: Connection) -> str | None:
    """Upgrade to head on `connection`, inside the caller's transaction; the revision found before."""
    before = MigrationContext.configure(connection).get_current_revision()
    cfg = _alembic_config(engine)
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")
    return before


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    script = ScriptDirectory.from_config(_alembic_config())
    head = script.get_current_head()
    assert head is not None
    return head


def is_up_to_date(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()
