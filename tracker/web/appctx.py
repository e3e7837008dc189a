"""What every view reaches through the app: the database engine, the settings and the clock.

The app factory puts them in `app.config` under these keys (tests put a fixed clock there); views never
open their own engine or read the system clock directly, so a test can judge a page at any instant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

from flask import current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from config.settings import Settings
from tracker.domain.thaidate import BANGKOK
from tracker.store.db import session_scope

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
    """A transaction: committed when the block succeeds, rolled back when it raises."""
    with session_scope(engine()) as s:
        yield s
