"""The service's digest sweep holds no write transaction across organisations (issue 9, fault 5): on
SQLite a write transaction locks the database, and one held over every organisation (126–140 s at
national scale) made the reminder sweep and `tracker log` fail with "database is locked" on digest day.

Every statement the sweep sends is watched: each transaction may write the outbox rows of one
organisation only."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from config.settings import SAMPLE_CONFIG_DIR, Settings
from jobs import sync_config
from jobs.scheduler import Service, ServiceOptions
from notifiers.registry import Notifiers
from tracker.store.db import session_scope

NOW = datetime(2023, 2, 1, 3, 0, tzinfo=UTC)  # 1 February 2023, 10:00 in Bangkok: a digest day


def two_organisations(folder: Path) -> Path:
    folder.mkdir()
    text = (SAMPLE_CONFIG_DIR / "makha.toml").read_text(encoding="utf-8")
    (folder / "makha.toml").write_text(text, encoding="utf-8")
    (folder / "makha2.toml").write_text(text.replace('code = "makha"', 'code = "makha2"', 1), encoding="utf-8")
    return folder


def transactions_writing_outbox(engine: Engine, run: Any) -> list[set[Any]]:
    """Run `run()`; the organisations (org_id) whose outbox rows each committed transaction inserted."""
    current: set[Any] = set()
    done: list[set[Any]] = []

    def executed(_conn: Any, _cursor: Any, statement: str, params: Any, _context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO OUTBOX"):
            rows = params if many else [params]
            current.update(row["org_id"] if isinstance(row, dict) else row[2] for row in rows)

    def committed(_conn: Any) -> None:
        if current:
            done.append(set(current))
            current.clear()

    event.listen(engine, "after_cursor_execute", executed)
    event.listen(engine, "commit", committed)
    try:
        run()
    finally:
        event.remove(engine, "after_cursor_execute", executed)
        event.remove(engine, "commit", committed)
    return done


def test_the_digest_sweep_commits_each_organisation_on_its_own(sqlite_engine: Engine, tmp_path: Path) -> None:
    config = two_organisations(tmp_path / "config")
    with session_scope(sqlite_engine) as session:
        assert sync_config.run_once(session, [config], NOW).ok
    settings = Settings.from_env({"TRACKER_CONFIG": str(config), "TRACKER_DATA_DIR": str(tmp_path / "data")})
    with Notifiers(settings) as notifiers:
        service = Service(sqlite_engine, settings, notifiers, ServiceOptions(), lambda: NOW)
        written = transactions_writing_outbox(sqlite_engine, service.digests)
    assert len(written) == 2 and all(len(orgs) == 1 for orgs in written), written
