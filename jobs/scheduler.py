"""`tracker run`: a few fixed sweeps over the database, on APScheduler 3 in Asia/Bangkok.

The database is the schedule. The scheduler holds no job per deadline and no persistent job store
(APScheduler job stores shared by several processes run jobs twice or miss them, and its SQLAlchemy
store drops rows it cannot unpickle): each sweep asks the database what is due at `clock()` and acts.
Running two `tracker run` processes is therefore safe; the outbox's unique keys and the dispatcher's
leases make sure nothing is sent twice.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from config.settings import Settings
from jobs import config_watch, digest, dispatch, evidence, plan
from jobs.batch_workers import default_workers
from jobs.config_watch import ConfigCheck, ConfigWatcher
from jobs.digest import DigestResult
from jobs.evidence import EvidenceResult
from jobs.evidence_fetch import EvidenceFetcher
from notifiers.masking import mask_secrets
from notifiers.registry import Notifiers
from tracker.domain.thaidate import BANGKOK, TIMEZONE
from tracker.store.db import database_error, session_scope

log = logging.getLogger("tracker.run")

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ServiceOptions:
    every_seconds: float = 60  # plan + dispatch
    digest_every_seconds: float = 900  # the digest job itself decides whether today is a digest day
    config_every_seconds: float = 30
    evidence_every_seconds: float = 900  # fetch new evidence links (and all of them after a round closes)
    digest_hour: time = time(9, 0)
    grace_days: int = 3
    # A sweep that could not start on time (machine asleep, long previous run) still runs if it is
    # this late; beyond that it waits for its next turn. coalesce=True folds missed runs into one.
    misfire_grace_seconds: int = 60


@dataclass
class SweepCounts:
    planned: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    cancelled: int = 0
    retrying: int = 0
    digests: int = 0
    materialised: int = 0  # occurrences of a new fiscal year created before planning

    def line(self) -> str:
        text = f"planned {self.planned}, sent {self.sent}, failed {self.failed}, skipped {self.skipped}"
        extra = {"retrying": self.retrying, "cancelled": self.cancelled, "digests queued": self.digests,
                 "new fiscal-year occurrences": self.materialised}
        return text + "".join(f", {name} {n}" for name, n in extra.items() if n)


class Service:
    """The sweeps. Each opens its own transaction, never raises (a failed sweep is logged, masked,
    and tried again at its next turn) and logs one line."""

    def __init__(self, engine: Engine, settings: Settings, notifiers: Notifiers,
                 options: ServiceOptions | None = None, clock: Clock = system_clock) -> None:
        self.engine = engine
        self.settings = settings
        self.notifiers = notifiers
        self.options = options or ServiceOptions()
        self.clock = clock
        self.watcher = ConfigWatcher(settings.config_paths)
        self.stopping = threading.Event()
        # Names this process in the dispatcher's leases: a lease is released only by its owner.
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    # ---------------------------------------------------------------- sweeps

    def reminders(self) -> SweepCounts:
        """Plan what is due, then send what is queued (reminders, digests, alerts)."""
        now = self.clock()
        counts = SweepCounts()
        with self._guard("reminders"):
            with session_scope(self.engine) as session:
                planned = plan.plan(session, now, grace_days=self.options.grace_days)
            counts.planned, counts.skipped, counts.cancelled = planned.created, planned.skipped, planned.cancelled
            counts.materialised = planned.materialised
            self._dispatch(now, counts)
            log.info("reminders at %s: %s", _local(now), counts.line())
        return counts

    def digests(self) -> DigestResult:
        now = self.clock()
        result = DigestResult()
        with self._guard("digests"):
            result = self._digests(now)
        log.info("digests at %s: %s", _local(now), result.line())
        return result

    def _digests(self, now: datetime) -> DigestResult:
        workers = self.settings.digest_workers or default_workers()
        return digest.run_each(self.engine, now, hour=self.options.digest_hour, grace_days=self.options.grace_days,
                               base_url=self.settings.base_url, workers=workers,
                               lock_timeout=self.settings.db_lock_timeout_seconds)

    def evidence(self) -> EvidenceResult:
        now = self.clock()
        result = EvidenceResult()
        fetcher = EvidenceFetcher(timeout_seconds=self.settings.http_timeout_seconds)
        with self._guard("evidence"):
            result = evidence.run_once(self.engine, now, fetcher)
        fetcher.close()
        if result.checked:
            log.info("evidence at %s: checked %d, broken %d (%d newly, %d alert(s) queued)", _local(now),
                     result.checked, result.broken, result.newly_broken, result.alerts)
        return result

    def config(self, force: bool = False) -> ConfigCheck:
        now = self.clock()
        check = ConfigCheck(changed=False)
        with self._guard("configuration"), session_scope(self.engine) as session:
            check = config_watch.check(session, self.watcher, now, force=force)
        if check.changed and check.ok:
            log.info("configuration applied: %s", "; ".join(check.synced) or "no change")
        elif check.changed:
            log.error("configuration refused (%d error(s)), still running on the last good one;"
                      " %d alert(s) queued to the admins", len(check.errors), check.alerts)
        return check

    def once(self) -> SweepCounts:
        """Everything one sweep of each kind does, in the order that sends a digest queued now: for
        `tracker run --once` (cron) and tests."""
        self.config()
        now = self.clock()
        counts = SweepCounts()
        with session_scope(self.engine) as session:
            planned = plan.plan(session, now, grace_days=self.options.grace_days)
        queued = self._digests(now)
        counts.planned, counts.skipped, counts.cancelled = planned.created, planned.skipped, planned.cancelled
        counts.materialised = planned.materialised
        counts.digests = queued.created
        self._dispatch(now, counts)
        log.info("sweep at %s: %s", _local(now), counts.line())
        return counts

    # ---------------------------------------------------------------- helpers

    def _dispatch(self, now: datetime, counts: SweepCounts) -> None:
        result = dispatch.run_once(self.engine, now, self.notifiers, self.owner, should_stop=self.stopping.is_set)
        counts.sent = result.statuses["sent"]
        counts.failed = result.statuses["failed"] + result.statuses["dead"]
        counts.retrying = result.statuses["pending"]
        counts.skipped += result.statuses["skipped"]

    def _guard(self, what: str) -> _Guard:
        return _Guard(what, self.settings)


class _Guard:
    """Logs a failed sweep on one line with secrets masked, instead of letting APScheduler print a
    traceback that may carry a database URL or a token."""

    def __init__(self, what: str, settings: Settings) -> None:
        self.what = what
        self.settings = settings

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False
        known = database_error(exc, self.settings.database_url)
        what = str(known) if known is not None else f"{type(exc).__name__}: {exc}"
        log.error("%s sweep failed, will retry at its next turn: %s", self.what,
                  mask_text(" ".join(what.split()), self.settings))  # one line: no SQL, no traceback
        return True


def mask_text(text: str, settings: Settings) -> str:
    secrets = [settings.line_token, settings.smtp_password, settings.secret(settings.webhook_secret_env)]
    return mask_secrets(text, secrets)


class MaskingFilter(logging.Filter):
    """Scrubs the configured secrets from every log record, whoever logs it."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message, self.settings)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def _local(now: datetime) -> str:
    return now.astimezone(BANGKOK).strftime("%Y-%m-%d %H:%M%z")


