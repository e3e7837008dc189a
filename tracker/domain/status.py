"""The status of each occurrence at an instant, from comparing occurrences with logged actions."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from operator import attrgetter

from tracker.domain.model import Action, Organisation
from tracker.domain.rules import Occurrence
from tracker.domain.thaidate import fiscal_year


class Status(StrEnum):
    UPCOMING = "upcoming"  # the window has not opened
    OPEN = "open"  # the window is open, the due date is not near
    DUE_SOON = "due_soon"  # open, and due within the policy's due_soon_days
    DONE = "done"  # first action on or before the due date
    LATE = "late"  # first action after the due date
    OVERDUE = "overdue"  # no action, and the due date has passed


STATUS_TH = {
    # Neither claims progress: "อยู่ระหว่างดำเนินการ" is what an officer writes of work under way, and
    # nothing logged is no evidence of that.
    Status.UPCOMING: "ยังไม่ถึงรอบดำเนินการ",
    Status.OPEN: "ยังไม่ครบกำหนด",
    Status.DUE_SOON: "ใกล้ครบกำหนด",
    Status.DONE: "ดำเนินการแล้ว",
    Status.LATE: "ดำเนินการล่าช้า",
    Status.OVERDUE: "เกินกำหนด",
}
STATUS_EN = {
    Status.UPCOMING: "upcoming",
    Status.OPEN: "not yet due",
    Status.DUE_SOON: "due soon",
    Status.DONE: "done",
    Status.LATE: "done late",
    Status.OVERDUE: "overdue",
}


def status_label(status: Status, lang: str) -> str:
    return (STATUS_EN if lang == "en" else STATUS_TH)[status]


def status_text(item: OccurrenceStatus, lang: str) -> str:
    """The status as a reader is told it: on the due date itself "ครบกำหนดวันนี้", not "ใกล้ครบกำหนด"
    with nought days left."""
    if is_due_today(item):
        return "due today" if lang == "en" else DUE_TODAY_TH
    return status_label(item.status, lang)


DUE_TODAY_TH = "ครบกำหนดวันนี้"


def is_due_today(item: OccurrenceStatus) -> bool:
    """Open and due on the very day judged: what every output says as "ครบกำหนดวันนี้"."""
    return item.status in (Status.OPEN, Status.DUE_SOON) and item.days_to_due == 0


@dataclass(frozen=True)
class OccurrenceStatus:
    occurrence: Occurrence
    status: Status
    done_on: date | None = None
    days_late: int | None = None
    days_overdue: int | None = None
    days_to_due: int | None = None

    @property
    def is_finished(self) -> bool:
        return self.status in (Status.DONE, Status.LATE)


def attribute_actions(
    occurrences: Iterable[Occurrence], actions: Iterable[Action]
) -> dict[Occurrence, list[Action]]:
    """Which actions count for which occurrence.

    An action that names its period counts for that occurrence. Otherwise it counts for the occurrence
    whose window [window_start, due] holds its date (the earliest due first, when windows overlap);
    failing that, for the latest occurrence already due before it (work done late); failing that, for
    the first occurrence whose window has not opened yet, if the action lies in the same fiscal year (work
    done early; a years-old action never satisfies a future deadline). Pass every fiscal year that can hold
    an action's deadline: late work is only found in the occurrences given. Actions of an obligation
    without occurrences are left out. Each occurrence's actions are listed by date, the first done first
    (in the order given when on the same day).
    """
    by_obligation: dict[str, list[Occurrence]] = defaultdict(list)
    for occ in occurrences:
        by_obligation[occ.obligation].append(occ)
    for occs in by_obligation.values():
        if len(occs) > 1:
            occs.sort(key=_DUE_THEN_WINDOW)
    result: dict[Occurrence, list[Action]] = {occ: [] for occs in by_obligation.values() for occ in occs}
    several: list[list[Action]] = []  # most deadlines get one action or none: only these need sorting
    for action in actions:
        target = _target(by_obligation.get(action.obligation, ()), action)
        if target is not None:
            listed = result[target]
            listed.append(action)
            if len(listed) == 2:
                several.append(listed)
    for listed in several:
        listed.sort(key=_DONE_ON)
    return result


_DUE_THEN_WINDOW = attrgetter("due", "window_start")
_DONE_ON = attrgetter("done_on")


def _target(occurrences: Sequence[Occurrence], action: Action) -> Occurrence | None:
    if not occurrences:
        return None
    if action.period is not None:
        for occ in occurrences:
            if occ.period == action.period:
                return occ
        return None
    day = action.done_on
    for occ in occurrences:
        if occ.window_start <= day <= occ.due:
            return occ
    dues = [o.due for o in occurrences]
    index = bisect.bisect_left(dues, day)
    if index > 0:
        return occurrences[index - 1]
    first = occurrences[0]
    return first if first.window_start > day and fiscal_year(first.window_start) == fiscal_year(day) else None


def status_on(occurrence: Occurrence, first_done: date | None, today: date, due_soon_days: int = 7) -> Status:
    """The status of `occurrence` on `today`, when the first of its actions done by then was done on
    `first_done` (None: none yet). `occurrence_status` and the digest's counts both decide here."""
    if first_done is not None:
        return _DONE if first_done <= occurrence.due else _LATE
    if today > occurrence.due:
        return _OVERDUE
    if today < occurrence.window_start:
        return _UPCOMING
    return _DUE_SOON if (occurrence.due - today).days <= due_soon_days else _OPEN


