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

from bench.national_db import build, empty_database
from jobs import digest
from tracker.domain.thaidate import BANGKOK


def load_average() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


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
    started = time.perf_counter()
    first = digest.run_each(engine, now)
    queue_s = time.perf_counter() - started
    started = time.perf_counter()
    again = digest.run_each(engine, now + timedelta(minutes=15))
    again_s = time.perf_counter() - started
    print(f"digest {args.day}: queue every digest {queue_s:.2f} s ({first.created:,} queued for"
          f" {len(first.orgs):,} organisations, {queue_s / max(1, len(first.orgs)) * 1000:.2f} ms each)")
    print(f"  sweep 15 min later, nothing left to queue: {again_s:.2f} s (queued {again.created}, must be 0;"
          f" {again.already_queued:,} already queued); load average {load_average()}")
    engine.dispose()
    return 0 if again.created == 0 and first.created > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