def build_scheduler(service: Service) -> BlockingScheduler:
    """The four fixed sweeps; each starts at once, then runs at its interval."""
    opts = service.options
    scheduler = BlockingScheduler(
        timezone=TIMEZONE,
        jobstores={"default": MemoryJobStore()},  # explicit: the database is the schedule, not a job store
        executors={"default": ThreadPoolExecutor(max_workers=4)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": opts.misfire_grace_seconds},
    )
    first = datetime.now(BANGKOK)
    for func, seconds, name in ((service.config, opts.config_every_seconds, "config"),
                                (service.reminders, opts.every_seconds, "reminders"),
                                (service.digests, opts.digest_every_seconds, "digests"),
                                (service.evidence, opts.evidence_every_seconds, "evidence")):
        scheduler.add_job(func, IntervalTrigger(seconds=seconds, timezone=TIMEZONE), id=name, name=name,
                          next_run_time=first)
    return scheduler


def run_forever(service: Service, scheduler: BlockingScheduler) -> None:
    """Block until SIGTERM or SIGINT, then stop cleanly: no new sweep starts, the dispatcher stops
    claiming, and the sweeps in flight finish (a send in progress completes and is recorded, or its
    lease is released) before this returns."""

    stoppers: list[threading.Thread] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        if service.stopping.is_set():
            return
        log.info("%s received: finishing the sends in flight, then stopping", signal.Signals(signum).name)
        service.stopping.set()
        # Shut down from a thread, never here: the signal interrupts the main thread wherever it is, and
        # inside APScheduler submitting a sweep it holds the thread pool's lock, which a shutdown run in
        # this handler then waited for for ever (`tracker run` stopped while starting hung).
        stopper = threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, name="stop")
        stoppers.append(stopper)
        stopper.start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        scheduler.start()
    finally:
        for stopper in stoppers:  # the sweeps in flight finish before this returns
            stopper.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("stopped")
