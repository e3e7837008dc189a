"""`tracker simulate` on the sample: the acceptance timeline of fiscal year 2566."""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

import holidays
import pytest

from config.settings import SAMPLE_CONFIG_DIR, Settings
from jobs.simulate import simulate
from tracker.cli.main import main
from tracker.domain.workdays import THAI_GOVERNMENT

Event = dict[str, Any]
THAI_HOLIDAYS = holidays.TH(categories=("public", "government"), years=range(2022, 2025))


@pytest.fixture(scope="module")
def fy2566(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Event], float]:
    data = tmp_path_factory.mktemp("sim")
    started = time.perf_counter()
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRACKER_DATA_DIR", str(data))
        assert main(["simulate", "--org", "makha", "--from", "2022-10-01", "--to", "2023-09-30",
                     "--format", "json"]) == 0
    return json.loads(out.getvalue())["events"], time.perf_counter() - started


def when(e: Event) -> datetime:
    return datetime.fromisoformat(e["at"])


def reminders(events: list[Event]) -> list[Event]:
    """Every reminder sent, one per item: a message bundling several deadlines counts for each."""
    return [e | item for e in events if e["kind"] == "reminder" for item in e["items"]]


def test_at_most_one_reminder_message_per_recipient_destination_and_day(
        fy2566: tuple[list[Event], float]) -> None:
    events, _ = fy2566
    sent = Counter((e["recipient"], e["destination"], when(e).date()) for e in events if e["kind"] == "reminder")
    assert max(sent.values()) == 1
    per_channel = Counter((e["recipient"], e["destination"]) for e in events if e["kind"] == "reminder")
    assert per_channel[("เจ้าหน้าที่ผู้รับผิดชอบ สำนักปลัด", "line://U0123…cdef")] <= 115  # 606 one per item
    assert per_channel[("นายกเทศมนตรีตำบลมะค่า", "line://Cfedc…3210")] <= 10  # 41 one per item
    # nothing was lost by bundling: every item is still there, and 31 August 2023 carries 19 in one message
    items = reminders(events)
    officer_line = [e for e in items if e["destination"] == "line://U0123…cdef"]
    assert len(officer_line) == 606
    assert max(Counter(when(e).date() for e in officer_line).values()) == 19
    busiest = next(e for e in events if e["destination"] == "line://U0123…cdef" and e["at"].startswith("2023-08-31"))
    stages = [i["stage"] for i in busiest["items"]]
    ranks = [0 if s.startswith("escalation") else 1 if s.startswith("overdue") else 2 if s == "due" else 3
             for s in stages]
    assert ranks == sorted(ranks)  # most urgent first


def test_events_have_the_documented_shape(fy2566: tuple[list[Event], float]) -> None:
    events, _ = fy2566
    assert events
    for e in events:
        assert {"at", "kind", "org", "measure", "obligation", "due", "stage", "recipient"} <= set(e)
        assert e["kind"] in ("reminder", "digest") and e["org"] == "makha"
        assert e["at"].endswith("+07:00")
        assert (e["due"] is None) == (e["kind"] == "digest")


def test_o10_plan_is_reminded_before_31_october_then_overdue_then_never_after_it_was_logged(
        fy2566: tuple[list[Event], float]) -> None:
    events, _ = fy2566
    o10 = [e for e in reminders(events) if e["obligation"] == "O10-1"]
    before = {e["stage"] for e in o10 if when(e).date() < date(2022, 10, 31)}
    assert {"before-14", "before-7", "before-1"} <= before
    # The 7-days-before reminder moved off the 24 October holiday onto Friday the 21st.
    assert any(e["stage"] == "before-7" and e["at"].startswith("2022-10-21") for e in o10)
    assert any(e["stage"].startswith("overdue") and when(e).date() > date(2022, 10, 31) for e in o10)
    assert all(when(e).date() < date(2023, 4, 5) for e in o10)
    assert all(e["due"] == "2022-10-31" for e in o10)


def test_executives_are_escalated_to_while_it_is_overdue(fy2566: tuple[list[Event], float]) -> None:
    events, _ = fy2566
    escalations = [e for e in reminders(events) if e["obligation"] == "O10-1" and e["stage"] == "escalation-exec"]
    assert {e["recipient"] for e in escalations} == {"นายกเทศมนตรีตำบลมะค่า", "ปลัดเทศบาลตำบลมะค่า"}
    assert all(date(2022, 10, 31) < when(e).date() < date(2023, 4, 5) for e in escalations)


def test_a_digest_goes_out_on_the_first_working_day_of_every_month(fy2566: tuple[list[Event], float]) -> None:
    events, _ = fy2566
    days = sorted({when(e).date() for e in events if e["kind"] == "digest"})
    expected = [THAI_GOVERNMENT.first_working_day_of_month(y, m)
                for y, m in [(2022, 10), (2022, 11), (2022, 12)] + [(2023, m) for m in range(1, 10)]]
    assert days == expected
    assert date(2023, 1, 4) in days
    per_month = {d: sum(1 for e in events if e["kind"] == "digest" and when(e).date() == d) for d in days}
    assert set(per_month.values()) == {3}  # the mayor (LINE and mail) and the clerk (mail), once each


def test_nothing_goes_out_on_a_weekend_or_a_thai_government_holiday(fy2566: tuple[list[Event], float]) -> None:
    events, _ = fy2566
    bad = [e for e in events if when(e).weekday() >= 5 or when(e).date() in THAI_HOLIDAYS]
    assert bad == []



def test_a_policy_preview_shows_reminders_stop_the_day_the_work_is_logged(tmp_path: Path) -> None:
    """An admin raises overdue_max to preview it: the O10 plan is then reminded weekly until it was
    logged on 5 April 2023, and not after."""
    config = tmp_path / "makha.toml"
    text = (SAMPLE_CONFIG_DIR / "makha.toml").read_text(encoding="utf-8")
    config.write_text(text.replace("overdue_max = 8", "overdue_max = 60"), encoding="utf-8")
    settings = Settings.from_env({"TRACKER_DATA_DIR": str(tmp_path / "data"), "TRACKER_CONFIG": str(config)})
    sim = simulate(settings, "makha", date(2023, 3, 1), date(2023, 4, 30))
    o10 = sorted(e.at.date() for e in sim.events for ob, stage, _ in e.items
                 if ob == "O10-1" and stage.startswith("overdue"))
    assert o10 and o10[-1] < date(2023, 4, 5) and o10[-1] >= date(2023, 3, 28)


def test_simulate_leaves_the_real_database_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TRACKER_DATA_DIR", str(tmp_path))
    assert main(["sync"]) == 0
    before = (tmp_path / "tracker.sqlite3").read_bytes()
    assert main(["simulate", "--org", "makha", "--from", "2022-10-17", "--to", "2022-10-21"]) == 0
    out = capsys.readouterr().out
    assert "O10-1" in out and "moments replayed" in out
    assert not list(tmp_path.glob("outbox/*"))
    shutil.rmtree(tmp_path / "outbox", ignore_errors=True)
    assert (tmp_path / "tracker.sqlite3").read_bytes() == before
