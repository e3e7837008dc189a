"""The monthly executive digest: where an organisation stands, computed from occurrences and actions.

Pure: the caller passes the day (`today`) and the month; nothing here reads the clock or a database.
Every figure comes from `tracker.domain.status` (`attribute_actions`, `occurrence_status`: what `statuses`
runs), so the digest and the status board never disagree.
One scope for every count: the fiscal year of `today`. What is still overdue from earlier years is kept
apart (`carried_over`), so the subject, the chart and the LINE text say the same number.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cached_property

from tracker.domain.model import Action, Organisation
from tracker.domain.rules import Occurrence
from tracker.domain.status import OccurrenceStatus, Status, attribute_actions, occurrence_status
from tracker.domain.thaidate import (
    fiscal_year,
    fiscal_year_bounds,
    period_fiscal_year,
    title_for_year,
)
from tracker.domain.workdays import WorkCalendar

NEXT_DAYS = 30
BUCKETS = ("done", "late", "overdue", "due_this_month", "upcoming")  # a unit's deadlines, each in one


def digest_day(calendar: WorkCalendar, year: int, month: int) -> date:
    """The day a month's digest goes out: the first working day (January 2023 → Wednesday the 4th)."""
    return calendar.first_working_day_of_month(year, month)


def month_bounds(year: int, month: int) -> tuple[date, date]:
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return first, following - timedelta(days=1)


@dataclass(frozen=True)
class UnitSummary:
    """Fiscal-year-to-date counts for one unit; the five buckets partition its occurrences."""

    code: str
    name: str
    done: int = 0
    late: int = 0
    overdue: int = 0
    due_this_month: int = 0
    upcoming: int = 0

    @property
    def total(self) -> int:
        return self.done + self.late + self.overdue + self.due_this_month + self.upcoming

    def __getitem__(self, bucket: str) -> int:
        """A bucket's count by name (`unit["overdue"]`), as the templates read it: an item lookup that
        works, instead of one that fails before Jinja tries the attribute."""
        if bucket not in BUCKETS:
            raise KeyError(bucket)
        return int(getattr(self, bucket))



@dataclass(frozen=True)
class DigestItem:
    """One obligation occurrence as a line of the digest."""

    measure: str
    obligation: str
    title: str
    unit: str
    unit_name: str
    period: str
    due: date
    days_overdue: int | None = None
    days_to_due: int | None = None
    done_on: date | None = None
    evidence: tuple[str, ...] = ()
    periods: tuple[str, ...] = ()  # when grouped: every overdue period of the obligation, oldest first

    @property
    def count(self) -> int:
        return max(1, len(self.periods))

    @property
    def days_late(self) -> int | None:
        """Days after its due date the work was done, None when on time or not done: work finished last
        month five months late must not read as if it were on time."""
        if self.done_on is None or self.done_on <= self.due:
            return None
        return (self.done_on - self.due).days


@dataclass(frozen=True)
class BrokenEvidence:
    """An evidence link that did not open at its last check: an assessor would fail the item."""

    obligation: str
    title: str
    unit_name: str
    url: str
    since: date
    error: str


@dataclass(frozen=True)
class Digest:
    org: str
    org_name: str
    district: str
    province: str
    year: int
    month: int
    today: date
    fiscal_year: int
    units: tuple[UnitSummary, ...]
    rate: float | None  # finished / (finished + overdue) of the fiscal year, now
    previous_rate: float | None  # the same, at the end of the previous month
    overdue: tuple[DigestItem, ...]  # of the fiscal year, one line per obligation (periods grouped), worst first
    completed_last_month: tuple[DigestItem, ...]
    due_next: tuple[DigestItem, ...]  # due within NEXT_DAYS, soonest first
    broken_evidence: tuple[BrokenEvidence, ...] = ()
    carried_over: tuple[DigestItem, ...] = ()  # still overdue from earlier fiscal years, grouped, worst first

    @property
    def overdue_count(self) -> int:
        """Overdue deadlines of the fiscal year (a monthly item three months behind counts three)."""
        return sum(i.count for i in self.overdue)

    @property
    def carried_over_count(self) -> int:
        return sum(i.count for i in self.carried_over)

    @property
    def month_key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def rate_change(self) -> float | None:
        if self.rate is None or self.previous_rate is None:
            return None
        return self.rate - self.previous_rate

    @cached_property
    def totals(self) -> UnitSummary:
        """Every unit's buckets added up (read several times by each rendering: computed once)."""
        return UnitSummary("", "", *(sum(getattr(u, f) for u in self.units) for f in BUCKETS))


