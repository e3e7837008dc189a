"""Set-based expansion of the usual case: occurrences with exactly one stage in the planning range.

Python computes the few distinct schedules (per due date, stored policy text and stored closures text);
the database joins them with the open occurrences and every organisation's recipients per (unit,
audience), kept between runs in `plan_recipients` (`jobs.plan_recipients`), and inserts the outbox rows
itself (`INSERT … SELECT … WHERE NOT EXISTS … ON CONFLICT (key_digest) DO NOTHING`), so that no row of the
country travels to Python and back. An occurrence with several stages in
the range (same-day merges, a catch-up superseded by a later stage) goes through `jobs.plan.outbox_rows`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from string import Formatter
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from tracker.domain.reminders import EXECUTIVES, REMINDER_KEY
from tracker.store.outbox import insert_selected_reminders

SCHEDULE = ("policy_text", "closures_text", "due", "stage", "audience", "stage_day", "status", "skip_reason",
            "send_after")
TYPES = {"occ_id": "integer", "org_id": "integer", "due": "date", "stage_day": "date", "send_after": "timestamp"}
WORK_MEM = "64MB"  # for this transaction only (SET LOCAL)
STATISTICS_TARGET = 10  # `analyze_sampled` reads 300 × this many rows
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


def analyze_sampled(connection: Connection, target: str) -> None:
    """ANALYZE `target` (a table, with a column list or not) from a sample of 3,000 rows, in this transaction
    (PostgreSQL): the counts and the few distinct values planning and dispatch depend on, not fine
    histograms. ANALYZE's default reads 30,000 rows: a tenth of a whole national planning run."""
    connection.exec_driver_sql(f"SET LOCAL default_statistics_target = {STATISTICS_TARGET}")
    connection.exec_driver_sql(f"ANALYZE {target}")
    connection.exec_driver_sql("SET LOCAL default_statistics_target TO DEFAULT")


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


