"""Plan reminders: write every reminder due at `now` into the outbox, once, set-based.

1. The due dates that can have a stage in the planning range are computed from the few distinct
   (policy, calendar) pairs, so that one indexed SQL query (`open_occurrences`) selects only the open
   occurrences that need a reminder.
2. Each selected row is expanded with the pure policy (`tracker.reminders`, cached schedules).
3. Rows go in with `INSERT … ON CONFLICT (key) DO NOTHING`: planning twice, or from two processes at
   once, creates nothing new.

The planning range runs from the day after the last planned day (`planner_marks`) to today: stages that
fell while the planner was down are caught up once when at most `grace_days` old, and recorded as
`skipped` otherwise (or when a later stage supersedes them), so nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, Text, and_, cast, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from jobs.plan_context import OrgContext, load_contexts, policy_from_text
from store.models import ObligationRow, OccurrenceRow, OutboxRow, PlannerMarkRow
from tracker.model import ReminderPolicy
from tracker.reminders import (
    BANGKOK,
    PlannedReminder,
    TrackedOccurrence,
    reminders_for_stages,
    schedule_span,
    send_at,
    stages_between,
)
from tracker.rules import Occurrence
from tracker.workdays import WorkCalendar

MAX_CATCH_UP_DAYS = 62  # beyond two months of downtime, reminders are stale: `tracker status` tells the story
CHUNK = 5000  # rows per INSERT: bounds memory at national scale


@dataclass
class PlanResult:
    created: int = 0
    skipped: int = 0
    cancelled: int = 0
    selected: int = 0  # open occurrences the query returned


def dialect_insert(session: Session) -> Any:
    """`INSERT … ON CONFLICT (key) DO NOTHING` into the outbox for this session's database."""
    name = session.get_bind().dialect.name
    module = {"postgresql": postgresql, "sqlite": sqlite}.get(name)
    if module is None:
        raise NotImplementedError(f"the outbox supports SQLite and PostgreSQL, not {name}")
    return module.insert(OutboxRow).on_conflict_do_nothing(index_elements=["key"])


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
                     org_id: int | None = None) -> Select[int, int, date, str, str, str, str]:
    """The one query: active, not-done occurrences due on one of `dues`, with what planning needs."""
    query = (
        select(OccurrenceRow.id, OccurrenceRow.org_id, OccurrenceRow.due, OccurrenceRow.period,
               ObligationRow.code, ObligationRow.unit_code, cast(ObligationRow.policy, Text))
        .join(ObligationRow, ObligationRow.id == OccurrenceRow.obligation_id)
        .where(OccurrenceRow.active.is_(True), ObligationRow.active.is_(True),
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


def outbox_values(reminders: Sequence[PlannedReminder], ctx: OrgContext, policy: ReminderPolicy,
                  today: date, now: datetime, grace_days: int) -> Iterator[dict[str, Any]]:
    """Outbox rows for one occurrence's reminders in the planning range. Per recipient and destination
    only the latest stage can be sent; earlier ones (missed while the planner was down) are skipped."""
    latest: dict[tuple[str, str], PlannedReminder] = {}
    for r in reminders:
        slot = (r.recipient, r.destination)
        if slot not in latest or r.day > latest[slot].day:
            latest[slot] = r
    send_after = first_send_time(now, policy, ctx.calendar)
    for r in reminders:
        newest = latest[(r.recipient, r.destination)]
        reason = None
        if r is not newest:
            reason = f"superseded by {newest.stage} on {newest.day.isoformat()} (planner was not running)"
        elif (today - r.day).days > grace_days:
            reason = f"missed: {r.day.isoformat()} is more than {grace_days} days before planning"
        yield {
            "key": r.key, "kind": "reminder", "org_id": ctx.id, "occurrence_id": r.occurrence_id,
            "stage": r.stage, "merged_stages": ",".join(r.merged), "stage_day": r.day,
            "recipient": r.recipient, "destination": r.destination, "lang": ctx.org.language,
            "send_after": send_after, "next_attempt_at": send_after, "status": "skipped" if reason else "pending",
            "skip_reason": reason, "attempts": 0, "created_at": now,
        }


def insert_rows(session: Session, rows: list[dict[str, Any]]) -> tuple[int, int]:
    """Insert what is new; returns (pending created, skipped recorded)."""
    if not rows:
        return 0, 0
    statuses = session.execute(dialect_insert(session).returning(OutboxRow.status), rows).scalars().all()
    skipped = sum(1 for s in statuses if s == "skipped")
    return len(statuses) - skipped, skipped


def cancel_done(session: Session, today: date, org_id: int | None = None) -> int:
    """Cancel pending reminders of occurrences done by `today` (or no longer active): logging an action
    stops every reminder not yet sent."""
    occ = OccurrenceRow.__table__.alias("occ")
    ob = ObligationRow.__table__.alias("ob")
    finished = exists().where(
        occ.c.id == OutboxRow.occurrence_id,
        ob.c.id == occ.c.obligation_id,
        or_(and_(occ.c.done_on.is_not(None), occ.c.done_on <= today), occ.c.active.is_(False), ob.c.active.is_(False)),
    )
    stmt = (update(OutboxRow)
            .where(OutboxRow.status == "pending", OutboxRow.kind == "reminder", finished)
            .values(status="cancelled", skip_reason="done: an action was logged (or the obligation was removed)")
            .execution_options(synchronize_session=False))
    if org_id is not None:
        stmt = stmt.where(OutboxRow.org_id == org_id)
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def set_mark(session: Session, scope: str, today: date, now: datetime) -> None:
    name = session.get_bind().dialect.name
    module = postgresql if name == "postgresql" else sqlite
    stmt = module.insert(PlannerMarkRow).values(scope=scope, through=today, updated_at=now)
    session.execute(stmt.on_conflict_do_update(index_elements=["scope"],
                                               set_={"through": today, "updated_at": now}))


def plan_rows(session: Session, contexts: dict[int, OrgContext], start: date, today: date, now: datetime,
              grace_days: int, org_id: int | None) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """Yield (occurrences read, outbox rows) chunk by chunk, streaming the query."""
    policy_texts = session.scalars(select(cast(ObligationRow.policy, Text)).distinct()
                                   .where(ObligationRow.active.is_(True))).all()
    calendars = {ctx.calendar for ctx in contexts.values()}
    pairs = [(policy_from_text(t), c) for t in policy_texts for c in calendars]
    dues = candidate_dues(pairs, start, today)
    if not dues:
        return
    chunk: list[dict[str, Any]] = []
    read = 0
    result = session.execute(open_occurrences(dues, today, org_id).execution_options(yield_per=CHUNK))
    for occ_id, row_org, due, period, code, unit, policy_text in result:
        read += 1
        ctx = contexts.get(row_org)
        if ctx is None:
            continue
        policy = policy_from_text(policy_text)
        stages = stages_between(due, policy, ctx.calendar, start, today)
        if not stages:
            continue
        tracked = TrackedOccurrence(Occurrence(code, period, due, due), None, occ_id)
        chunk.extend(outbox_values(reminders_for_stages(ctx.org, tracked, unit, policy, stages), ctx, policy,
                                   today, now, grace_days))
        if len(chunk) >= CHUNK:
            yield read, chunk
            read, chunk = 0, []
    yield read, chunk


def run_once(session: Session, now: datetime, org: str | None = None, grace_days: int = 3) -> PlanResult:
    """Plan the reminders due at `now` (aware) for every organisation, or the one named."""
    today = now.astimezone(BANGKOK).date()
    contexts = load_contexts(session, org)
    result = PlanResult()
    if org is not None and not contexts:
        return result
    org_id = next(iter(contexts)) if org is not None else None
    scope = org or "*"
    start = planning_start(session, scope, today)
    for read, rows in plan_rows(session, contexts, start, today, now, grace_days, org_id):
        created, skipped = insert_rows(session, rows)
        result.selected += read
        result.created += created
        result.skipped += skipped
    result.cancelled = cancel_done(session, today, org_id)
    set_mark(session, scope, today, now)
    return result

