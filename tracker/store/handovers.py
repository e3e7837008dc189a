"""Hand-overs: while a person is on leave, a unit head hands their reminders to a colleague.

A hand-over names both people as the configuration does (contact names are unique enough within an
organisation; the configuration is replaced wholesale on reload, so nothing can point at a contact row).
The planner asks `active_handovers` which ones cover a day, and `jobs/handover.py` moves the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.errors import NotFoundError, Problem
from tracker.store import audit
from tracker.store.actions import InvalidAction
from tracker.store.models import ContactRow
from tracker.store.repo import org_row
from tracker.store.trail_models import HandoverRow


@dataclass(frozen=True)
class Handover:
    id: int
    org_id: int
    from_name: str
    to_name: str
    starts_on: date
    ends_on: date
    created_by: str
    created_at: datetime
    revoked_at: datetime | None

    def covers(self, day: date) -> bool:
        return self.revoked_at is None and self.starts_on <= day <= self.ends_on


def _handover(row: HandoverRow) -> Handover:
    return Handover(row.id, row.org_id, row.from_name, row.to_name, row.starts_on, row.ends_on, row.created_by,
                    row.created_at, row.revoked_at)


def contact_names(session: Session, org_id: int) -> set[str]:
    return set(session.scalars(select(ContactRow.name).where(ContactRow.org_id == org_id)))


def create_handover(session: Session, org_code: str, from_name: str, to_name: str, starts_on: date, ends_on: date,
                    now: datetime, *, actor: str, channel: str) -> Handover:
    """Hand `from_name`'s reminders to `to_name` from `starts_on` to `ends_on` (inclusive)."""
    org = org_row(session, org_code)
    names = contact_names(session, org.id)
    problems = [Problem(f, f"no contact named '{n}' in {org_code}: use a name from its configuration")
                for f, n in (("from", from_name), ("to", to_name)) if n not in names]
    if from_name == to_name:
        problems.append(Problem("to", "hand the reminders to someone else"))
    if ends_on < starts_on:
        problems.append(Problem("ends_on", f"the leave ends ({ends_on}) before it starts ({starts_on})"))
    if problems:
        raise InvalidAction(problems)
    row = HandoverRow(org_id=org.id, from_name=from_name, to_name=to_name, starts_on=starts_on, ends_on=ends_on,
                      created_at=now, created_by=actor)
    session.add(row)
    session.flush()
    audit.record(session, org.id, now, actor=actor, channel=channel, entity="handover", entity_id=row.id,
                 change="created", detail={"from": from_name, "to": to_name, "starts_on": starts_on.isoformat(),
                                           "ends_on": ends_on.isoformat()})
    return _handover(row)


def revoke_handover(session: Session, org_code: str, handover_id: int, now: datetime, *, actor: str,
                    channel: str) -> Handover:
    org = org_row(session, org_code)
    row = session.scalar(select(HandoverRow).where(HandoverRow.id == handover_id, HandoverRow.org_id == org.id))
    if row is None:
        raise NotFoundError(f"no hand-over {handover_id} in '{org_code}'")
    if row.revoked_at is None:
        row.revoked_at = now
        audit.record(session, org.id, now, actor=actor, channel=channel, entity="handover", entity_id=row.id,
                     change="revoked", detail={"from": row.from_name, "to": row.to_name})
    return _handover(row)


def list_handovers(session: Session, org_code: str) -> list[Handover]:
    org = org_row(session, org_code)
    return [_handover(r) for r in session.scalars(
        select(HandoverRow).where(HandoverRow.org_id == org.id).order_by(HandoverRow.starts_on, HandoverRow.id))]


def active_handovers(session: Session, first: date, last: date) -> list[Handover]:
    """Every live hand-over that overlaps [first, last], across organisations."""
    return [_handover(r) for r in session.scalars(
        select(HandoverRow).where(HandoverRow.revoked_at.is_(None), HandoverRow.starts_on <= last,
                                  HandoverRow.ends_on >= first))]
