"""Set-based expansion of the usual case: occurrences with exactly one stage in the planning range.

Python computes the few distinct schedules (per due date, stored policy text and stored closures text)
and every organisation's recipients per (unit, audience); the database joins them with the open
occurrences and inserts the outbox rows itself (`INSERT … SELECT … WHERE NOT EXISTS … ON CONFLICT (key) DO
NOTHING`), so that no row of the country travels to Python and back. An occurrence with several stages in
the range (same-day merges, a catch-up superseded by a later stage) goes through `jobs.plan.outbox_rows`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from string import Formatter
from typing import Any

from sqlalchemy import Connection, Text, cast, column, insert, or_, select, table, true
from sqlalchemy.orm import Session

from jobs.plan_context import OrgContext, all_recipients
from tracker.domain.reminders import EXECUTIVES, REMINDER_KEY
from tracker.store.models import ObligationRow, OccurrenceRow, OrganisationRow
from tracker.store.outbox import insert_selected_reminders

OPEN = ("occ_id", "org_id", "due", "unit_code", "policy_text", "closures_text", "lang")
SCHEDULE = ("policy_text", "closures_text", "due", "stage", "audience", "stage_day", "status", "skip_reason",
            "send_after")
RECIPIENT = ("org_id", "unit_code", "audience", "name", "destination", "who", "seq")
TYPES = {"occ_id": "integer", "org_id": "integer", "seq": "integer", "due": "date", "stage_day": "date",
         "send_after": "timestamp"}
ANY_UNIT = "*"  # the unit code of executives' rows (see `all_recipients`): it does not depend on the unit


def _create(connection: Connection, name: str, columns: Sequence[str], postgres: bool) -> None:
    cols = ", ".join(f"{c} {TYPES.get(c, 'text')}" for c in columns)
    suffix = " ON COMMIT DROP" if postgres else ""
    connection.exec_driver_sql(f"CREATE TEMP TABLE {name} ({cols}){suffix}")


def _fill(connection: Connection, name: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]],
          postgres: bool) -> None:
    if postgres:
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        finally:
            cursor.close()
        return
    batch = list(rows)
    if batch:
        marks = ", ".join("?" * len(columns))
        connection.exec_driver_sql(f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})", batch)


def _utc(value: datetime, postgres: bool) -> Any:
    naive = value.astimezone(UTC).replace(tzinfo=None)
    return naive if postgres else naive.strftime("%Y-%m-%d %H:%M:%S.%f")


def _day(value: date, postgres: bool) -> Any:
    return value if postgres else value.isoformat()


def key_sql(**columns: str) -> str:
    """`REMINDER_KEY` as an SQL expression over `columns` (field name → column), e.g.
    `'occ:' || o.occ_id || ':' || s.stage || ':' || r.who`."""
    parts = []
    for literal, name, _, _ in Formatter().parse(REMINDER_KEY):
        if literal:
            parts.append("'" + literal.replace("'", "''") + "'")
        if name is not None:
            parts.append(columns[name])
    return " || ".join(parts)


def recipient_rows(contexts: dict[int, OrgContext]) -> Iterable[tuple[Any, ...]]:
    """(org, unit, audience) → recipients, as `OrgContext.recipients` resolves them."""
    for ctx in contexts.values():
        for unit, audience, recipients in all_recipients(ctx):
            for seq, (name, destination, who) in enumerate(recipients):
                yield (ctx.id, unit, audience, name, destination, who, seq)


class SetPlanner:
    """The temporary tables of one planning run, and the statements over them."""

    def __init__(self, session: Session) -> None:
        self.connection = session.connection()
        self.postgres = self.connection.dialect.name == "postgresql"
        for name, columns in (("plan_open", OPEN), ("plan_schedule", SCHEDULE), ("plan_recipient", RECIPIENT)):
            _create(self.connection, name, columns, self.postgres)

    def select_open(self, dues: Sequence[date], today: date, org_id: int | None) -> int:
        """Copy the open occurrences due on `dues` into plan_open; returns how many."""
        query = (
            select(OccurrenceRow.id, OccurrenceRow.org_id, OccurrenceRow.due, ObligationRow.unit_code,
                   cast(ObligationRow.policy, Text), cast(OrganisationRow.closures, Text), OrganisationRow.language)
            .join(ObligationRow, ObligationRow.id == OccurrenceRow.obligation_id)
            .join(OrganisationRow, OrganisationRow.id == OccurrenceRow.org_id)
            .where(OccurrenceRow.active == true(), ObligationRow.active == true(),
                   or_(OccurrenceRow.done_on.is_(None), OccurrenceRow.done_on > today),
                   OccurrenceRow.due.in_(list(dues)))
        )
        if org_id is not None:
            query = query.where(OccurrenceRow.org_id == org_id)
        target = table("plan_open", *(column(c) for c in OPEN))
        self.connection.execute(insert(target).from_select(list(OPEN), query))
        if self.postgres:
            self.connection.exec_driver_sql("ANALYZE plan_open")
        # Counted rather than taken from rowcount, which not every driver reports for INSERT … SELECT.
        return int(self.connection.exec_driver_sql("SELECT count(*) FROM plan_open").scalar_one())

    def fill(self, schedules: list[tuple[Any, ...]], contexts: dict[int, OrgContext]) -> None:
        """schedules: (policy text, closures text, due, stage, audience, stage day, status, reason, send after)."""
        _fill(self.connection, "plan_schedule", SCHEDULE,
              ((p, c, _day(d, self.postgres), st, a, _day(sd, self.postgres), s, r, _utc(sa, self.postgres))
               for p, c, d, st, a, sd, s, r, sa in schedules), self.postgres)
        _fill(self.connection, "plan_recipient", RECIPIENT, recipient_rows(contexts), self.postgres)
        if self.postgres:
            self.connection.exec_driver_sql("ANALYZE plan_schedule")
            self.connection.exec_driver_sql("ANALYZE plan_recipient")
        else:
            self.connection.exec_driver_sql(
                "CREATE INDEX temp.plan_recipient_ix ON plan_recipient (org_id, audience, unit_code)")
            self.connection.exec_driver_sql(
                "CREATE INDEX temp.plan_schedule_ix ON plan_schedule (due, policy_text, closures_text)")

    def insert(self, status: str, now: datetime) -> int:
        """Insert the outbox rows of the single-stage schedules of `status`; returns the rows inserted."""
        key = key_sql(occurrence="o.occ_id", stage="s.stage", who="r.who")
        status_mark, now_mark = ("%(status)s", "%(now)s") if self.postgres else (":status", ":now")
        select_sql = (
            f"SELECT {key}, 'reminder', o.org_id, o.occ_id, s.stage, '', s.stage_day, r.name, r.destination,"
            f" o.lang, s.status, s.skip_reason, 0, s.send_after, s.send_after, {now_mark}"
            " FROM plan_open o"
            " JOIN plan_schedule s ON s.due = o.due AND s.policy_text = o.policy_text"
            " AND s.closures_text = o.closures_text"
            " JOIN plan_recipient r ON r.org_id = o.org_id AND r.audience = s.audience"
            f" AND r.unit_code = CASE WHEN s.audience = '{EXECUTIVES}' THEN '{ANY_UNIT}' ELSE o.unit_code END"
            f" WHERE s.status = {status_mark}"
        )
        # The order the planner used to write them in, so that the outbox ids (the dispatch order among
        # messages due at once) do not change: by occurrence, then recipient.
        return insert_selected_reminders(self.connection, select_sql, key, "o.due, o.occ_id, r.seq",
                                         {"status": status, "now": _utc(now, self.postgres)})

    def multi(self, keys: set[tuple[date, str, str]]) -> list[tuple[int, int, date, str, str, str]]:
        """The open occurrences whose schedule has several stages in the range, for the Python path."""
        if not keys:
            return []
        dues = sorted({due for due, _, _ in keys})
        marks = ", ".join(f"%(d{i})s" if self.postgres else f":d{i}" for i in range(len(dues)))
        params = {f"d{i}": _day(d, self.postgres) for i, d in enumerate(dues)}
        rows = self.connection.exec_driver_sql(
            "SELECT occ_id, org_id, due, unit_code, policy_text, closures_text FROM plan_open"
            f" WHERE due IN ({marks})", params).all()
        out = []
        for occ_id, org_id, due, unit, policy_text, closures_text in rows:
            day = due if isinstance(due, date) else date.fromisoformat(due)
            if (day, policy_text, closures_text) in keys:
                out.append((occ_id, org_id, day, unit, policy_text, closures_text))
        return out

    def drop(self) -> None:
        for name in ("plan_open", "plan_schedule", "plan_recipient"):
            self.connection.exec_driver_sql(f"DROP TABLE {name}")

