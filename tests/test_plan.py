"""Planning into the outbox, on SQLite and PostgreSQL: idempotent, concurrent-safe, catch-up, cancel."""

from __future__ import annotations

import tempfile
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, Text, cast, insert, select

from config.loader import LoadResult
from jobs import plan
from jobs.plan_context import calendar_from_text, load_contexts, policy_from_text
from jobs.plan_recipients import refresh_recipients
from jobs.render_outbox import render_missing
from tests.fixtures_reminders import AS_OF, bkk, count_outbox, outbox, sync_sample
from tracker.domain.model import Action
from tracker.domain.reminders import recipient_hash, reminder_key
from tracker.domain.thaidate import BANGKOK
from tracker.store.db import migrate, open_engine, session_scope
from tracker.store.models import ObligationRow, PlanRecipientRow
from tracker.store.outbox_keys import key_digest
from tracker.store.repo import record_action


def run(engine: Engine, now: datetime, org: str | None = "makha", grace_days: int = 3) -> plan.PlanResult:
    with session_scope(engine) as session:
        return plan.plan(session, now, org, grace_days)


def test_plans_the_o10_plan_reminder_moved_to_friday(engine: Engine, sample: LoadResult) -> None:
    sync_sample(engine, sample)
    result = run(engine, AS_OF)
    assert result.created == 13 and result.skipped == 0
    rows = outbox(engine, stage="before-7")
    assert {r.stage_day for r in rows} == {date(2022, 10, 21)}
    assert {r.send_after for r in rows} == {datetime(2022, 10, 21, 1, 30, tzinfo=UTC)}  # 08:30 Bangkok
    assert all(r.status == "pending" and r.text is None for r in rows)


def test_planning_twice_creates_nothing_new(engine: Engine, sample: LoadResult) -> None:
    sync_sample(engine, sample)
    run(engine, AS_OF)
    again = run(engine, bkk(2022, 10, 21, 11, 0))
    assert (again.created, again.skipped) == (0, 0)
    assert count_outbox(engine) == 13


@pytest.mark.parametrize("at", [AS_OF, bkk(2023, 10, 24, 9, 0)], ids=["fy2566", "across-1-october"])
def test_two_planners_at_once_create_each_reminder_once(engine: Engine, sample: LoadResult, at: datetime) -> None:
    # Across 1 October both planners find FY 2567 missing: one materialises it, the other waits and plans.
    sync_sample(engine, sample)
    alone, materialised = _planned_alone(sample, at)
    barrier = threading.Barrier(2)
    results: list[plan.PlanResult] = []
    errors: list[BaseException] = []

    def planner() -> None:
        try:
            barrier.wait()
            results.append(run(engine, at, org=None))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=planner) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(r.created for r in results) == alone
    assert count_outbox(engine) == alone
    assert sum(r.materialised for r in results) == materialised == (0 if at == AS_OF else 64)  # FY 2567's


def _planned_alone(sample: LoadResult, at: datetime) -> tuple[int, int]:
    """(rows created, occurrences materialised) by one planner at `at` on a fresh SQLite copy."""
    with tempfile.TemporaryDirectory() as folder:
        other = open_engine(f"sqlite:///{folder}/alone.sqlite3")
        migrate(other)
        sync_sample(other, sample)
        result = run(other, at, org=None)
        other.dispose()
    return result.created, result.materialised


def test_every_key_is_the_one_definition_on_both_planning_paths(engine: Engine, sample: LoadResult) -> None:
    """The set-based path (one stage in range: SQL builds the key) and the Python path (merged stages)
    write the key `reminder_key` gives."""
    sync_sample(engine, sample)
    run(engine, AS_OF)  # one stage per occurrence: keyed in SQL
    run(engine, bkk(2022, 10, 28, 9, 0))  # before-1 (Sunday 30 Oct) moves onto before-3: merged in Python
    rows = outbox(engine, kind="reminder")
    assert any(r.merged_stages for r in rows) and any(not r.merged_stages for r in rows)
    for r in rows:
        assert r.occurrence_id is not None
        assert r.key == reminder_key(r.occurrence_id, r.stage, recipient_hash(r.recipient, r.destination))
        assert r.key_digest == key_digest(r.key)  # the unique key computed in SQL is Python's


