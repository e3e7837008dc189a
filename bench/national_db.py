"""Build a national-scale database fast: raw bulk inserts (SQLite executemany, PostgreSQL COPY).

Every organisation gets the same 40 obligations (a realistic mix of rule kinds), their occurrences for
one fiscal year, and about half of those occurrences done. Ids are assigned here, so no round trips.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData

from tracker.domain.model import ReminderPolicy
from tracker.domain.rules import DueRule, FiscalYearRule, Frequency, MonthRule, RecurringRule
from tracker.domain.workdays import WorkCalendar
from tracker.store.db import migrate, open_engine
from tracker.store.models import address_key
from tracker.store.outbox_keys import key_digest_sql
from tracker.store.repo import policy_to_json

FY = 2566
NOW = "2022-10-01 00:00:00"


def obligation_rules(count: int) -> list[DueRule]:
    """`count` rules: month deadlines across the year, quarterly, monthly, half-yearly and yearly work."""
    kinds: list[DueRule] = []
    for i in range(count):
        slot = i % 10
        if slot < 4:
            kinds.append(MonthRule((10 + i) % 12 + 1))
        elif slot < 6:
            kinds.append(RecurringRule(Frequency.QUARTERLY, grace_days=15 if i % 2 else 0))
        elif slot < 8:
            kinds.append(RecurringRule(Frequency.MONTHLY, grace_days=10))
        elif slot == 8:
            kinds.append(RecurringRule(Frequency.HALF_YEARLY))
        else:
            kinds.append(FiscalYearRule())
    return kinds


def _rows(orgs: int, per_org: int, with_actions: bool = False
          ) -> dict[str, tuple[Sequence[str], Iterator[tuple[Any, ...]]]]:
    rules = obligation_rules(per_org)
    calendar = WorkCalendar()
    templates = [rule.occurrences(f"X{j}", FY, calendar) for j, rule in enumerate(rules)]
    policy = json.dumps(policy_to_json(ReminderPolicy()))
    measures_per_org = max(1, per_org // 4)

    def organisations() -> Iterator[tuple[Any, ...]]:
        for o in range(1, orgs + 1):
            # A synced organisation carries its configuration's hash (the web caches organisations by it).
            yield (o, f"org{o:05d}", f"อปท. {o}", "อำเภอ", "จังหวัด", FY, "th", policy, "[]", "", f"{o:064x}", NOW)

    def units() -> Iterator[tuple[Any, ...]]:
        for o in range(1, orgs + 1):
            yield (2 * o - 1, o, "palad", "สำนักปลัด", 0, True)
            yield (2 * o, o, "finance", "กองคลัง", 1, True)

    def contacts() -> Iterator[tuple[Any, ...]]:
        cid = 0
        for o in range(1, orgs + 1):
            people = [("unit", "palad", "เจ้าหน้าที่ สำนักปลัด", "officer", [f"line://U{o:032x}", f"mailto:p{o}@ex.go.th"]),
                      ("unit", "palad", "หัวหน้าสำนักปลัด", "head", [f"mailto:h{o}@ex.go.th"]),
                      ("unit", "finance", "เจ้าหน้าที่ กองคลัง", "officer", [f"line://U{o + 10**6:032x}"]),
                      ("unit", "finance", "ผู้อำนวยการกองคลัง", "head", [f"mailto:f{o}@ex.go.th"]),
                      ("executive", None, "นายก", "officer", [f"line://C{o:032x}"]),
                      ("admin", None, "ผู้ดูแลระบบ", "admin", [f"mailto:a{o}@ex.go.th"])]
            for pos, (kind, unit, name, role, dests) in enumerate(people):
                cid += 1
                yield (cid, o, kind, unit, name, role, "", json.dumps(dests), pos)
                addresses.extend((cid, address_key(d)) for d in dests)

    addresses: list[tuple[int, str]] = []  # filled as the contacts are written (they come first)

    def contact_addresses() -> Iterator[tuple[Any, ...]]:
        for i, (cid, address) in enumerate(addresses, start=1):
            yield (i, cid, address)

    def measures() -> Iterator[tuple[Any, ...]]:
        for o in range(1, orgs + 1):
            for m in range(measures_per_org):
                yield ((o - 1) * measures_per_org + m + 1, o, f"M{m:02d}", f"มาตรการ {m}", "palad", None, "[]", m, True)

    def obligations() -> Iterator[tuple[Any, ...]]:
        for o in range(1, orgs + 1):
            for j, rule in enumerate(rules):
                yield ((o - 1) * per_org + j + 1, o, (o - 1) * measures_per_org + j % measures_per_org + 1, f"X{j}",
                       f"ภาระงาน {j}", "palad" if j % 3 else "finance", json.dumps(rule.to_dict()), policy, "", j, True)

    def occurrences() -> Iterator[tuple[Any, ...]]:
        oid = 0
        for o in range(1, orgs + 1):
            for j, template in enumerate(templates):
                for occ in template:
                    oid += 1
                    # About half done, a few days before the due date.
                    done = occ.due - timedelta(days=3) if (oid * 2654435761) % 100 < 50 else None
                    yield (oid, o, (o - 1) * per_org + j + 1, FY, occ.period, occ.window_start, occ.due, done, True)

    def actions() -> Iterator[tuple[Any, ...]]:
        """One action for each occurrence done (as officers would have logged it), dated its done day."""
        aid = 0
        for _, org, obligation, _, period, _, _, done, _ in occurrences():
            if done is not None:
                aid += 1
                yield (aid, org, obligation, done, "https://example.go.th/ita", "", "เจ้าหน้าที่", NOW, period, None,
                       "cli", None, "", "", "")

    tables: dict[str, tuple[Sequence[str], Iterator[tuple[Any, ...]]]] = {
        "organisations": (("id", "code", "name", "district", "province", "fiscal_year", "language", "policy",
                           "closures", "source", "config_hash", "updated_at"), organisations()),
        "units": (("id", "org_id", "code", "name", "position", "active"), units()),
        "contacts": (("id", "org_id", "kind", "unit_code", "name", "role", "title", "destinations", "position"),
                     contacts()),
        "contact_addresses": (("id", "contact_id", "address"), contact_addresses()),
        "measures": (("id", "org_id", "code", "title", "unit_code", "oit", "steps", "position", "active"), measures()),
        "obligations": (("id", "org_id", "measure_id", "code", "title", "unit_code", "rule", "policy", "done_when",
                         "position", "active"), obligations()),
        "occurrences": (("id", "org_id", "obligation_id", "fiscal_year", "period", "window_start", "due", "done_on",
                         "active"), occurrences()),
    }
    if with_actions:
        tables["actions"] = (("id", "org_id", "obligation_id", "done_on", "evidence", "note", "recorded_by",
                              "recorded_at", "period", "unit_code", "source", "source_key", "withdrawn_by",
                              "withdrawn_channel", "withdrawn_reason"), actions())
    return tables


def _chunks(rows: Iterable[tuple[Any, ...]], size: int = 20000) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def build(engine: Engine, orgs: int, per_org: int = 40, actions: bool = False) -> dict[str, int]:
    """Fill an empty, migrated database (with `actions`, an action logged for each occurrence done).
    Returns row counts per table."""
    counts: dict[str, int] = {}
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for table, (columns, rows) in _rows(orgs, per_org, actions).items():
            n = 0
            if engine.dialect.name == "postgresql":
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                        n += 1
            else:
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
                for chunk in _chunks(rows):
                    cursor.executemany(sql, [tuple(_sqlite_value(v) for v in row) for row in chunk])
                    n += len(chunk)
            counts[table] = n
        raw.commit()
        cursor.close()
    finally:
        raw.close()
    with engine.begin() as conn:  # fresh statistics, as a production database would have
        conn.exec_driver_sql("ANALYZE")
    return counts


HISTORY_START = "2022-10-01"  # sent before the bench's days; 170 days of it


def fill_history(engine: Engine, count: int) -> None:
    """Add `count` reminders sent in earlier months to the outbox (which the service never empties: a year
    at national scale holds millions), so that planning meets the indexes of a service that has been
    running. Their occurrence ids lie beyond the real ones: no key can collide with a planned one."""
    if count <= 0:
        return
    dialect = engine.dialect.name
    occ = "(2000000000 - g.n)"
    key = f"'occ:' || {occ} || ':before-7:sent'"
    day = (f"(DATE '{HISTORY_START}' + (g.n % 170))" if dialect == "postgresql"
           else f"date('{HISTORY_START}', '+' || (g.n % 170) || ' days')")
    stamp = (f"(TIMESTAMP '{HISTORY_START}' + (g.n % 170) * INTERVAL '1 day')" if dialect == "postgresql"
             else f"datetime('{HISTORY_START}', '+' || (g.n % 170) || ' days')")
    numbers = "generate_series(1, :count) AS g(n)" if dialect == "postgresql" else "g"
    head = ("" if dialect == "postgresql"
            else "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :count) ")
    sql = (f"{head}INSERT INTO outbox (key, kind, org_id, occurrence_id, stage, merged_stages, stage_day, recipient,"
           " destination, lang, status, attempts, send_after, next_attempt_at, created_at, sent_at, key_digest)"
           f" SELECT {key}, 'reminder', g.n % 7850 + 1, {occ}, 'before-7', '', {day}, 'เจ้าหน้าที่ สำนักปลัด',"
           f" 'line://U' || substr('00000000000000000000000000000000' || g.n, -32, 32), 'th', 'sent', 1,"
           f" {stamp}, {stamp}, {stamp}, {stamp}, {key_digest_sql(key, occ, dialect)} FROM {numbers}")
    if dialect == "postgresql":
        sql = (sql.replace("substr('00000000000000000000000000000000' || g.n, -32, 32)", "lpad(g.n::text, 32, '0')")
               .replace("%", "%%"))  # the driver's placeholders
    with engine.begin() as conn:
        conn.exec_driver_sql(sql.replace(":count", str(int(count))))
    if dialect == "postgresql":  # what autovacuum does after such an insert
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE outbox")


def empty_database(url: str | None, prefix: str) -> Engine:
    """A migrated, empty database: a new SQLite file when `url` is None, else the server's tables dropped first."""
    if url is None:
        folder = Path(tempfile.mkdtemp(prefix=prefix))
        url = f"sqlite:///{folder / 'national.sqlite3'}"
    engine = open_engine(url)
    if engine.dialect.name == "postgresql":
        meta = MetaData()
        meta.reflect(engine)
        meta.drop_all(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    migrate(engine)
    return engine
