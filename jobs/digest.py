"""The monthly digest sweep: on the first working day of a month, from a configurable hour (Bangkok),
one digest per executive per destination, queued in the outbox for the dispatcher to send.

Idempotent per (organisation, month, recipient, destination) through the outbox's unique key: the sweep
may run every few minutes, in two processes at once, or again after a restart, and each executive still
gets one digest. After downtime the digest is still sent on the following working days, within the grace
period; later than that, a "monthly" digest would arrive when the next one is nearly due.
"""

from __future__ import annotations

import gc
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

from sqlalchemy import Engine, Text, cast, select
from sqlalchemy.orm import Session

from jobs.batch_workers import run_batches
from jobs.plan_context import calendar_from_text
from tracker.domain.digest import BrokenEvidence, Digest, build_digest, digest_day
from tracker.domain.model import Action, Organisation
from tracker.domain.rules import Occurrence
from tracker.domain.thaidate import BANGKOK, fiscal_year
from tracker.domain.workdays import WorkCalendar
from tracker.messages.digest import RenderedDigest, render_digest
from tracker.store.db import session_scope
from tracker.store.evidence import BrokenLink, broken_links, broken_links_of
from tracker.store.models import OrganisationRow
from tracker.store.org_bulk import actions_of, executives, load_organisations, occurrences_of
from tracker.store.outbox import NewMessage, destination_hash, enqueue, existing_keys, natural_key
from tracker.store.repo import (
    ensure_occurrences,
    list_actions,
    load_organisation,
    org_row,
    refresh_done,
    stored_occurrences,
)
from tracker.store.rollover import materialise, missing_year

DEFAULT_HOUR = time(9, 0)
DEFAULT_GRACE_DAYS = 3
DIGEST_BATCH = 200  # organisations per transaction of the service's sweep (~1 s of work on SQLite)
KEYS_PER_QUERY = 500  # bounded IN lists when looking up what is queued


ORGS_NAMED = 3  # organisations named in the sweep's log line; the others are counted


@dataclass
class DigestResult:
    created: int = 0
    already_queued: int = 0
    orgs: list[str] = field(default_factory=list)  # organisations whose digest was due at `now`
    workers: int = 1  # processes that composed the digests (`jobs.batch_workers`)

    def line(self) -> str:
        """What the sweep did, for its one log line: counts, and the first few organisations whose digest
        was due (the national sweep's 7,850 codes made a line of 70 kB that nobody could read)."""
        text = f"queued {self.created:,}, already queued {self.already_queued:,}"
        if not self.orgs:
            return text
        named = ", ".join(self.orgs[:ORGS_NAMED])
        more = f" and {len(self.orgs) - ORGS_NAMED:,} more" if len(self.orgs) > ORGS_NAMED else ""
        plural = "s" if len(self.orgs) > 1 else ""
        workers = f"; composed in {self.workers} processes" if self.workers > 1 else ""
        return f"{text}; due for {len(self.orgs):,} organisation{plural} ({named}{more}){workers}"


@dataclass(frozen=True)
class ComposedDigest:
    digest: Digest
    rendered: RenderedDigest
    messages: tuple[NewMessage, ...]


def is_due(calendar: WorkCalendar, local: datetime, hour: time, grace_days: int) -> bool:
    """Whether `local` (Bangkok) is a time to send this month's digest: from `hour` on its digest day,
    or on a later working day within `grace_days` (catch-up after downtime)."""
    day = digest_day(calendar, local.year, local.month)
    today = local.date()
    if not day <= today <= day + timedelta(days=grace_days):
        return False
    return calendar.is_working_day(today) and local.time() >= hour


