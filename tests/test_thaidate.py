"""The Thai calendar: B.E. years, Thai digits, month names, the fiscal year and its boundaries."""

from __future__ import annotations

from datetime import date

import pytest

from tracker.domain.errors import DateParseError
from tracker.domain.thaidate import (
    MONTHS_ABBR,
    MONTHS_FULL,
    be_to_ce,
    ce_to_be,
    fiscal_quarter,
    fiscal_year,
    fiscal_year_bounds,
    format_date,
    format_thai_date,
    half_bounds,
    month_in_fiscal_year,
    normalize_be_year,
    parse_date,
    parse_month,
    quarter_bounds,
    to_arabic_digits,
    to_thai_digits,
)


def test_fiscal_year_turns_on_1_october() -> None:
    assert fiscal_year(date(2022, 9, 30)) == 2565
    assert fiscal_year(date(2022, 10, 1)) == 2566
    assert fiscal_year(date(2023, 9, 30)) == 2566
    assert fiscal_year(date(2023, 10, 1)) == 2567


def test_fiscal_year_bounds_span_october_to_september() -> None:
    bounds = fiscal_year_bounds(2566)
    assert (bounds.start, bounds.end) == (date(2022, 10, 1), date(2023, 9, 30))
    assert date(2022, 10, 1) in bounds and date(2023, 10, 1) not in bounds


@pytest.mark.parametrize(("day", "quarter"), [
    (date(2022, 10, 1), 1), (date(2022, 12, 31), 1), (date(2023, 1, 1), 2), (date(2023, 3, 31), 2),
    (date(2023, 4, 1), 3), (date(2023, 6, 30), 3), (date(2023, 7, 1), 4), (date(2023, 9, 30), 4),
])
def test_fiscal_quarters(day: date, quarter: int) -> None:
    assert fiscal_quarter(day) == quarter
    assert day in quarter_bounds(fiscal_year(day), quarter)


def test_six_month_round_is_october_to_march() -> None:
    first = half_bounds(2566, 1)
    assert (first.start, first.end) == (date(2022, 10, 1), date(2023, 3, 31))
    assert half_bounds(2566, 2).end == date(2023, 9, 30)


def test_months_of_the_fiscal_year_fall_in_the_right_ce_year() -> None:
    assert month_in_fiscal_year(2566, 10).start == date(2022, 10, 1)
    assert month_in_fiscal_year(2566, 12).end == date(2022, 12, 31)
    assert month_in_fiscal_year(2566, 2).end == date(2023, 2, 28)
    assert month_in_fiscal_year(2567, 2).end == date(2024, 2, 29)  # leap year


def test_be_and_ce_both_ways() -> None:
    assert ce_to_be(2023) == 2566 and be_to_ce(2566) == 2023
    assert normalize_be_year(65) == 2565 and normalize_be_year(2566) == 2566
    with pytest.raises(DateParseError, match=r"not a B\.E\. year"):
        normalize_be_year(2023)


def test_thai_digits_both_ways() -> None:
    assert to_thai_digits("5 เมษายน 2566") == "๕ เมษายน ๒๕๖๖"
    assert to_arabic_digits("๕ เมษายน ๒๕๖๖") == "5 เมษายน 2566"
    assert to_arabic_digits("0๑๑") == "011"  # the seed's mixed Arabic zero and Thai digits


def test_every_month_name_parses_full_and_abbreviated() -> None:
    for number, (full, abbr) in enumerate(zip(MONTHS_FULL, MONTHS_ABBR, strict=True), start=1):
        assert parse_month(full) == number
        assert parse_month(abbr) == number
        assert parse_month(abbr.replace(".", "")) == number
    with pytest.raises(DateParseError, match="not a month"):
        parse_month("ตุลา")


@pytest.mark.parametrize("text", [
    "2023-04-05", "5/4/2566", "05/04/66", "๕ เม.ย. ๒๕๖๖", "5 เมษายน 2566",
    "วันที่ ๕ เดือน เมษายน พ.ศ. ๒๕๖๖", "๕ เดือนเมษายน พ.ศ.๒๕๖๖", "๕/๔/๒๕๖๖",
])
def test_dates_typed_the_ways_officials_type_them(text: str) -> None:
    assert parse_date(text) == date(2023, 4, 5)


@pytest.mark.parametrize(("text", "message"), [
    ("31/4/2566", "does not exist"), ("29 ก.พ. 2566", "does not exist"), ("5/13/2566", "month 13"),
    ("yesterday", "not a date"), ("5/4/2023", "not a B.E. year"),
])
def test_impossible_or_unreadable_dates_say_why(text: str, message: str) -> None:
    with pytest.raises(DateParseError, match=message):
        parse_date(text)


def test_formats_as_officials_write() -> None:
    day = date(2023, 4, 5)
    assert format_thai_date(day) == "๕ เมษายน ๒๕๖๖"
    assert format_thai_date(day, style="short") == "๕ เม.ย. ๖๖"
    assert format_thai_date(day, style="report") == "วันที่ ๕ เดือน เมษายน พ.ศ. ๒๕๖๖"
    assert format_thai_date(date(2022, 10, 31), style="weekday") == "วันจันทร์ที่ ๓๑ ตุลาคม ๒๕๖๕"
    assert format_date(day, "en") == "5 April 2023"
    assert parse_date(format_thai_date(day)) == day
