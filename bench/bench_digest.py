"""The monthly digest sweep at national scale.

    python -m bench.bench_digest                  # 7,850 organisations × 40 obligations, SQLite (temp file)
    python -m bench.bench_digest --orgs 500       # smaller
    BENCH_DATABASE_URL=postgresql+psycopg://… python -m bench.bench_digest   # PostgreSQL (emptied first)

Prints, in one run: the time to queue every organisation's digest on a digest day (the service's
`jobs.digest.run_each`, one transaction per batch), and the time of the next 15-minute sweep of the same
day, which finds every digest queued already and must queue nothing. The database is the reminder
bench's (`bench.national_db`), with an action logged for every occurrence done, so that the digests
count finished work as the service would.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date, datetime, timedelta
from datetime import time as dtime

from sqlalchemy import Engine, select

from bench.national_db import build, empty_database
from jobs import digest
from tracker.domain.thaidate import BANGKOK, fiscal_year
from tracker.store.db import session_scope
from tracker.store.evidence import broken_links_of
from tracker.store.models import OrganisationRow
from tracker.store.org_bulk import actions_of, load_organisations, occurrences_of


def load_average() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


def read_floor(engine: Engine, day: date) -> float:
    """Seconds to read, batch by batch, what the digests are built from (organisations, two fiscal
    years of occurrences, actions, broken links): the part of queuing no rendering can save."""
    with engine.connect() as connection:
        codes = list(connection.scalars(select(OrganisationRow.code).order_by(OrganisationRow.code)))
    fy, size = fiscal_year(day), digest.DIGEST_BATCH
    started = time.perf_counter()
    with session_scope(engine) as session:
        for start in range(0, len(codes), size):
            ids = [org_id for org_id, _ in load_organisations(session, codes[start:start + size]).values()]
            occurrences_of(session, ids, [fy - 1, fy])
            actions_of(session, ids)
            broken_links_of(session, ids)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orgs", type=int, default=7850)
    parser.add_argument("--obligations", type=int, default=40)
    parser.add_argument("--day", type=date.fromisoformat, default=date(2023, 3, 1),
                        help="a digest day (default Wednesday 1 March 2023, the first working day of the month)")
    args = parser.parse_args(argv)
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")

    engine = empty_database(url, "bench-digest-")
    print(f"# backend {engine.dialect.name}; {args.orgs:,} organisations × {args.obligations} obligations;"
          f" load average {load_average()}")
    started = time.perf_counter()
    counts = build(engine, args.orgs, args.obligations, actions=True)
    print(f"built in {time.perf_counter() - started:.1f} s: " + ", ".join(f"{n:,} {t}" for t, n in counts.items()))

    now = datetime.combine(args.day, dtime(9, 0), tzinfo=BANGKOK)
    read_s = read_floor(engine, args.day)
    started, cpu = time.perf_counter(), time.process_time()
    first = digest.run_each(engine, now)
    queue_s, queue_cpu = time.perf_counter() - started, time.process_time() - cpu
    started = time.perf_counter()
    again = digest.run_each(engine, now + timedelta(minutes=15))
    again_s = time.perf_counter() - started
    print(f"digest {args.day}: queue every digest {queue_s:.2f} s ({first.created:,} queued for"
          f" {len(first.orgs):,} organisations, {queue_s / max(1, len(first.orgs)) * 1000:.2f} ms each;"
          f" this process's CPU {queue_cpu:.2f} s)")
    print(f"  reading what the digests need, by the batch, alone: {read_s:.2f} s; queuing is {queue_s / read_s:.1f}×"
          " that (building, rendering and inserting are the rest)")
    print(f"  sweep 15 min later, nothing left to queue: {again_s:.2f} s (queued {again.created}, must be 0;"
          f" {again.already_queued:,} already queued); load average {load_average()}")
    engine.dispose()
    return 0 if again.created == 0 and first.created > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
