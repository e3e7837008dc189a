"""Statuses of occurrences at an instant, and which action counts for which occurrence."""

from __future__ import annotations

from datetime import date

import pytest

from tests.factories import make_action, occurrence
from tracker.domain.rules import Frequency, RecurringRule
from tracker.domain.status import Status, attribute_actions, occurrence_status, statuses
from tracker.domain.workdays import THAI_GOVERNMENT

OCC = occurrence(window_start=date(2022, 10, 1), due=date(2022, 10, 31))


@pytest.mark.parametrize(("today", "actions", "status"), [
    (date(2022, 9, 30), [], Status.UPCOMING),
    (date(2022, 10, 1), [], Status.OPEN),
    (date(2022, 10, 24), [], Status.DUE_SOON),
    (date(2022, 10, 31), [], Status.DUE_SOON),
    (date(2022, 11, 1), [], Status.OVERDUE),
    (date(2022, 11, 1), [date(2022, 10, 31)], Status.DONE),
    (date(2023, 4, 30), [date(2023, 4, 5)], Status.LATE),
])
def test_every_status(today: date, actions: list[date], status: Status) -> None:
    result = occurrence_status(OCC, [make_action(done_on=d) for d in actions], today, due_soon_days=7)
    assert result.status is status


def test_days_late_and_overdue_are_counted_in_calendar_days() -> None:
    late = occurrence_status(OCC, [make_action(done_on=date(2023, 4, 5))], date(2023, 4, 30))
    assert (late.done_on, late.days_late, late.days_overdue) == (date(2023, 4, 5), 156, None)
    overdue = occurrence_status(OCC, [], date(2022, 11, 10))
    assert (overdue.days_overdue, overdue.days_late) == (10, None)


def test_an_action_counts_only_from_its_date_on() -> None:
    future = [make_action(done_on=date(2022, 10, 20))]
    assert occurrence_status(OCC, future, date(2022, 10, 10)).status is Status.OPEN
    assert occurrence_status(OCC, future, date(2022, 10, 20)).status is Status.DONE


def test_the_first_action_decides_done_or_late() -> None:
    acts = [make_action(done_on=date(2022, 12, 1)), make_action(done_on=date(2022, 10, 15))]
    assert occurrence_status(OCC, acts, date(2023, 1, 1)).status is Status.DONE


def test_actions_go_to_the_window_that_holds_their_date() -> None:
    occs = RecurringRule(Frequency.QUARTERLY).occurrences("q", 2566, THAI_GOVERNMENT)
    got = attribute_actions(occs, [make_action("q", date(2023, 2, 14))])
    assert [o.period for o, acts in got.items() if acts] == ["2566-Q2"]


def test_an_action_naming_its_period_counts_for_that_period() -> None:
    occs = RecurringRule(Frequency.QUARTERLY).occurrences("q", 2566, THAI_GOVERNMENT)
    got = attribute_actions(occs, [make_action("q", date(2023, 1, 10), period="2566-Q1")])
    assert [o.period for o, acts in got.items() if acts] == ["2566-Q1"]
    items = statuses(occs, [make_action("q", date(2023, 1, 10), period="2566-Q1")], date(2023, 1, 20))
    assert items[0].status is Status.LATE and items[0].days_late == 10


def test_late_work_counts_for_the_deadline_it_missed() -> None:
    got = attribute_actions([OCC], [make_action(done_on=date(2023, 4, 5))])
    assert got[OCC][0].done_on == date(2023, 4, 5)


def test_actions_of_other_obligations_are_ignored() -> None:
    got = attribute_actions([OCC], [make_action("O11-1", date(2022, 10, 5))])
    assert got[OCC] == []


def test_early_work_counts_within_its_fiscal_year_only() -> None:
    next_year = occurrence(period="2567", window_start=date(2023, 10, 1), due=date(2023, 10, 31))
    early = make_action(done_on=date(2023, 9, 25))
    assert attribute_actions([next_year], [early])[next_year] == []
    this_fy = occurrence(period="2566", window_start=date(2023, 4, 1), due=date(2023, 4, 30))
    assert attribute_actions([this_fy], [make_action(done_on=date(2023, 3, 1))])[this_fy] != []


def test_late_work_goes_to_last_years_deadline_not_this_years() -> None:
    last = occurrence(period="2566", window_start=date(2023, 4, 1), due=date(2023, 4, 30))
    this = occurrence(period="2567", window_start=date(2024, 4, 1), due=date(2024, 4, 30))
    got = attribute_actions([last, this], [make_action(done_on=date(2023, 11, 2))])
    assert len(got[last]) == 1 and got[this] == []
