"""The monthly executive digest: where an organisation stands, computed from occurrences and actions.

Pure: the caller passes the day (`today`) and the month; nothing here reads the clock or a database.
Every status comes from `tracker.domain.status` (`attribute_actions` and `status_on`, what `statuses` runs
through `occurrence_status`), so the digest and the status board never disagree.
One scope for every count: the fiscal year of `today`. What is still overdue from earlier years is kept
apart (`carried_over`), so the subject, the chart and the LINE text say the same number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from operator import attrgetter

from tracker.domain.model import Action, Organisation
from tracker.domain.rules import Occurrence
from tracker.domain.status import Status, attribute_actions, status_on
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
    unit_of = {ob.code: ob.unit for ob in org.obligations()}
    # Which action counts for which deadline is found once: each action's deadline depends on the
    # deadlines given and on that action alone, so the same attribution serves today's statuses, the
    # evidence shown (actions up to today) and last month's rate (`_previous_rate`).
    attributed = attribute_actions(occurrences, actions)
    fy = fiscal_year(today)
    fy_range = fiscal_year_bounds(fy)
    fy_start, fy_end = fy_range.start, fy_range.end
    first, last = month_bounds(year, month)
    previous_end = first - timedelta(days=1)
    previous_start = month_bounds(previous_end.year, previous_end.month)[0]
    next_end = today + timedelta(days=NEXT_DAYS)
    in_fy: list[_Judged] = []
    elsewhere: set[str] = set()  # obligations with deadlines outside the fiscal year
    overdue: list[Occurrence] = []
    completed: list[tuple[date, Occurrence]] = []
    due_next: list[Occurrence] = []
    # One pass deciding each deadline's status (`status_on`, as `occurrence_status` decides), and the day
    # it was first done by today (the day `occurrence_status` gives): the lines take their figures from these.
    overdue_status = Status.OVERDUE  # read from the Enum once (~0.1 µs a time)
    for occ, acts in attributed.items():
        done = acts[0].done_on if acts and acts[0].done_on <= today else None  # acts: by date
        status = status_on(occ, done, today, soon.get(occ.obligation, 7))
        if fy_start <= occ.due <= fy_end:
            in_fy.append((occ, acts, status))
        else:
            elsewhere.add(occ.obligation)
        if status is overdue_status:
            overdue.append(occ)
        elif done is not None:
            if previous_start <= done <= previous_end:
                completed.append((done, occ))
        elif today <= occ.due <= next_end:
            due_next.append(occ)
    line = _Liner(org, attributed, today)
    # Overdue longest first is due date first (days overdue count from the same `today`), as the board
    # orders deadlines: (due, obligation).
    overdue.sort(key=_BOARD_ORDER)
    due_next.sort(key=_BOARD_ORDER)
    completed.sort()
    units = _unit_summaries(org, unit_of, in_fy, first, last)
    return Digest(
        org=org.code, org_name=org.name, district=org.district, province=org.province,
        year=year, month=month, today=today, fiscal_year=fy,
        units=units, rate=_completion_rate(units),
        previous_rate=_previous_rate(in_fy, elsewhere, actions, previous_end),
        overdue=line.overdue([occ for occ in overdue if occ.due >= fy_start]),
        carried_over=line.overdue([occ for occ in overdue if occ.due < fy_start]),
        completed_last_month=tuple(line(occ, done) for done, occ in completed),
        due_next=tuple(line(occ) for occ in due_next),
    )


_BOARD_ORDER = attrgetter("due", "obligation")
_Judged = tuple[Occurrence, list[Action], Status]  # a deadline, the actions counted for it, its status


def _previous_rate(kept: Sequence[_Judged], elsewhere: set[str],
                   actions: Sequence[Action], day: date) -> float | None:
    """The completion rate on `day` of the deadlines `kept` (the fiscal year's, with the actions attributed
    to each among all deadlines given), as `statuses` of them alone would judge it.

    Among these deadlines alone, an action attributed to one of them keeps it (its deadline is the first
    of its obligation's that fits, and that one is still there); only the actions of `elsewhere`
    obligations attributed to another deadline, or to none, may move, and only those done by `day` can
    change the rate."""
    movable = [a for a in actions if a.done_on <= day and a.obligation in elsewhere]
    again: dict[Occurrence, list[Action]] = {}
    if movable:
        counted = {id(a) for _, acts, _ in kept for a in acts}
        moved = [a for a in movable if id(a) not in counted]
        if moved:
            obligations = {a.obligation for a in moved}
            again = attribute_actions([occ for occ, _, _ in kept if occ.obligation in obligations], moved)
    finished = judged = 0
    for occ, acts, _ in kept:
        if (acts and acts[0].done_on <= day) or (again and any(a.done_on <= day for a in again.get(occ, ()))):
            finished += 1
            judged += 1
        elif day > occ.due:
            judged += 1
    return None if judged == 0 else finished / judged


_BUCKET_OF = {Status.DONE: 0, Status.LATE: 1, Status.OVERDUE: 2}  # the others: by due date


def _unit_summaries(org: Organisation, unit_of: dict[str, str], judged: Sequence[_Judged], first: date,
                    last: date) -> tuple[UnitSummary, ...]:
    """The `judged` deadlines (the fiscal year's) counted by unit and bucket (`BUCKETS`): the
    organisation's units in order, then any other unit deadlines name (a unit since removed), in the
    order of their first deadline as the board lists them."""
    counts: dict[str, list[int]] = {u.code: [0] * len(BUCKETS) for u in org.units}
    for occ, _, status in judged:
        index = _BUCKET_OF.get(status)
        if index is None:
            index = 3 if first <= occ.due <= last else 4  # due_this_month, upcoming
        unit = unit_of[occ.obligation]
        found = counts.get(unit)
        if found is None:
            found = counts[unit] = [0] * len(BUCKETS)
        found[index] += 1
    names = {u.code: u.name for u in org.units}

    def first_deadline(unit: str) -> tuple[date, str]:
        return min((occ.due, occ.obligation) for occ, _, _ in judged if unit_of[occ.obligation] == unit)

    order = [*names, *sorted((unit for unit in counts if unit not in names), key=first_deadline)]
    return tuple(UnitSummary(code, names.get(code, code), *counts[code]) for code in order)


def _completion_rate(units: Sequence[UnitSummary]) -> float | None:
    """Of the deadlines counted that have fallen due or been finished, the share finished; None when none
    has yet. Work not yet due is left out: an early-year digest would otherwise look bad for no fault of
    anyone."""
    finished = sum(u.done + u.late for u in units)
    judged = finished + sum(u.overdue for u in units)
    return None if judged == 0 else finished / judged


class _Liner:
    """Turns a deadline into a digest line, with the figures `occurrence_status` would give it on `today`,
    looking up titles and unit names once; its evidence is that of the actions counted for it, done by
    `today`."""

    def __init__(self, org: Organisation, attributed: dict[Occurrence, list[Action]], today: date) -> None:
        self.obligations = {ob.code: ob for ob in org.obligations()}
        self.written_for = org.fiscal_year
        self.units = {u.code: u.name for u in org.units}
        self.attributed = attributed
        self.today = today

    def __call__(self, occurrence: Occurrence, done_on: date | None = None, overdue: bool = False,
                 periods: tuple[str, ...] = ()) -> DigestItem:
        """The line of a deadline first done on `done_on` (by today), or `overdue`."""
        ob = self.obligations[occurrence.obligation]
        acts = self.attributed[occurrence]
        days_to_due = (occurrence.due - self.today).days
        return DigestItem(
            measure=ob.measure, obligation=ob.code,
            title=title_for_year(ob.title, self.written_for, period_fiscal_year(occurrence.period)),
            unit=ob.unit, unit_name=self.units.get(ob.unit, ob.unit), period=occurrence.period, due=occurrence.due,
            days_overdue=-days_to_due if overdue else None, days_to_due=days_to_due, done_on=done_on,
            evidence=tuple(a.evidence for a in acts if a.evidence and a.done_on <= self.today) if acts else (),
            periods=periods,
        )

    def overdue(self, worst_first: Sequence[Occurrence]) -> tuple[DigestItem, ...]:
        """The lines of overdue deadlines, one per obligation: the worst deadline's figures, and every
        period listed (oldest first) when there are several."""
        groups: dict[str, list[Occurrence]] = {}
        for occurrence in worst_first:
            groups.setdefault(occurrence.obligation, []).append(occurrence)
        return tuple(self(members[0], overdue=True,
                          periods=tuple(m.period for m in sorted(members, key=_DUE)) if len(members) > 1 else ())
                     for members in groups.values())


_DUE = attrgetter("due")