def test_logging_an_action_cancels_pending_reminders(engine: Engine, sample: LoadResult) -> None:
    sync_sample(engine, sample)
    run(engine, AS_OF)
    with session_scope(engine) as session:
        record_action(session, "makha", Action("O10-1", date(2022, 10, 21)), now=AS_OF)
    result = run(engine, bkk(2022, 10, 21, 10, 0))
    assert result.cancelled == 2  # O10-1's LINE and mail reminders
    o10 = [r for r in outbox(engine, status="cancelled")]
    assert len(o10) == 2 and all("done" in (r.skip_reason or "") for r in o10)


def test_a_recipient_listed_twice_gets_each_reminder_once(engine: Engine, sample: LoadResult) -> None:
    # Two rows of one key in the set insert: on PostgreSQL its plain INSERT meets a unique violation and
    # runs again with ON CONFLICT DO NOTHING (tracker.store.outbox.insert_selected_reminders).
    sync_sample(engine, sample)
    with session_scope(engine) as session:
        refresh_recipients(session)
        table = PlanRecipientRow.__table__
        copies = [{**row._asdict(), "seq": row.seq + 100} for row in session.execute(select(table))]
        session.execute(insert(table), copies)
    result = run(engine, AS_OF)
    assert (result.created, count_outbox(engine)) == (13, 13)


def test_done_occurrences_get_no_new_reminders(engine: Engine, sample: LoadResult) -> None:
    sync_sample(engine, sample)
    with session_scope(engine) as session:
        record_action(session, "makha", Action("O10-1", date(2022, 10, 20)), now=AS_OF)
    assert run(engine, AS_OF).created == 11


def test_after_sending_hours_the_reminder_waits_for_the_next_working_day(engine: Engine, sample: LoadResult) -> None:
    sync_sample(engine, sample)
    run(engine, bkk(2022, 10, 21, 17, 0))
    rows = outbox(engine, stage="before-7")
    # Saturday, Sunday and the 24 October holiday pass: Tuesday 25 October at 08:30.
    assert {r.send_after for r in rows} == {datetime(2022, 10, 25, 1, 30, tzinfo=UTC)}


def test_catch_up_within_grace_sends_once_and_records_what_it_skips(engine: Engine, sample: LoadResult) -> None:
    sync_sample(engine, sample)
    run(engine, bkk(2022, 10, 26, 9, 0))  # the planner ran on Wednesday 26 October…
    result = run(engine, bkk(2022, 11, 2, 9, 0))  # …and then not until Wednesday 2 November
    # Between them: before-3/before-1 (Fri 28), due (Mon 31) and overdue-1 (Tue 1 Nov). Only the latest
    # stage per destination may go, and only when at most 3 days old; the rest is recorded as skipped.
    window = {"before-3", "before-1", "due", "overdue-1"}
    pending = {r.stage for r in outbox(engine, status="pending") if r.stage in window}
    skipped = outbox(engine, status="skipped")
    assert pending == {"overdue-1"}
    assert {r.stage for r in skipped} >= {"before-1", "due"}
    assert all("superseded" in (r.skip_reason or "") for r in skipped)
    assert result.skipped == len(skipped)