def month_key(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def recipients(org: Organisation) -> list[tuple[str, str]]:
    """(executive, destination) pairs: an executive on LINE and mail gets the digest on both."""
    return [(ex.name, dest) for ex in org.executives for dest in ex.destinations]


def digest_key(org: str, year: int, month: int, recipient: str, destination: str) -> str:
    # A webhook URL may embed a token: keys carry a hash of the destination, never the destination.
    return natural_key("digest", org, month_key(year, month), recipient, destination_hash(destination))


def compose(session: Session, code: str, year: int, month: int, today: date, now: datetime,
            base_url: str | None = None) -> ComposedDigest:
    """Build and render the digest of (`year`, `month`) as it stands on `today`, with one outbox message
    per executive destination (not inserted: see `enqueue`). With the web app's `base_url`, the digest
    links to the organisation's board."""
    org = load_organisation(session, code)
    org_id = org_row(session, code).id
    fy = fiscal_year(today)
    if ensure_occurrences(session, org_id, org, fy):
        refresh_done(session, org_id)
    # The previous fiscal year too: what is still overdue from it belongs in the digest.
    occurrences = stored_occurrences(session, code, fy - 1) + stored_occurrences(session, code, fy)
    actions = [s.action for s in list_actions(session, code)]
    return _compose(org_id, org, occurrences, actions, broken_links(session, org_id), year, month, today, now,
                    base_url)


def compose_many(session: Session, codes: Sequence[str], year: int, month: int, today: date, now: datetime,
                 base_url: str | None = None, missing: Collection[str] = ()) -> list[ComposedDigest]:
    """`compose` for each organisation of `codes`, read together (`tracker.store.org_bulk`). `missing`:
    those with no occurrence of `today`'s fiscal year yet, materialised first (as `compose` would)."""
    fy = fiscal_year(today)
    materialise(session, fy, [code for code in codes if code in missing])
    orgs = load_organisations(session, codes)
    ids = [org_id for org_id, _ in orgs.values()]
    occurrences, actions = occurrences_of(session, ids, [fy - 1, fy]), actions_of(session, ids)
    broken = broken_links_of(session, ids)
    return [_compose(org_id, org, occurrences.get(org_id, []), actions.get(org_id, []), broken.get(org_id, []),
                     year, month, today, now, base_url)
            for org_id, org in (orgs[code] for code in codes if code in orgs)]


def _compose(org_id: int, org: Organisation, occurrences: Sequence[Occurrence], actions: Sequence[Action],
             broken: Sequence[BrokenLink], year: int, month: int, today: date, now: datetime,
             base_url: str | None) -> ComposedDigest:
    code = org.code
    digest = replace(build_digest(org, occurrences, actions, year, month, today), broken_evidence=tuple(
        BrokenEvidence(b.obligation, b.title, b.unit_name, b.url, b.since.astimezone(BANGKOK).date(), b.error)
        for b in broken))
    rendered = render_digest(digest, org.language, board_url=f"{base_url}/o/{code}" if base_url else None)
    messages = tuple(
        NewMessage(key=digest_key(org.code, year, month, name, dest), kind="digest", org_id=org_id,
                   recipient=name, destination=dest, subject=rendered.subject, text=rendered.text,
                   html=rendered.html, line_text=rendered.line_text, send_after=now, lang=org.language,
                   stage="digest")
        for name, dest in recipients(org)
    )
    return ComposedDigest(digest, rendered, messages)


def _calendars(session: Session, org: str | None) -> list[tuple[str, WorkCalendar]]:
    """Each organisation's calendar from its closures alone: deciding that today is not a digest day
    (29 days out of 30) must not cost a full `load_organisation`. Calendars are shared by closures (most
    organisations have none of their own)."""
    query = select(OrganisationRow.code, cast(OrganisationRow.closures, Text)).order_by(OrganisationRow.code)
    if org is not None:
        query = query.where(OrganisationRow.code == org)
    return [(code, calendar_from_text(closures)) for code, closures in session.execute(query)]


def run_once(session: Session, now: datetime, org: str | None = None, *, hour: time = DEFAULT_HOUR,
             grace_days: int = DEFAULT_GRACE_DAYS, base_url: str | None = None) -> DigestResult:
    """Queue the digests due at `now` (aware), in the caller's transaction. Safe to call as often as you
    like. The service uses `run_each`, which does the same one organisation per transaction."""
    local = now.astimezone(BANGKOK)
    result = DigestResult()
    for code, calendar in _calendars(session, org):
        if is_due(calendar, local, hour, grace_days):
            _queue(session, code, now, result, base_url)
    return result


def run_each(engine: Engine, now: datetime, org: str | None = None, *, hour: time = DEFAULT_HOUR,
             grace_days: int = DEFAULT_GRACE_DAYS, base_url: str | None = None,
             batch: int | None = None, workers: int = 1, lock_timeout: float = 30.0) -> DigestResult:
    """As `run_once`, in short transactions of `batch` (DIGEST_BATCH) organisations each: on SQLite a write transaction
    locks the whole database, and one held across 7,850 organisations (minutes) made every other writer
    (the reminder sweep, `tracker log`) fail with "database is locked". What is queued already is found
    in a few reads first: the sweep every 15 minutes of a digest day writes nothing once all are queued.
    With `workers` above 1, a sweep of many batches runs them in that many processes
    (`jobs.batch_workers`; `lock_timeout`: their SQLite busy timeout)."""
    local = now.astimezone(BANGKOK)
    result = DigestResult()
    with session_scope(engine) as session:
        result.orgs = [code for code, calendar in _calendars(session, org) if is_due(calendar, local, hour, grace_days)]
        wanted = _unqueued(session, result.orgs, local, result)
        missing = {code for _, code in missing_year(session, fiscal_year(local.date()), org)} if wanted else set()
    size = batch or DIGEST_BATCH
    job = DigestJob(local.year, local.month, local.date(), now, base_url, frozenset(missing))
    batches = [tuple(wanted[start:start + size]) for start in range(0, len(wanted), size)]
    counts, result.workers = run_batches(engine, queue_batch, batches, job, workers, lock_timeout)
    for created, offered in counts:
        result.created += created
        result.already_queued += offered - created
    return result


@dataclass(frozen=True)
class DigestJob:
    """What every batch of one sweep shares (picklable: it goes to worker processes)."""

    year: int
    month: int
    today: date
    now: datetime
    base_url: str | None
    missing: frozenset[str]  # organisations with no occurrence of `today`'s fiscal year yet


def queue_batch(engine: Engine, codes: Sequence[str], job: DigestJob) -> tuple[int, int]:
    """Compose and queue the digests of the organisations `codes`, in one transaction; returns (messages
    queued, messages offered): the difference was queued already, by another process."""
    with _collector_paused(), session_scope(engine) as session:
        composed = compose_many(session, codes, job.year, job.month, job.today, job.now, job.base_url, job.missing)
        messages = [message for digest in composed for message in digest.messages]
        return enqueue(session, messages, job.now), len(messages)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off for one batch (about a second), then back as it was: a batch makes
    hundreds of thousands of small objects that live until it ends, and the collector walked them (and
    every module's objects) again and again, 15 % of queuing. Nothing is leaked: reference counting
    still frees as usual, and the few cycles a batch leaves are collected once it is back on."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _unqueued(session: Session, codes: Sequence[str], local: datetime, result: DigestResult) -> list[str]:
    """Those of `codes` with an executive's digest of `local`'s month not queued yet, in order; the
    executives of the others are counted in `result.already_queued`."""
    keys: dict[str, list[str]] = {code: [] for code in codes}
    for code, name, destinations in executives(session):
        if code in keys:
            keys[code].extend(digest_key(code, local.year, local.month, name, dest) for dest in destinations)
    everything = [key for code_keys in keys.values() for key in code_keys]
    queued: set[str] = set()
    for start in range(0, len(everything), KEYS_PER_QUERY):
        queued |= existing_keys(session, everything[start:start + KEYS_PER_QUERY])
    wanted = []
    for code, code_keys in keys.items():
        if queued >= set(code_keys):  # rendering costs more than the lookup: skip it when all have theirs
            result.already_queued += len(code_keys)
        else:
            wanted.append(code)
    return wanted


def _queue(session: Session, code: str, now: datetime, result: DigestResult, base_url: str | None = None) -> None:
    """Queue organisation `code`'s digest of `now`'s month to each executive who has not got it yet."""
    local = now.astimezone(BANGKOK)
    result.orgs.append(code)
    organisation = load_organisation(session, code)
    keys = [digest_key(code, local.year, local.month, name, dest) for name, dest in recipients(organisation)]
    queued = existing_keys(session, keys)
    if queued >= set(keys):
        # Rendering costs more than the lookup: skip it when every executive already has theirs.
        result.already_queued += len(keys)
        return
    composed = compose(session, code, local.year, local.month, local.date(), now, base_url)
    created = enqueue(session, composed.messages, now)
    result.created += created
    result.already_queued += len(composed.messages) - created
