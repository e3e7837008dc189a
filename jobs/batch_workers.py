"""Run the independent batches of a sweep in worker processes.

Why: the monthly digest of every organisation is about 20 s of one core at national scale (reading,
building and rendering 7,850 digests), while the database mostly waits. Its batches are independent
transactions, each idempotent through the outbox's unique key, so N processes queue them nearly N times
as fast, and a batch that fails or whose worker dies leaves the others committed and is queued by the
next sweep, as before.

Workers are spawned, not forked: the scheduler's process runs threads (APScheduler's pool, the
dispatcher's) and holds pooled connections, which a forked child would inherit mid-use. Each worker
opens its own engine on the same database and disposes of it when it exits. Small sweeps stay in the
calling process: starting a worker (importing the application) costs about as much as a batch, and an
in-memory SQLite database cannot be shared at all. A spawned worker imports the caller's main module
again: a script that runs many batches must keep its work under `if __name__ == "__main__":` (the
`tracker` command, `python -m bench.…` and pytest do).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing.util import Finalize
from typing import TypeVar

from sqlalchemy import Engine

from tracker.store.db import open_engine

MAX_WORKERS = 4  # beyond this the database, not Python, is the limit
MIN_BATCHES = 4  # fewer batches than this run in the calling process

B = TypeVar("B")
J = TypeVar("J")
T = TypeVar("T")

_engine: Engine | None = None  # a worker process's own engine (see `_open`)


def default_workers() -> int:
    """One worker per core this process may use, at most MAX_WORKERS."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS))


def shareable(engine: Engine) -> bool:
    """Whether another process can open `engine`'s database: not an in-memory SQLite database."""
    return not (engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"))


def run_batches(engine: Engine, work: Callable[[Engine, B, J], T], batches: Sequence[B], job: J, workers: int,
                lock_timeout: float = 30.0) -> tuple[list[T], int]:
    """`work(engine, batch, job)` for each of `batches`, in up to `workers` processes; returns the results
    in the order of `batches` and the number of processes that did the work. `work` must be a module-level
    function and `batch` and `job` picklable. The first exception a batch raises is raised here, after the
    batches not yet started are cancelled (those already done stay done)."""
    processes = min(workers, len(batches))
    if processes <= 1 or len(batches) < MIN_BATCHES or not shareable(engine):
        return [work(engine, batch, job) for batch in batches], 1
    url = engine.url.render_as_string(hide_password=False)  # handed to the child over a pipe, never logged
    pool = ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_open, initargs=(url, lock_timeout))
    futures: list[Future[T]] = []
    try:
        futures = [pool.submit(_call, work, batch, job) for batch in batches]
        return [future.result() for future in futures], processes
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _open(url: str, lock_timeout: float) -> None:
    global _engine
    _engine = open_engine(url, lock_timeout)
    # Close the worker's connections when it exits (a PostgreSQL server logs connections dropped unclosed).
    Finalize(_engine, _engine.dispose, exitpriority=10)


def _call(work: Callable[[Engine, B, J], T], batch: B, job: J) -> T:
    if _engine is None:
        raise RuntimeError("a batch worker ran before its engine was opened")
    return work(_engine, batch, job)
