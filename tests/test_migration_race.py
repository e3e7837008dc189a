"""Processes starting together on an empty database (a release step and the scheduler, two schedulers)
must not race on the migration: every one exits 0 and the schema ends at the head revision once.

Each trial starts its processes, lets them import everything, then releases them at the same instant
into the real `tracker init`, so that their migrations overlap as much as they can."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from tests.conftest import postgres_url
from tracker.store.db import current_revision, head_revision, open_engine

pytestmark = pytest.mark.slow
PROCESSES = 3
TRIALS = 4
GO = "from tracker.cli.main import main; import sys; sys.stdin.readline(); sys.exit(main(['init']))"


def race(url: str, cwd: Path) -> list[tuple[int, str]]:
    """(exit code, stderr) of each process racing `tracker init` on `url`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "DATABASE_"))}
    env |= {"DATABASE_URL": url, "TRACKER_DATA_DIR": str(cwd / "data")}
    procs = [subprocess.Popen([sys.executable, "-c", GO], cwd=cwd, env=env, text=True, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(PROCESSES)]
    for proc in procs:  # released together: each is blocked on its stdin after importing
        assert proc.stdin is not None
        proc.stdin.write("go\n")
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.close()
    return [(proc.wait(timeout=120), proc.stderr.read() if proc.stderr else "") for proc in procs]


def assert_all_migrated(results: list[tuple[int, str]], url: str) -> None:
    assert [(code, err) for code, err in results if code != 0 or "Traceback" in err] == []
    engine = open_engine(url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_processes_starting_together_on_an_empty_sqlite_database_all_succeed(tmp_path: Path) -> None:
    for trial in range(TRIALS):
        url = f"sqlite:///{tmp_path / f'race-{trial}.sqlite3'}"
        assert_all_migrated(race(url, tmp_path), url)


@pytest.fixture
def empty_postgres() -> Iterator[list[str]]:
    """URLs of fresh, empty PostgreSQL databases (one per trial), dropped afterwards."""
    base = postgres_url()
    if not base:
        pytest.skip("TEST_DATABASE_URL is not set (CI sets it)")
    names = [f"race_{uuid.uuid4().hex[:12]}" for _ in range(TRIALS)]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield [make_url(base).set(database=n).render_as_string(hide_password=False) for n in names]
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.postgres
def test_processes_starting_together_on_an_empty_postgres_database_all_succeed(
        empty_postgres: list[str], tmp_path: Path) -> None:
    for url in empty_postgres:
        assert_all_migrated(race(url, tmp_path), url)
