"""The reminder policy, pure: stages, working-day moves, merging, recipients, stopping when done."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from config.loader import LoadResult
from tests.factories import make_obligation
from tests.fixtures_reminders import BANGKOK, bkk
from tracker.domain.model import Contact, Measure, Organisation, ReminderPolicy, Unit
from tracker.domain.reminders import TrackedOccurrence, due_reminders, schedule, send_at
from tracker.domain.rules import Occurrence
from tracker.domain.workdays import WorkCalendar

OFFICER = Contact("เจ้าหน้าที่", "officer", ("line://U" + "0" * 32, "mailto:officer@example.go.th"))
HEAD = Contact("หัวหน้าสำนักปลัด", "head", ("mailto:head@example.go.th",))
MAYOR = Contact("นายก", "officer", ("mailto:mayor@example.go.th",))
DUE = date(2022, 10, 31)  # Monday; 24 October 2022 (Chulalongkorn Day) is a holiday
O10 = Occurrence("O10-1", "2566", date(2022, 10, 1), DUE)


def make_org(policy: ReminderPolicy | None = None, contacts: tuple[Contact, ...] = (OFFICER, HEAD),
             closures: tuple[tuple[date, str], ...] = ()) -> Organisation:
    ob = make_obligation(policy=policy or ReminderPolicy())
    return Organisation("t", "เทศบาลทดสอบ", "โนนสูง", "นครราชสีมา", 2566,
                        units=(Unit("palad", "สำนักปลัด", contacts),), executives=(MAYOR,),
                        measures=(Measure("O10", "แผนดำเนินงาน", "palad", obligations=(ob,)),), closures=closures)


Row = tuple[str, str, str, tuple[str, ...]]


def stages_on(day: date, org: Organisation | None = None, **tracked: Any) -> list[Row]:
    org = org or make_org()
    at = datetime.combine(day, time(9, 0), tzinfo=BANGKOK)
    return sorted((r.stage, r.recipient, r.destination, r.merged)
                  for r in due_reminders(org, [TrackedOccurrence(O10, **tracked)], at))


def days(org: Organisation | None = None) -> dict[str, date]:
    org = org or make_org()
    ob = org.obligation("O10-1")
    return {s.label: s.day for s in schedule(DUE, ob.policy, org.calendar)}


def test_before_stage_on_a_holiday_moves_to_the_previous_working_day() -> None:
    assert days()["before-7"] == date(2022, 10, 21)  # 24 Oct is a holiday: Friday 21 Oct instead
    assert days()["before-14"] == date(2022, 10, 17)
    assert days()["before-30"] == date(2022, 9, 30)


def test_sample_o10_plan_reminder_on_friday_21_october(sample: LoadResult) -> None:
    org = sample.orgs[0].organisation
    occurrences = [TrackedOccurrence(o) for o in org.occurrences(2566)]
    found = [r for r in due_reminders(org, occurrences, bkk(2022, 10, 21, 9, 0)) if r.obligation == "O10-1"]
    assert {r.stage for r in found} == {"before-7"}
    assert {r.days_to_due for r in found} == {10}


def test_nothing_on_the_holiday_itself() -> None:
    assert stages_on(date(2022, 10, 24)) == []


def test_two_stages_on_one_day_become_one_message_keeping_the_most_urgent() -> None:
    # before-1 falls on Sunday 30 Oct and moves to Friday 28 Oct, where before-3 already is.
    got = stages_on(date(2022, 10, 28))
    assert [(s, d, m) for s, _, d, m in got] == [
        ("before-1", "line://U" + "0" * 32, ("before-3",)),
        ("before-1", "mailto:officer@example.go.th", ("before-3",)),
    ]


def test_due_day_reminder_goes_to_officers() -> None:
    assert {(s, r) for s, r, _, _ in stages_on(DUE)} == {("due", "เจ้าหน้าที่")}


def test_overdue_starts_next_working_day_repeats_weekly_and_stops_at_the_maximum() -> None:
    d = days()
    overdue = sorted((int(label.split("-")[1]), day) for label, day in d.items() if label.startswith("overdue"))
    assert overdue[0] == (1, date(2022, 11, 1))
    assert overdue[1] == (2, date(2022, 11, 8))
    assert len(overdue) == 8


def test_overdue_stage_on_a_weekend_moves_to_the_next_working_day() -> None:
    org = make_org(ReminderPolicy(overdue_every_days=4))
    assert days(org)["overdue-2"] == date(2022, 11, 7)  # 5 Nov is a Saturday


def test_escalation_to_heads_then_executives() -> None:
    d = days()
    assert d["escalation-head"] == date(2022, 11, 7)
    assert d["escalation-exec"] == date(2022, 11, 30)
    assert {(s, r) for s, r, _, _ in stages_on(date(2022, 11, 7))} == {("escalation-head", "หัวหน้าสำนักปลัด")}
    assert {(s, r) for s, r, _, _ in stages_on(date(2022, 11, 30))} == {("escalation-exec", "นายก")}


def test_admin_closure_moves_a_stage_too() -> None:
    org = make_org(closures=((date(2022, 10, 21), "ปิดสำนักงานตามมติคณะรัฐมนตรี"),))
    assert days(org)["before-7"] == date(2022, 10, 20)


def test_done_occurrence_gets_nothing_from_the_day_it_was_done() -> None:
    assert stages_on(date(2022, 11, 8), done_on=date(2022, 11, 2)) == []
    assert stages_on(date(2022, 11, 1), done_on=date(2022, 11, 2)) != []  # not done yet that day


def test_policy_per_obligation_is_honoured() -> None:
    org = make_org(ReminderPolicy(before_days=(5,), on_due=False, overdue_max=0, escalate_head_after_days=0,
                                  escalate_executives_after_days=0))
    assert set(days(org)) == {"before-5"}


def test_unit_without_officers_gets_reminders_at_its_head() -> None:
    org = make_org(contacts=(HEAD,))
    assert {r for _, r, _, _ in stages_on(DUE, org)} == {"หัวหน้าสำนักปลัด"}


def test_send_time_is_the_start_of_sending_hours_in_bangkok() -> None:
    assert send_at(DUE, ReminderPolicy()) == datetime(2022, 10, 31, 8, 30, tzinfo=BANGKOK)
    org = make_org()
    reminders = due_reminders(org, [TrackedOccurrence(O10, id=7)], bkk(2022, 10, 21, 9, 0))
    assert {r.send_at for r in reminders} == {datetime(2022, 10, 21, 8, 30, tzinfo=BANGKOK)}


def test_schedule_is_the_same_object_for_equal_inputs() -> None:
    # Cached: a national plan shares a few hundred schedules between hundreds of thousands of rows.
    policy, calendar = ReminderPolicy(), WorkCalendar()
    assert schedule(DUE, policy, calendar) is schedule(DUE, ReminderPolicy(), WorkCalendar())
