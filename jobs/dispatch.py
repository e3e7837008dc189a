"""Dispatch the outbox: claim due messages with a lease, send them concurrently, record every attempt.

The pipeline keeps the network busy: while worker threads send, the main thread claims and renders the
next rows, records each result as it completes and renews the leases of the rows still in flight.
Each message is sent with its natural key, which the notifiers turn into the provider's idempotency key
(LINE's `X-Line-Retry-Key`): a dispatcher that dies between sending and recording leaves a leased row
whose lease expires; the next run sends it again with the same key, LINE answers 409 ("already
accepted"), and the message is delivered exactly once. E-mail and webhooks have no such key: for them
only the heartbeat and the per-result record keep a live dispatcher's rows from being sent twice, and a
worker sends a message only while its lease has at least the longest a send may take left (`LAPSED`
otherwise): a dispatcher whose heartbeat stalled (its main thread held up) lets the rows it has not sent
go to the next claim instead of racing the dispatcher that takes them.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine, Text, cast, select
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from jobs.bundle import Bundle, bundles, combined, expand
from jobs.channel_pause import ChannelPauses
from jobs.line_channels import channel_of, secret_of
from jobs.line_destinations import resolve_connected
from jobs.line_quota import QuotaGate
from jobs.outcomes import (
    CHANNEL_RETRY_SECONDS,
    Outcome,
    attempt_of,
    channel_failure,
    channel_paused,
    destination_refused,
    message_of,
)
from jobs.plan_context import calendar_from_text, policy_from_text
from jobs.ratelimit import ChannelLimits
from jobs.render_outbox import render_missing
from notifiers.base import CHANNEL, DeliveryError, OutgoingMessage, Receipt
from notifiers.registry import route_to_outbox, scheme_of
from tracker.domain.errors import SettingsError
from tracker.domain.model import LineChannel
from tracker.domain.thaidate import BANGKOK
from tracker.store import outbox_claims
from tracker.store.line_quota import own_channels
from tracker.store.links import ActionLinks
from tracker.store.models import OrganisationRow
from tracker.store.outbox import cancel_done
from tracker.store.outbox_bundles import claim_companions
from tracker.store.outbox_claims import Claimed
from tracker.store.outbox_wanted import cancel, unwanted_reason

MAX_ATTEMPTS = 8
log = logging.getLogger("tracker.dispatch")
LAPSED = "lease ran out before the send"  # `send_bundle`'s verdict on a member it no longer holds


class Sender(Protocol):
    """What the dispatcher needs from `notifiers.registry.Notifiers` (tests may pass a recorder). A sender
    that also has `line_quota(token_env)` (Notifiers does) gets LINE's monthly quota checked before pushes."""

    settings: Settings

    def send(self, destination: str, message: OutgoingMessage) -> Receipt: ...


@dataclass
class DispatchResult:
    claimed: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    closed_orgs: int = 0  # organisations outside their sending hours (their messages wait)
    lapsed: int = 0  # messages not sent because their lease ran out first (a stalled heartbeat); they wait

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


def send_bundle(sender: Sender, limits: ChannelLimits, bundle: Bundle, clock: Callable[[], datetime],
                after_send: Callable[[Claimed], None] | None, unwanted: Callable[[Claimed], str | None],
                pauses: ChannelPauses) -> list[Outcome]:
    """Send one bundle (in a worker thread), minus the members no longer wanted right now (their work was
    logged, or their recipient left the configuration, after the claim): those are cancelled, the others
    go out together; the outcome is recorded on each. Never raises."""
    reasons: dict[int, str | None] = {}
    for m in bundle.members:
        try:
            reasons[m.id] = unwanted(m)
        except Exception:  # the database is busy: sending what was claimed is the lesser harm
            reasons[m.id] = None
    dropped = [Outcome(m, clock(), 0, lapsed=True) if r == LAPSED else Outcome(m, clock(), 0, cancelled=r)
               for m in bundle.members if (r := reasons[m.id]) is not None]
    kept = [m for m in bundle.members if reasons[m.id] is None]
    if not kept:
        return dropped
    if len(kept) < len(bundle.members):  # the same bundle key, without the items no longer wanted
        items = tuple(i for m, i in zip(bundle.members, bundle.items, strict=True) if reasons[m.id] is None
                      ) if bundle.items else ()  # LINE bundles carry one item per member
        bundle = replace(bundle, lead=combined(kept, bundle.lead.key), members=tuple(kept), items=items)
    sent = send_one(sender, limits, bundle.lead, clock, after_send, bundle.message, pauses)
    return dropped + expand(sent, bundle)


