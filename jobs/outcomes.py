"""What a send's outcome means for its message: sent, retried later with capped jittered backoff, given
up on, or refused for good, in which case the destination is marked broken and the organisation's admins
are told (once a day per destination, never about an alert itself).

The policy lives here, with the jobs; `tracker.store.outbox_claims` stores what it decides.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from notifiers.base import CHANNEL, DeliveryError, Receipt
from notifiers.registry import mask_destination
from tracker.messages.outgoing import OutgoingMessage
from tracker.messages.render import render_alert, render_channel_alert
from tracker.store.channel_state import CHANNEL_REFUSED
from tracker.store.models import ContactRow, OrganisationRow
from tracker.store.outbox import NewMessage, enqueue, natural_key
from tracker.store.outbox_claims import Attempt, Claimed, mark_broken

BACKOFF_BASE_SECONDS = 60.0
BACKOFF_CAP_SECONDS = 6 * 3600.0
CHANNEL_RETRY_SECONDS = 600.0  # a paused channel is tried again (by the next due message) after this


def channel_failure(o: Outcome) -> bool:
    return o.error is not None and o.error.scope == CHANNEL


@dataclass(frozen=True)
class Outcome:
    claimed: Claimed
    at: datetime
    duration_ms: int
    receipt: Receipt | None = None
    error: DeliveryError | None = None
    cancelled: str | None = None  # why it was not sent: no longer wanted at send time
    deferred: bool = False  # not sent: its channel was paused by an earlier failure in this run
    lapsed: bool = False  # not sent: its lease ran out (or was taken) before the send; left to the next claim


def message_of(claimed: Claimed) -> OutgoingMessage:
    return OutgoingMessage(claimed.key, claimed.subject, claimed.text, claimed.html, claimed.line_text, claimed.lang)


def backoff_seconds(attempts: int, retry_after: float | None, rng: random.Random) -> float:
    """Capped exponential backoff with jitter (half to all of the step), never sooner than Retry-After."""
    step = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return float(max(step * rng.uniform(0.5, 1.0), retry_after or 0.0))


def attempt_of(o: Outcome, max_attempts: int, rng: random.Random) -> Attempt:
    """The attempt to record and the message's next state."""
    if o.receipt is not None:
        return Attempt(o.claimed.id, o.at, o.duration_ms, "sent", "sent", o.at, o.receipt.provider_status,
                       o.receipt.provider_message_id)
    assert o.error is not None
    if channel_failure(o):  # the channel's fault, not this message's: pending, tried again when it resumes
        wait = max(CHANNEL_RETRY_SECONDS, o.error.retry_after or 0.0)
        return Attempt(o.claimed.id, o.at, o.duration_ms, CHANNEL_REFUSED, "pending", o.at + timedelta(seconds=wait),
                       o.error.provider_status, None, o.error.reason)
    outcome = "permanent" if o.error.permanent else "temporary"
    if o.error.permanent:
        status, next_at = "failed", o.at
    elif o.claimed.attempts >= max_attempts:
        status, next_at = "dead", o.at
    else:
        status = "pending"
        next_at = o.at + timedelta(seconds=backoff_seconds(o.claimed.attempts, o.error.retry_after, rng))
    return Attempt(o.claimed.id, o.at, o.duration_ms, outcome, status, next_at, o.error.provider_status,
                   None, o.error.reason)


def _digest(text: str) -> str:
    # Webhook URLs may embed a token: keys carry a hash of a destination, never the destination.
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def destination_refused(session: Session, o: Outcome) -> None:
    """Mark the destination broken and tell the organisation's admins (never about an alert itself)."""
    assert o.error is not None
    mark_broken(session, o.claimed.org_id, o.claimed.destination, o.at, o.error.reason)
    if o.claimed.kind == "alert":
        return
    org_name, lang = session.execute(select(OrganisationRow.name, OrganisationRow.language)
                                     .where(OrganisationRow.id == o.claimed.org_id)).one()
    rendered = render_alert(org_name, mask_destination(o.claimed.destination), o.claimed.recipient,
                            o.error.reason, lang)
    admins = session.execute(select(ContactRow.name, ContactRow.destinations).where(
        ContactRow.org_id == o.claimed.org_id, ContactRow.kind == "admin")).all()
    enqueue(session, [
        NewMessage(natural_key("alert", _digest(o.claimed.destination), o.at.date().isoformat(), _digest(dest)),
                   "alert", o.claimed.org_id, name, dest,
                   rendered.subject, rendered.text, o.at, rendered.html, rendered.line_text, lang, "alert")
        for name, dests in admins for dest in dests if dest != o.claimed.destination
    ], o.at)


def channel_paused(session: Session, o: Outcome, scheme: str) -> None:
    """Tell the organisation's admins, through their other channels, that `scheme` is paused for all
    its recipients (once a day per channel: the alert's key holds the channel and the date)."""
    assert o.error is not None
    org_name, lang = session.execute(select(OrganisationRow.name, OrganisationRow.language)
                                     .where(OrganisationRow.id == o.claimed.org_id)).one()
    rendered = render_channel_alert(org_name, scheme, o.error.reason, lang)
    admins = session.execute(select(ContactRow.name, ContactRow.destinations).where(
        ContactRow.org_id == o.claimed.org_id, ContactRow.kind == "admin")).all()
    enqueue(session, [
        NewMessage(natural_key("alert", "channel", scheme, o.at.date().isoformat(), _digest(dest)),
                   "alert", o.claimed.org_id, name, dest,
                   rendered.subject, rendered.text, o.at, rendered.html, rendered.line_text, lang, "alert")
        for name, dests in admins for dest in dests if not str(dest).startswith(f"{scheme}:")
    ], o.at)