def completion_rate(items: Iterable[OccurrenceStatus]) -> float | None:
    """Of what has fallen due or been finished, the share finished. None when nothing has yet.

    Work not yet due is left out of the denominator: an early-year digest would otherwise look bad
    for no fault of anyone."""
    finished = judged = 0
    for item in items:
        if item.is_finished:
            finished += 1
            judged += 1
        elif item.status is Status.OVERDUE:
            judged += 1
    return None if judged == 0 else finished / judged


def build_digest(
    org: Organisation, occurrences: Sequence[Occurrence], actions: Sequence[Action],
    year: int, month: int, today: date,
) -> Digest:
    """The digest of month (`year`, `month`) as it stands on `today` (usually the digest day).

    `occurrences` may span several fiscal years: the per-unit table, the rates and the overdue list cover
    the fiscal year of `today`; what is still overdue from earlier years is `carried_over` (an unfinished
    plan of last year still matters, but is not counted as this year's); "completed last month" covers
    the calendar month before `month`. A monthly obligation behind for several months is one line.
    """
    soon = {ob.code: ob.policy.due_soon_days for ob in org.obligations()}
    # Which action counts for which deadline is found once: each action's deadline depends on the
    # deadlines given and on that action alone, so the same attribution serves today's statuses and the
    # evidence shown (actions up to today), and last month's rate whenever every deadline is this year's.
    attributed = attribute_actions(occurrences, actions)
    now_items = _judged(attributed, today, soon)
    now_items.sort(key=lambda s: (s.occurrence.due, s.occurrence.obligation))  # as `statuses` orders them
    first, last = month_bounds(year, month)
    previous_end = first - timedelta(days=1)
    previous_start = month_bounds(previous_end.year, previous_end.month)[0]
    fy = fiscal_year(today)
    fy_range = fiscal_year_bounds(fy)
    fy_start, fy_end = fy_range.start, fy_range.end
    in_fy = [s for s in now_items if fy_start <= s.occurrence.due <= fy_end]
    previous_rate = _rate_on(_among(attributed, fy_start, fy_end, actions), previous_end)
    line = _Liner(org, attributed, today)
    overdue = sorted((s for s in now_items if s.status is Status.OVERDUE),
                     key=lambda s: (-(s.days_overdue or 0), s.occurrence.obligation))
    this_year = [s for s in overdue if fy_start <= s.occurrence.due <= fy_end]
    earlier = [s for s in overdue if s.occurrence.due < fy_start]
    completed = [s for s in now_items if s.done_on is not None and previous_start <= s.done_on <= previous_end]
    next_end = today + timedelta(days=NEXT_DAYS)
    due_next = [s for s in now_items if not s.is_finished and today <= s.occurrence.due <= next_end]
    return Digest(
        org=org.code, org_name=org.name, district=org.district, province=org.province,
        year=year, month=month, today=today, fiscal_year=fy,
        units=_unit_summaries(org, in_fy, first, last),
        rate=completion_rate(in_fy), previous_rate=previous_rate,
        overdue=_grouped([line(s) for s in this_year]),
        carried_over=_grouped([line(s) for s in earlier]),
        completed_last_month=tuple(line(s) for s in sorted(completed, key=lambda s: (s.done_on, s.occurrence))),
        due_next=tuple(line(s) for s in due_next),
    )


def _judged(attributed: dict[Occurrence, list[Action]], day: date, soon: dict[str, int]) -> list[OccurrenceStatus]:
    """Each deadline's status on `day` from its attributed actions (`statuses`, without its ordering)."""
    return [occurrence_status(occ, acts, day, soon.get(occ.obligation, 7)) for occ, acts in attributed.items()]


