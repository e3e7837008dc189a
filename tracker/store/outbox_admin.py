"""What people do with the outbox by hand: retry a message, see each destination's delivery health.

`tracker outbox retry ID` and the admin page call the same `retry_message`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.domain.errors import NotFoundError, TrackerError
from tracker.store.models import ContactRow, DestinationHealthRow, ObligationRow, OccurrenceRow, OutboxRow
from tracker.store.outbox_keys import of_occurrences

RETRYABLE = ("failed", "dead", "skipped", "cancelled")


def retry_message(session: Session, outbox_id: int, org_id: int | None = None) -> OutboxRow:
    """Queue a failed, dead, skipped or cancelled message again and clear its destination's broken mark.
    `org_id` limits it to one organisation's messages (the web's scope)."""
    row = session.get(OutboxRow, outbox_id)
    if row is None or (org_id is not None and row.org_id != org_id):
        raise NotFoundError(f"no outbox message {outbox_id}")
    if row.status not in RETRYABLE:
        raise TrackerError(f"message {outbox_id} is {row.status}; only {', '.join(RETRYABLE)} messages can be"
                           " retried (a sent message is never sent twice)")
    # Due again from its original send time: the next dispatch (whatever clock it runs on) takes it.
    row.status, row.attempts, row.next_attempt_at = "pending", 0, row.send_after
    row.lease_owner = row.lease_until = row.skip_reason = None
    health = session.scalar(select(DestinationHealthRow).where(
        DestinationHealthRow.org_id == row.org_id, DestinationHealthRow.url == row.destination))
    if health is not None:
        session.delete(health)
    return row


@dataclass(frozen=True)
class DestinationHealth:
    contact: str
    kind: str  # unit | executive | admin
    unit: str | None
    role: str
    destination: str  # unmasked: mask before showing
    broken_at: datetime | None
    broken_reason: str
    sent: int
    failed: int  # failed + dead
    last_sent_at: datetime | None


def contact_health(session: Session, org_id: int) -> list[DestinationHealth]:
    """Every contact's destinations with what the outbox knows about them."""
    broken = {h.url: h for h in session.scalars(select(DestinationHealthRow).where(
        DestinationHealthRow.org_id == org_id))}
    counts: dict[tuple[str, str], int] = {}
    last: dict[str, datetime] = {}
    query = (select(OutboxRow.destination, OutboxRow.status, func.count(), func.max(OutboxRow.sent_at))
             .where(OutboxRow.org_id == org_id).group_by(OutboxRow.destination, OutboxRow.status))
    for destination, status, n, sent_at in session.execute(query):
        counts[(destination, status)] = n
        if status == "sent" and sent_at is not None:
            last[destination] = sent_at
    out = []
    for c in session.scalars(select(ContactRow).where(ContactRow.org_id == org_id).order_by(ContactRow.position)):
        for dest in c.destinations:
            h = broken.get(dest)
            out.append(DestinationHealth(
                c.name, c.kind, c.unit_code, c.role, dest, h.broken_at if h else None, h.reason if h else "",
                counts.get((dest, "sent"), 0), counts.get((dest, "failed"), 0) + counts.get((dest, "dead"), 0),
                last.get(dest)))
    return out


@dataclass(frozen=True)
class ListedMessage:
    """An outbox row as the admin page and the API show it (destination unmasked: mask before showing)."""

    id: int
    kind: str
    status: str
    stage: str
    obligation: str | None
    period: str | None
    recipient: str
    destination: str
    send_after: datetime
    attempts: int
    sent_at: datetime | None
    last_error: str | None
    skip_reason: str | None


def org_messages(session: Session, org_id: int, status: str | None = None, limit: int = 200) -> list[ListedMessage]:
    """One organisation's messages, newest first, with the obligation and period of reminders."""
    query = (select(OutboxRow, ObligationRow.code, OccurrenceRow.period)
             .outerjoin(OccurrenceRow, OccurrenceRow.id == OutboxRow.occurrence_id)
             .outerjoin(ObligationRow, ObligationRow.id == OccurrenceRow.obligation_id)
             .where(OutboxRow.org_id == org_id).order_by(OutboxRow.id.desc()).limit(limit))
    if status is not None:
        query = query.where(OutboxRow.status == status)
    return [ListedMessage(r.id, r.kind, r.status, r.stage, code, period, r.recipient, r.destination, r.send_after,
                          r.attempts, r.sent_at, r.last_error, r.skip_reason)
            for r, code, period in session.execute(query)]


def obligation_messages(session: Session, org_id: int, obligation: str) -> list[ListedMessage]:
    """Every reminder of one obligation's occurrences, in sending order (the obligation's history)."""
    occurrences = session.scalars(
        select(OccurrenceRow.id).join(ObligationRow, ObligationRow.id == OccurrenceRow.obligation_id)
        .where(ObligationRow.org_id == org_id, ObligationRow.code == obligation)).all()
    query = (select(OutboxRow, ObligationRow.code, OccurrenceRow.period)
             .join(OccurrenceRow, OccurrenceRow.id == OutboxRow.occurrence_id)
             .join(ObligationRow, ObligationRow.id == OccurrenceRow.obligation_id)
             .where(of_occurrences(OutboxRow.key_digest, OutboxRow.occurrence_id, occurrences))
             .order_by(OutboxRow.send_after, OutboxRow.id))
    return [ListedMessage(r.id, r.kind, r.status, r.stage, code, period, r.recipient, r.destination, r.send_after,
                          r.attempts, r.sent_at, r.last_error, r.skip_reason)
            for r, code, period in session.execute(query)]
