"""Engines, sessions and migrations. The entry point owns the engine and disposes of it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, exc, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from tracker.domain.errors import SettingsError, TrackerError, UnavailableError
from tracker.store.outbox_keys import SQLITE_FUNCTION, occurrence_key_digest

if TYPE_CHECKING:  # Alembic is imported where a migration runs: commands that never migrate skip it
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# pg_advisory_xact_lock key serialising migrations: any fixed 64-bit number no other code uses ("ITAMIGR1").
MIGRATION_LOCK_KEY = 0x4954414D49475231
SUPPORTED = "sqlite:///path/to/tracker.sqlite3 or postgresql+psycopg://user@host/database"
# postgresql:// alone means the psycopg2 driver, which is not installed; psycopg (3) is.
_POSTGRES_ALIASES = ("postgresql", "postgres")


def parse_database_url(url: str) -> URL:
    """`url` parsed, `postgresql://` and `postgres://` read as `postgresql+psycopg://`. Raises
    SettingsError (never echoing the URL, which may hold a password) for what is not a database URL."""
    try:
        parsed = make_url(url)
    except exc.ArgumentError:
        raise SettingsError(f"DATABASE_URL is not a database URL: write {SUPPORTED}") from None
    if parsed.drivername in _POSTGRES_ALIASES:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def open_engine(url: str, lock_timeout: float = 30.0) -> Engine:
    """An engine for `url`. SQLite gets its folder created, foreign keys on, WAL and a busy timeout
    (`lock_timeout` seconds) so that two processes (scheduler and CLI) can share one file, and the
    outbox key's digest function.
    Raises SettingsError for a URL, driver or folder that cannot work."""
    parsed = parse_database_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise SettingsError(f"cannot create the folder {folder} for the SQLite database"
                                    f" ({error.strerror or type(error).__name__}): set TRACKER_DATA_DIR (or"
                                    " DATABASE_URL) to a folder this user can write") from None
        engine = _create(parsed, connect_args={"timeout": lock_timeout})
        busy_ms = int(lock_timeout * 1000)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.close()
            # The outbox's unique key is computed in SQL by the set-based planner (store.outbox_keys).
            dbapi_connection.create_function(SQLITE_FUNCTION, 2, occurrence_key_digest, deterministic=True)

        return engine
    # An unreachable host must not hang a command: give up connecting after 10 s.
    connect_args = {"connect_timeout": 10} if parsed.get_backend_name() == "postgresql" else {}
    return _create(parsed, connect_args=connect_args, pool_pre_ping=True)


def _create(url: URL, **options: Any) -> Engine:
    try:
        return create_engine(url, **options)
    except exc.NoSuchModuleError:
        raise SettingsError(f"DATABASE_URL names the database '{url.drivername}', which ITA Tracker does not"
                            f" support: write {SUPPORTED}") from None
    except ImportError as error:
        raise SettingsError(f"DATABASE_URL needs the driver '{error.name or url.drivername}', which is not"
                            f" installed: write {SUPPORTED}") from None


def database_error(error: BaseException, url: str) -> TrackerError | None:
    """The database failure `error` as a message for a person (where, what, what to do), without the SQL
    and without the password; None when `error` is not a database failure."""
    if not isinstance(error, exc.DBAPIError):
        return None
    try:
        parsed = parse_database_url(url)
    except SettingsError as bad_url:
        return bad_url
    reason = str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else type(error.orig).__name__
    if "no such table" in reason or ("relation" in reason and "does not exist" in reason):
        return SettingsError(f"the database {safe_url(url)} has no tracker tables yet: run `tracker sync` (or"
                             " `tracker init`) first, or check DATABASE_URL")
    if parsed.get_backend_name() == "sqlite":
        where = parsed.database or "the SQLite database"
        if "database is locked" in reason or "database table is locked" in reason:
            return UnavailableError(f"the database {where} is locked by another process (waited for it): try"
                                    " again when the other tracker command has finished; raise"
                                    " TRACKER_DB_LOCK_TIMEOUT to wait longer")
        if "file is not a database" in reason or "malformed" in reason:
            return SettingsError(f"{where} is not a SQLite database ({reason}): point DATABASE_URL (or"
                                 " TRACKER_DATA_DIR) at the tracker's database, or move that file away")
        if "unable to open" in reason or "readonly" in reason or "read-only" in reason:
            return SettingsError(f"cannot write the database {where} ({reason}): set TRACKER_DATA_DIR (or"
                                 " DATABASE_URL) to a folder this user can write")
        return UnavailableError(f"the database {where} failed: {reason}")
    where = f"{parsed.get_backend_name()} at {parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"
    if parsed.password:
        reason = reason.replace(str(parsed.password), "****")
    if error.statement is None or error.connection_invalidated:  # failed while connecting
        if "password authentication failed" in reason or "does not exist" in reason:
            return SettingsError(f"cannot use the database {where}: {reason}: check DATABASE_URL (or PGPASSWORD)")
        return UnavailableError(f"cannot connect to the database {where}: {reason}: is the server running and"
                                " reachable? check DATABASE_URL")
    return UnavailableError(f"the database {where} failed: {reason}")


def safe_url(url: str) -> str:
    """The URL with its password masked, for logs and messages."""
    return parse_database_url(url).render_as_string(hide_password=True)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises."""
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session, session.begin():
        yield session


def _alembic_config(engine: Engine | None = None) -> Config:
    from alembic.config import Config

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
    head = head_revision()
    current = current_revision(engine)
    if current == head:  # the usual case takes no lock: a read-only command must not queue for one
        return current, head
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
        return before, head
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        before = _upgrade(engine, connection)
    return before, head


def _upgrade(engine: Engine, connection: Connection) -> str | None:
    """Upgrade to head on `connection`, inside the caller's transaction; the revision found before."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    before = MigrationContext.configure(connection).get_current_revision()
    cfg = _alembic_config(engine)
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")
    return before


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config())
    head = script.get_current_head()
    assert head is not None
    return head


def is_up_to_date(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()
