"""Shared fixtures: databases (SQLite always, PostgreSQL when TEST_DATABASE_URL is set), the sample."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text

from config.loader import LoadResult, load_config
from config.settings import SAMPLE_CONFIG_DIR
from tracker.store.db import migrate, open_engine

pytest_plugins = ["tests.fakes.plugin"]

REPO = Path(__file__).resolve().parents[1]
SAMPLE = SAMPLE_CONFIG_DIR / "makha.toml"
NOW = datetime(2023, 4, 30, 3, 0, tzinfo=UTC)


def postgres_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url and os.environ.get("CI"):
        raise RuntimeError("CI must provide TEST_DATABASE_URL: .ci/run starts PostgreSQL for the storage tests")
    return url


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_engine(f"sqlite:///{tmp_path / 'tracker.sqlite3'}")
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_engine() -> Iterator[Engine]:
    """A fresh, migrated PostgreSQL database for one test, dropped afterwards."""
    url = postgres_url()
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set (CI sets it)")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = open_engine(make_url(url).set(database=name).render_as_string(hide_password=False))
    migrate(engine)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    """Every storage test runs on SQLite and on a real PostgreSQL server."""
    return request.getfixturevalue(f"{request.param}_engine")  # type: ignore[no-any-return]


@pytest.fixture
def db_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def sample() -> LoadResult:
    loaded = load_config([SAMPLE])
    assert loaded.ok, loaded.errors
    return loaded