def _among(attributed: dict[Occurrence, list[Action]], start: date, end: date,
           actions: Sequence[Action]) -> dict[Occurrence, list[Action]]:
    """The attribution that `attribute_actions` gives among the deadlines due from `start` to `end`
    alone, from `attributed` (over more deadlines): an action's deadline is chosen among its
    obligation's deadlines only, so only the obligations that lost some are attributed again."""
    changed = {occ.obligation for occ in attributed if not start <= occ.due <= end}
    if not changed:
        return attributed
    out = {occ: acts for occ, acts in attributed.items() if occ.obligation not in changed}
    out.update(attribute_actions([occ for occ in attributed if occ.obligation in changed and start <= occ.due <= end],
                                 [a for a in actions if a.obligation in changed]))
    return out


def _rate_on(attributed: dict[Occurrence, list[Action]], day: date) -> float | None:
    """`completion_rate` of the deadlines of `attributed` as judged on `day` (`occurrence_status`:
    finished once an action is done by `day`; overdue when not, after its due date)."""
    finished = judged = 0
    for occ, acts in attributed.items():
        if any(a.done_on <= day for a in acts):
            finished += 1
            judged += 1
        elif day > occ.due:
            judged += 1
    return None if judged == 0 else finished / judged


def _grouped(items: Sequence[DigestItem]) -> tuple[DigestItem, ...]:
    """One line per obligation: the worst period's figures, and every period listed (oldest first)."""
    groups: dict[str, list[DigestItem]] = {}
    for item in items:
        groups.setdefault(item.obligation, []).append(item)
    out = []
    for members in groups.values():  # items come worst first, so the first member is the worst
        periods = tuple(m.period for m in sorted(members, key=lambda m: m.due))
        out.append(replace(members[0], periods=periods) if len(members) > 1 else members[0])
    return tuple(out)


def _bucket(item: OccurrenceStatus, first: date, last: date) -> str:
    if item.status is Status.DONE:
        return "done"
    if item.status is Status.LATE:
        return "late"
    if item.status is Status.OVERDUE:
        return "overdue"
    return "due_this_month" if first <= item.occurrence.due <= last else "upcoming"


def _unit_summaries(org: Organisation, items: Sequence[OccurrenceStatus], first: date,
                    last: date) -> tuple[UnitSummary, ...]:
    counts: dict[str, dict[str, int]] = {u.code: {} for u in org.units}
    for item in items:
        unit = org.obligation(item.occurrence.obligation).unit
        bucket = counts.setdefault(unit, {})
        key = _bucket(item, first, last)
        bucket[key] = bucket.get(key, 0) + 1
    names = {u.code: u.name for u in org.units}
    return tuple(UnitSummary(code, names.get(code, code), **c) for code, c in counts.items())


class _Liner:
    """Turns a status into a digest line, looking up titles and unit names once; its evidence is that
    of the actions counted for it, done by `today`."""

    def __init__(self, org: Organisation, attributed: dict[Occurrence, list[Action]], today: date) -> None:
        self.obligations = {ob.code: ob for ob in org.obligations()}
        self.written_for = org.fiscal_year
        self.units = {u.code: u.name for u in org.units}
        self.attributed = attributed
        self.today = today

    def __call__(self, item: OccurrenceStatus) -> DigestItem:
        ob = self.obligations[item.occurrence.obligation]
        return DigestItem(
            measure=ob.measure, obligation=ob.code,
            title=title_for_year(ob.title, self.written_for, period_fiscal_year(item.occurrence.period)),
            unit=ob.unit,
            unit_name=self.units.get(ob.unit, ob.unit), period=item.occurrence.period, due=item.occurrence.due,
            days_overdue=item.days_overdue, days_to_due=item.days_to_due, done_on=item.done_on,
            evidence=tuple(a.evidence for a in self.attributed.get(item.occurrence, ())
                           if a.evidence and a.done_on <= self.today),
        )
