"""The monthly executive digest: contents (pure), rendering, the sweep and `tracker digest`."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from config.loader import LoadResult
from jobs import digest as digest_job
from tests.factories import make_action, make_obligation
from tracker.domain.digest import UnitSummary, build_digest, digest_day
from tracker.domain.model import Contact, Measure, Organisation, Unit
from tracker.domain.rules import MonthRule
from tracker.domain.thaidate import BANGKOK as BKK
from tracker.domain.workdays import THAI_GOVERNMENT
from tracker.messages.digest import bar_segments, render_digest
from tracker.store.db import session_scope
from tracker.store.models import OutboxRow
from tracker.store.repo import sync_organisation


def make_org() -> Organisation:
    obligations = (
        make_obligation(code="A-1", title="แผนประจำปี", rule=MonthRule(10)),
        make_obligation(code="A-2", title="รายงานรอบ ๖ เดือน", rule=MonthRule(4)),
        make_obligation(code="A-3", title="รายงานประจำปี", rule=MonthRule(12)),
        make_obligation(code="B-1", title="สรุปจัดซื้อ", unit="finance", measure="B", rule=MonthRule(11)),
        make_obligation(code="B-2", title="รายงานการเงิน", unit="finance", measure="B", rule=MonthRule(1)),
    )
    return Organisation(
        code="t", name="เทศบาลทดสอบ", district="เมือง", province="นครราชสีมา", fiscal_year=2566,
        units=(Unit("palad", "สำนักปลัด"), Unit("finance", "กองคลัง")),
        executives=(Contact("นายก", "executive", ("line://Cfedcba9876543210fedcba9876543210", "mailto:m@x.th")),),
        measures=(Measure("O10", "แผน", "palad", obligations=obligations[:3]),
                  Measure("B", "การเงิน", "finance", obligations=obligations[3:])),
    )


def test_the_digest_day_is_the_first_working_day_when_the_first_is_a_holiday() -> None:
    assert digest_day(THAI_GOVERNMENT, 2023, 1) == date(2023, 1, 4)  # 1 Sun, 2 substitute, 3 bridge day
    assert digest_day(THAI_GOVERNMENT, 2023, 2) == date(2023, 2, 1)
    assert digest_day(THAI_GOVERNMENT, 2022, 10) == date(2022, 10, 3)  # 1 Oct 2022 was a Saturday


def test_digest_counts_per_unit_partition_the_fiscal_year_and_sort_overdue_worst_first() -> None:
    org = make_org()
    actions = [make_action("A-1", date(2022, 12, 20), evidence="https://makha.go.th/plan"),
               make_action("B-1", date(2022, 11, 15))]
    d = build_digest(org, org.occurrences(2566), actions, 2023, 1, date(2023, 1, 4))
    palad, finance = d.units
    assert (palad.done, palad.late, palad.overdue, palad.due_this_month, palad.upcoming) == (0, 1, 1, 0, 1)
    assert (finance.done, finance.late, finance.overdue, finance.due_this_month, finance.upcoming) == (1, 0, 0, 1, 0)
    assert [i.obligation for i in d.overdue] == ["A-3"]
    assert d.overdue[0].days_overdue == 4
    completed = d.completed_last_month
    assert [(i.obligation, i.done_on, i.evidence) for i in completed] == [
        ("A-1", date(2022, 12, 20), ("https://makha.go.th/plan",))]
    assert [i.obligation for i in d.due_next] == ["B-2"]


def test_completion_rate_and_its_change_use_the_same_status_function_at_two_instants() -> None:
    org = make_org()
    actions = [make_action("A-1", date(2022, 12, 20)), make_action("B-1", date(2022, 11, 15))]
    d = build_digest(org, org.occurrences(2566), actions, 2023, 1, date(2023, 1, 4))
    # End of December: A-1 (late), B-1 (done) finished; A-3 due 31 Dec not yet overdue → 2/2.
    assert d.previous_rate == 1.0
    # 4 January: A-3 is overdue → 2/3.
    assert d.rate == pytest.approx(2 / 3)
    assert d.rate_change == pytest.approx(2 / 3 - 1)


def test_an_action_dated_after_today_does_not_count_yet() -> None:
    org = make_org()
    d = build_digest(org, org.occurrences(2566), [make_action("A-1", date(2023, 4, 5))], 2023, 1, date(2023, 1, 4))
    assert "A-1" in [i.obligation for i in d.overdue]
    assert d.completed_last_month == ()


def test_last_years_unfinished_work_is_carried_over_apart_from_this_years_counts() -> None:
    org = make_org()
    occurrences = org.occurrences(2566) + org.occurrences(2567)
    d = build_digest(org, occurrences, [], 2023, 10, date(2023, 10, 2))
    assert d.fiscal_year == 2567
    assert d.overdue == ()  # nothing of FY 2567 is due yet on 2 October 2566
    assert d.carried_over[0].due == date(2022, 10, 31) and d.carried_over_count == 5  # the oldest first
    assert all(u.total == sum(1 for o in occurrences if o.due.year * 12 + o.due.month >= 2023 * 12 + 10
                              and org.obligation(o.obligation).unit == u.code) for u in d.units)


def test_bars_are_whole_percentages_that_add_up_to_one_hundred() -> None:
    segments = bar_segments(UnitSummary("u", "u", done=1, late=1, overdue=1, due_this_month=0, upcoming=0))
    assert sum(s.width for s in segments) == 100
    assert [s.bucket for s in segments] == ["done", "late", "overdue"]
    assert bar_segments(UnitSummary("u", "u")) == []


def test_thai_rendering_has_be_dates_thai_digits_and_mail_safe_html() -> None:
    org = make_org()
    d = build_digest(org, org.occurrences(2566), [make_action("A-1", date(2022, 12, 20),
                                                              evidence="https://makha.go.th/a?x=1&y=2")],
                     2023, 1, date(2023, 1, 4))
    r = render_digest(d, "th")
    assert "มกราคม ๒๕๖๖" in r.subject
    assert "๔ มกราคม ๒๕๖๖" in r.text and "2023" not in r.text
    assert "เกินกำหนด ๔ วัน" in r.text
    assert "https://makha.go.th/a?x=1&y=2" in r.text
    assert 'href="https://makha.go.th/a?x=1&amp;y=2"' in r.html  # autoescaped
    # What Gmail and Outlook keep: tables with widths and bgcolor, inline styles only.
    assert "<style" not in r.html and "<svg" not in r.html and "flex" not in r.html
    assert "<link" not in r.html and "class=" not in r.html
    assert re.search(r'<td width="\d+%" bgcolor="#[0-9a-f]{6}"', r.html)
    assert len(r.line_text) < 1000 and "๓๓.๓%" in r.line_text  # A-1 late of, B-1


def test_english_rendering() -> None:
    org = make_org()
    r = render_digest(build_digest(org, org.occurrences(2566), [], 2023, 1, date(2023, 1, 4)), "en")
    assert r.subject.startswith("ITA measures digest") and "January 2023" in r.subject
    assert "4 January 2023" in r.text and "Overdue" in r.text


# ---------------------------------------------------------------- the sweep


@pytest.fixture
def synced(sqlite_engine: Engine, sample: LoadResult) -> Engine:
    with session_scope(sqlite_engine) as session:
        sync_organisation(session, sample.orgs[0], datetime(2022, 9, 1, tzinfo=UTC), through_fy=2566)
    return sqlite_engine


def bangkok(*args: int) -> datetime:
    return datetime(*args, tzinfo=BKK)  # type: ignore[misc]


def queued(engine: Engine) -> list[tuple[str, str, str]]:
    with session_scope(engine) as session:
        return [(r.kind, r.recipient, r.destination) for r in session.scalars(
            select(OutboxRow).where(OutboxRow.kind == "digest").order_by(OutboxRow.id))]


def test_digest_sweep_waits_for_the_first_working_day_and_the_hour_then_queues_once(synced: Engine) -> None:
    for now in (bangkok(2023, 1, 3, 10), bangkok(2023, 1, 4, 8, 59)):
        with session_scope(synced) as session:
            assert digest_job.run_once(session, now).created == 0
    with session_scope(synced) as session:
        result = digest_job.run_once(session, bangkok(2023, 1, 4, 9, 0))
    # Two executives: the mayor on LINE and mail, the clerk on mail.
    assert result.created == 3 and result.orgs == ["makha"]
    for now in (bangkok(2023, 1, 4, 9, 15), bangkok(2023, 1, 5, 9, 0)):
        with session_scope(synced) as session:
            again = digest_job.run_once(session, now)
        assert again.created == 0 and again.already_queued == 3
    assert len(queued(synced)) == 3


def test_digest_sweep_catches_up_within_the_grace_period_only(synced: Engine) -> None:
    with session_scope(synced) as session:
        assert digest_job.run_once(session, bangkok(2023, 2, 3, 10)).created == 3  # due Wed 1 Feb, down 2 days
    with session_scope(synced) as session:
        assert digest_job.run_once(session, bangkok(2023, 3, 8, 10)).created == 0  # due Wed 1 Mar: too late


def test_digest_rows_carry_the_rendered_parts(synced: Engine) -> None:
    with session_scope(synced) as session:
        digest_job.run_once(session, bangkok(2023, 1, 4, 9, 30))
        row = session.scalars(select(OutboxRow).where(OutboxRow.kind == "digest")).first()
        assert row is not None
        assert row.key.startswith("digest:makha:2023-01:")
        assert row.subject and "มกราคม ๒๕๖๖" in row.subject
        assert row.html and row.text and row.line_text and row.status == "pending"


# ---------------------------------------------------------------- the command


def test_tracker_digest_dry_run_prints_and_queues_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from tracker.cli.main import main

    monkeypatch.setenv("TRACKER_DATA_DIR", str(tmp_path))
    assert main(["sync"]) == 0
    capsys.readouterr()
    assert main(["digest", "--org", "makha", "--month", "2023-01", "--dry-run", "--format", "json"]) == 0
    import json

    data = json.loads(capsys.readouterr().out)
    assert data["today"] == "2023-01-04" and data["month"] == "2023-01"
    assert len(data["recipients"]) == 3
    from tracker.store.db import open_engine

    engine = open_engine(f"sqlite:///{tmp_path / 'tracker.sqlite3'}")
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(OutboxRow)) == 0
    assert main(["digest", "--org", "makha", "--month", "2023-01", "--format", "html"]) == 0
    assert "<table" in capsys.readouterr().out
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(OutboxRow)) == 3
    engine.dispose()


@pytest.mark.parametrize("now", [bangkok(2023, 1, 4, 9, 0), bangkok(2023, 11, 1, 9, 0)])
def test_the_batched_sweep_queues_exactly_what_compose_gives(engine: Engine, sample: LoadResult,
                                                             now: datetime) -> None:
    """The service reads organisations by the batch (tracker.store.org_bulk); `tracker digest` composes
    one. The same digest either way, including on the first digest of a fiscal year not yet materialised
    (November 2023, FY 2567)."""
    with session_scope(engine) as session:
        sync_organisation(session, sample.orgs[0], datetime(2022, 9, 1, tzinfo=UTC), through_fy=2566)
    result = digest_job.run_each(engine, now, base_url="https://tracker.example.go.th")
    assert result.created == 3
    with session_scope(engine) as session:
        composed = digest_job.compose(session, "makha", now.year, now.month, now.date(), now,
                                      "https://tracker.example.go.th")
        rows = list(session.scalars(select(OutboxRow).where(OutboxRow.kind == "digest").order_by(OutboxRow.id)))
    assert [(r.key, r.recipient, r.destination, r.subject, r.text, r.html, r.line_text) for r in rows] == [
        (m.key, m.recipient, m.destination, m.subject, m.text, m.html, m.line_text) for m in composed.messages]