# The members as plain names for `status_on`, which the national digest runs 1.2 million times: reading
# a member from its Enum class costs ~0.1 µs more (Python 3.11).
_DONE, _LATE, _OVERDUE, _UPCOMING, _DUE_SOON, _OPEN = (Status.DONE, Status.LATE, Status.OVERDUE, Status.UPCOMING,
                                                        Status.DUE_SOON, Status.OPEN)


def occurrence_status(
    occurrence: Occurrence, actions: Sequence[Action], today: date, due_soon_days: int = 7
) -> OccurrenceStatus:
    """The status of one occurrence on `today` (Bangkok date), counting only actions done by then."""
    first = min((a.done_on for a in actions if a.done_on <= today), default=None)
    status = status_on(occurrence, first, today, due_soon_days)
    days_to_due = (occurrence.due - today).days
    if first is not None:
        late = (first - occurrence.due).days if status is Status.LATE else None
        return OccurrenceStatus(occurrence, status, first, days_late=late, days_to_due=days_to_due)
    overdue = -days_to_due if status is Status.OVERDUE else None
    return OccurrenceStatus(occurrence, status, days_overdue=overdue, days_to_due=days_to_due)


def statuses(
    occurrences: Iterable[Occurrence],
    actions: Iterable[Action],
    today: date,
    due_soon_days: int | dict[str, int] = 7,
) -> list[OccurrenceStatus]:
    """The status of every occurrence on `today`. `due_soon_days` may be given per obligation code."""
    attributed = attribute_actions(occurrences, actions)
    out = []
    for occ, acts in attributed.items():
        soon = due_soon_days if isinstance(due_soon_days, int) else due_soon_days.get(occ.obligation, 7)
        out.append(occurrence_status(occ, acts, today, soon))
    out.sort(key=lambda s: (s.occurrence.due, s.occurrence.obligation))
    return out


def organisation_statuses(org: Organisation, actions: Iterable[Action], today: date, fy: int) -> list[OccurrenceStatus]:
    """Every deadline of fiscal year `fy` with its status on `today`: the one computation behind the board,
    the JSON API, the progress report and the digest, so that they agree for the same instant.

    Late work for an earlier fiscal year must find its deadline there, so actions are attributed over
    every year from the one before `fy` (or the first configured, if earlier) to the later of `fy` and the
    configured year; then the year asked for is shown.
    """
    years = range(min(fy - 1, org.fiscal_year), max(fy, org.fiscal_year) + 1)
    by_year = {year: org.occurrences(year) for year in years}
    occurrences = [occ for year_occurrences in by_year.values() for occ in year_occurrences]
    soon = {ob.code: ob.policy.due_soon_days for ob in org.obligations()}
    shown = set(by_year[fy])
    # Judged only for the year shown (the other years' deadlines are there to take their own actions).
    out = [occurrence_status(occ, acts, today, soon.get(occ.obligation, 7))
           for occ, acts in attribute_actions(occurrences, actions).items() if occ in shown]
    out.sort(key=lambda s: (s.occurrence.due, s.occurrence.obligation))
    return out
