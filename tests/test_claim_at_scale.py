"""A dispatcher's claim reads about as many rows as it takes, however many are due, even when the outbox's
statistics are stale (as in production after a heavy day's planning: PostgreSQL analyses a big table
again only after a tenth of it changed).

Measured with `python -m bench.bench_reminders --history 3000000`: with 109,900 reminders due, one claim
of 200 took 2.5 s on PostgreSQL (the UPDATE compared each due row with each picked id: 22 million
comparisons), so a national burst of ~550 claims would take over 20 minutes. The rows read are counted
here with `pg_stat_xact_user_tables` (this transaction's own counters), not timed."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from bench.national_db import fill_history
from config.loader import LoadResult
from jobs import plan
from tests.fixtures_reminders import AS_OF, sync_sample
from tracker.domain.thaidate import BANGKOK
from tracker.store import outbox_claims
from tracker.store.db import session_scope
from tracker.store.outbox_bundles import claim_companions, sent_earlier_today

pytestmark = pytest.mark.postgres
DUE = 3000
BATCH = 10
HISTORY = 500  # reminders sent before to each destination
NOW = datetime(2023, 3, 24, 3, 0, tzinfo=UTC)


def rows_read(session: Session) -> int:
    """Outbox rows this transaction has read, by index or by scan."""
    return int(session.execute(text("SELECT coalesce(idx_tup_fetch, 0) + seq_tup_read FROM pg_stat_xact_user_tables"
                                    " WHERE relname = 'outbox'")).scalar_one())


def fill_due(engine: Engine) -> None:
    """DUE pending reminders, all due, added after the outbox was analysed empty."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE outbox")
    due_at = "TIMESTAMP '2023-03-24 01:00' + g * INTERVAL '1 second'"
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO outbox (key, kind, org_id, occurrence_id, stage, merged_stages, recipient, destination, lang,"
            " status, attempts, send_after, next_attempt_at, created_at, key_digest)"
            " SELECT 'k' || g, 'reminder', 1, g, 'before-7', '', 'r', 'line://U' || g, 'th', 'pending', 0,"
            f" {due_at}, {due_at}, TIMESTAMP '2023-03-24 00:00', int4send(g) || decode(repeat('00', 12), 'hex')"
            f" FROM generate_series(1, {DUE}) g")


def test_a_claim_reads_about_as_many_rows_as_it_takes(postgres_engine: Engine) -> None:
    fill_due(postgres_engine)
    with Session(postgres_engine) as session:
        before = rows_read(session)
        ids = outbox_claims.claim(session, "first", NOW, 300, BATCH)
        read = rows_read(session) - before
        earliest = session.scalars(text(f"SELECT id FROM outbox ORDER BY next_attempt_at, id LIMIT {BATCH}")).all()
        session.rollback()
    assert len(ids) == BATCH
    assert sorted(ids) == list(earliest)  # the earliest due first
    assert read <= 4 * BATCH  # not every due row (3,000 here, 109,900 on a heavy national day)


def test_widening_a_claim_to_whole_days_reads_the_day_not_each_persons_history(postgres_engine: Engine,
                                                                               sample: LoadResult) -> None:
    # A person gets ~600 reminders a year: with a year of history, the companions of a claim and the
    # check for a message already sent today read every earlier reminder of each person claimed (0.5 s
    # of a 0.7 s claim of 200 at national scale with 3,000,000 rows sent before).
    sync_sample(postgres_engine, sample)
    with session_scope(postgres_engine) as session:
        plan.plan(session, AS_OF, "makha")
    with postgres_engine.begin() as connection:  # HISTORY reminders sent to each destination in earlier months
        connection.exec_driver_sql(
            "INSERT INTO outbox (key, kind, org_id, occurrence_id, stage, merged_stages, recipient, destination,"
            " lang, status, attempts, send_after, next_attempt_at, created_at, sent_at, key_digest)"
            " SELECT 'old:' || p.n || ':' || g, 'reminder', p.org_id, 2000000000 - g, 'before-7', '', p.recipient,"
            " p.destination, 'th', 'sent', 1, t.at, t.at, t.at, t.at, int4send(2000000000 - g) || decode(md5("
            " p.n || ':' || g), 'hex')::bytea"
            " FROM (SELECT DISTINCT org_id, recipient, destination, dense_rank() OVER (ORDER BY destination,"
            " recipient) AS n FROM outbox) p CROSS JOIN generate_series(1, %(history)s) g"
            " CROSS JOIN LATERAL (SELECT TIMESTAMP '2022-04-01' + g * INTERVAL '1 hour' AS at) t",
            {"history": HISTORY})
    fill_history(postgres_engine, 50 * HISTORY)  # and the country's: the outbox of a national service, analysed
    now = AS_OF.astimezone(UTC)
    day = datetime.combine(AS_OF.date(), time(0), tzinfo=BANGKOK)
    with Session(postgres_engine) as session:
        before = rows_read(session)
        ids = outbox_claims.claim(session, "first", now, 300, 2)
        ids += claim_companions(session, "first", now, 300, ids)
        sent_earlier_today(session, ids, "first", day, day + timedelta(days=1))
        read = rows_read(session) - before
        session.rollback()
    assert len(ids) > 2  # a person's other reminders of the day came with the claim
    assert read < HISTORY  # not each claimed person's history
