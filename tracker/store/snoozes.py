"""Snoozes and acknowledgements from LINE reminder buttons, kept in the deadline's history (the audit
trail, entity `occurrence`) and, for snoozes, consulted by the dispatcher."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.store import audit
from tracker.store.line_models import ReminderSnoozeRow


def snooze(session: Session, org_id: int, occurrence_id: int, recipient: str, until: date, now: datetime) -> None:
    session.add(ReminderSnoozeRow(org_id=org_id, occurrence_id=occurrence_id, recipient=recipient, until=until,
                                  created_at=now))
    audit.record(session, org_id, now, actor=recipient, channel="line", entity="occurrence",
                 entity_id=occurrence_id, change="snoozed", detail={"until": until.isoformat()})


def acknowledge(session: Session, org_id: int, occurrence_id: int, recipient: str, now: datetime) -> None:
    audit.record(session, org_id, now, actor=recipient, channel="line", entity="occurrence",
                 entity_id=occurrence_id, change="acknowledged", detail={})


def snoozed_until(session: Session, pairs: Iterable[tuple[int, str]], today: date) -> dict[tuple[int, str], date]:
    """(occurrence, recipient) → the day their reminders resume, for snoozes still running on `today`."""
    wanted = set(pairs)
    if not wanted:
        return {}
    rows = session.execute(select(ReminderSnoozeRow.occurrence_id, ReminderSnoozeRow.recipient,
                                  func.max(ReminderSnoozeRow.until))
                           .where(ReminderSnoozeRow.occurrence_id.in_({o for o, _ in wanted}),
                                  ReminderSnoozeRow.until > today)
                           .group_by(ReminderSnoozeRow.occurrence_id, ReminderSnoozeRow.recipient))
    return {(o, r): u for o, r, u in rows if (o, r) in wanted}
