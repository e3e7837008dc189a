"""The national digest composed in worker processes (issue 9: 7,850 digests took one core 20 s and more).

The workers must queue exactly what one process queues: the same messages, once each, on both backends;
a sweep run again (in workers or not) queues nothing; a failing batch fails the sweep and leaves the
batches already done queued."""

from __future__ import annotations

from datetime import datetime
from datetime import time as dtime

import pytest
from sqlalchemy import Engine, delete, select

from bench.national_db import build
from config.settings import Settings
from jobs import digest
from jobs.batch_workers import MIN_BATCHES, run_batches
from tracker.domain.errors import SettingsError
from tracker.domain.thaidate import BANGKOK
from tracker.store.db import session_scope
from tracker.store.models import OutboxRow

DIGEST_DAY = datetime.combine(datetime(2023, 3, 1).date(), dtime(9, 0), tzinfo=BANGKOK)
ORGS = 9


def queued_digests(engine: Engine) -> dict[str, tuple[str | None, ...]]:
    with session_scope(engine) as session:
        rows = session.execute(select(OutboxRow.key, OutboxRow.recipient, OutboxRow.destination, OutboxRow.subject,
                                      OutboxRow.text, OutboxRow.html, OutboxRow.line_text, OutboxRow.status)
                               .where(OutboxRow.kind == "digest")).all()
    return {row[0]: tuple(row[1:]) for row in rows}


def forget_digests(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.execute(delete(OutboxRow).where(OutboxRow.kind == "digest"))


def test_workers_queue_what_one_process_queues(engine: Engine) -> None:
    build(engine, ORGS, 6, actions=True)
    alone = digest.run_each(engine, DIGEST_DAY, batch=2, workers=1)
    expected = queued_digests(engine)
    forget_digests(engine)

    together = digest.run_each(engine, DIGEST_DAY, batch=2, workers=2)

    assert (alone.workers, together.workers) == (1, 2)
    assert together.created == alone.created == ORGS == len(expected)  # one executive each in the bench's data
    assert queued_digests(engine) == expected
    assert together.line().endswith("; composed in 2 processes")
    again = digest.run_each(engine, DIGEST_DAY.replace(minute=15), batch=2, workers=2)
    assert (again.created, again.already_queued) == (0, ORGS)


def test_a_sweep_of_few_batches_stays_in_the_calling_process(engine: Engine) -> None:
    build(engine, 3, 4, actions=True)
    result = digest.run_each(engine, DIGEST_DAY, batch=1, workers=4)  # 3 batches: fewer than MIN_BATCHES
    assert MIN_BATCHES > 3
    assert (result.workers, result.created) == (1, 3)


def fail_on_the_third(engine: Engine, batch: tuple[str, ...], job: digest.DigestJob) -> tuple[int, int]:
    if "org00003" in batch:
        raise ValueError("batch org00003 failed")
    return digest.queue_batch(engine, batch, job)


def test_a_failing_batch_fails_the_sweep_and_the_others_stay_queued(sqlite_engine: Engine) -> None:
    build(sqlite_engine, 6, 4, actions=True)
    job = digest.DigestJob(2023, 3, DIGEST_DAY.date(), DIGEST_DAY, None, frozenset())
    batches = [(f"org{n:05d}",) for n in range(1, 7)]
    with pytest.raises(ValueError, match="org00003 failed"):
        run_batches(sqlite_engine, fail_on_the_third, batches, job, workers=2)
    queued = {key.split(":")[1] for key in queued_digests(sqlite_engine)}
    assert "org00003" not in queued and {"org00001", "org00002"} <= queued
    # The next sweep queues what is missing, and only that.
    result = digest.run_each(sqlite_engine, DIGEST_DAY, batch=1, workers=2)
    assert result.created == 6 - len(queued)
    assert {key.split(":")[1] for key in queued_digests(sqlite_engine)} == {f"org{n:05d}" for n in range(1, 7)}


def test_the_number_of_workers_is_a_setting() -> None:
    assert Settings.from_env({}).digest_workers is None  # one per core
    assert Settings.from_env({"TRACKER_DIGEST_WORKERS": "3"}).digest_workers == 3
    for bad in ("0", "-1", "two", "1.5"):
        with pytest.raises(SettingsError, match=r"TRACKER_DIGEST_WORKERS=.* whole number of at least 1"):
            Settings.from_env({"TRACKER_DIGEST_WORKERS": bad})
