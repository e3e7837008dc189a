"""What every view reaches through the app: the database engine, the settings and the clock.

The app factory puts them in `app.config` under these keys (tests put a fixed clock there); views never
open their own engine or read the system clock directly, so a test can judge a page at any instant.

On SQLite, the writing transactions of POST requests queue on a lock file beside the database
(`<db>.web-lock`), taken at their first write and released after the commit: SQLite lets one writer in
at a time, and a writer that finds it busy sleeps and retries (up to 100 ms a sleep), so under twenty
concurrent posts some waited seconds while others overtook them. A blocked `flock` is woken as soon as
the holder is done. Reads never take it (WAL lets them run beside a writer).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from flask import current_app, has_request_context, request
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from tracker.domain.thaidate import BANGKOK

ENGINE_KEY = "TRACKER_ENGINE"
SETTINGS_KEY = "TRACKER_SETTINGS"
CLOCK_KEY = "TRACKER_CLOCK"

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def engine() -> Engine:
    found: Engine = current_app.config[ENGINE_KEY]
    return found


def settings() -> Settings:
    found: Settings = current_app.config[SETTINGS_KEY]
    return found


def now() -> datetime:
    """The instant the request is judged at (UTC)."""
    clock: Clock = current_app.config.get(CLOCK_KEY) or system_clock
    return clock()


def today() -> date:
    """Today in Bangkok, the day statuses are judged on (as `tracker status` does)."""
    return now().astimezone(BANGKOK).date()


@contextmanager
def session() -> Iterator[Session]:
    """A transaction: committed when the block succeeds, rolled back when it raises (as
    `store.db.session_scope`, from the app's one session factory: a factory made per transaction is a
    new Session class each time, whose event set-up cost 0.2 ms, more than a short query)."""
    queued = _queue_path()
    if queued is None:
        with _factory()() as s, s.begin():
            yield s
        return
    depth = getattr(_turn, "depth", 0)
    _turn.depth, _turn.path = depth + 1, queued
    try:
        with _factory()() as s, s.begin():
            yield s
    finally:
        _turn.depth = depth
        if depth == 0:
            _release()


def _factory() -> sessionmaker[Session]:
    found: sessionmaker[Session] | None = current_app.extensions.get("tracker_sessions")
    if found is None:
        found = current_app.extensions["tracker_sessions"] = sessionmaker(engine(), expire_on_commit=False)
    return found


# This thread's place in the writers' queue: `depth` of nested sessions, the lock's `fd` once it writes.
_turn = threading.local()


def _queue_path() -> str | None:
    """The lock file POST requests queue on, for a SQLite file database; None otherwise."""
    found = engine()
    database = found.url.database if found.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or not has_request_context() or request.method != "POST":
        return None
    if not event.contains(found, "before_cursor_execute", _before_write):
        event.listen(found, "before_cursor_execute", _before_write)
    return f"{database}.web-lock"


def _before_write(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
    """Take the lock before the transaction's first write (where SQLite's own write lock begins): the
    reads before it run beside other writers, so the queue moves as fast as SQLite can commit."""
    if getattr(_turn, "depth", 0) == 0 or getattr(_turn, "fd", None) is not None:
        return
    if statement.lstrip()[:6].upper() not in ("INSERT", "UPDATE", "DELETE"):
        return
    fd = os.open(_turn.path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    _turn.fd = fd


def _release() -> None:
    fd = getattr(_turn, "fd", None)
    _turn.fd = None
    if fd is not None:
        os.close(fd)  # closing the descriptor releases its lock
