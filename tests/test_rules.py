"""Due rules expand into the right occurrences, for every month, across fiscal years, on holidays."""

from __future__ import annotations

from datetime import date

import pytest

from tracker.domain.errors import RuleError
from tracker.domain.rules import (
    DateRule,
    FiscalYearRule,
    Frequency,
    MonthRule,
    NonWorkingDay,
    RecurringRule,
    rule_from_dict,
)
from tracker.domain.workdays import THAI_GOVERNMENT

CAL = THAI_GOVERNMENT


@pytest.mark.parametrize(("month", "due"), [
    (10, date(2022, 10, 31)), (11, date(2022, 11, 30)), (12, date(2022, 12, 31)), (1, date(2023, 1, 31)),
    (2, date(2023, 2, 28)), (3, date(2023, 3, 31)), (4, date(2023, 4, 30)), (5, date(2023, 5, 31)),
    (6, date(2023, 6, 30)), (7, date(2023, 7, 31)), (8, date(2023, 8, 31)), (9, date(2023, 9, 30)),
])
def test_month_rule_for_every_month_of_fy_2566(month: int, due: date) -> None:
    [occ] = MonthRule(month).occurrences("x", 2566, CAL)
    assert occ.due == due
    assert occ.window_start == due.replace(day=1)
    assert occ.period == "2566"


def test_month_rule_year_after_year() -> None:
    dues = [MonthRule(10).occurrences("x", fy, CAL)[0].due for fy in (2566, 2567, 2568)]
    assert dues == [date(2022, 10, 31), date(2023, 10, 31), date(2024, 10, 31)]


def test_monthly_recurrence_crosses_the_fiscal_year_boundary() -> None:
    rule = RecurringRule(Frequency.MONTHLY)
    fy66 = rule.occurrences("x", 2566, CAL)
    fy67 = rule.occurrences("x", 2567, CAL)
    assert len(fy66) == len(fy67) == 12
    assert fy66[-1].due == date(2023, 9, 30) and fy66[-1].period == "2566-M12"
    assert fy67[0].window_start == date(2023, 10, 1) and fy67[0].period == "2567-M01"
    assert fy66[-1].due.toordinal() + 1 == fy67[0].window_start.toordinal()  # no gap, no overlap
    assert fy67[4].due == date(2024, 2, 29)  # February of a leap year


@pytest.mark.parametrize(("frequency", "count", "first_due"), [
    (Frequency.QUARTERLY, 4, date(2022, 12, 31)),
    (Frequency.HALF_YEARLY, 2, date(2023, 3, 31)),
    (Frequency.YEARLY, 1, date(2023, 9, 30)),
])
def test_recurrences_are_aligned_on_the_fiscal_year(frequency: Frequency, count: int, first_due: date) -> None:
    occs = RecurringRule(frequency).occurrences("x", 2566, CAL)
    assert len(occs) == count
    assert occs[0].window_start == date(2022, 10, 1) and occs[0].due == first_due


def test_quarterly_periods_are_labelled_for_logging() -> None:
    labels = [o.period for o in RecurringRule(Frequency.QUARTERLY).occurrences("x", 2567, CAL)]
    assert labels == ["2567-Q1", "2567-Q2", "2567-Q3", "2567-Q4"]


def test_grace_days_move_the_due_date_after_the_period() -> None:
    occs = RecurringRule(Frequency.MONTHLY, grace_days=10).occurrences("x", 2566, CAL)
    assert occs[0].due == date(2022, 11, 10)


def test_fixed_date_and_fiscal_year_rules() -> None:
    [fixed] = DateRule(10, 31).occurrences("x", 2566, CAL)
    assert (fixed.window_start, fixed.due) == (date(2022, 10, 1), date(2022, 10, 31))
    [whole] = FiscalYearRule().occurrences("x", 2566, CAL)
    assert (whole.window_start, whole.due) == (date(2022, 10, 1), date(2023, 9, 30))
    assert DateRule(2, 29).occurrences("x", 2566, CAL)[0].due == date(2023, 2, 28)


@pytest.mark.parametrize(("policy", "due"), [
    (NonWorkingDay.KEEP, date(2022, 10, 24)),  # Monday, substitute holiday for Chulalongkorn Day
    (NonWorkingDay.PREVIOUS, date(2022, 10, 21)),
    (NonWorkingDay.NEXT, date(2022, 10, 25)),
])
def test_due_date_on_a_government_holiday_under_each_policy(policy: NonWorkingDay, due: date) -> None:
    [occ] = DateRule(10, 24, policy).occurrences("x", 2566, CAL)
    assert occ.due == due


def test_rule_round_trips_through_its_configuration_form() -> None:
    for rule in (MonthRule(4), DateRule(12, 31, NonWorkingDay.PREVIOUS), FiscalYearRule(),
                 RecurringRule(Frequency.QUARTERLY, 15, NonWorkingDay.NEXT)):
        assert rule_from_dict(rule.to_dict()) == rule


@pytest.mark.parametrize(("data", "message"), [
    ({"kind": "weekly"}, "not a rule kind"),
    ({"kind": "month", "month": 13}, "month 13"),
    ({"kind": "month"}, "'month' must be a whole number"),
    ({"kind": "date", "month": 2, "day": 30}, "does not exist"),
    ({"kind": "recurring", "every": "fortnightly"}, "every 'fortnightly'"),
    ({"kind": "month", "month": 10, "non_working_day": "later"}, "keep, previous or next"),
    ({"kind": "fiscal_year", "month": 10}, "unknown field"),
])
def test_impossible_rules_are_refused_with_the_reason(data: dict[str, object], message: str) -> None:
    with pytest.raises(RuleError, match=message):
        rule_from_dict(data)
