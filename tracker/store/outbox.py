"""The outbox: every message the service will send, has sent or has given up on, one row each.

This module is the outbox table's home: what the planners, the digest, the dispatcher, the CLI and the
web do with it goes through these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.store.models import MeasureRow, ObligationRow, OccurrenceRow, OrganisationRow, OutboxRow


@dataclass(frozen=True)
class PlannedReminder:
    """A reminder row as planning left it, with what a person needs to read it."""

    id: int
    org: str
    measure: str
    obligation: str
    period: str
    due: date
    stage: str  # label: before-7, due, overdue-2, escalation-head…
    stage_day: date
    recipient: str
    destination: str  # unmasked: mask before showing
    status: str  # pending | skipped
    skip_reason: str | None
    send_after: datetime
    subject: str | None
    text: str | None

    @property
    def kind(self) -> str:
        """before | due | overdue | escalation."""
        return self.stage.split("-", 1)[0]

    @property
    def days_to_due(self) -> int:
        """Positive before the due date, negative after it."""
        return (self.due - self.stage_day).days


def last_id(session: Session) -> int:
    """The highest outbox id (0 when empty): rows above it are the ones added since."""
    return int(session.scalar(select(func.max(OutboxRow.id))) or 0)


def reminder_ids_since(session: Session, after_id: int) -> list[int]:
    return list(session.scalars(select(OutboxRow.id).where(OutboxRow.id > after_id, OutboxRow.kind == "reminder")
                                .order_by(OutboxRow.id)))


def reminders_since(session: Session, after_id: int) -> list[PlannedReminder]:
    """The reminders added after `after_id` (in this transaction: those one planning run created)."""
    query = (
        select(OutboxRow.id, OrganisationRow.code, MeasureRow.code, ObligationRow.code, OccurrenceRow.period,
               OccurrenceRow.due, OutboxRow.stage, OutboxRow.stage_day, OutboxRow.recipient, OutboxRow.destination,
               OutboxRow.status, OutboxRow.skip_reason, OutboxRow.send_after, OutboxRow.subject, OutboxRow.text)
        .join(OrganisationRow, OrganisationRow.id == OutboxRow.org_id)
        .join(OccurrenceRow, OccurrenceRow.id == OutboxRow.occurrence_id)
        .join(ObligationRow, ObligationRow.id == OccurrenceRow.obligation_id)
        .join(MeasureRow, MeasureRow.id == ObligationRow.measure_id)
        .where(OutboxRow.id > after_id, OutboxRow.kind == "reminder")
        .order_by(OutboxRow.id)
    )
    return [PlannedReminder(id_, org, measure, obligation, period, due, stage, stage_day or due, recipient,
                            destination, status, reason, send_after, subject, text)
            for (id_, org, measure, obligation, period, due, stage, stage_day, recipient, destination, status,
                 reason, send_after, subject, text) in session.execute(query)]
