"""Working days: Monday–Friday minus Thai public and government holidays, minus admin-declared closures."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

import holidays

HOLIDAY_CATEGORIES = ("public", "government")


@lru_cache(maxsize=64)
def _thai_holidays(year: int, language: str) -> dict[date, str]:
    # One table per (year, language), cached: holidays builds each year's table from its rules.
    table = holidays.country_holidays("TH", years=year, categories=HOLIDAY_CATEGORIES, language=language)
    return dict(table.items())


@dataclass(frozen=True)
class WorkCalendar:
    """Which days an office is open. `closures` are extra closed days an admin declared
    (a cabinet may add a holiday at short notice); `closure_names` gives their reasons."""

    closures: frozenset[date] = field(default_factory=frozenset)
    closure_names: tuple[tuple[date, str], ...] = ()

    @classmethod
    def with_closures(cls, closures: Iterable[tuple[date, str]]) -> WorkCalendar:
        pairs = tuple(sorted(closures))
        return cls(frozenset(d for d, _ in pairs), pairs)

    def holiday_name(self, day: date, language: str = "th") -> str | None:
        """The name of the holiday or closure on `day`, or None on an ordinary day (weekends included)."""
        for closed, name in self.closure_names:
            if closed == day:
                return name
        return _thai_holidays(day.year, language).get(day)

    def is_working_day(self, day: date) -> bool:
        if day.weekday() >= 5 or day in self.closures:
            return False
        return day not in _thai_holidays(day.year, "en_US")

    def previous_working_day(self, day: date) -> date:
        """The last working day on or before `day`."""
        while not self.is_working_day(day):
            day -= timedelta(days=1)
        return day

    def next_working_day(self, day: date) -> date:
        """The first working day on or after `day`."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def first_working_day_of_month(self, year: int, month: int) -> date:
        return self.next_working_day(date(year, month, 1))

    def add_working_days(self, day: date, count: int) -> date:
        """The `count`-th working day after `day` (count >= 1), e.g. "the next working day" is count=1."""
        step = 0
        while step < count:
            day += timedelta(days=1)
            if self.is_working_day(day):
                step += 1
        return day


THAI_GOVERNMENT = WorkCalendar()
