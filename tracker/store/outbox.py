"""The outbox: every message the service will send, has sent or has given up on, one row each.

This module and its two siblings are the outbox table's only home: here what adds rows (the planners'
reminders, digests and alerts by `enqueue`), cancels, hands over and lists them; `outbox_claims` the
dispatcher's side (claim with a lease, renew, load, record); `outbox_admin` what people do by hand
(retry, delivery health). Every row has a natural key (UNIQUE): rows go in with `ON CONFLICT (key) DO
NOTHING`, so adding twice, or from two processes at once, creates nothing new. The constraint is on the
key's 16-byte digest (`outbox_keys`): a compact index is what keeps national planning cheap.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, Insert, Table, and_, bindparam, column, or_, select, table, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracker.store.models import MeasureRow, ObligationRow, OccurrenceRow, OrganisationRow, OutboxRow, UnitRow
from tracker.store.outbox_keys import digests, key_digest, key_digest_sql

KEY_LIMIT = 200  # outbox.key is VARCHAR(200)
# The columns a planned reminder row gives, in this order (then its send_after): see `insert_reminders`.
REMINDER_COLUMNS = ("key", "kind", "org_id", "occurrence_id", "stage", "merged_stages", "stage_day", "recipient",
                    "destination", "lang", "status", "skip_reason", "attempts")
UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE for a duplicate key
DONE_REASON = "done: an action was logged (or the obligation was removed)"
ID_CHUNK = 5000  # ids per IN list: well under the drivers' parameter limits
_PG_TYPES = ("text", "text", "int", "int", "text", "text", "date", "text", "text", "text", "text", "text", "int")


# ---------------------------------------------------------------- adding rendered messages (digests, alerts)

@dataclass(frozen=True)
class NewMessage:
    key: str
    kind: str  # digest | alert
    org_id: int
    recipient: str
    destination: str
    subject: str
    text: str
    send_after: datetime
    html: str | None = None
    line_text: str | None = None
    lang: str = "th"
    stage: str = ""


def destination_hash(destination: str) -> str:
    """Webhook URLs may embed a token: keys carry a hash of a destination, never the destination."""
    return hashlib.sha256(destination.encode()).hexdigest()[:16]


def natural_key(*parts: str) -> str:
    """`a:b:c`, or, when that would not fit the column, its readable head and a hash of the rest.
    The same parts always give the same key."""
    key = ":".join(parts)
    if len(key) <= KEY_LIMIT:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{key[: KEY_LIMIT - len(digest) - 1]}#{digest}"


def _insert_new(session: Session) -> Insert:
    """`INSERT INTO outbox … ON CONFLICT (key_digest) DO NOTHING` for this session's database: give each
    row its `key_digest` (`_keyed`)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(OutboxRow).on_conflict_do_nothing(index_elements=["key_digest"])
    if dialect == "sqlite":
        return sqlite.insert(OutboxRow).on_conflict_do_nothing(index_elements=["key_digest"])
    raise NotImplementedError(f"the outbox supports SQLite and PostgreSQL, not {dialect}")


def enqueue(session: Session, messages: Sequence[NewMessage], now: datetime | None = None) -> int:
    """Insert the messages that are not in the outbox yet. Returns how many were new."""
    if not messages:
        return 0
    rows = [vars(message) | {  # the fields as they are: asdict deep-copied every value
        "key_digest": key_digest(message.key), "status": "pending", "attempts": 0,
        "next_attempt_at": message.send_after, "created_at": now or message.send_after, "merged_stages": "",
    } for message in messages]
    # One statement for many rows (a batch of digests); counted from RETURNING: psycopg reports rowcount
    # -1 for this statement on PostgreSQL.
    return len(session.execute(_insert_new(session).returning(OutboxRow.id), rows).all())


def existing_keys(session: Session, keys: Sequence[str]) -> set[str]:
    """Those of `keys` already in the outbox."""
    return set(session.scalars(select(OutboxRow.key).where(OutboxRow.key_digest.in_(digests(keys)))))


# ---------------------------------------------------------------- planned reminders

def utc_literal(value: datetime) -> str:
    """An aware datetime as the naive-UTC literal both SQLite and PostgreSQL store (see UTCDateTime).
    Built from a datetime the planner computed, never from user text."""
    naive = value.astimezone(UTC).replace(tzinfo=None)
    return f"'{naive.strftime('%Y-%m-%d %H:%M:%S.%f')}'"


