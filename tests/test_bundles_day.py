"""One message a day per person and channel, across the day: a reminder planned after the recipient's
message of the day went out (here: an obligation added to the file at 11:00 with a stage that day) does
not become a second message that day; it waits for the next working day's message and goes in it, once."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from config.loader import load_config
from config.settings import SAMPLE_CONFIG_DIR
from jobs import dispatch, plan
from tests.fixtures_reminders import AS_OF, SYNCED_AT, RecordingSender
from tracker.domain.thaidate import BANGKOK
from tracker.domain.workdays import WorkCalendar
from tracker.store.db import session_scope
from tracker.store.models import OutboxRow
from tracker.store.repo import sync_organisation

OFFICER_LINE = "line://U0123456789abcdef0123456789abcdef"
OFFICER_MAIL = "mailto:palad@makha.example.go.th"
ADDED = '''
[[measures]]
code = "X01"
title = "มาตรการที่เพิ่มระหว่างวัน"
unit = "palad"
steps = ["ดำเนินการ"]

[[measures.obligations]]
code = "X01-1"
title = "รายงานที่เพิ่มเข้ามาระหว่างวัน"
due = { kind = "date", month = 10, day = 28 }
'''


def sync(engine: Engine, folder: Path, *, added: bool) -> None:
    text = (SAMPLE_CONFIG_DIR / "makha.toml").read_text(encoding="utf-8")
    text = text.replace("\n[[actions]]", ADDED + "\n[[actions]]", 1) if added else text
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "makha.toml").write_text(text, encoding="utf-8")
    loaded = load_config([folder / "makha.toml"])
    assert loaded.ok, [str(e) for e in loaded.errors]
    with session_scope(engine) as session:
        sync_organisation(session, loaded.orgs[0], SYNCED_AT, through_fy=2566)


def remind(engine: Engine, sender: RecordingSender, at: datetime) -> dispatch.DispatchResult:
    with session_scope(engine) as session:
        plan.plan(session, at, "makha")
    return dispatch.run_once(engine, at, sender, "test", rng=random.Random(2))  # type: ignore[arg-type]


def rows_to(engine: Engine, destination: str) -> list[OutboxRow]:
    with session_scope(engine) as session:
        return list(session.scalars(select(OutboxRow).where(OutboxRow.destination == destination,
                                                            OutboxRow.kind == "reminder").order_by(OutboxRow.id)))


def test_a_reminder_planned_after_the_days_message_waits_for_the_next_days_message(
        engine: Engine, tmp_path: Path) -> None:
    sync(engine, tmp_path / "before", added=False)
    sender = RecordingSender()
    remind(engine, sender, AS_OF)  # 09:00: the officer's message of the day
    assert [d for d, _ in sender.sent].count(OFFICER_LINE) == 1
    first = {r.id for r in rows_to(engine, OFFICER_LINE)}

    sync(engine, tmp_path / "after", added=True)  # 11:00: an obligation with a stage today is added
    late = AS_OF + timedelta(hours=2)
    remind(engine, sender, late)
    added = [r for r in rows_to(engine, OFFICER_LINE) if r.id not in first]
    assert added, "the new obligation's stage of today was planned"
    assert [d for d, _ in sender.sent].count(OFFICER_LINE) == 1  # no second LINE message today
    assert [d for d, _ in sender.sent].count(OFFICER_MAIL) == 1  # nor a second e-mail
    calendar = WorkCalendar.with_closures(())
    next_day = calendar.next_working_day(AS_OF.date() + timedelta(days=1))
    send_from = datetime.combine(next_day, datetime.min.time().replace(hour=8, minute=30), tzinfo=BANGKOK)
    assert {(r.status, r.next_attempt_at.astimezone(BANGKOK), r.attempts) for r in added} == {
        ("pending", send_from, 0)}
    assert all("one message a day" in (r.last_error or "") for r in added)

    remind(engine, sender, late + timedelta(hours=3))  # still today: still waiting
    assert [d for d, _ in sender.sent].count(OFFICER_LINE) == 1
    remind(engine, sender, send_from + timedelta(minutes=1))  # the next working day: it goes, in that day's message
    per_day = Counter((d, m.key) for d, m in sender.sent if d == OFFICER_LINE)
    assert len(per_day) == 2 and all(n == 1 for n in per_day.values())
    assert {r.status for r in rows_to(engine, OFFICER_LINE)} == {"sent"}
    assert "X01-1" in [m for d, m in sender.sent if d == OFFICER_LINE][-1].text
    remind(engine, sender, send_from + timedelta(hours=2))
    assert [d for d, _ in sender.sent].count(OFFICER_LINE) == 2  # sent once, never again
