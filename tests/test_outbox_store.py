"""The outbox's home in the storage layer: nothing else touches its table; leases are claimed, renewed
(the heartbeat of a long send) and honoured only for their owner. SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import Engine, exc, select, text

from config.loader import LoadResult
from jobs import plan
from tests.conftest import REPO
from tests.fixtures_reminders import AS_OF, outbox, sync_sample
from tracker.domain.reminders import reminder_key
from tracker.store import outbox_claims
from tracker.store.db import session_scope
from tracker.store.models import OutboxRow
from tracker.store.outbox_keys import of_occurrences

OUTBOX_SQL = re.compile(r"\b(?:INTO|FROM|UPDATE|JOIN)\s+outbox\b", re.IGNORECASE)


def test_only_the_storage_layer_touches_the_outbox_table() -> None:
    offenders = []
    for top in ("tracker", "jobs", "notifiers", "config"):
        for path in sorted((REPO / top).rglob("*.py")):
            relative = path.relative_to(REPO)
            if relative.parts[:2] == ("tracker", "store"):
                continue
            text = path.read_text(encoding="utf-8")
            if "OutboxRow" in text or OUTBOX_SQL.search(text):
                offenders.append(str(relative))
    assert offenders == [], "use tracker.store.outbox / outbox_claims / outbox_admin instead"


def _planned(engine: Engine, sample: LoadResult) -> None:
    sync_sample(engine, sample)
    with session_scope(engine) as session:
        assert plan.plan(session, AS_OF, "makha").created == 13


def test_renew_extends_the_owners_lease_so_nobody_else_claims(engine: Engine, sample: LoadResult) -> None:
    _planned(engine, sample)
    with session_scope(engine) as session:
        ids = outbox_claims.claim(session, "a", AS_OF, 60, 5)
    assert len(ids) == 5
    with session_scope(engine) as session:
        assert outbox_claims.renew(session, "a", ids, AS_OF + timedelta(seconds=50), 300) == sorted(ids)
        assert outbox_claims.renew(session, "b", ids, AS_OF + timedelta(seconds=50), 300) == []
    later = AS_OF + timedelta(seconds=120)  # the first lease (60 s) would have expired by now
    with session_scope(engine) as session:
        taken = outbox_claims.claim(session, "b", later, 60, 100)
    assert set(taken).isdisjoint(ids) and len(taken) == 8
    leased = {r.id: r for r in outbox(engine, status="leased")}
    assert {leased[i].lease_owner for i in ids} == {"a"}


def test_an_expired_lease_taken_by_another_is_not_renewed(engine: Engine, sample: LoadResult) -> None:
    _planned(engine, sample)
    with session_scope(engine) as session:
        ids = outbox_claims.claim(session, "a", AS_OF, 60, 3)
    later = AS_OF + timedelta(seconds=61)
    with session_scope(engine) as session:
        assert set(ids) <= set(outbox_claims.claim(session, "b", later, 60, 100))
    with session_scope(engine) as session:
        assert outbox_claims.renew(session, "a", ids, later, 300) == []


def test_a_claim_leases_at_most_its_batch(engine: Engine, sample: LoadResult) -> None:
    # On PostgreSQL an `IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)` leased all 13 due rows for n = 5.
    _planned(engine, sample)
    for owner in ("a", "b"):
        with session_scope(engine) as session:
            assert len(outbox_claims.claim(session, owner, AS_OF, 300, 5)) == 5
    assert len(outbox(engine, status="leased")) == 10


def test_a_claim_is_part_of_its_transaction(engine: Engine, sample: LoadResult) -> None:
    # On SQLite the claim (`WITH picked AS (…) UPDATE …`) ran outside the transaction: Python's sqlite3
    # opens one only before a statement that starts with INSERT/UPDATE/DELETE. It committed at once, so a
    # second dispatcher could claim between it and the widening to whole bundles (`claim_companions`),
    # and one person's day went out as two messages, the second held back to the next working day.
    _planned(engine, sample)
    with session_scope(engine) as session:
        assert len(outbox_claims.claim(session, "a", AS_OF, 300, 5)) == 5
        assert outbox(engine, status="leased") == []  # seen from another connection: not yet committed
        session.rollback()
    assert outbox(engine, status="leased") == []


def test_claims_on_postgresql_take_turns_so_a_persons_day_is_never_cut_in_two(postgres_engine: Engine,
                                                                               sample: LoadResult) -> None:
    # SKIP LOCKED let two dispatchers pick at once: each took some of one person's rows before either
    # widened its claim to that person's whole day (`claim_companions`), and the day went out as two
    # messages. Claims now take turns (a transaction-scoped advisory lock): the second waits.
    _planned(postgres_engine, sample)
    with session_scope(postgres_engine) as first:
        assert len(outbox_claims.claim(first, "a", AS_OF, 300, 1)) == 1  # not yet widened, not committed
        with session_scope(postgres_engine) as second:
            second.execute(text("SET LOCAL lock_timeout = '300ms'"))
            with pytest.raises(exc.OperationalError, match="lock timeout"):
                outbox_claims.claim(second, "b", AS_OF, 300, 100)


def test_an_occurrences_reminders_are_one_range_of_the_unique_key(engine: Engine) -> None:
    # The outbox has no index on occurrence_id: of_occurrences reads ranges of key_digest. Neighbours stay
    # apart, also where the id's last byte carries over (255, 256) and at the largest id.
    ids = [1, 255, 256, 2**31 - 1]
    with session_scope(engine) as session:
        for occ in ids:
            for who in ("a", "b"):
                session.add(OutboxRow(key=reminder_key(occ, "due", who), kind="reminder", org_id=1, occurrence_id=occ,
                                      stage="due", recipient=who, destination="mailto:x@example.org",
                                      send_after=AS_OF, next_attempt_at=AS_OF, created_at=AS_OF))
        session.add(OutboxRow(key="digest:1:2566-10", kind="digest", org_id=1, recipient="x",
                              destination="mailto:x@example.org", send_after=AS_OF, next_attempt_at=AS_OF,
                              created_at=AS_OF))

    def of(wanted: list[int]) -> list[int | None]:
        with session_scope(engine) as session:
            return sorted(session.scalars(select(OutboxRow.occurrence_id).where(
                of_occurrences(OutboxRow.key_digest, OutboxRow.occurrence_id, wanted))), key=lambda o: o or 0)

    for occ in ids:
        assert of([occ]) == [occ, occ]
    assert of([255, 2**31 - 1]) == [255, 255, 2**31 - 1, 2**31 - 1]
    assert of([0]) == [] and of([]) == []