def _copy_insert(connection: Connection, batch: list[tuple[Any, ...]], stamps: str) -> int:
    """PostgreSQL: COPY the rows into a session-private staging table, then one INSERT … SELECT … ON
    CONFLICT DO NOTHING. A round trip per row, a VALUES list to parse, or arrays to adapt in Python
    each cost several times more than the insert itself."""
    columns = ", ".join(REMINDER_COLUMNS)
    staging = ", ".join(f"{name} {kind}" for name, kind in zip(REMINDER_COLUMNS, _PG_TYPES, strict=True))
    connection.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS outbox_incoming ({staging}) ON COMMIT DROP")
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY outbox_incoming ({columns}) FROM STDIN") as copy:
            for row in batch:
                copy.write_row(row)
        digest = key_digest_sql("i.key", "COALESCE(i.occurrence_id, 0)", "postgresql")
        # NOT EXISTS first: the unique check of ON CONFLICT waits for any transaction updating a row with the
        # same key (a dispatcher leasing it), where NOT EXISTS reads the row as committed and moves on.
        cursor.execute(f"INSERT INTO outbox ({columns}, key_digest, send_after, next_attempt_at, created_at)"
                       f" SELECT {', '.join('i.' + c for c in REMINDER_COLUMNS)}, d.digest, {stamps}"
                       f" FROM outbox_incoming i CROSS JOIN LATERAL (SELECT {digest} AS digest OFFSET 0) d"
                       " WHERE NOT EXISTS (SELECT 1 FROM outbox x WHERE x.key_digest = d.digest)"
                       " ON CONFLICT (key_digest) DO NOTHING")
        inserted = max(0, int(cursor.rowcount))
        cursor.execute("TRUNCATE outbox_incoming")
    finally:
        cursor.close()
    return inserted


