"""The reminder policy: which reminder goes to whom on which working day. Pure: time is passed in.

An occurrence's *schedule* (`schedule`) is the list of its stages, each on the working day it is sent:

- ``before-N`` (N in `before_days`), to the unit's officers; a non-working day moves it to the
  previous working day, so that it still arrives N or more days ahead;
- ``due``, on the due date (or the working day before it when the due date is not a working day);
- ``overdue-K``: the first `overdue_after_working_days` working days after the due date, then every
  `overdue_every_days` days, at most `overdue_max` times; a non-working day moves it to the next one;
- ``escalation-head`` to the unit's heads, `escalate_head_after_days` after the due date, and
  ``escalation-exec`` to the executives, `escalate_executives_after_days` after it (moved forward too).

The schedule depends only on (due date, policy, calendar), so it is cached: a national plan touches
hundreds of thousands of occurrences but only a few hundred distinct schedules.
Two stages on the same day for the same recipient and destination become one reminder: the most
urgent stage, listing the others in `merged`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import TypeVar

from tracker.domain.model import Contact, Organisation, ReminderPolicy
from tracker.domain.rules import Occurrence
from tracker.domain.thaidate import BANGKOK
from tracker.domain.workdays import WorkCalendar

KINDS = ("before", "due", "overdue", "escalation")
OFFICERS, HEADS, EXECUTIVES = "officers", "heads", "executives"


@dataclass(frozen=True, order=True)
class Stage:
    """One stage of an occurrence's schedule. `rank` orders urgency (higher is more urgent)."""

    day: date
    rank: int
    label: str
    kind: str
    audience: str


@lru_cache(maxsize=8192)
def schedule(due: date, policy: ReminderPolicy, calendar: WorkCalendar) -> tuple[Stage, ...]:
    """Every stage of an occurrence due on `due`, sorted by day then urgency."""
    stages = [
        Stage(calendar.previous_working_day(due - timedelta(days=n)), -n, f"before-{n}", "before", OFFICERS)
        for n in sorted(set(policy.before_days), reverse=True)
        if n > 0
    ]
    if policy.on_due:
        stages.append(Stage(calendar.previous_working_day(due), 0, "due", "due", OFFICERS))
    stages.extend(_overdue_stages(due, policy, calendar))
    if policy.escalate_head_after_days > 0:
        day = calendar.next_working_day(due + timedelta(days=policy.escalate_head_after_days))
        stages.append(Stage(day, 100, "escalation-head", "escalation", HEADS))
    if policy.escalate_executives_after_days > 0:
        day = calendar.next_working_day(due + timedelta(days=policy.escalate_executives_after_days))
        stages.append(Stage(day, 200, "escalation-exec", "escalation", EXECUTIVES))
    return tuple(sorted(stages))


def _overdue_stages(due: date, policy: ReminderPolicy, calendar: WorkCalendar) -> Iterator[Stage]:
    if policy.overdue_max <= 0:
        return
    first = calendar.add_working_days(due, max(1, policy.overdue_after_working_days))
    every = max(1, policy.overdue_every_days)
    for k in range(policy.overdue_max):
        # Repeats count from the first overdue day, not from the moved day, so that one holiday
        # does not shift every later reminder.
        day = calendar.next_working_day(first + timedelta(days=k * every))
        yield Stage(day, k + 1, f"overdue-{k + 1}", "overdue", OFFICERS)


def stages_between(due: date, policy: ReminderPolicy, calendar: WorkCalendar,
                   start: date, end: date) -> list[Stage]:
    """The stages of `schedule(due, …)` whose day lies in [start, end]."""
    return [s for s in schedule(due, policy, calendar) if start <= s.day <= end]


def schedule_span(policy: ReminderPolicy) -> tuple[int, int]:
    """(days before, days after) the due date that a schedule can reach, ignoring day moves."""
    before = max((n for n in policy.before_days if n > 0), default=0)
    overdue = 0
    if policy.overdue_max > 0:
        # Working days to calendar days: at worst 7/5 of them, plus a long holiday run.
        overdue = policy.overdue_after_working_days * 2 + 7 + policy.overdue_every_days * (policy.overdue_max - 1)
    after = max(overdue, policy.escalate_head_after_days, policy.escalate_executives_after_days)
    return before, after


def audience(org: Organisation, unit_code: str, who: str) -> tuple[Contact, ...]:
    """The contacts a stage goes to. A unit without officers gets its officer reminders at its heads,
    so that a missing contact never silences an obligation."""
    if who == EXECUTIVES:
        return org.executives
    try:
        unit = org.unit(unit_code)
    except KeyError:
        return ()
    if who == HEADS:
        return unit.heads
    return unit.officers or unit.heads


def send_at(day: date, policy: ReminderPolicy) -> datetime:
    """The instant a reminder of `day` may go: the start of the sending hours, Bangkok time."""
    return datetime.combine(day, policy.send_from, tzinfo=BANGKOK)


@dataclass(frozen=True)
class TrackedOccurrence:
    """An occurrence as stored: its database id (when it has one) and the day it was done."""

    occurrence: Occurrence
    done_on: date | None = None
    id: int | None = None


