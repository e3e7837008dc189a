"""The monthly digest sweep at national scale.

    python -m bench.bench_digest                  # 7,850 organisations × 40 obligations, SQLite (temp file)
    python -m bench.bench_digest --orgs 500       # smaller
    python -m bench.bench_digest --workers 1      # in one process only (default: one worker per core, at most 4)
    BENCH_DATABASE_URL=postgresql+psycopg://… python -m bench.bench_digest   # PostgreSQL (emptied first)

Prints, in one run: the time to queue every organisation's digest on a digest day (the service's
`jobs.digest.run_each`, one transaction per batch, in worker processes as the service runs it), the same
in one process (the digests forgotten in between), and the time of the next 15-minute sweep of the same
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

from sqlalchemy import Engine, delete, select

from bench.national_db import build, empty_database
from jobs import digest
from jobs.batch_workers import default_workers
from tracker.domain.thaidate import BANGKOK, fiscal_year
from tracker.store.db import session_scope
from tracker.store.evidence import broken_links_of
from tracker.store.models import OrganisationRow, OutboxRow
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


def queue_all(engine: Engine, now: datetime, workers: int) -> tuple[float, float, digest.DigestResult]:
    """(seconds, this process's CPU seconds, result) of queuing every digest due at `now`."""
    started, cpu = time.perf_counter(), time.process_time()
    result = digest.run_each(engine, now, workers=workers)
    return time.perf_counter() - started, time.process_time() - cpu, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orgs", type=int, default=7850)
    parser.add_argument("--obligations", type=int, default=40)
    parser.add_argument("--day", type=date.fromisoformat, default=date(2023, 3, 1),
                        help="a digest day (default Wednesday 1 March 2023, the first working day of the month)")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="processes composing the digests, as TRACKER_DIGEST_WORKERS (default: one per core)")
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
    queue_s, queue_cpu, first = queue_all(engine, now, args.workers)
    print(f"digest {args.day}: queue every digest {queue_s:.2f} s in {first.workers} process(es)"
          f" ({first.created:,} queued for {len(first.orgs):,} organisations,"
          f" {queue_s / max(1, len(first.orgs)) * 1000:.2f} ms each; this process's CPU {queue_cpu:.2f} s)")
    if first.workers > 1:
        with session_scope(engine) as session:
            session.execute(delete(OutboxRow).where(OutboxRow.kind == "digest"))
        alone_s, alone_cpu, alone = queue_all(engine, now, 1)
        print(f"  the same in one process: {alone_s:.2f} s (CPU {alone_cpu:.2f} s, {alone.created:,} queued);"
              f" the workers take {queue_s / alone_s:.2f}× that")
    print(f"  reading what the digests need, by the batch, alone: {read_s:.2f} s; queuing in one process is"
          f" {(alone_s if first.workers > 1 else queue_s) / read_s:.1f}× that (building, rendering and inserting"
          " are the rest)")
    sweeps = []
    for minutes in (15, 30, 45):
        started = time.perf_counter()
        again = digest.run_each(engine, now + timedelta(minutes=minutes), workers=args.workers)
        sweeps.append(time.perf_counter() - started)
    print(f"  sweeps 15, 30 and 45 min later, nothing left to queue: {', '.join(f'{s:.2f}' for s in sweeps)} s"
          f" (the last queued {again.created}, must be 0; {again.already_queued:,} already queued);"
          f" load average {load_average()}")
    engine.dispose()
    return 0 if again.created == 0 and first.created > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
