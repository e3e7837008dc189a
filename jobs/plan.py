"""Plan reminders: write every reminder due at `now` into the outbox, once, set-based.

`plan` is the one entry point: the service's sweep, `tracker remind` (and its dry run, which is `plan`
inside a transaction that is rolled back), `tracker simulate` and the benchmark all call it.

0. The occurrences of the current fiscal year exist first (`tracker.store.rollover`): across 1 October
   the service plans the new year without waiting for a configuration sync.

1. The due dates that can have a stage in the planning range are computed from the few distinct
   (policy, calendar) pairs, so that one indexed SQL query selects only the open occurrences that need a
   reminder (`open_occurrences`; `jobs.plan_sql` copies them into a temporary table).
2. Python computes the schedule of each distinct (due date, policy, calendar) and each organisation's
   recipients per unit and audience; where one stage falls in the range (the usual case) the database
   joins them with the occurrences and inserts the rows itself (`jobs.plan_sql.SetPlanner`). Occurrences
   with several stages in the range (same-day merges, catch-up) are expanded here (`outbox_rows`).
3. Rows go in with `INSERT … ON CONFLICT (key) DO NOTHING` (after a NOT EXISTS on the key in the set-based
   path): planning twice, or from two processes at once, creates nothing new.

The planning range runs from the day after the last planned day (`planner_marks`) to today: stages that
fell while the planner was down are caught up once when at most `grace_days` old, and recorded as
`skipped` otherwise (or when a later stage supersedes them), so nothing is dropped silently.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, Text, and_, cast, func, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from jobs import handover
from jobs.plan_context import OrgContext, Recipient, calendar_from_text, load_contexts, policy_from_text
from jobs.plan_sql import SetPlanner
from tracker.domain.model import ReminderPolicy
from tracker.domain.reminders import Stage, merge_same_day, reminder_key, schedule_span, send_at, stages_between
from tracker.domain.thaidate import BANGKOK, fiscal_year
from tracker.domain.workdays import WorkCalendar
from tracker.store.models import ObligationRow, OccurrenceRow, OutboxRow, PlannerMarkRow
from tracker.store.rollover import ensure_fiscal_year

MAX_CATCH_UP_DAYS = 62  # beyond two months of downtime, reminders are stale: `tracker status` tells the story
CHUNK = 5000  # rows per INSERT: bounds memory at national scale
PG_TYPES = ("text", "text", "int", "int", "text", "text", "date", "text", "text", "text", "text", "text", "int")


@dataclass
class PlanResult:
    """What one planning run did."""

    created: int = 0
    skipped: int = 0
    cancelled: int = 0
    selected: int = 0  # open occurrences the query returned
    handed_over: int = 0  # pending reminders re-addressed to a colleague covering a leave
    materialised: int = 0  # occurrences of the current fiscal year created first (the rollover)


def dialect_insert(session: Session) -> Any:
    """`INSERT … ON CONFLICT (key) DO NOTHING` into the outbox table for this session's database."""
    name = session.get_bind().dialect.name
    module = {"postgresql": postgresql, "sqlite": sqlite}.get(name)
    if module is None:
        raise NotImplementedError(f"the outbox supports SQLite and PostgreSQL, not {name}")
    return module.insert(OutboxRow.__table__).on_conflict_do_nothing(index_elements=["key"])


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


COLUMNS = ("key", "kind", "org_id", "occurrence_id", "stage", "merged_stages", "stage_day", "recipient",
           "destination", "lang", "status", "skip_reason", "attempts")


def outbox_rows(occ_id: int, ctx: OrgContext, unit: str, stages: Sequence[Stage], send_after: datetime,
                today: date, grace_days: int, sqlite_dates: bool) -> Iterator[tuple[Any, ...]]:
    """Outbox rows (in COLUMNS order, plus send_after) for one occurrence's stages in the planning range.
    Per recipient and destination only the latest stage can be sent; earlier ones (missed while the
    planner was down) are recorded as skipped."""
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
    for stage, recipient, merged in entries:
        name, destination, who = recipient
        newest = latest[recipient]
        reason = None
        if stage is not newest:
            reason = f"superseded by {newest.label} on {newest.day.isoformat()} (planner was not running)"
        else:
            reason = _missed(stage, today, grace_days)
        yield (reminder_key(occ_id, stage.label, who), "reminder", ctx.id, occ_id, stage.label, ",".join(merged),
               stage.day.isoformat() if sqlite_dates else stage.day, name, destination, ctx.language,
               "skipped" if reason else "pending", reason, 0, send_after)


def _missed(stage: Stage, today: date, grace_days: int) -> str | None:
    if (today - stage.day).days > grace_days:
        return f"missed: {stage.day.isoformat()} is more than {grace_days} days before planning"
    return None


def utc_literal(value: datetime) -> str:
    """An aware datetime as the naive-UTC literal both SQLite and PostgreSQL store (see UTCDateTime).
    Built from a datetime we computed, never from user text."""
    naive = value.astimezone(UTC).replace(tzinfo=None)
    return f"'{naive.strftime('%Y-%m-%d %H:%M:%S.%f')}'"


