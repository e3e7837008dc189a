"""Planning next to other transactions on PostgreSQL: planners take turns, and a planner never waits for a
dispatcher (two `tracker remind` processes deadlocked when one's planning waited on the other's lease).

Each waiting test sets `lock_timeout` on the planner's transaction: a planner that waits for a lock it
should not wait for fails with "canceling statement due to lock timeout" instead of hanging."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime

import pytest
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.orm import Session

from config.loader import LoadResult
from jobs import plan
from tests.fixtures_reminders import bkk, count_outbox, outbox, sync_sample
from tracker.domain.model import Action
from tracker.store.db import session_scope
from tracker.store.models import OccurrenceRow
from tracker.store.repo import record_action

pytestmark = pytest.mark.postgres
MERGED_DAY = bkk(2022, 10, 28, 9, 0)  # before-1 (Sunday 30 October) moves onto before-3: the Python path


def run(engine: Engine, now: datetime) -> plan.PlanResult:
    with session_scope(engine) as session:
        session.execute(text("SET LOCAL lock_timeout = '5s'"))
        return plan.plan(session, now)


@contextmanager
def leased_by_a_dispatcher(engine: Engine, outbox_id: int) -> Iterator[Connection]:
    """A dispatcher's claim of one row, its transaction still open (it is sending)."""
    with engine.connect() as dispatcher:
        dispatcher.execute(text("UPDATE outbox SET status = 'leased', lease_owner = 'other',"
                                " attempts = attempts + 1 WHERE id = :id"), {"id": outbox_id})
        try:
            yield dispatcher
        finally:
            dispatcher.rollback()


def test_planning_again_does_not_wait_for_a_dispatcher_leasing_a_merged_reminder(
        postgres_engine: Engine, sample: LoadResult) -> None:
    # The merged reminders are inserted from Python's rows (COPY, then INSERT … SELECT): each key was
    # checked by ON CONFLICT alone, whose unique check waits for the transaction updating that key's row.
    sync_sample(postgres_engine, sample)
    run(postgres_engine, MERGED_DAY)
    merged = [r for r in outbox(postgres_engine) if r.merged_stages]
    assert merged
    before = count_outbox(postgres_engine)
    with leased_by_a_dispatcher(postgres_engine, merged[0].id):
        again = run(postgres_engine, bkk(2022, 10, 28, 10, 0))
    assert (again.created, again.skipped) == (0, 0) and count_outbox(postgres_engine) == before


def test_cancelling_leaves_a_row_a_dispatcher_holds_to_the_dispatcher(postgres_engine: Engine,
                                                                      sample: LoadResult) -> None:
    sync_sample(postgres_engine, sample)
    run(postgres_engine, bkk(2022, 10, 21, 9, 0))
    with session_scope(postgres_engine) as session:
        record_action(session, "makha", Action("O10-1", date(2022, 10, 21)), now=bkk(2022, 10, 21, 9, 30))
        done = set(session.scalars(select(OccurrenceRow.id).where(OccurrenceRow.done_on == date(2022, 10, 21))))
    held = [r for r in outbox(postgres_engine, status="pending") if r.occurrence_id in done]
    assert len(held) == 2  # O10-1's LINE and mail reminders
    with leased_by_a_dispatcher(postgres_engine, held[0].id):
        first = run(postgres_engine, bkk(2022, 10, 21, 10, 0))
    assert first.cancelled == 1  # the other one; the held row is the dispatcher's to check at send time
    assert run(postgres_engine, bkk(2022, 10, 21, 10, 5)).cancelled == 1  # the dispatcher let it go
    assert {r.status for r in outbox(postgres_engine) if r.id in {h.id for h in held}} == {"cancelled"}


def test_a_second_planner_waits_for_the_first_to_commit_and_then_creates_nothing(
        postgres_engine: Engine, sample: LoadResult) -> None:
    # Planners take turns (an advisory lock) instead of meeting row by row in the outbox's unique index,
    # where two planners inserting and cancelling in different orders can deadlock.
    sync_sample(postgres_engine, sample)
    results: list[plan.PlanResult] = []
    errors: list[BaseException] = []

    def second() -> None:
        try:
            results.append(run(postgres_engine, MERGED_DAY))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    with Session(postgres_engine) as first:
        created = plan.plan(first, MERGED_DAY).created
        assert created > 0
        thread = threading.Thread(target=second)
        thread.start()
        with postgres_engine.connect() as watcher:
            waiting = None
            for _ in range(2000):  # until the second planner is seen waiting (it has nothing else to do)
                waiting = watcher.execute(text(
                    "SELECT l.locktype FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                    " WHERE NOT l.granted AND a.datname = current_database()")).scalar()
                watcher.rollback()
                if waiting is not None or not thread.is_alive():
                    break
                threading.Event().wait(0.01)
        first.commit()
    thread.join()
    assert not errors and waiting == "advisory"
    assert results[0].created == 0 and count_outbox(postgres_engine) == created
