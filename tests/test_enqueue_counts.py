"""Enqueueing counts what it inserted, on both databases: PostgreSQL's driver reports no row count for an
`INSERT … ON CONFLICT DO NOTHING` that SQLAlchemy runs with RETURNING, so the digest sweep printed
"created -3" there; the count now comes from the rows returned."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from config.settings import SAMPLE_CONFIG_DIR
from jobs import digest, sync_config
from tracker.store.db import session_scope

NOW = datetime(2023, 2, 1, 3, 0, tzinfo=UTC)  # 1 February 2566 B.E., 10:00 in Bangkok: a digest day


def test_the_digest_sweep_counts_what_it_queued_then_nothing(engine: Engine) -> None:
    with session_scope(engine) as session:
        sync_config.run_once(session, [SAMPLE_CONFIG_DIR], NOW)
    with session_scope(engine) as session:
        first = digest.run_once(session, NOW)
    with session_scope(engine) as session:
        second = digest.run_once(session, NOW)
    assert first.created > 0 and first.already_queued == 0
    assert second.created == 0 and second.already_queued == first.created
