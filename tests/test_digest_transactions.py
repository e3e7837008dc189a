"""The service's digest sweep holds no write transaction across more than a batch of organisations
(issue 9, fault 5): on SQLite a write transaction locks the database, and one held over every
organisation (126–140 s at national scale) made the reminder sweep and `tracker log` fail with "database
is locked" on digest day. Each transaction may write the outbox rows of at most one batch.

Every committed transaction is watched: the organisations whose digests it queued."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from config.settings import SAMPLE_CONFIG_DIR, Settings
from jobs import digest, sync_config
from jobs.scheduler import Service, ServiceOptions
from notifiers.registry import Notifiers
from tracker.store.db import session_scope
from tracker.store.outbox import NewMessage

NOW = datetime(2023, 2, 1, 3, 0, tzinfo=UTC)  # 1 February 2023, 10:00 in Bangkok: a digest day


def organisations(folder: Path, count: int) -> Path:
    """The sample under `count` codes (makha, makha2, …)."""
    folder.mkdir()
    text = (SAMPLE_CONFIG_DIR / "makha.toml").read_text(encoding="utf-8")
    for n in range(1, count + 1):
        code = "makha" if n == 1 else f"makha{n}"
        (folder / f"{code}.toml").write_text(text.replace('code = "makha"', f'code = "{code}"', 1), encoding="utf-8")
    return folder


def transactions_writing_outbox(engine: Engine, monkeypatch: pytest.MonkeyPatch, run: Any) -> list[set[int]]:
    """Run `run()`; the organisations (org_id) whose digests each committed transaction queued."""
    current: set[int] = set()
    done: list[set[int]] = []
    real_enqueue = digest.enqueue

    def enqueue(session: Any, messages: Sequence[NewMessage], now: datetime | None = None) -> int:
        current.update(message.org_id for message in messages)
        return real_enqueue(session, messages, now)

    def committed(_conn: Any) -> None:
        if current:
            done.append(set(current))
            current.clear()

    monkeypatch.setattr(digest, "enqueue", enqueue)
    event.listen(engine, "commit", committed)
    try:
        run()
    finally:
        event.remove(engine, "commit", committed)
    return done


def test_the_digest_sweep_commits_one_batch_at_a_time(sqlite_engine: Engine, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    config = organisations(tmp_path / "config", 3)
    with session_scope(sqlite_engine) as session:
        assert sync_config.run_once(session, [config], NOW).ok
    written = transactions_writing_outbox(sqlite_engine, monkeypatch,
                                          lambda: digest.run_each(sqlite_engine, NOW, batch=2))
    assert [len(orgs) for orgs in written] == [2, 1], written
    assert len(set().union(*written)) == 3


def test_the_service_queues_every_digest_in_batches(sqlite_engine: Engine, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    config = organisations(tmp_path / "config", 2)
    with session_scope(sqlite_engine) as session:
        assert sync_config.run_once(session, [config], NOW).ok
    settings = Settings.from_env({"TRACKER_CONFIG": str(config), "TRACKER_DATA_DIR": str(tmp_path / "data")})
    monkeypatch.setattr(digest, "DIGEST_BATCH", 1)
    with Notifiers(settings) as notifiers:
        service = Service(sqlite_engine, settings, notifiers, ServiceOptions(), lambda: NOW)
        written = transactions_writing_outbox(sqlite_engine, monkeypatch, service.digests)
    assert len(written) == 2 and all(len(orgs) == 1 for orgs in written), written


def test_a_batch_pauses_the_cycle_collector_and_gives_it_back(sqlite_engine: Engine, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The collector is off while a batch is built (15 % of queuing at national scale) and on again
    after it, also when the batch fails: a service left without it would grow until restarted."""
    config = organisations(tmp_path / "config", 2)
    with session_scope(sqlite_engine) as session:
        assert sync_config.run_once(session, [config], NOW).ok
    seen: list[bool] = []
    real_enqueue = digest.enqueue

    def enqueue(session: Any, messages: Sequence[NewMessage], now: datetime | None = None) -> int:
        seen.append(gc.isenabled())
        if len(seen) == 2:
            raise RuntimeError("the second batch fails")
        return real_enqueue(session, messages, now)

    monkeypatch.setattr(digest, "enqueue", enqueue)
    assert gc.isenabled()
    with pytest.raises(RuntimeError, match="second batch"):
        digest.run_each(sqlite_engine, NOW, batch=1)
    assert seen == [False, False]
    assert gc.isenabled()
