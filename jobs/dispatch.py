"""Dispatch the outbox: claim due messages with a lease, send them concurrently, record every attempt.

The pipeline keeps the network busy: while worker threads send one batch, the main thread claims and
renders the next, then records the finished batch. Each message is sent with its natural key, which the
notifiers turn into the provider's idempotency key (LINE's `X-Line-Retry-Key`): a dispatcher that dies
between sending and recording leaves a leased row whose lease expires; the next run sends it again with
the same key, LINE answers 409 ("already accepted"), and the message is delivered exactly once.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine, Text, cast, select
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from jobs.bundle import Bundle, bundles, expand
from jobs.line_destinations import resolve_connected
from jobs.line_webhook import CHANNEL_SECRET_ENV
from jobs.outcomes import Outcome, attempt_of, destination_refused, message_of
from jobs.plan_context import calendar_from_text, policy_from_text
from jobs.ratelimit import ChannelLimits
from jobs.render_outbox import render_missing
from notifiers.base import DeliveryError, OutgoingMessage, Receipt
from notifiers.registry import route_to_outbox, scheme_of
from tracker.domain.thaidate import BANGKOK
from tracker.store import outbox_claims
from tracker.store.models import OrganisationRow
from tracker.store.outbox import cancel_done
from tracker.store.outbox_bundles import claim_companions
from tracker.store.outbox_claims import Claimed

MAX_ATTEMPTS = 8


class Sender(Protocol):
    """What the dispatcher needs from `notifiers.registry.Notifiers` (tests may pass a recorder)."""

    settings: Settings

    def send(self, destination: str, message: OutgoingMessage) -> Receipt: ...


@dataclass
class DispatchResult:
    claimed: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    closed_orgs: int = 0  # organisations outside their sending hours (their messages wait)

    @property
    def sent(self) -> int:
        return self.statuses["sent"]


def open_org_ids(session: Session, now: datetime, org: str | None = None) -> tuple[list[int] | None, int]:
    """Organisations (all, or the one named) inside their sending hours on a working day at `now`:
    (their ids, or None when every organisation is open; how many are closed)."""
    local = now.astimezone(BANGKOK)
    open_ids, closed = [], 0
    query = select(OrganisationRow.id, cast(OrganisationRow.policy, Text), cast(OrganisationRow.closures, Text))
    rows = session.execute(query if org is None else query.where(OrganisationRow.code == org))
    for org_id, policy_text, closures in rows:
        policy = policy_from_text(policy_text)
        calendar = calendar_from_text(closures)
        if calendar.is_working_day(local.date()) and policy.send_from <= local.time() < policy.send_until:
            open_ids.append(org_id)
        else:
            closed += 1
    return (None if closed == 0 and org is None else open_ids), closed


def send_one(sender: Sender, limits: ChannelLimits, claimed: Claimed, clock: Callable[[], datetime],
             after_send: Callable[[Claimed], None] | None, message: OutgoingMessage | None = None) -> Outcome:
    """Send one message (in a worker thread; `message` when it is not just the claimed row's texts, e.g. a
    bundle with its items). Never raises: every failure becomes a typed outcome."""
    started = time.monotonic()
    receipt: Receipt | None = None
    error: DeliveryError | None = None
    try:
        target = route_to_outbox(claimed.destination, sender.settings)
        limits.acquire(scheme_of(target))
        started = time.monotonic()
        receipt = sender.send(target, message if message is not None else message_of(claimed))
    except DeliveryError as exc:
        error = exc
    except ValueError as exc:  # an unknown scheme or malformed destination: sending again cannot help
        error = DeliveryError(str(exc), permanent=True)
    except Exception as exc:  # a bug or an unforeseen library error: retry, and keep the type for the log
        error = DeliveryError(f"unexpected {type(exc).__name__} while sending", permanent=False)
    if receipt is not None and after_send is not None:
        after_send(claimed)
    return Outcome(claimed, clock(), int((time.monotonic() - started) * 1000), receipt, error)


def run_once(engine: Engine, now: datetime, notifiers: Sender, owner: str, *, lease_seconds: float = 300,
             batch: int = 200, concurrency: int = 16, rate_limits: Mapping[str, float] | None = None,
             max_attempts: int = MAX_ATTEMPTS, rng: random.Random | None = None,
             after_send: Callable[[Claimed], None] | None = None, org: str | None = None,
             should_stop: Callable[[], bool] | None = None) -> DispatchResult:
    """Send every message due at `now` whose organisation is inside its sending hours.

    `org` limits sending to one organisation. `owner` names this dispatcher in leases (unique per
    process). `rate_limits` maps URL schemes to messages per second. `after_send` runs in the worker
    right after a successful send (a test hook). When `should_stop()` turns true (SIGTERM), no new batch is
    claimed: the sends in flight finish and are recorded, and what is not yet claimed waits for the next run.
    """
    factory = sessionmaker(engine, expire_on_commit=False)
    limits = ChannelLimits(rate_limits)
    rng = rng or random.Random()
    started = time.monotonic()

    def clock() -> datetime:  # `now` advanced by the real time this run has taken
        return now + timedelta(seconds=time.monotonic() - started)

    result = DispatchResult()
    with factory.begin() as session:
        cancel_done(session, now.astimezone(BANGKOK).date())
        org_ids, result.closed_orgs = open_org_ids(session, now, org)
    if org_ids == []:
        return result
    in_flight: list[tuple[Future[Outcome], Bundle]] = []
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="dispatch") as pool:
        while True:
            stopping = should_stop is not None and should_stop()
            taken, claimed = (0, []) if stopping else _claim_batch(factory, notifiers.settings, owner, clock(),
                                                                   lease_seconds, batch, org_ids)
            result.claimed += taken
            # set aside: to destinations marked broken, LINE chats not connected
            result.statuses["skipped"] += taken - sum(len(b.members) for b in claimed)
            recorded = bool(in_flight)
            if in_flight:
                outcomes = [o for f, b in in_flight for o in expand(f.result(), b)]
                with factory.begin() as session:
                    result.statuses.update(record(session, outcomes, owner, max_attempts, rng).values())
            if not taken and not recorded:  # recording may have queued alerts: look once more
                break
            in_flight = [(pool.submit(send_one, notifiers, limits, b.lead, clock, after_send, b.message), b)
                         for b in claimed]
    return result


def _claim_batch(factory: sessionmaker[Session], settings: Settings, owner: str, now: datetime,
                 lease_seconds: float, batch: int, org_ids: list[int] | None) -> tuple[int, list[Bundle]]:
    """Claim, render and load one batch, widened to whole bundles: (rows claimed, messages to send)."""
    with factory.begin() as session:
        ids = outbox_claims.claim(session, owner, now, lease_seconds, batch, org_ids)
        if ids:
            ids += claim_companions(session, owner, now, lease_seconds, ids)
    if not ids:
        return 0, []
    with factory.begin() as session:
        render_missing(session, ids)
        loaded = resolve_connected(session, outbox_claims.load(session, ids, owner), owner)
        secret = settings.secret(CHANNEL_SECRET_ENV)
        kept = outbox_claims.skip_broken(session, loaded, owner)
        return len(ids), bundles(session, kept, owner, now.astimezone(BANGKOK).date(),
                                 secret.reveal() if secret else None)


def record(session: Session, outcomes: list[Outcome], owner: str, max_attempts: int,
           rng: random.Random) -> dict[int, str]:
    """Record a finished batch; a destination that refused for good is marked broken and its admins told."""
    statuses = outbox_claims.record(session, [attempt_of(o, max_attempts, rng) for o in outcomes], owner)
    for o in outcomes:
        if statuses[o.claimed.id] == "failed":
            destination_refused(session, o)
    return statuses
