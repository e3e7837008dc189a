"""`tracker remind` for every organisation at national scale, next to the planner it calls.

    python -m bench.bench_remind                 # 7,850 organisations × 40 obligations, SQLite (temp file)
    python -m bench.bench_remind --orgs 500      # smaller
    BENCH_DATABASE_URL=postgresql+psycopg://… python -m bench.bench_remind   # PostgreSQL (emptied first)

Prints, in one run, for two instants: `tracker remind --as-of …` as a fresh process (which plans, then
dispatches what is due: nothing at 08:00, before the sending hours) and `jobs.plan.plan` called in this
process on the same database state (each run on its own copy of the database on SQLite; on PostgreSQL the
planner's run is rolled back first). The first instant is a heavy day of the fiscal year the database holds;
the second is the first working day of the next fiscal year, when every organisation's occurrences of
the new year are materialised first (the rollover).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bench.national_db import build, empty_database
from jobs import plan
from jobs.plan_recipients import refresh_recipients
from tracker.domain.thaidate import BANGKOK
from tracker.store.db import open_engine, session_scope


def load_average() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


def planner_seconds(engine: Engine, now: datetime) -> tuple[float, plan.PlanResult]:
    """`plan` in this process, rolled back so that the command finds the database as it was."""
    with Session(engine) as session:
        started = time.perf_counter()
        result = plan.plan(session, now)
        seconds = time.perf_counter() - started
        session.rollback()
    return seconds, result


def command_seconds(url: str, now: datetime, data: Path) -> float:
    env = dict(os.environ, DATABASE_URL=url, TRACKER_DATA_DIR=str(data), TRACKER_OUTBOX_DIR=str(data / "outbox"))
    env.pop("LINE_CHANNEL_ACCESS_TOKEN", None)
    env.pop("SMTP_URL", None)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tracker.cli.main", "remind", "--as-of", now.isoformat()],
                          env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"tracker remind failed ({done.returncode}): {done.stderr.strip()}")
    print(f"    {done.stdout.strip().splitlines()[-1]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orgs", type=int, default=7850)
    parser.add_argument("--obligations", type=int, default=40)
    args = parser.parse_args(argv)
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    engine = empty_database(url, "bench-remind-")
    url = engine.url.render_as_string(hide_password=False)
    print(f"# backend {engine.dialect.name}; {args.orgs:,} organisations × {args.obligations} obligations;"
          f" load average {load_average()}")
    build(engine, args.orgs, args.obligations)
    with session_scope(engine) as session:  # as a running service leaves it (bench_reminders times this)
        refresh_recipients(session)
    work = Path(tempfile.mkdtemp(prefix="bench-remind-data-"))
    instants = {"heavy day of FY 2566": datetime.combine(date(2023, 3, 24), dtime(8, 0), tzinfo=BANGKOK),
                "first day of FY 2567 (rollover)": datetime.combine(date(2023, 10, 2), dtime(8, 0), tzinfo=BANGKOK)}
    for label, now in instants.items():
        if engine.dialect.name == "sqlite":  # each on its own copy: the first run changes the database
            engine.dispose()  # the last connection closed: everything is in the main file, none in the WAL
            source = Path(str(engine.url.database))
            copies = [work / f"{n}.sqlite3" for n in range(2)]
            for copy in copies:
                shutil.copy(source, copy)
            planned_engine = open_engine(f"sqlite:///{copies[0]}")
            plan_s, result = planner_seconds(planned_engine, now)
            planned_engine.dispose()
            command_s = command_seconds(f"sqlite:///{copies[1]}", now, work)
        else:
            plan_s, result = planner_seconds(engine, now)
            command_s = command_seconds(url, now, work)
        print(f"{label}: plan() {plan_s:.2f} s (created {result.created:,}, materialised {result.materialised:,});"
              f" tracker remind {command_s:.2f} s = {command_s / plan_s:.1f}× the planner;"
              f" load average {load_average()}")
    engine.dispose()
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
