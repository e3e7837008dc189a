"""The service's sweeps, with time passed in (freezegun only here, at the scheduler's edge)."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlalchemy import Engine, select

from config.settings import SAMPLE_CONFIG_DIR, Settings
from jobs import plan
from jobs.scheduler import MaskingFilter, Service, ServiceOptions, build_scheduler
from notifiers.registry import Notifiers
from tests.fakes.line_server import FakeLineServer
from tracker.domain.thaidate import BANGKOK as BKK
from tracker.store.db import migrate, open_engine, session_scope
from tracker.store.models import ObligationRow, OccurrenceRow, OutboxRow
from tracker.store.repo import load_organisation

SECRET = "line-token-that-must-never-print-9f8e7d"


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=BKK).astimezone(UTC)  # type: ignore[misc]


class Harness:
    def __init__(self, tmp: Path, env: dict[str, str] | None = None) -> None:
        self.config = tmp / "orgs" / "makha.toml"
        self.config.parent.mkdir()
        shutil.copy(SAMPLE_CONFIG_DIR / "makha.toml", self.config)
        self.settings = Settings.from_env({"TRACKER_DATA_DIR": str(tmp / "data"),
                                           "TRACKER_CONFIG": str(self.config), **(env or {})})
        self.engine: Engine = open_engine(self.settings.database_url)
        migrate(self.engine)
        self.notifiers = Notifiers(self.settings)
        # The system clock, so that freezegun (at this edge only) moves the service's time.
        self.service = Service(self.engine, self.settings, self.notifiers, ServiceOptions())
        self.service.config(force=True)

    def rows(self, obligation: str | None = None, kind: str = "reminder") -> list[OutboxRow]:
        with session_scope(self.engine) as session:
            query = select(OutboxRow).where(OutboxRow.kind == kind).order_by(OutboxRow.id)
            if obligation is not None:
                query = (query.join(OccurrenceRow, OccurrenceRow.id == OutboxRow.occurrence_id)
                         .join(ObligationRow, ObligationRow.id == OccurrenceRow.obligation_id)
                         .where(ObligationRow.code == obligation))
            return list(session.scalars(query))

    def close(self) -> None:
        self.notifiers.close()
        self.engine.dispose()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path)
    yield h
    h.close()


def sweep(h: Harness, when: datetime) -> None:
    with freeze_time(when):
        h.service.once()


def test_catch_up_after_three_days_down_sends_what_fell_due_once(harness: Harness) -> None:
    sweep(harness, at(2022, 10, 14, 9))  # Friday: the service runs, then is down Mon 17 – Wed 19
    assert harness.rows("O10-1") == []
    sweep(harness, at(2022, 10, 20, 9))  # Thursday: back
    rows = harness.rows("O10-1")
    # O10-1 (due 31 Oct) had its 14-days-before reminder on Monday 17: three days old, within grace.
    assert [(r.stage, r.status) for r in rows] == [("before-14", "sent")] * 2
    sweep(harness, at(2022, 10, 20, 9, 5))
    assert len(harness.rows("O10-1")) == 2 and all(r.attempts == 1 for r in harness.rows("O10-1"))


def test_what_fell_due_beyond_the_grace_period_is_recorded_as_skipped_not_dropped(harness: Harness) -> None:
    sweep(harness, at(2022, 10, 14, 9))
    sweep(harness, at(2022, 10, 25, 9))  # down ten days (24 Oct was a holiday)
    rows = {(r.stage, r.status): r for r in harness.rows("O10-1")}
    assert set(rows) == {("before-14", "skipped"), ("before-7", "skipped")}
    assert "superseded" in (rows[("before-14", "skipped")].skip_reason or "")
    assert "missed" in (rows[("before-7", "skipped")].skip_reason or "")


def test_the_january_digest_goes_out_on_wednesday_the_fourth(harness: Harness) -> None:
    sweep(harness, at(2023, 1, 3, 10))  # Tuesday 3 January 2023 was a government holiday
    assert harness.rows(kind="digest") == []
    sweep(harness, at(2023, 1, 4, 8, 45))  # before the digest hour
    assert harness.rows(kind="digest") == []
    sweep(harness, at(2023, 1, 4, 9, 5))
    digests = harness.rows(kind="digest")
    assert [(r.recipient, r.status) for r in digests] == [
        ("นายกเทศมนตรีตำบลมะค่า", "sent"), ("นายกเทศมนตรีตำบลมะค่า", "sent"), ("ปลัดเทศบาลตำบลมะค่า", "sent")]
    outbox = list((harness.settings.outbox_dir).rglob("digest*.eml"))
    assert len(outbox) == 3  # no credentials on this machine: each destination's message is a file
    sweep(harness, at(2023, 1, 4, 9, 20))
    assert len(harness.rows(kind="digest")) == 3


def test_a_valid_edit_applies_without_restart_an_invalid_one_is_refused_and_alerted_once(
        harness: Harness) -> None:
    text = harness.config.read_text(encoding="utf-8")
    harness.config.write_text(text.replace('name = "ปลัดเทศบาลตำบลมะค่า"', 'name = "ปลัดเทศบาลคนใหม่"'),
                              encoding="utf-8")
    with freeze_time(at(2023, 1, 5, 10)):
        check = harness.service.config()
    assert check.changed and check.ok
    with session_scope(harness.engine) as session:
        assert [e.name for e in load_organisation(session, "makha").executives][-1] == "ปลัดเทศบาลคนใหม่"

    broken = harness.config.read_text(encoding="utf-8").replace("due = { kind = \"month\", month = 10 }",
                                                                "due = { kind = \"month\", month = 13 }", 1)
    harness.config.write_text(broken, encoding="utf-8")
    with freeze_time(at(2023, 1, 5, 10, 1)):
        refused = harness.service.config()
    assert refused.changed and not refused.ok and refused.errors and refused.alerts == 1
    with session_scope(harness.engine) as session:  # the last good configuration is kept
        assert [e.name for e in load_organisation(session, "makha").executives][-1] == "ปลัดเทศบาลคนใหม่"
    with freeze_time(at(2023, 1, 5, 10, 2)):
        assert not harness.service.config().changed
        assert harness.service.config(force=True).alerts == 0  # same errors: the same alert, not a new one
    sweep(harness, at(2023, 1, 5, 10, 3))
    alerts = harness.rows(kind="alert")
    assert [(a.recipient, a.status) for a in alerts] == [("ผู้ดูแลระบบ เทศบาลตำบลมะค่า", "sent")]
    assert "month" in (alerts[0].text or "") and "tracker check" in (alerts[0].text or "")


def test_each_sweep_logs_one_line_and_no_secret(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeLineServer(token="another-token") as line:  # our token is refused: 401
        h = Harness(tmp_path, {"LINE_CHANNEL_ACCESS_TOKEN": SECRET, "LINE_API_BASE": line.base_url})
        caplog.set_level(logging.INFO, logger="tracker")
        for handler in logging.getLogger().handlers:
            handler.addFilter(MaskingFilter(h.settings))
        caplog.clear()  # only the sweep's lines (an in-process `tracker run` earlier may have set INFO already)
        with freeze_time(at(2022, 10, 21, 9)):
            counts = h.service.reminders()
        lines = [r.getMessage() for r in caplog.records if r.name == "tracker.run"]
        assert lines == [f"reminders at 2022-10-21 09:00+0700: {counts.line()}"]
        # LINE refused the token: the channel is paused and its messages wait; mail went to the outbox folder
        assert counts.retrying >= 1 and counts.sent >= 1

        def leak(*args: object, **kwargs: object) -> None:
            raise RuntimeError(f"connection to https://x:{SECRET}@db failed")

        monkeypatch.setattr(plan, "plan", leak)
        h.service.reminders()  # a failing sweep is logged, not raised
        h.close()
    assert "reminders sweep failed" in caplog.text
    assert SECRET not in caplog.text


def test_the_scheduler_runs_four_fixed_sweeps_in_bangkok_without_a_job_store(harness: Harness) -> None:
    scheduler = build_scheduler(harness.service)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"config", "reminders", "digests", "evidence"}
    assert str(scheduler.timezone) == "Asia/Bangkok"
    assert type(scheduler._jobstores["default"]).__name__ == "MemoryJobStore"
    # Applied to each job when the scheduler starts: missed runs fold into one, never two at once.
    assert scheduler._job_defaults == {"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}
    assert jobs["reminders"].trigger.interval.total_seconds() == 60
    assert jobs["digests"].trigger.interval.total_seconds() == 900
    assert jobs["config"].trigger.interval.total_seconds() == 30
    assert jobs["evidence"].trigger.interval.total_seconds() == 900