def send_one(sender: Sender, limits: ChannelLimits, claimed: Claimed, clock: Callable[[], datetime],
             after_send: Callable[[Claimed], None] | None, message: OutgoingMessage | None = None,
             pauses: ChannelPauses | None = None) -> Outcome:
    """Send one message (in a worker thread; `message` when it is not just the claimed row's texts, e.g. a
    bundle with its items). Never raises: every failure becomes a typed outcome. A message of a channel
    paused in this run is not tried (`deferred`)."""
    started = time.monotonic()
    receipt: Receipt | None = None
    error: DeliveryError | None = None
    pauses = pauses or ChannelPauses()
    pause_key = ""
    try:
        token_env = message.line_token_env if message is not None else ""
        # An organisation's own LINE channel is paused by its own token, and never falls back to the outbox
        # folder: a missing token there is a channel failure naming the variable, its messages kept.
        target = claimed.destination if token_env else route_to_outbox(claimed.destination, sender.settings)
        pause_key = f"{scheme_of(target)}:{token_env}" if token_env else scheme_of(target)
        paused = pauses.reason(pause_key)
        if paused is not None:
            error = DeliveryError(f"channel paused: {paused}", permanent=False, scope=CHANNEL)
            return Outcome(claimed, clock(), 0, error=error, deferred=True)
        limits.acquire(scheme_of(target))
        started = time.monotonic()
        receipt = sender.send(target, message if message is not None else message_of(claimed))
    except DeliveryError as exc:
        error = exc
        if exc.scope == CHANNEL:
            pauses.pause(pause_key, exc.reason)
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

    A lease must never expire while this dispatcher still holds its message: e-mail and webhooks have no
    provider-side idempotency key, so a second dispatcher reclaiming a row in flight sends it twice. So
    each result is recorded as soon as its send completes, the leases of rows still in flight are renewed
    every third of a lease (a heartbeat), and no claim takes more than can be sent within one lease.
    """
    factory = sessionmaker(engine, expire_on_commit=False)
    limits = ChannelLimits(rate_limits)
    rng = rng or random.Random()
    started = time.monotonic()

    def clock() -> datetime:  # `now` advanced by the real time this run has taken
        return now + timedelta(seconds=time.monotonic() - started)

    # A send takes at most the timeout; a third of a lease is what the heartbeat's renewals always leave.
    fence = timedelta(seconds=min(notifiers.settings.http_timeout_seconds, lease_seconds / 3))

    def unwanted(claimed: Claimed) -> str | None:  # in the worker, right before the send
        with factory() as session:
            now = clock()
            if not outbox_claims.held(session, claimed.id, owner, now + fence):
                return LAPSED
            return unwanted_reason(session, claimed.id, now.astimezone(BANGKOK).date())

    result = DispatchResult()
    with factory.begin() as session:
        cancel_done(session, now.astimezone(BANGKOK).date())
        org_ids, result.closed_orgs = open_org_ids(session, now, org)
    if org_ids == []:
        return result
    workers = max(1, concurrency)
    pace = SendPace(workers, lease_seconds, notifiers.settings.http_timeout_seconds, rate_limits)
    in_flight: dict[Future[list[Outcome]], Bundle] = {}
    pauses = ChannelPauses()
    quota = QuotaGate(factory, notifiers.settings, owner, getattr(notifiers, "line_quota", None),
                      getattr(notifiers, "line_members", None))
    heartbeat = lease_seconds / 3
    renewed = time.monotonic()
    exhausted = False
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dispatch") as pool:
        while True:
            stopping = should_stop is not None and should_stop()
            if not stopping and not exhausted and len(in_flight) <= workers:  # keep the workers busy
                taken, claimed = _claim_batch(factory, notifiers.settings, owner, clock(), lease_seconds,
                                              pace.claim_size(batch), org_ids)
                result.claimed += taken
                # set aside: to destinations marked broken, LINE chats not connected
                result.statuses["skipped"] += taken - sum(len(b.members) for b in claimed)
                claimed, spent = quota.admit(claimed, clock())  # a LINE channel's monthly quota used up
                result.statuses.update(spent)
                exhausted = taken == 0
                for b in claimed:
                    in_flight[pool.submit(send_bundle, notifiers, limits, b, clock, after_send, unwanted, pauses)] = b
            if not in_flight:
                break
            done, _ = wait(list(in_flight), timeout=min(heartbeat, 1.0), return_when=FIRST_COMPLETED)
            if done:
                outcomes = [o for f in done for o in f.result()]
                for f in done:
                    del in_flight[f]
                pace.observe([o for o in outcomes if o.cancelled is None and not o.lapsed])
                result.lapsed += sum(o.lapsed for o in outcomes)
                with factory.begin() as session:
                    result.statuses.update(record(session, outcomes, owner, max_attempts, rng).values())
                quota.observe(outcomes, clock())
                exhausted = False  # recording may have queued alerts: look once more
            if in_flight and time.monotonic() - renewed >= heartbeat:
                with factory.begin() as session:
                    outbox_claims.renew(session, owner, [m.id for b in in_flight.values() for m in b.members],
                                        clock(), lease_seconds)
                renewed = time.monotonic()
    if result.lapsed:
        log.warning("%d message(s) not sent: their lease ran out before the send (this dispatcher was held up);"
                    " the next claim sends them", result.lapsed)
    return result


class SendPace:
    """How many rows one claim may take: no more than `workers` can send within half a lease at the
    pace observed so far (before any send, the HTTP timeout is assumed: the slowest a send may take),
    nor more than the slowest rate-limited channel allows in that time."""

    def __init__(self, workers: int, lease_seconds: float, timeout_seconds: float,
                 rate_limits: Mapping[str, float] | None) -> None:
        self.workers, self.window = workers, lease_seconds / 2
        self.seconds_per_send = max(0.001, timeout_seconds)
        rates = [r for r in (rate_limits or {}).values() if r > 0]
        self.rate_cap = int(min(rates) * self.window) if rates else None

    def observe(self, outcomes: list[Outcome]) -> None:
        if outcomes:
            slowest = max(o.duration_ms for o in outcomes) / 1000
            self.seconds_per_send = max(0.001, slowest)

    def claim_size(self, batch: int) -> int:
        fits = int(self.workers * self.window / self.seconds_per_send)
        if self.rate_cap is not None:
            fits = min(fits, self.rate_cap)
        return max(1, min(batch, fits))


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
        render_missing(session, ids, ActionLinks.from_settings(settings), now)
        loaded = resolve_connected(session, outbox_claims.load(session, ids, owner), owner)
        kept = outbox_claims.skip_broken(session, loaded, owner)
        owns = own_channels(session, {c.org_id for c in kept})
        lines = {org_id: channel_of(settings, own) for org_id, own in owns.items()}
        secrets = {org_id: _secret(settings, line) for org_id, line in lines.items()}
        made = bundles(session, kept, owner, now.astimezone(BANGKOK).date(), secrets)
        return len(ids), [replace(b, line=lines[b.lead.org_id]) if b.lead.destination.startswith("line:") else b
                          for b in made]


def _secret(settings: Settings, line: LineChannel) -> str | None:
    """The channel secret that signs postback data (None: buttons without postbacks), never raising: a
    `_FILE` that cannot be read must not stop the other channels' messages."""
    try:
        return secret_of(settings, line)
    except SettingsError:
        return None


