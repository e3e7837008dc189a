"""A sweep of the running service that fails on the database (here: another process holds SQLite's write
lock past the timeout) logs one line saying what and where, without the SQL statement and its values."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from config.settings import SAMPLE_CONFIG_DIR, Settings
from jobs import sync_config
from jobs.scheduler import Service, ServiceOptions
from notifiers.registry import Notifiers
from tracker.store.db import migrate, open_engine, session_scope

NOW = datetime(2023, 2, 1, 3, 0, tzinfo=UTC)  # a digest day: the digest sweep writes


def test_a_sweep_failing_on_a_locked_database_logs_one_line_without_sql(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "tracker.sqlite3"
    engine = open_engine(f"sqlite:///{path}", lock_timeout=0.2)
    migrate(engine)
    with session_scope(engine) as session:
        sync_config.run_once(session, [SAMPLE_CONFIG_DIR], NOW)
    settings = Settings.from_env({"DATABASE_URL": f"sqlite:///{path}", "TRACKER_DATA_DIR": str(tmp_path)})
    other = sqlite3.connect(path)
    other.execute("BEGIN IMMEDIATE")  # another process in the middle of a long write
    try:
        with Notifiers(settings) as notifiers, caplog.at_level(logging.ERROR):
            Service(engine, settings, notifiers, ServiceOptions(), lambda: NOW).digests()
    finally:
        other.rollback()
        other.close()
        engine.dispose()
    [record] = [r for r in caplog.records if "sweep failed" in r.getMessage()]
    message = record.getMessage()
    assert "locked" in message and "\n" not in message
    assert "INSERT" not in message.upper() and "SELECT" not in message.upper()
