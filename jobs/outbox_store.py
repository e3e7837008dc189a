"""The dispatcher's side of the outbox: claim with a lease, load, record attempts and outcomes.

A claim is one conditional `UPDATE … RETURNING`: rows that are pending and due, or leased with an
expired lease (a dispatcher died mid-send), become leased by `owner` until `lease_until`. PostgreSQL
selects them `FOR UPDATE SKIP LOCKED`, so concurrent dispatchers take disjoint rows without waiting;
SQLite serialises writers, so its UPDATE is atomic by itself.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from jobs.enqueue import NewMessage, enqueue, natural_key
from notifiers.base import DeliveryError, OutgoingMessage, Receipt, mask_destination
from tracker.messages.render import render_alert
from tracker.store.models import ContactRow, DeliveryAttemptRow, DestinationHealthRow, OrganisationRow, OutboxRow

BACKOFF_BASE_SECONDS = 60.0
BACKOFF_CAP_SECONDS = 6 * 3600.0


@dataclass(frozen=True)
class Claimed:
    id: int
    key: str
    kind: str
    org_id: int
    recipient: str
    destination: str
    attempts: int
    message: OutgoingMessage


@dataclass(frozen=True)
class Outcome:
    claimed: Claimed
    at: datetime
    duration_ms: int
    receipt: Receipt | None = None
    error: DeliveryError | None = None


def claimable(now: datetime) -> Any:
    return or_(and_(OutboxRow.status == "pending", OutboxRow.next_attempt_at <= now),
               and_(OutboxRow.status == "leased", OutboxRow.lease_until < now))


def claim(session: Session, owner: str, now: datetime, lease_seconds: float, batch: int,
          org_ids: Sequence[int] | None = None) -> list[int]:
    """Lease up to `batch` due rows to `owner`; returns their ids. `org_ids` limits the organisations
    (those inside their sending hours); None means all."""
    pick = select(OutboxRow.id).where(claimable(now)).order_by(OutboxRow.next_attempt_at, OutboxRow.id).limit(batch)
    if org_ids is not None:
        pick = pick.where(OutboxRow.org_id.in_(list(org_ids)))
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    stmt = (update(OutboxRow)
            .where(OutboxRow.id.in_(pick.scalar_subquery()), claimable(now))
            .values(status="leased", lease_owner=owner, lease_until=now + timedelta(seconds=lease_seconds),
                    attempts=OutboxRow.attempts + 1)
            .returning(OutboxRow.id)
            .execution_options(synchronize_session=False))
    return list(session.execute(stmt).scalars())


def load(session: Session, ids: Sequence[int], owner: str) -> list[Claimed]:
    rows = session.execute(select(OutboxRow).where(OutboxRow.id.in_(list(ids)), OutboxRow.lease_owner == owner)
                           .order_by(OutboxRow.id)).scalars()
    return [
        Claimed(r.id, r.key, r.kind, r.org_id, r.recipient, r.destination, r.attempts,
                OutgoingMessage(r.key, r.subject or "", r.text or "", r.html, r.line_text, r.lang))
        for r in rows
    ]


def skip_broken(session: Session, claimed: list[Claimed], owner: str) -> list[Claimed]:
    """Set aside messages to destinations marked broken; returns the others."""
    pairs = {(c.org_id, c.destination) for c in claimed}
    broken = {(h.org_id, h.url): h for h in session.scalars(select(DestinationHealthRow).where(
        DestinationHealthRow.url.in_({url for _, url in pairs})))}
    keep = []
    for c in claimed:
        health = broken.get((c.org_id, c.destination))
        if health is None:
            keep.append(c)
            continue
        session.execute(update(OutboxRow).where(OutboxRow.id == c.id, OutboxRow.lease_owner == owner).values(
            status="skipped", lease_owner=None, lease_until=None,
            skip_reason=f"destination broken since {health.broken_at.isoformat()}: {health.reason}"))
    return keep


def backoff_seconds(attempts: int, retry_after: float | None, rng: random.Random) -> float:
    """Capped exponential backoff with jitter (half to all of the step), never sooner than Retry-After."""
    step = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return float(max(step * rng.uniform(0.5, 1.0), retry_after or 0.0))


def _result_values(o: Outcome, max_attempts: int, rng: random.Random) -> dict[str, Any]:
    values: dict[str, Any] = {"b_id": o.claimed.id, "sent_at": None, "provider_message_id": None,
                              "last_error": None, "next_attempt_at": o.at}
    if o.receipt is not None:
        return values | {"status": "sent", "sent_at": o.at, "provider_message_id": o.receipt.provider_message_id}
    assert o.error is not None
    values["last_error"] = o.error.reason
    if o.error.permanent:
        return values | {"status": "failed"}
    if o.claimed.attempts >= max_attempts:
        return values | {"status": "dead"}
    delay = backoff_seconds(o.claimed.attempts, o.error.retry_after, rng)
    return values | {"status": "pending", "next_attempt_at": o.at + timedelta(seconds=delay)}


def record(session: Session, outcomes: Sequence[Outcome], owner: str, max_attempts: int,
           rng: random.Random) -> dict[str, str]:
    """Record every attempt and each message's new state; returns {outbox id → status}."""
    if not outcomes:
        return {}
    session.execute(cast(Table, DeliveryAttemptRow.__table__).insert(), [{
        "outbox_id": o.claimed.id, "at": o.at, "duration_ms": o.duration_ms,
        "outcome": "sent" if o.receipt else ("permanent" if o.error and o.error.permanent else "temporary"),
        "provider_status": (o.receipt.provider_status if o.receipt else o.error.provider_status if o.error else None),
        "provider_message_id": o.receipt.provider_message_id if o.receipt else None,
        "error": o.error.reason if o.error else None,
    } for o in outcomes])
    values = [_result_values(o, max_attempts, rng) for o in outcomes]
    table = cast(Table, OutboxRow.__table__)
    stmt = (update(table).where(table.c.id == bindparam("b_id"), table.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None))
    session.connection().execute(stmt, values)
    for o, v in zip(outcomes, values, strict=True):
        if v["status"] == "failed":
            mark_broken(session, o)
    return {str(v["b_id"]): v["status"] for v in values}


def _digest(text: str) -> str:
    # Webhook URLs may embed a token: keys carry a hash of a destination, never the destination.
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def mark_broken(session: Session, o: Outcome) -> None:
    """Remember the broken destination and tell the organisation's admins (never about an alert itself)."""
    assert o.error is not None
    exists = session.scalar(select(DestinationHealthRow.id).where(
        DestinationHealthRow.org_id == o.claimed.org_id, DestinationHealthRow.url == o.claimed.destination))
    if exists is None:
        session.add(DestinationHealthRow(org_id=o.claimed.org_id, url=o.claimed.destination, broken_at=o.at,
                                         reason=o.error.reason))
        session.flush()
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