def _copy_insert(connection: Connection, batch: list[tuple[Any, ...]], stamps: str) -> int:
    """PostgreSQL: COPY the rows into a session-private staging table, then one INSERT … SELECT … ON
    CONFLICT DO NOTHING. A round trip per row, a VALUES list to parse, or arrays to adapt in Python
    each cost several times more than the insert itself."""
    columns = ", ".join(COLUMNS)
    staging = ", ".join(f"{name} {kind}" for name, kind in zip(COLUMNS, PG_TYPES, strict=True))
    connection.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS outbox_incoming ({staging}) ON COMMIT DROP")
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY outbox_incoming ({columns}) FROM STDIN") as copy:
            for row in batch:
                copy.write_row(row)
        cursor.execute(f"INSERT INTO outbox ({columns}, send_after, next_attempt_at, created_at) "
                       f"SELECT {columns}, {stamps} FROM outbox_incoming ON CONFLICT (key) DO NOTHING")
        inserted = max(0, int(cursor.rowcount))
        cursor.execute("TRUNCATE outbox_incoming")
    finally:
        cursor.close()
    return inserted


def insert_rows(session: Session, rows: list[tuple[Any, ...]], now: datetime) -> tuple[int, int]:
    """Insert what is new; returns (pending created, skipped recorded).

    The driver's own `executemany` with `ON CONFLICT (key) DO NOTHING`, no RETURNING (both drivers
    report the rows actually inserted in `rowcount`), and the timestamps a group of rows shares written
    once into the statement: per-row conversions through the ORM cost more than the planning itself."""
    dialect = session.get_bind().dialect
    if dialect.name not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"the outbox supports SQLite and PostgreSQL, not {dialect.name}")
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    groups: dict[tuple[str, datetime], list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        groups[(row[10], row[-1])].append(row[:-1])
    created = {"pending": 0, "skipped": 0}
    connection = session.connection()
    for (status, send_after), batch in groups.items():
        stamps = f"{utc_literal(send_after)}, {utc_literal(send_after)}, {utc_literal(now)}"
        if dialect.name == "sqlite":  # executemany runs in C, row after row, without round trips
            sql = (f"INSERT INTO outbox ({', '.join(COLUMNS)}, send_after, next_attempt_at, created_at) "
                   f"VALUES ({', '.join([mark] * len(COLUMNS))}, {stamps}) ON CONFLICT (key) DO NOTHING")
            created[status] += max(0, int(connection.exec_driver_sql(sql, batch).rowcount))
            continue
        created[status] += _copy_insert(connection, batch, stamps)
    return created["pending"], created["skipped"]


def cancel_done(session: Session, today: date, org_id: int | None = None) -> int:
    """Cancel pending reminders of occurrences done by `today` (or no longer active): logging an action
    stops every reminder not yet sent."""
    occ = OccurrenceRow.__table__.alias("occ")
    ob = ObligationRow.__table__.alias("ob")
    # OFFSET 0 keeps the EXISTS a per-row lookup by primary key: flattened into a semi-join, PostgreSQL
    # would hash every occurrence and obligation of the country to check a few pending reminders.
    finished = select(occ.c.id).where(
        occ.c.id == OutboxRow.occurrence_id,
        ob.c.id == occ.c.obligation_id,
        or_(and_(occ.c.done_on.is_not(None), occ.c.done_on <= today), occ.c.active.is_(False), ob.c.active.is_(False)),
    ).offset(0).exists()
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


def plan(session: Session, now: datetime, org: str | None = None, grace_days: int = 3) -> PlanResult:
    """Plan the reminders due at `now` (aware) for every organisation, or the one named: make sure the
    occurrences of `now`'s fiscal year exist, then write what is due into the outbox."""
    today = now.astimezone(BANGKOK).date()
    result = PlanResult(materialised=ensure_fiscal_year(session, fiscal_year(today), org))
    contexts = load_contexts(session, org)
    if org is not None and not contexts:
        return result
    org_id = next(iter(contexts)) if org is not None else None
    scope = org or "*"
    start = planning_start(session, scope, today)
    # Cancelling first reads only the reminders planned before: the rows this run adds are for open
    # occurrences of active obligations, which the cancellation would not touch.
    result.cancelled = cancel_done(session, today, org_id)
    policy_texts = session.scalars(select(cast(ObligationRow.policy, Text)).distinct()
                                   .where(ObligationRow.active.is_(True))).all()
    closures_texts = sorted({ctx.closures_text for ctx in contexts.values()})
    pairs = [(policy_from_text(t), calendar_from_text(c)) for t in policy_texts for c in closures_texts]
    dues = candidate_dues(pairs, start, today)
    if dues:
        planner = SetPlanner(session)
        result.selected = planner.select_open(dues, today, org_id)
        single, several = schedules(policy_texts, closures_texts, dues, start, today, now, grace_days)
        planner.fill(single, contexts)
        result.created += planner.insert("pending", now)
        result.skipped += planner.insert("skipped", now)
        sqlite_dates = session.get_bind().dialect.name == "sqlite"
        rows: list[tuple[Any, ...]] = []
        for occ_id, row_org, due, unit, policy_text, closures_text in planner.multi(set(several)):
            ctx = contexts.get(row_org)
            if ctx is None:
                continue
            stages, when = several[(due, policy_text, closures_text)]
            rows.extend(outbox_rows(occ_id, ctx, unit, stages, when, today, grace_days, sqlite_dates))
            if len(rows) >= CHUNK:
                created, skipped = insert_rows(session, rows, now)
                result.created, result.skipped, rows = result.created + created, result.skipped + skipped, []
        created, skipped = insert_rows(session, rows, now)
        result.created += created
        result.skipped += skipped
        planner.drop()
    set_mark(session, scope, today, now)
    # Recipients on leave: their reminders follow the hand-over (after planning, so new rows move too).
    result.handed_over = handover.run_once(session, now)
    return result
