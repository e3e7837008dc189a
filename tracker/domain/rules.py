"""Due rules: small value objects that expand into concrete occurrences for any fiscal year.

Every occurrence has a stable `period` label ("2566", "2566-Q2", "2566-H1", "2566-M07") that identifies
it across reloads and policy edits, a window start (from when the work counts) and a due date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any, ClassVar

from dateutil.relativedelta import relativedelta
from dateutil.rrule import MONTHLY, rrule

from tracker.domain.errors import DateParseError, RuleError
from tracker.domain.thaidate import (
    MONTHS_EN,
    MONTHS_FULL,
    fiscal_year_bounds,
    make_date,
    month_in_fiscal_year,
    to_thai_digits,
)
from tracker.domain.workdays import WorkCalendar


class NonWorkingDay(StrEnum):
    """What to do with a due date that falls on a weekend, holiday or closure."""

    KEEP = "keep"
    PREVIOUS = "previous"
    NEXT = "next"

    def adjust(self, due: date, calendar: WorkCalendar) -> date:
        if self is NonWorkingDay.PREVIOUS:
            return calendar.previous_working_day(due)
        if self is NonWorkingDay.NEXT:
            return calendar.next_working_day(due)
        return due


@dataclass(frozen=True, order=True)
class Occurrence:
    """One concrete deadline of an obligation: work in [window_start, due] is on time."""

    obligation: str
    period: str
    window_start: date
    due: date


@dataclass(frozen=True)
class _Slot:
    period: str
    window_start: date
    due: date


class DueRule:
    """Base class of the rule kinds. `slots(fy)` is the rule's own arithmetic; `occurrences` adds the
    non-working-day policy, which every kind shares."""

    kind: ClassVar[str]
    non_working_day: NonWorkingDay

    def slots(self, fy_be: int) -> list[_Slot]:
        raise NotImplementedError

    def occurrences(self, obligation: str, fy_be: int, calendar: WorkCalendar) -> list[Occurrence]:
        """Every occurrence of this rule in fiscal year `fy_be` (B.E.), in due order."""
        return list(_occurrences(self, obligation, fy_be, calendar))

    def describe(self, lang: str = "th") -> str:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def _policy_dict(self) -> dict[str, Any]:
        if self.non_working_day is NonWorkingDay.KEEP:
            return {}
        return {"non_working_day": self.non_working_day.value}


@lru_cache(maxsize=65536)
def _occurrences(rule: DueRule, obligation: str, fy_be: int, calendar: WorkCalendar) -> tuple[Occurrence, ...]:
    """A rule's occurrences, computed once per process: rules, calendars and occurrences are frozen
    values, and every board, status and plan asks again for the same ones (a monthly rule's `rrule` and
    the non-working-day shifts cost ~0.5 ms)."""
    return tuple(Occurrence(obligation, s.period, s.window_start, rule.non_working_day.adjust(s.due, calendar))
                 for s in rule.slots(fy_be))


@dataclass(frozen=True)
class MonthRule(DueRule):
    """Within a month of the fiscal year ("ภายในเดือนตุลาคม"): due on its last day, window the month."""

    month: int
    non_working_day: NonWorkingDay = NonWorkingDay.KEEP
    kind: ClassVar[str] = "month"

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise RuleError(f"month {self.month} does not exist: use 1–12 (10 = October)")

    def slots(self, fy_be: int) -> list[_Slot]:
        month = month_in_fiscal_year(fy_be, self.month)
        return [_Slot(str(fy_be), month.start, month.end)]

    def describe(self, lang: str = "th") -> str:
        if lang == "en":
            return f"within {MONTHS_EN[self.month - 1]}"
        return f"ภายในเดือน{MONTHS_FULL[self.month - 1]}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "month": self.month, **self._policy_dict()}


@dataclass(frozen=True)
class DateRule(DueRule):
    """By a fixed day of the fiscal year ("ภายในวันที่ ๓๑ ตุลาคม"); the window opens with the fiscal year."""

    month: int
    day: int
    non_working_day: NonWorkingDay = NonWorkingDay.KEEP
    kind: ClassVar[str] = "date"

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise RuleError(f"month {self.month} does not exist: use 1–12")
        # 29 February exists only in leap years; every other day must exist in every year.
        leap_probe = 2024
        make_date(leap_probe, self.month, self.day)

    def slots(self, fy_be: int) -> list[_Slot]:
        month = month_in_fiscal_year(fy_be, self.month)
        day = min(self.day, month.end.day)  # 29 February in a common year falls back to the 28th
        return [_Slot(str(fy_be), fiscal_year_bounds(fy_be).start, month.start.replace(day=day))]

    def describe(self, lang: str = "th") -> str:
        if lang == "en":
            return f"by {self.day} {MONTHS_EN[self.month - 1]}"
        return to_thai_digits(f"ภายในวันที่ {self.day} {MONTHS_FULL[self.month - 1]}")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "month": self.month, "day": self.day, **self._policy_dict()}


@dataclass(frozen=True)
class FiscalYearRule(DueRule):
    """Within the fiscal year ("ภายในปีงบประมาณ", "ตลอดปีงบประมาณ"): due 30 September."""

    non_working_day: NonWorkingDay = NonWorkingDay.KEEP
    kind: ClassVar[str] = "fiscal_year"

    def slots(self, fy_be: int) -> list[_Slot]:
        bounds = fiscal_year_bounds(fy_be)
        return [_Slot(str(fy_be), bounds.start, bounds.end)]

    def describe(self, lang: str = "th") -> str:
        return "within the fiscal year" if lang == "en" else "ภายในปีงบประมาณ"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **self._policy_dict()}


class Frequency(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    HALF_YEARLY = "half_yearly"
    YEARLY = "yearly"

    @property
    def months(self) -> int:
        return {"monthly": 1, "quarterly": 3, "half_yearly": 6, "yearly": 12}[self.value]

    @property
    def label_prefix(self) -> str:
        return {"monthly": "M", "quarterly": "Q", "half_yearly": "H", "yearly": ""}[self.value]


_FREQ_TH = {"monthly": "ทุกเดือน", "quarterly": "อย่างน้อยไตรมาสละ ๑ ครั้ง",
            "half_yearly": "ทุก ๖ เดือน", "yearly": "อย่างน้อยปีละ ๑ ครั้ง"}
_FREQ_EN = {"monthly": "every month", "quarterly": "at least once a quarter",
            "half_yearly": "every six months", "yearly": "at least once a year"}


@dataclass(frozen=True)
class RecurringRule(DueRule):
    """At least once per period ("ทุกเดือน", "ไตรมาสละ ๑ ครั้ง", "ทุก ๖ เดือน", "ปีละ ๑ ครั้ง").

    Periods are aligned on the fiscal year (quarter 1 is October–December). Each period's occurrence is
    due on its last day plus `grace_days` (a monthly summary due by the 10th of the next month has
    grace_days=10).
    """

    frequency: Frequency
    grace_days: int = 0
    non_working_day: NonWorkingDay = NonWorkingDay.KEEP
    kind: ClassVar[str] = "recurring"

    def __post_init__(self) -> None:
        if not 0 <= self.grace_days <= 366:
            raise RuleError(f"grace_days {self.grace_days} must be between 0 and 366")

    def slots(self, fy_be: int) -> list[_Slot]:
        bounds = fiscal_year_bounds(fy_be)
        step = self.frequency.months
        starts = rrule(
            MONTHLY,
            interval=step,
            dtstart=datetime.combine(bounds.start, datetime.min.time()),
            until=datetime.combine(bounds.end, datetime.min.time()),
        )
        slots = []
        for index, start in enumerate(starts, start=1):
            end = start.date() + relativedelta(months=step) - timedelta(days=1)
            prefix = self.frequency.label_prefix
            label = f"{fy_be}-{prefix}{index:02d}" if prefix == "M" else (
                f"{fy_be}-{prefix}{index}" if prefix else str(fy_be)
            )
            slots.append(_Slot(label, start.date(), end + timedelta(days=self.grace_days)))
        return slots

    def describe(self, lang: str = "th") -> str:
        base = (_FREQ_EN if lang == "en" else _FREQ_TH)[self.frequency.value]
        if self.grace_days:
            extra = f" (+{self.grace_days} days)" if lang == "en" else to_thai_digits(
                f" (ภายใน {self.grace_days} วันหลังสิ้นรอบ)")
            return base + extra
        return base

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "every": self.frequency.value}
        if self.grace_days:
            out["grace_days"] = self.grace_days
        return {**out, **self._policy_dict()}


RULE_KINDS: dict[str, type[DueRule]] = {
    cls.kind: cls for cls in (MonthRule, DateRule, FiscalYearRule, RecurringRule)
}
RULE_FIELDS: dict[str, frozenset[str]] = {
    "month": frozenset({"kind", "month", "non_working_day"}),
    "date": frozenset({"kind", "month", "day", "non_working_day"}),
    "fiscal_year": frozenset({"kind", "non_working_day"}),
    "recurring": frozenset({"kind", "every", "grace_days", "non_working_day"}),
}


def rule_from_dict(data: dict[str, Any]) -> DueRule:
    """Build a rule from its configuration form, e.g. {"kind": "month", "month": 10}.

    Raises RuleError naming the field that is missing, unknown or out of range.
    """
    kind = data.get("kind")
    if kind not in RULE_KINDS:
        raise RuleError(f"kind {kind!r} is not a rule kind: use one of {', '.join(RULE_KINDS)}")
    unknown = set(data) - RULE_FIELDS[kind]
    if unknown:
        allowed = ", ".join(sorted(RULE_FIELDS[kind]))
        raise RuleError(f"unknown field(s) {', '.join(sorted(unknown))} for kind '{kind}': allowed are {allowed}")
    try:
        policy = NonWorkingDay(data.get("non_working_day", "keep"))
    except ValueError:
        raise RuleError(
            f"non_working_day {data.get('non_working_day')!r} must be keep, previous or next"
        ) from None
    def need_int(name: str) -> int:
        value = data.get(name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise RuleError(f"'{name}' must be a whole number for kind '{kind}'")
        return value
    if kind == "month":
        return MonthRule(need_int("month"), policy)
    if kind == "date":
        month, day = need_int("month"), need_int("day")
        try:
            return DateRule(month, day, policy)
        except DateParseError as exc:  # 30 February: say it as a rule error, where the caller looks
            raise RuleError(str(exc)) from None
    if kind == "fiscal_year":
        return FiscalYearRule(policy)
    try:
        frequency = Frequency(str(data.get("every")))
    except ValueError:
        raise RuleError(
            f"every {data.get('every')!r} must be one of {', '.join(f.value for f in Frequency)}"
        ) from None
    grace = data.get("grace_days", 0)
    if not isinstance(grace, int) or isinstance(grace, bool):
        raise RuleError("'grace_days' must be a whole number")
    return RecurringRule(frequency, grace, policy)