def insert_reminders(session: Session, rows: list[tuple[Any, ...]], now: datetime) -> tuple[int, int]:
    """Insert the reminder rows (REMINDER_COLUMNS then send_after) that are new; returns (pending
    created, skipped recorded).

    The driver's own `executemany` with `ON CONFLICT (key_digest) DO NOTHING`, no RETURNING (both drivers
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
            sql = (f"INSERT INTO outbox ({', '.join(REMINDER_COLUMNS)}, key_digest, send_after, next_attempt_at,"
                   f" created_at) VALUES ({', '.join([mark] * (len(REMINDER_COLUMNS) + 1))}, {stamps})"
                   " ON CONFLICT (key_digest) DO NOTHING")
            keyed = [(*row, key_digest(row[0])) for row in batch]
            created[status] += max(0, int(connection.exec_driver_sql(sql, keyed).rowcount))
            continue
        created[status] += _copy_insert(connection, batch, stamps)
    return created["pending"], created["skipped"]


def insert_selected_reminders(connection: Connection, values_sql: str, from_sql: str, where_sql: str, key_sql: str,
                              occurrence_sql: str, order_sql: str, params: dict[str, Any]) -> int:
    """Insert the reminder rows an SQL query gives whose key is not in the outbox yet, in the order
    `order_sql` gives; returns how many were inserted. The query is `SELECT <key_sql>, <values_sql>
    <from_sql> <where_sql>`: `values_sql` gives REMINDER_COLUMNS after the key, then send_after,
    next_attempt_at and created_at; `key_sql` is the natural key, an expression over the tables of
    `from_sql` (`FROM …`), and `occurrence_sql` the occurrence it names; the key's digest and the NOT
    EXISTS on it are added here.

    PostgreSQL: NOT EXISTS first, so that planning again reads the key index instead of attempting every
    insert, and so that a key whose row a dispatcher is updating is not waited for (a unique check would
    wait for the dispatcher's transaction); the digest is computed once per row (a LATERAL subquery kept
    apart by OFFSET 0: pulled up, its expression would be computed for the NOT EXISTS and again for the
    row). Then a plain INSERT rather than ON CONFLICT DO NOTHING, whose speculative insertion (a second
    unique probe and a confirmation record in the WAL per row) cost ~0.1 s of a national run: planners
    take turns (`jobs.plan.PLAN_LOCK`), so the rows NOT EXISTS lets through are new. Should a key be
    there all the same (a row of that key committed meanwhile, or two rows of one key in the query: a
    contact listed twice), the statement is rolled back to its savepoint and run again with ON CONFLICT
    DO NOTHING: nothing is doubled, and planning does not fail.
    SQLite checks the unique index before it writes a row, and has one writer at a time, so there ON
    CONFLICT alone costs less than computing each digest twice."""
    columns = ", ".join(REMINDER_COLUMNS)
    digest = key_digest_sql(key_sql, occurrence_sql, connection.dialect.name)
    head = f"INSERT INTO outbox ({columns}, send_after, next_attempt_at, created_at, key_digest)"
    on_conflict = " ON CONFLICT (key_digest) DO NOTHING"
    if connection.dialect.name != "postgresql":
        sql = f"{head} SELECT {key_sql}, {values_sql}, {digest} {from_sql} {where_sql} ORDER BY {order_sql}"
        return max(0, int(connection.exec_driver_sql(sql + on_conflict, params).rowcount))
    sql = (f"{head} SELECT {key_sql}, {values_sql}, d.digest {from_sql}"
           f" CROSS JOIN LATERAL (SELECT {digest} AS digest OFFSET 0) d {where_sql}"
           " AND NOT EXISTS (SELECT 1 FROM outbox x WHERE x.key_digest = d.digest)"
           f" ORDER BY {order_sql}")
    connection.exec_driver_sql("SAVEPOINT insert_selected")
    try:
        inserted = connection.exec_driver_sql(sql, params).rowcount
    except IntegrityError as error:
        connection.exec_driver_sql("ROLLBACK TO SAVEPOINT insert_selected")
        if getattr(error.orig, "sqlstate", None) != UNIQUE_VIOLATION:
            raise
        inserted = connection.exec_driver_sql(sql + on_conflict, params).rowcount
    connection.exec_driver_sql("RELEASE SAVEPOINT insert_selected")
    return max(0, int(inserted))


def cancel_done(session: Session, today: date, org_id: int | None = None, known_open: str | None = None) -> int:
    """Cancel pending reminders whose occurrence is no longer open at `today`: done (logging an action
    stops every reminder not yet sent), deactivated with its obligation, or gone altogether (the outbox
    has no foreign keys to cascade a deletion: this is where such rows end).

    `known_open` names a table (the planner's `plan_open`, PostgreSQL) whose `occ_id` column lists
    occurrences this transaction found open at `today`: their reminders are not looked up one by one.
    Planning again at national scale found ~110,000 pending reminders, nearly all of occurrences it
    had just selected, and two index lookups each cost more than the rest of the run."""
    pending: list[ColumnElement[bool]] = [OutboxRow.status == "pending", OutboxRow.kind == "reminder"]
    if org_id is not None:
        pending.append(OutboxRow.org_id == org_id)
    if known_open is not None:
        # A statement of its own, so that only the reminders it leaves are looked up. As a CTE of the
        # cancellation, with the outbox's statistics stale (taken before the day's ~110,000 reminders:
        # PostgreSQL analyses a big table again only after a tenth of it changed), PostgreSQL looked up
        # every pending reminder first and joined the CTE after: 0.35 s a run with a year of history.
        # NOT IN, read as one hash of the listed ids whatever it expects of the outbox: as NOT EXISTS it
        # became a nested loop over the list for each reminder (over nine minutes at national scale).
        listed = table(known_open, column("occ_id"))
        elsewhere = or_(OutboxRow.occurrence_id.is_(None), OutboxRow.occurrence_id.not_in(select(listed.c.occ_id)))
        unknown = list(session.scalars(select(OutboxRow.id).where(*pending, elsewhere)))
        return sum(_cancel_closed(session, today, [OutboxRow.id.in_(unknown[start:start + ID_CHUNK]),
                                                   OutboxRow.status == "pending"])
                   for start in range(0, len(unknown), ID_CHUNK))
    return _cancel_closed(session, today, pending)


def _cancel_closed(session: Session, today: date, pending: list[ColumnElement[bool]]) -> int:
    """Cancel the reminders `pending` selects whose occurrence is no longer open at `today`."""
    occ = OccurrenceRow.__table__.alias("occ")
    ob = ObligationRow.__table__.alias("ob")
    # OFFSET 0 keeps the EXISTS a per-row lookup by primary key: flattened into a semi-join, PostgreSQL
    # would hash every occurrence and obligation of the country to check a few pending reminders.
    still_open = select(occ.c.id).where(
        occ.c.id == OutboxRow.occurrence_id,
        ob.c.id == occ.c.obligation_id,
        or_(occ.c.done_on.is_(None), occ.c.done_on > today), occ.c.active.is_(True), ob.c.active.is_(True),
    ).offset(0).exists()
    pending = [*pending, ~still_open]
    if session.get_bind().dialect.name == "postgresql":
        # Rows a dispatcher holds (leasing them now) are left to it: it checks at send time that a row is
        # still wanted (`outbox_wanted`), and the next planning run cancels what is still pending. Waiting
        # for them instead made the planner one side of a deadlock with that dispatcher.
        doomed = (select(OutboxRow.id).where(*pending).with_for_update(skip_locked=True, of=OutboxRow)
                  .cte("doomed").prefix_with("MATERIALIZED"))
        pending = [OutboxRow.id.in_(select(doomed.c.id)), OutboxRow.status == "pending"]
    stmt = (update(OutboxRow).where(*pending)
            .values(status="cancelled", skip_reason=DONE_REASON)
            .execution_options(synchronize_session=False))
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


# ---------------------------------------------------------------- hand-overs

def pending_reminders_to(session: Session, org_id: int, recipient: str) -> list[OutboxRow]:
    """The pending reminders of one organisation addressed to `recipient` (by name), locked, in id order;
    rows a dispatcher holds are skipped (PostgreSQL): the hand-over never waits for a dispatcher, and the
    next run moves what is still pending."""
    return list(session.scalars(select(OutboxRow).where(
        OutboxRow.org_id == org_id, OutboxRow.kind == "reminder", OutboxRow.status == "pending",
        OutboxRow.recipient == recipient).order_by(OutboxRow.id).with_for_update(skip_locked=True)))


def readdress(session: Session, row: OutboxRow, copies: Sequence[tuple[str, str, str]], reason: str,
              now: datetime) -> None:
    """Add a copy of the pending reminder `row` for each (key, recipient, destination), and keep `row`
    as skipped for `reason`. A copy whose key exists already is not added again."""
    for key, recipient, destination in copies:
        session.execute(_insert_new(session).values(
            key=key, key_digest=key_digest(key), kind="reminder", org_id=row.org_id,
            occurrence_id=row.occurrence_id, stage=row.stage, merged_stages=row.merged_stages,
            stage_day=row.stage_day, recipient=recipient, destination=destination, lang=row.lang,
            send_after=row.send_after, status="pending", attempts=0, next_attempt_at=row.next_attempt_at,
            created_at=now))
    row.status, row.skip_reason = "skipped", reason


# ---------------------------------------------------------------- reading

@dataclass(frozen=True)
class QueuedReminder:
    """A reminder row as planning left it, with what a person needs to read it."""

    id: int
    org: str
    measure: str
    obligation: str
    period: str
    due: date
    stage: str  # label: before-7, due, overdue-2, escalation-head…
    stage_day: date
    recipient: str
    destination: str  # unmasked: mask before showing
    status: str  # pending | skipped
    skip_reason: str | None
    send_after: datetime
    subject: str | None
    text: str | None

    @property
    def kind(self) -> str:
        """before | due | overdue | escalation."""
        return self.stage.split("-", 1)[0]

    @property
    def days_to_due(self) -> int:
        """Positive before the due date, negative after it."""
        return (self.due - self.stage_day).days


def last_id(session: Session) -> int:
    """The highest outbox id (0 when empty): rows above it are the ones added since."""
    return int(session.scalar(select(OutboxRow.id).order_by(OutboxRow.id.desc()).limit(1)) or 0)


def reminder_ids_since(session: Session, after_id: int) -> list[int]:
    return list(session.scalars(select(OutboxRow.id).where(OutboxRow.id > after_id, OutboxRow.kind == "reminder")
                                .order_by(OutboxRow.id)))


def reminders_since(session: Session, after_id: int) -> list[QueuedReminder]:
    """The reminders added after `after_id` (in this transaction: those one planning run created)."""
    query = (
        select(OutboxRow.id, OrganisationRow.code, MeasureRow.code, ObligationRow.code, OccurrenceRow.period,
               OccurrenceRow.due, OutboxRow.stage, OutboxRow.stage_day, OutboxRow.recipient, OutboxRow.destination,
               OutboxRow.status, OutboxRow.skip_reason, OutboxRow.send_after, OutboxRow.subject, OutboxRow.text)
        .join(OrganisationRow, OrganisationRow.id == OutboxRow.org_id)
        .join(OccurrenceRow, OccurrenceRow.id == OutboxRow.occurrence_id)
        .join(ObligationRow, ObligationRow.id == OccurrenceRow.obligation_id)
        .join(MeasureRow, MeasureRow.id == ObligationRow.measure_id)
        .where(OutboxRow.id > after_id, OutboxRow.kind == "reminder")
        .order_by(OutboxRow.id)
    )
    return [QueuedReminder(id_, org, measure, obligation, period, due, stage, stage_day or due, recipient,
                            destination, status, reason, send_after, subject, text)
            for (id_, org, measure, obligation, period, due, stage, stage_day, recipient, destination, status,
                 reason, send_after, subject, text) in session.execute(query)]


def reminder_contents(session: Session, ids: Sequence[int]) -> list[tuple[Any, ...]]:
    """What rendering needs for those of the reminders `ids` that have no text yet: (id, occurrence id,
    stage, stage day, recipient, lang, org code, org name, measure title, obligation code, obligation
    title, done_when, unit code, unit name, period, due, the fiscal year the titles were written for,
    merged stages)."""
    query = (
        select(OutboxRow.id, OutboxRow.occurrence_id, OutboxRow.stage, OutboxRow.stage_day, OutboxRow.recipient,
               OutboxRow.lang, OrganisationRow.code, OrganisationRow.name, MeasureRow.title, ObligationRow.code,
               ObligationRow.title, ObligationRow.done_when, ObligationRow.unit_code, UnitRow.name,
               OccurrenceRow.period, OccurrenceRow.due, OrganisationRow.fiscal_year, OutboxRow.merged_stages)
        .join(OccurrenceRow, OccurrenceRow.id == OutboxRow.occurrence_id)
        .join(ObligationRow, ObligationRow.id == OccurrenceRow.obligation_id)
        .join(MeasureRow, MeasureRow.id == ObligationRow.measure_id)
        .join(OrganisationRow, OrganisationRow.id == OutboxRow.org_id)
        .outerjoin(UnitRow, and_(UnitRow.org_id == ObligationRow.org_id, UnitRow.code == ObligationRow.unit_code))
        .where(OutboxRow.id.in_(list(ids)), OutboxRow.text.is_(None), OutboxRow.kind == "reminder")
    )
    return [tuple(row) for row in session.execute(query)]


def store_texts(session: Session, texts: Sequence[dict[str, Any]]) -> None:
    """Keep rendered texts: each dict has b_id (the outbox id), subject, text, html and line_text."""
    if texts:
        table = cast(Table, OutboxRow.__table__)
        session.connection().execute(update(table).where(table.c.id == bindparam("b_id")), list(texts))


def list_messages(session: Session, status: str | None = None, org: str | None = None,
                  limit: int = 200) -> list[tuple[OutboxRow, str]]:
    """The newest messages first, each with its organisation's code."""
    query = (select(OutboxRow, OrganisationRow.code).join(OrganisationRow, OrganisationRow.id == OutboxRow.org_id)
             .order_by(OutboxRow.id.desc()).limit(limit))
    if status:
        query = query.where(OutboxRow.status == status)
    if org:
        query = query.where(OrganisationRow.code == org)
    return [(row, code) for row, code in session.execute(query)]


def by_keys(session: Session, keys: Sequence[str]) -> dict[str, tuple[OutboxRow, date | None, str | None,
                                                                        int | None]]:
    """key → (row, its occurrence's due date, obligation code, measure id), the last three None for
    digests and alerts."""
    query = (select(OutboxRow, OccurrenceRow.due, ObligationRow.code, ObligationRow.measure_id)
             .outerjoin(OccurrenceRow, OutboxRow.occurrence_id == OccurrenceRow.id)
             .outerjoin(ObligationRow, OccurrenceRow.obligation_id == ObligationRow.id)
             .where(OutboxRow.key_digest.in_(digests(keys))))
    return {row.key: (row, due, ob, measure_id) for row, due, ob, measure_id in session.execute(query)}