def record(session: Session, outcomes: list[Outcome], owner: str, max_attempts: int,
           rng: random.Random) -> dict[int, str]:
    """Record finished sends; a destination that refused for good is marked broken and its admins told.
    A message found unwanted at send time is cancelled (no attempt: nothing was sent). A channel-wide
    failure leaves its messages pending, costs them no attempt, and tells the admins once a day."""
    outcomes = [o for o in outcomes if not o.lapsed]  # no longer ours: whoever holds them now records them
    statuses = {o.claimed.id: "cancelled" for o in outcomes
                if o.cancelled is not None and cancel(session, o.claimed.id, owner, o.cancelled)}
    for o in outcomes:
        if o.deferred and o.error is not None:
            until = o.at + timedelta(seconds=CHANNEL_RETRY_SECONDS)
            outbox_claims.defer(session, [o.claimed.id], owner, until, o.error.reason)
            statuses[o.claimed.id] = "pending"
    attempted = [o for o in outcomes if o.cancelled is None and not o.deferred]
    statuses.update(outbox_claims.record(session, [attempt_of(o, max_attempts, rng) for o in attempted], owner))
    outbox_claims.refund_attempts(session, [o.claimed.id for o in attempted if channel_failure(o)])
    told: set[tuple[int, str]] = set()
    for o in attempted:
        if statuses[o.claimed.id] == "failed":
            destination_refused(session, o)
        elif channel_failure(o) and (o.claimed.org_id, scheme_of(o.claimed.destination)) not in told:
            told.add((o.claimed.org_id, scheme_of(o.claimed.destination)))
            channel_paused(session, o, scheme_of(o.claimed.destination))
    return statuses