@dataclass(frozen=True)
class PlannedReminder:
    """One message to one destination of one recipient, for one stage of one occurrence."""

    org: str
    obligation: str
    period: str
    occurrence_id: int | None
    due: date
    day: date
    stage: str
    kind: str
    recipient: str
    destination: str
    send_at: datetime
    merged: tuple[str, ...] = ()

    @property
    def days_to_due(self) -> int:
        """Positive before the due date, negative after it."""
        return (self.due - self.day).days


# The natural key of a reminder, defined once: the Python planner fills it with values
# (`reminder_key`), the set-based planner with SQL columns (`jobs.plan_sql.key_sql`), so the two paths
# cannot drift apart. `who` is `recipient_hash(recipient, destination)`, or `handover_who(…)` for a
# reminder re-addressed during a leave. Stable across processes, runs and restarts: "never sent twice"
# rests on it (outbox.key is UNIQUE).
REMINDER_KEY = "occ:{occurrence}:{stage}:{who}"


def recipient_hash(recipient: str, destination: str) -> str:
    """A short, stable stand-in for (recipient, destination) in keys: a webhook URL may hold a token."""
    return hashlib.sha256(f"{recipient}\n{destination}".encode()).hexdigest()[:20]


def handover_who(handover_id: int, destination: str) -> str:
    """`who` of a reminder handed over to a colleague's `destination` by hand-over `handover_id`."""
    return f"handover{handover_id}:{hashlib.sha256(destination.encode()).hexdigest()[:16]}"


def reminder_key(occurrence_id: int, stage: str, who: str) -> str:
    """The natural key of the reminder of one occurrence's stage to one recipient's destination."""
    return REMINDER_KEY.format(occurrence=occurrence_id, stage=stage, who=who)


def catch_up_label(label: str, day: date) -> str:
    """How a stage replaced by a catch-up message is kept in that message's `merged_stages`: `due@2022-10-31`.
    Same-day merges are kept as bare labels; the `@day` tells the two apart."""
    return f"{label}@{day.isoformat()}"


def replaced_days(merged_stages: str) -> tuple[date, ...]:
    """The days of the reminders a catch-up message replaces (see `catch_up_label`), oldest first."""
    days = {date.fromisoformat(part.split("@", 1)[1]) for part in merged_stages.split(",") if "@" in part}
    return tuple(sorted(days))


R = TypeVar("R", bound=Hashable)


def merge_same_day(stages: Iterable[Stage],
                   recipients: Callable[[str], Iterable[R]]) -> list[tuple[Stage, R, tuple[str, ...]]]:
    """One entry per (day, recipient): the most urgent stage, with the labels it absorbed.

    `recipients(audience)` gives the recipients of an audience ("officers", "heads", "executives") as
    hashable values, e.g. (name, destination) pairs.
    """
    best: dict[tuple[date, R], tuple[Stage, list[str]]] = {}
    for stage in stages:
        for recipient in recipients(stage.audience):
            slot = (stage.day, recipient)
            if slot not in best:
                best[slot] = (stage, [])
                continue
            kept, merged = best[slot]
            if stage.rank > kept.rank:
                merged.append(kept.label)
                best[slot] = (stage, merged)
            else:
                merged.append(stage.label)
    return [(stage, recipient, tuple(sorted(merged))) for (_, recipient), (stage, merged) in best.items()]


def reminders_for_stages(org: Organisation, tracked: TrackedOccurrence, unit_code: str, policy: ReminderPolicy,
                         stages: Iterable[Stage]) -> list[PlannedReminder]:
    """Expand stages into one reminder per recipient and destination, merging those on the same day."""
    occ = tracked.occurrence

    def recipients(who: str) -> list[tuple[str, str]]:
        return [(c.name, d) for c in audience(org, unit_code, who) for d in c.destinations]

    return [
        PlannedReminder(org.code, occ.obligation, occ.period, tracked.id, occ.due, stage.day, stage.label, stage.kind,
                        name, destination, send_at(stage.day, policy), merged)
        for stage, (name, destination), merged in merge_same_day(stages, recipients)
    ]


def due_reminders(org: Organisation, occurrences: Iterable[TrackedOccurrence], now: datetime) -> list[PlannedReminder]:
    """The reminders whose stage day is `now`'s Bangkok date, for occurrences not done by that day.

    Sending hours are the caller's concern (see `send_at`): this answers "what is due today".
    """
    today = now.astimezone(BANGKOK).date()
    calendar = org.calendar
    obligations = {ob.code: ob for ob in org.obligations()}
    out: list[PlannedReminder] = []
    for tracked in occurrences:
        if tracked.done_on is not None and tracked.done_on <= today:
            continue
        ob = obligations.get(tracked.occurrence.obligation)
        if ob is None or ob.rule is None:
            continue
        stages = stages_between(tracked.occurrence.due, ob.policy, calendar, today, today)
        out.extend(reminders_for_stages(org, tracked, ob.unit, ob.policy, stages))
    return sorted(out, key=lambda r: (r.send_at, r.obligation, r.period, r.stage, r.recipient, r.destination))
