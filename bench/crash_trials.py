"""Many crash trials (the CI suite runs 20): real dispatchers killed with SIGKILL while sending to LINE,
SMTP and webhook fakes, then restarted; prints what arrived, what was lost and what was doubled.

    python -m bench.crash_trials --trials 60              # SQLite
    python -m bench.crash_trials --trials 60 --postgres   # PostgreSQL (TEST_DATABASE_URL, a database per trial)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, make_url, text

from tests.crash_trials import TrialResult, run_trial
from tracker.store.db import migrate, open_engine


@contextmanager
def fresh_database(postgres: str | None, folder: Path) -> Iterator[tuple[Engine, str]]:
    if postgres is None:
        url = f"sqlite:///{folder / 'tracker.sqlite3'}"
        engine = open_engine(url)
        migrate(engine)
        yield engine, url
        engine.dispose()
        return
    name = f"crash_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres).set(database=name).render_as_string(hide_password=False)
    engine = open_engine(url)
    migrate(engine)
    try:
        yield engine, url
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def summarise(results: list[TrialResult], seconds: float) -> None:
    expected = sum((r.expected for r in results), Counter[str]())
    arrived = sum((r.arrived for r in results), Counter[str]())
    doubled = sum((r.doubled for r in results), Counter[str]())
    kinds = Counter((r.dispatchers, r.kill) for r in results)
    print(f"trials: {len(results)} in {seconds:.0f} s; dispatchers killed: {sum(r.killed for r in results)}")
    print("  " + ", ".join(f"{n} x ({d} dispatcher{'s' if d > 1 else ''}, {k})" for (d, k), n in sorted(kinds.items())))
    print(f"  with faults injected: {sum(1 for r in results if r.faults)}")
    for channel in ("line", "mailto", "https"):
        print(f"  {channel:7} expected {expected[channel]:5}  arrived {arrived[channel]:5}  "
              f"lost {expected[channel] - arrived[channel]:3}  doubled {doubled[channel]:3}")
    repeated = sum(r.resent_same_id for r in results)
    print(f"  repeated with the same Message-ID / Idempotency-Key after a kill: {repeated}")
    print(f"  rows not sent at the end: {sum(sum(n for s, n in r.rows.items() if s != 'sent') for r in results)}")
    failed = [r for r in results if r.errors or r.lost or sum(r.doubled.values())]
    print(f"  trials with a loss, a double or an error: {len(failed)}" + "".join(f"\n    {r}" for r in failed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--postgres", action="store_true", help="use TEST_DATABASE_URL's server")
    args = parser.parse_args()
    postgres = os.environ.get("TEST_DATABASE_URL") if args.postgres else None
    if args.postgres and not postgres:
        parser.error("--postgres needs TEST_DATABASE_URL")
    started, results = time.monotonic(), []
    for seed in range(args.first_seed, args.first_seed + args.trials):
        with tempfile.TemporaryDirectory() as folder, fresh_database(postgres, Path(folder)) as (engine, url):
            results.append(run_trial(seed, engine, url, Path(folder)))
    summarise(results, time.monotonic() - started)


if __name__ == "__main__":
    main()
