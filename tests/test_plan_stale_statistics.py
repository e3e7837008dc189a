"""Planning on PostgreSQL when the outbox's statistics are stale, as they are in production: a table of
millions of rows is analysed again only after a tenth of it changed, so after a heavy day's ~110,000 new
reminders PostgreSQL still believes that no reminder is pending. Planning must not then pick plans that
look up each pending reminder one by one.

Measured with `python -m bench.bench_reminders --history 3000000`: the cancellation of reminders whose
deadline closed took 0.35–0.40 s of a 1.0–1.1 s run planned again, checking all 109,900 pending
reminders against their occurrence and obligation, when none needed it. The lookups are counted here with
`pg_stat_xact_user_tables` (this transaction's own index scans), not timed."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from bench.national_db import fill_history
from config.loader import LoadResult
from jobs import plan
from tests.fixtures_reminders import AS_OF, sync_sample
from tracker.domain.thaidate import BANGKOK
from tracker.store import outbox as outbox_store
from tracker.store.db import session_scope
from tracker.store.outbox import cancel_done

pytestmark = pytest.mark.postgres


def lookups(session: Session) -> int:
    """Index scans this transaction has started on occurrences and obligations."""
    return int(session.execute(text("SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_xact_user_tables"
                                     " WHERE relname IN ('occurrences', 'obligations')")).scalar_one())


def test_cancelling_looks_up_only_reminders_of_occurrences_not_known_open(postgres_engine: Engine,
                                                                           sample: LoadResult) -> None:
    sync_sample(postgres_engine, sample)
    with postgres_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE outbox")  # counted with no reminder pending: stale from here on
    with session_scope(postgres_engine) as session:
        plan.plan(session, AS_OF, "makha")
    with Session(postgres_engine) as session:
        pending = session.execute(text("SELECT count(*) FROM outbox WHERE status = 'pending'")).scalar_one()
        session.execute(text("CREATE TEMP TABLE open_now ON COMMIT DROP AS SELECT DISTINCT occurrence_id AS occ_id"
                             " FROM outbox WHERE status = 'pending' AND occurrence_id IS NOT NULL"))
        before = lookups(session)
        cancelled = cancel_done(session, AS_OF.astimezone(BANGKOK).date(), None, "open_now")
        looked_up = lookups(session) - before
        session.rollback()
    assert pending >= 10
    assert cancelled == 0
    assert looked_up == 0  # every pending reminder's occurrence is known open: nothing to look up


def test_reminders_of_occurrences_not_known_open_are_still_checked_and_cancelled(
        postgres_engine: Engine, sample: LoadResult, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox_store, "ID_CHUNK", 2)  # several IN lists, as ~10,000 unknown reminders would be
    sync_sample(postgres_engine, sample)
    with session_scope(postgres_engine) as session:
        plan.plan(session, AS_OF, "makha")
    today = AS_OF.astimezone(BANGKOK).date()
    with Session(postgres_engine) as session:
        occurrences = session.execute(text("SELECT DISTINCT occurrence_id FROM outbox WHERE status = 'pending'"
                                           " ORDER BY occurrence_id")).scalars().all()
        done, still_open = occurrences[:3], occurrences[3:]
        session.execute(text("UPDATE occurrences SET done_on = :day WHERE id = ANY(:ids)"),
                        {"day": today, "ids": list(done)})
        doomed = session.execute(text("SELECT count(*) FROM outbox WHERE status = 'pending'"
                                      " AND occurrence_id = ANY(:ids)"), {"ids": list(done)}).scalar_one()
        # Listed open: the others. The done ones' reminders are looked up, found closed and cancelled.
        session.execute(text("CREATE TEMP TABLE open_now (occ_id integer) ON COMMIT DROP"))
        session.execute(text("INSERT INTO open_now SELECT unnest(CAST(:ids AS integer[]))"),
                        {"ids": list(still_open)})
        cancelled = cancel_done(session, today, None, "open_now")
        left = session.execute(text("SELECT count(*) FROM outbox WHERE status = 'pending'"
                                    " AND occurrence_id = ANY(:ids)"), {"ids": list(done)}).scalar_one()
        session.rollback()
    assert doomed > 2 and len(still_open) > 0
    assert (cancelled, left) == (doomed, 0)


def estimated_pending(engine: Engine) -> int:
    with engine.connect() as connection:
        found = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) SELECT id FROM outbox WHERE status = 'pending'")
        return int(found.scalar_one()[0]["Plan"]["Plan Rows"])


def test_a_run_that_adds_many_reminders_leaves_statistics_that_count_them(
        postgres_engine: Engine, sample: LoadResult, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan, "ANALYZE_AFTER", 10)  # the sample's day has ~26; a national day ~110,000
    sync_sample(postgres_engine, sample)
    fill_history(postgres_engine, 5000)  # earlier months' reminders, all sent, analysed
    assert estimated_pending(postgres_engine) <= 1
    with session_scope(postgres_engine) as session:
        created = plan.plan(session, AS_OF, "makha").created
    assert created >= 10
    assert estimated_pending(postgres_engine) >= created // 2  # PostgreSQL now expects the day's reminders