class SetPlanner:
    """The schedules of one planning run (a temporary table), and the statements over them."""

    def __init__(self, session: Session, today: date, org_id: int | None) -> None:
        self.connection = session.connection()
        self.postgres = self.connection.dialect.name == "postgresql"
        self.today, self.org_id = today, org_id
        # SQLite joins in the order written with CROSS JOIN: from the open occurrences (the (active, due)
        # index) outwards. Left to choose, it walked every active obligation once per schedule row.
        self.join = "JOIN" if self.postgres else "CROSS JOIN"
        self.staged = False  # whether the open occurrences were copied into plan_open (PostgreSQL)
        if self.postgres:  # the insert sorts ~110,000 rows at national scale: in memory, not on disk
            self.connection.exec_driver_sql(f"SET LOCAL work_mem = '{WORK_MEM}'")
        _create(self.connection, "plan_schedule", SCHEDULE, self.postgres)

    def _mark(self, name: str) -> str:
        return f"%({name})s" if self.postgres else f":{name}"

    def _open(self, dues: Sequence[date]) -> tuple[str, str, dict[str, Any]]:
        """(`FROM …`, `WHERE …`, parameters) of the open occurrences (`occ`) due on `dues` with their
        obligation (`ob`) and organisation (`org`): the planner's one query, as
        `jobs.plan.open_occurrences` writes it."""
        params: dict[str, Any] = {f"due{i}": _day(d, self.postgres) for i, d in enumerate(dues)}
        params["today"] = _day(self.today, self.postgres)
        yes = "true" if self.postgres else "1"  # `= true`: SQLite uses the (active, due) index only for an equality
        tables = (f"FROM occurrences occ {self.join} obligations ob ON ob.id = occ.obligation_id"
                  f" {self.join} organisations org ON org.id = occ.org_id")
        where = (f"WHERE occ.active = {yes} AND ob.active = {yes}"
               f" AND (occ.done_on IS NULL OR occ.done_on > {self._mark('today')})"
               f" AND occ.due IN ({', '.join(self._mark(name) for name in params if name != 'today')})")
        if self.org_id is not None:
            where += f" AND occ.org_id = {self._mark('org_id')}"
            params["org_id"] = self.org_id
        return tables, where, params

    def fill(self, schedules: list[tuple[Any, ...]], several: Sequence[date] = ()) -> int:
        """schedules: (policy text, closures text, due, stage, audience, stage day, status, reason, send after);
        `several`: the due dates of the schedules with several stages in the range (`multi`). Returns how
        many open occurrences are due on those days (the planner's one query).

        On PostgreSQL the open occurrences due on those days are copied into `plan_open` first (analysed,
        so that the insert joins them by hash: left to estimate the join of the occurrences with the
        schedules by text, PostgreSQL chose nested loops over every organisation); `multi` reads them
        from there too. SQLite counts them (the insert reads the occurrences through their index)."""
        _fill(self.connection, "plan_schedule", SCHEDULE,
              ((p, c, _day(d, self.postgres), st, a, _day(sd, self.postgres), s, r, _utc(sa, self.postgres))
               for p, c, d, st, a, sd, s, r, sa in schedules), self.postgres)
        dues = sorted({row[2] for row in schedules} | set(several))
        if not self.postgres:
            self.connection.exec_driver_sql(
                "CREATE INDEX temp.plan_schedule_ix ON plan_schedule (due, policy_text, closures_text)")
            if not dues:
                return 0
            tables, where, params = self._open(dues)
            return int(self.connection.exec_driver_sql(f"SELECT count(*) {tables} {where}", params).scalar_one())
        self.connection.exec_driver_sql("ANALYZE plan_schedule")
        tables, where, params = self._open(dues)
        created = self.connection.exec_driver_sql(
            "CREATE TEMP TABLE plan_open ON COMMIT DROP AS SELECT occ.id AS occ_id, occ.org_id, occ.due,"
            " ob.unit_code, CAST(ob.policy AS TEXT) AS policy_text, CAST(org.closures AS TEXT) AS closures_text,"
            f" org.language AS lang {tables} {where}", params)
        analyze_sampled(self.connection, "plan_open")  # the join needs row counts and the few distinct values
        self.staged = True
        return max(0, int(created.rowcount))

    def open_table(self) -> str | None:
        """The temporary table of the open occurrences `fill` selected (column `occ_id`), when there is one."""
        return "plan_open" if self.staged else None

    def insert(self, status: str, dues: Sequence[date], now: datetime) -> int:
        """Insert the outbox rows of the single-stage schedules of `status` (whose due dates are `dues`)
        in one statement over the open occurrences; returns the rows inserted."""
        params: dict[str, Any] = {}
        if self.staged:
            tables, where = "FROM plan_open o", "WHERE true"
            c = {"occ": "o.occ_id", "org": "o.org_id", "due": "o.due", "unit": "o.unit_code",
                 "policy": "o.policy_text", "closures": "o.closures_text", "lang": "o.lang"}
        else:
            tables, where, params = self._open(dues)
            c = {"occ": "occ.id", "org": "occ.org_id", "due": "occ.due", "unit": "ob.unit_code",
                 "policy": "CAST(ob.policy AS TEXT)", "closures": "CAST(org.closures AS TEXT)", "lang": "org.language"}
        key = key_sql(occurrence=c["occ"], stage="s.stage", who="r.who")
        values_sql = (f"'reminder', {c['org']}, {c['occ']}, s.stage, '', s.stage_day, r.name, r.destination,"
                      f" {c['lang']}, s.status, s.skip_reason, 0, s.send_after, s.send_after, {self._mark('now')}")
        from_sql = (
            f"{tables} {self.join} plan_schedule s ON s.due = {c['due']} AND s.policy_text = {c['policy']}"
            f" AND s.closures_text = {c['closures']} {self.join} plan_recipients r ON r.org_id = {c['org']}"
            f" AND r.audience = s.audience AND r.unit_code = CASE WHEN s.audience = '{EXECUTIVES}' THEN"
            f" '{ANY_UNIT}' ELSE {c['unit']} END"
        )
        # The order the planner used to write them in, so that the outbox ids (the dispatch order among
        # messages due at once) do not change: by occurrence, then recipient.
        return insert_selected_reminders(self.connection, values_sql, from_sql,
                                         f"{where} AND s.status = {self._mark('status')}", key, c["occ"],
                                         f"{c['due']}, {c['occ']}, r.seq",
                                         params | {"status": status, "now": _utc(now, self.postgres)})

    def multi(self, keys: set[tuple[date, str, str]]) -> list[tuple[int, int, date, str, str, str]]:
        """The open occurrences whose schedule has several stages in the range, for the Python path, by due
        date and occurrence (the order their rows are inserted in: the same in every planner)."""
        if not keys:
            return []
        if self.staged:
            params: dict[str, Any] = {f"due{i}": d for i, d in enumerate(sorted({due for due, _, _ in keys}))}
            rows = self.connection.exec_driver_sql(
                "SELECT o.occ_id, o.org_id, o.due, o.unit_code, o.policy_text, o.closures_text FROM plan_open o"
                f" WHERE o.due IN ({', '.join(self._mark(name) for name in params)}) ORDER BY o.due, o.occ_id",
                params).all()
        else:
            tables, where, params = self._open(sorted({due for due, _, _ in keys}))
            rows = self.connection.exec_driver_sql(
                "SELECT occ.id, occ.org_id, occ.due, ob.unit_code, CAST(ob.policy AS TEXT), CAST(org.closures AS TEXT)"
                f" {tables} {where} ORDER BY occ.due, occ.id", params).all()
        out = []
        for occ_id, org_id, due, unit, policy_text, closures_text in rows:
            day = due if isinstance(due, date) else date.fromisoformat(due)
            if (day, policy_text, closures_text) in keys:
                out.append((occ_id, org_id, day, unit, policy_text, closures_text))
        return out

    def drop(self) -> None:
        for name in ("plan_schedule", "plan_open") if self.staged else ("plan_schedule",):
            self.connection.exec_driver_sql(f"DROP TABLE {name}")