def test_the_catch_up_message_names_the_stages_it_replaces(engine: Engine, sample: LoadResult) -> None:
    # Issue 9, fault 6: after downtime each recipient gets one message per deadline, and that message says
    # which reminders were not sent (those within the grace period), so nothing is dropped silently.
    sync_sample(engine, sample)
    run(engine, bkk(2022, 10, 26, 9, 0))
    run(engine, bkk(2022, 11, 2, 9, 0))  # down Thu 27 Oct - Tue 1 Nov
    o10 = [r for r in outbox(engine) if r.stage_day >= date(2022, 10, 27)]
    o10_occ = {r.occurrence_id for r in o10 if r.stage == "overdue-1"}
    sent = [r for r in o10 if r.occurrence_id in o10_occ and r.status == "pending"]
    assert sent and {r.stage for r in sent} == {"overdue-1"}
    # Monday 31 October's due-day reminder is two days old (within grace): named. Friday 28 October's
    # are five days old: recorded as missed, not named.
    assert all(r.merged_stages.split(",") == ["due@2022-10-31"] for r in sent)
    superseded = [r for r in o10 if r.occurrence_id in o10_occ and r.stage == "due"]
    assert superseded and all(r.status == "skipped" and "named in" in (r.skip_reason or "") for r in superseded)
    with session_scope(engine) as session:
        render_missing(session, [r.id for r in sent])
    text = outbox(engine, id=sent[0].id)[0]
    assert "๓๑ ตุลาคม ๒๕๖๕" in (text.text or "") and "ไม่ได้ส่ง" in (text.text or "")
    assert "๓๑ ตุลาคม ๒๕๖๕" in (text.line_text or "") and "๓๑ ตุลาคม ๒๕๖๕" in (text.html or "")


def test_stages_missed_beyond_grace_are_skipped_with_a_reason(engine: Engine, sample: LoadResult) -> None:
    sync_sample(engine, sample)
    run(engine, bkk(2022, 10, 20, 9, 0))
    run(engine, bkk(2022, 10, 26, 9, 0), grace_days=0)
    missed = [r for r in outbox(engine, stage="before-7") if r.stage_day == date(2022, 10, 21)]
    assert missed and all(r.status == "skipped" and "missed" in (r.skip_reason or "") for r in missed)


def test_first_run_plans_only_today(engine: Engine, sample: LoadResult) -> None:
    sync_sample(engine, sample)
    run(engine, bkk(2022, 11, 2, 9, 0))
    assert outbox(engine, status="skipped") == []


def test_the_national_benchmark_runs_small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import bench_reminders, national_db

    monkeypatch.delenv("BENCH_DATABASE_URL", raising=False)
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    monkeypatch.setattr(national_db.tempfile, "mkdtemp", lambda prefix="": str(tmp_path))
    assert bench_reminders.main(["--orgs", "20", "--skip-dispatch"]) == 0  # the second plan created nothing


def test_the_named_stages_give_way_oldest_first_to_fit_their_column() -> None:
    labels = ["escalation-executives"] + [f"overdue-{n}@2022-11-{n:02d}" for n in range(1, 12)]
    kept = plan._joined(labels).split(",")
    assert len(",".join(kept)) <= plan.MERGED_LIMIT
    assert kept[0] == "escalation-executives" and kept[-1] == "overdue-11@2022-11-11"
    assert "overdue-1@2022-11-01" not in kept


@pytest.mark.parametrize("at", [AS_OF, bkk(2022, 10, 28, 9, 0)], ids=["one-stage", "merged-stages"])
def test_selected_is_the_number_of_open_deadlines_the_one_query_returns(engine: Engine, sample: LoadResult,
                                                                        at: datetime) -> None:
    sync_sample(engine, sample)
    today = at.astimezone(BANGKOK).date()
    with session_scope(engine) as session:
        ctx = load_contexts(session)
        policies = session.scalars(select(cast(ObligationRow.policy, Text)).distinct()).all()
        pairs = [(policy_from_text(p), calendar_from_text(c.closures_text)) for p in policies for c in ctx.values()]
        expected = len(session.execute(plan.open_occurrences(plan.candidate_dues(pairs, today, today), today)).all())
    assert run(engine, at, org=None).selected == expected > 0
