"""Plan reminders: write every reminder due at `now` into the outbox, once, set-based.

`plan` is the one entry point: the service's sweep, `tracker remind` (and its dry run, which is `plan`
inside a transaction that is rolled back), `tracker simulate` and the benchmark all call it.

0. The occurrences of the current fiscal year exist first (`tracker.store.rollover`): across 1 October
   the service plans the new year without waiting for a configuration sync.

1. The due dates that can have a stage in the planning range are computed from the few distinct
   (policy, calendar) pairs, so that one indexed SQL query selects only the open occurrences that need a
   reminder (`open_occurrences`; `jobs.plan_sql` copies them into a temporary table).
2. Python computes the schedule of each distinct (due date, policy, calendar); each organisation's
   recipients per unit and audience are kept between runs (`jobs.plan_recipients`, refreshed when the
   contacts change); where one stage falls in the range (the usual case) the database joins them with
   the occurrences and inserts the rows itself (`jobs.plan_sql.SetPlanner`). Occurrences
   with several stages in the range (same-day merges, catch-up) are expanded here (`outbox_rows`).
3. Rows go in with `INSERT … ON CONFLICT (key_digest) DO NOTHING` after a NOT EXISTS on the key: planning
   twice, or from two processes at once, creates nothing new.

On PostgreSQL planners take turns (`PLAN_LOCK`, a transaction-scoped advisory lock): a second planner
waits for the first to commit and then finds its rows. Planning never waits for a dispatcher: rows that
exist are filtered out before the insert (a unique check on a row that a dispatcher is updating would wait
for the dispatcher's transaction), and a row leased by a dispatcher is not cancelled or handed over here
(the dispatcher checks at send time that it is still wanted). Two `tracker remind` processes used to
deadlock this way: one planning, waiting on the other's lease of a reminder it was inserting again,
while that one's claim waited on a row the planner had just cancelled.

The planning range runs from the day after the last planned day (`planner_marks`) to today: stages that
fell while the planner was down are caught up once when at most `grace_days` old, and recorded as
`skipped` otherwise (or when a later stage supersedes them), so nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, Text, cast, func, or_, select, text, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from jobs import handover
from jobs.plan_context import OrgContext, Recipient, calendar_from_text, load_contexts, policy_from_text
from jobs.plan_recipients import refresh_recipients
from jobs.plan_sql import SetPlanner, analyze_sampled
from tracker.domain.model import ReminderPolicy
from tracker.domain.reminders import (
    Stage,
    catch_up_label,
    merge_same_day,
    reminder_key,
    schedule_span,
    send_at,
    stages_between,
)
from tracker.domain.thaidate import BANGKOK, fiscal_year
from tracker.domain.workdays import WorkCalendar
from tracker.store.models import ObligationRow, OccurrenceRow, OrganisationRow, PlannerMarkRow
from tracker.store.outbox import cancel_done, insert_reminders
from tracker.store.rollover import ensure_fiscal_year

PLAN_LOCK = 0x495441504C414E31  # pg_advisory_xact_lock key: one planner at a time ("ITAPLAN1")
MAX_CATCH_UP_DAYS = 62  # beyond two months of downtime, reminders are stale: `tracker status` tells the story
MERGED_LIMIT = 200  # outbox.merged_stages is VARCHAR(200)
CHUNK = 5000  # rows per INSERT: bounds memory at national scale
ANALYZE_AFTER = 1000  # a run that adds this many reminders refreshes the outbox's statistics (PostgreSQL)


@dataclass
class PlanResult:
    """What one planning run did."""

    created: int = 0
    skipped: int = 0
    cancelled: int = 0
    selected: int = 0  # open occurrences due on a day with a stage in the planning range (the one query)
    handed_over: int = 0  # pending reminders re-addressed to a colleague covering a leave
    materialised: int = 0  # occurrences of the current fiscal year created first (the rollover)


def planning_start(session: Session, scope: str, today: date) -> date:
    """The first day to plan: the day after the last planned day, at most MAX_CATCH_UP_DAYS back.
    Today is always planned again (a configuration change may have added stages since)."""
    scopes = ["*"] if scope == "*" else ["*", scope]
    last = session.scalar(select(func.max(PlannerMarkRow.through)).where(PlannerMarkRow.scope.in_(scopes)))
    if last is None:
        return today
    return max(today - timedelta(days=MAX_CATCH_UP_DAYS), min(today, last + timedelta(days=1)))


def candidate_dues(pairs: Iterable[tuple[ReminderPolicy, WorkCalendar]], start: date, today: date) -> list[date]:
    """Every due date for which some (policy, calendar) pair has a stage in [start, today]."""
    dues: set[date] = set()
    for policy, calendar in set(pairs):
        before, after = schedule_span(policy)
        slack = 21  # a stage moves at most across a long holiday run (Songkran plus closures)
        day = start - timedelta(days=after + slack)
        while day <= today + timedelta(days=before + slack):
            if day not in dues and stages_between(day, policy, calendar, start, today):
                dues.add(day)
            day += timedelta(days=1)
    return sorted(dues)


def open_occurrences(dues: Sequence[date], today: date,
                     org_id: int | None = None) -> Select[int, int, date, str, str]:
    """The one query: active, not-done occurrences due on one of `dues`, with what planning needs."""
    query = (
        select(OccurrenceRow.id, OccurrenceRow.org_id, OccurrenceRow.due, ObligationRow.unit_code,
               cast(ObligationRow.policy, Text))
        .join(ObligationRow, ObligationRow.id == OccurrenceRow.obligation_id)
        # `= true` rather than `IS 1`: SQLite uses the (active, due) index only for an equality.
        .where(OccurrenceRow.active == true(), ObligationRow.active == true(),
               or_(OccurrenceRow.done_on.is_(None), OccurrenceRow.done_on > today),
               OccurrenceRow.due.in_(list(dues)))
    )
    return query if org_id is None else query.where(OccurrenceRow.org_id == org_id)


def first_send_time(now: datetime, policy: ReminderPolicy, calendar: WorkCalendar) -> datetime:
    """When a reminder planned at `now` may go: today at `send_from` if today is a working day and its
    sending hours have not ended, else the next working day at `send_from`."""
    local = now.astimezone(BANGKOK)
    today = local.date()
    if calendar.is_working_day(today) and local.time() < policy.send_until:
        return send_at(today, policy)
    return send_at(calendar.next_working_day(today + timedelta(days=1)), policy)


def outbox_rows(occ_id: int, ctx: OrgContext, unit: str, stages: Sequence[Stage], send_after: datetime,
                today: date, grace_days: int, sqlite_dates: bool) -> Iterator[tuple[Any, ...]]:
    """Outbox rows (in REMINDER_COLUMNS order, plus send_after) for one occurrence's stages in the planning range.
    Per recipient and destination only the latest stage can be sent; earlier ones (missed while the
    planner was down) are recorded as skipped, and those within the grace period are named in the one
    that is sent (`merged_stages` holds them as `label@day`)."""
    if len(stages) == 1:  # the usual case: nothing to merge, nothing superseded
        stage = stages[0]
        reason = _missed(stage, today, grace_days)
        day = stage.day.isoformat() if sqlite_dates else stage.day
        for name, destination, who in ctx.recipients(unit, stage.audience):
            yield (reminder_key(occ_id, stage.label, who), "reminder", ctx.id, occ_id, stage.label, "", day, name,
                   destination, ctx.language, "skipped" if reason else "pending", reason, 0, send_after)
        return
    entries = merge_same_day(stages, lambda who: ctx.recipients(unit, who))
    latest: dict[Recipient, Stage] = {}
    for stage, recipient, _ in entries:
        if recipient not in latest or stage.day > latest[recipient].day:
            latest[recipient] = stage
    replaced = _replaced_within_grace(entries, latest, today, grace_days)
    for stage, recipient, merged in entries:
        name, destination, who = recipient
        newest = latest[recipient]
        reason = None
        if stage is not newest:
            reason = f"superseded by {newest.label} on {newest.day.isoformat()} (planner was not running)"
            if recipient in replaced and _within_grace(stage, today, grace_days):
                reason += "; named in that catch-up message"
        else:
            reason = _missed(stage, today, grace_days)
            merged = merged + replaced.get(recipient, ()) if reason is None else merged
        yield (reminder_key(occ_id, stage.label, who), "reminder", ctx.id, occ_id, stage.label, _joined(merged),
               stage.day.isoformat() if sqlite_dates else stage.day, name, destination, ctx.language,
               "skipped" if reason else "pending", reason, 0, send_after)


def _joined(labels: Sequence[str]) -> str:
    """`merged_stages` within its column (VARCHAR 200): the oldest replaced stages give way first."""
    kept = list(labels)
    while len(",".join(kept)) > MERGED_LIMIT and any("@" in label for label in kept):
        kept.remove(next(label for label in kept if "@" in label))
    return ",".join(kept)


def _replaced_within_grace(entries: Sequence[tuple[Stage, Recipient, tuple[str, ...]]],
                           latest: dict[Recipient, Stage], today: date, grace_days: int
                           ) -> dict[Recipient, tuple[str, ...]]:
    """Per recipient whose latest stage is still sent: the earlier stages it replaces that are within the
    grace period, as `label@day` (the catch-up message names them). Older ones are only recorded."""
    replaced: dict[Recipient, list[Stage]] = {}
    for stage, recipient, _ in entries:
        newest = latest[recipient]
        if stage is not newest and _within_grace(stage, today, grace_days) and _within_grace(newest, today, grace_days):
            replaced.setdefault(recipient, []).append(stage)
    return {r: tuple(catch_up_label(s.label, s.day) for s in sorted(found, key=lambda s: s.day))
            for r, found in replaced.items()}


def _within_grace(stage: Stage, today: date, grace_days: int) -> bool:
    return (today - stage.day).days <= grace_days


def _missed(stage: Stage, today: date, grace_days: int) -> str | None:
    if not _within_grace(stage, today, grace_days):
        return f"missed: {stage.day.isoformat()} is more than {grace_days} days before planning"
    return None


def set_mark(session: Session, scope: str, today: date, now: datetime) -> None:
    name = session.get_bind().dialect.name
    module = postgresql if name == "postgresql" else sqlite
    stmt = module.insert(PlannerMarkRow).values(scope=scope, through=today, updated_at=now)
    session.execute(stmt.on_conflict_do_update(index_elements=["scope"],
                                               set_={"through": today, "updated_at": now}))


def schedules(policy_texts: Sequence[str], closures_texts: Iterable[str], dues: Sequence[date], start: date,
              today: date, now: datetime, grace_days: int
              ) -> tuple[list[tuple[Any, ...]], dict[tuple[date, str, str], tuple[list[Stage], datetime]]]:
    """The distinct schedules: rows for `SetPlanner` where one stage falls in [start, today], and the
    (due, policy text, closures text) with several stages (merged or superseded: `outbox_rows`)."""
    single: list[tuple[Any, ...]] = []
    several: dict[tuple[date, str, str], tuple[list[Stage], datetime]] = {}
    for policy_text in policy_texts:
        policy = policy_from_text(policy_text)
        for closures_text in closures_texts:
            calendar = calendar_from_text(closures_text)
            when = first_send_time(now, policy, calendar)
            for due in dues:
                stages = stages_between(due, policy, calendar, start, today)
                if len(stages) == 1:
                    stage = stages[0]
                    reason = _missed(stage, today, grace_days)
                    single.append((policy_text, closures_text, due, stage.label, stage.audience, stage.day,
                                   "skipped" if reason else "pending", reason, when))
                elif stages:
                    several[(due, policy_text, closures_text)] = (stages, when)
    return single, several


def _closures_texts(session: Session, org_id: int | None) -> list[str]:
    """The distinct stored closures (each organisation's calendar) of every organisation, or of one."""
    query = select(cast(OrganisationRow.closures, Text)).distinct()
    if org_id is not None:
        query = query.where(OrganisationRow.id == org_id)
    return sorted(session.scalars(query))


def plan(session: Session, now: datetime, org: str | None = None, grace_days: int = 3) -> PlanResult:
    """Plan the reminders due at `now` (aware) for every organisation, or the one named: make sure the
    occurrences of `now`'s fiscal year exist, then write what is due into the outbox."""
    today = now.astimezone(BANGKOK).date()
    if session.get_bind().dialect.name == "postgresql":  # SQLite: one writer at a time already
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PLAN_LOCK})
        # No JIT compilation in this transaction: the statements here are estimated costly enough to
        # compile (the cancellation's per-reminder lookups, at national scale), and compiling them took
        # longer (~0.25 s) than running them.
        session.execute(text("SET LOCAL jit = off"))
    result = PlanResult(materialised=ensure_fiscal_year(session, fiscal_year(today), org))
    org_id = None
    if org is not None:
        org_id = session.scalar(select(OrganisationRow.id).where(OrganisationRow.code == org))
        if org_id is None:
            return result
    refresh_recipients(session, org_id)
    scope = org or "*"
    start = planning_start(session, scope, today)
    policy_texts = session.scalars(select(cast(ObligationRow.policy, Text)).distinct()
                                   .where(ObligationRow.active.is_(True))).all()
    closures_texts = _closures_texts(session, org_id)
    pairs = [(policy_from_text(t), calendar_from_text(c)) for t in policy_texts for c in closures_texts]
    dues = candidate_dues(pairs, start, today)
    if dues:
        planner = SetPlanner(session, today, org_id)
        single, several = schedules(policy_texts, closures_texts, dues, start, today, now, grace_days)
        result.selected = planner.fill(single, sorted({due for due, _, _ in several}))
        # Cancelling before the insert reads only the reminders planned before: the rows this run adds are
        # for open occurrences of active obligations, which the cancellation would not touch.
        result.cancelled = cancel_done(session, today, org_id, planner.open_table())
        for status in sorted({row[6] for row in single}):  # usually all pending: one statement
            inserted = planner.insert(status, sorted({row[2] for row in single if row[6] == status}), now)
            if status == "pending":
                result.created += inserted
            else:
                result.skipped += inserted
        sqlite_dates = session.get_bind().dialect.name == "sqlite"
        rows: list[tuple[Any, ...]] = []
        expanded = planner.multi(set(several))
        contexts = load_contexts(session, org_ids=sorted({row[1] for row in expanded})) if expanded else {}
        for occ_id, row_org, due, unit, policy_text, closures_text in expanded:
            ctx = contexts.get(row_org)
            if ctx is None:
                continue
            stages, when = several[(due, policy_text, closures_text)]
            rows.extend(outbox_rows(occ_id, ctx, unit, stages, when, today, grace_days, sqlite_dates))
            if len(rows) >= CHUNK:
                created, skipped = insert_reminders(session, rows, now)
                result.created, result.skipped, rows = result.created + created, result.skipped + skipped, []
        created, skipped = insert_reminders(session, rows, now)
        result.created += created
        result.skipped += skipped
        planner.drop()
    else:
        result.cancelled = cancel_done(session, today, org_id)
    set_mark(session, scope, today, now)
    # Recipients on leave: their reminders follow the hand-over (after planning, so new rows move too).
    result.handed_over = handover.run_once(session, now)
    if result.created >= ANALYZE_AFTER and session.get_bind().dialect.name == "postgresql":
        refresh_outbox_statistics(session)
    return result


def refresh_outbox_statistics(session: Session) -> None:
    """Refresh PostgreSQL's statistics of the outbox columns that dispatch selects on, from a sample
    (`analyze_sampled`: ~25 ms with 3,000,000 rows). PostgreSQL analyses a big table again only after a
    tenth of it changed: after a heavy day's planning it still believed that no reminder was pending, and
    chose plans that read every due row for each of the day's ~550 claims (130 ms a claim step). Inside
    this transaction: the new rows count as live, and a dry run's rollback takes the statistics back too."""
    analyze_sampled(session.connection(), "outbox (status, next_attempt_at, lease_until, sent_at)")
