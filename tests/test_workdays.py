"""Working days: weekends, Thai public and government holidays (with substitutes), admin closures."""

from __future__ import annotations

from datetime import date

from tracker.domain.workdays import THAI_GOVERNMENT, WorkCalendar


def test_weekends_and_holidays_are_not_working_days() -> None:
    assert THAI_GOVERNMENT.is_working_day(date(2022, 10, 21))  # Friday
    assert not THAI_GOVERNMENT.is_working_day(date(2022, 10, 22))  # Saturday
    assert not THAI_GOVERNMENT.is_working_day(date(2022, 10, 24))  # substitute for Chulalongkorn Day
    assert not THAI_GOVERNMENT.is_working_day(date(2023, 4, 13))  # Songkran


def test_previous_and_next_working_day_skip_the_long_weekend() -> None:
    assert THAI_GOVERNMENT.previous_working_day(date(2022, 10, 24)) == date(2022, 10, 21)
    assert THAI_GOVERNMENT.next_working_day(date(2022, 10, 22)) == date(2022, 10, 25)
    assert THAI_GOVERNMENT.add_working_days(date(2022, 10, 21), 1) == date(2022, 10, 25)


def test_first_working_day_of_january_2023_is_wednesday_the_4th() -> None:
    assert THAI_GOVERNMENT.first_working_day_of_month(2023, 1) == date(2023, 1, 4)


def test_admin_closures_are_holidays_too() -> None:
    calendar = WorkCalendar.with_closures([(date(2023, 5, 9), "วันหยุดพิเศษตามมติคณะรัฐมนตรี")])
    assert THAI_GOVERNMENT.is_working_day(date(2023, 5, 9))  # an ordinary Tuesday
    assert not calendar.is_working_day(date(2023, 5, 9))
    assert calendar.holiday_name(date(2023, 5, 9)) == "วันหยุดพิเศษตามมติคณะรัฐมนตรี"
    assert calendar.holiday_name(date(2022, 10, 24)) is not None
