"""The reminders sent about one deadline, for its history on the web pages (read only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.store.models import OutboxRow
from tracker.store.outbox_keys import of_occurrences


@dataclass(frozen=True)
class SentReminder:
    at: datetime  # UTC
    recipient: str
    channel: str  # the destination's scheme: line, mailto, https, outbox
    stage: str


def sent_for(session: Session, occurrence_id: int) -> list[SentReminder]:
    """Every reminder of the occurrence that was sent, oldest first (destinations reduced to their channel)."""
    rows = session.execute(select(OutboxRow.sent_at, OutboxRow.recipient, OutboxRow.destination, OutboxRow.stage)
                           .where(of_occurrences(OutboxRow.key_digest, OutboxRow.occurrence_id, [occurrence_id]),
                                  OutboxRow.status == "sent")
                           .order_by(OutboxRow.sent_at))
    return [SentReminder(at, who, dest.split(":", 1)[0], stage) for at, who, dest, stage in rows if at is not None]
