"""One deadline (an occurrence of an obligation) as its pages show it: the facts, its status judged
exactly as `tracker status` judges it, the actions logged (withdrawn ones struck through) with their
files, and the reminders sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.model import Measure, Obligation, Organisation
from tracker.domain.status import OccurrenceStatus
from tracker.domain.thaidate import BANGKOK
from tracker.store import reminder_history, status_query
from tracker.store.models import ObligationRow, OccurrenceRow
from tracker.store.repo import StoredAction, list_actions, org_row
from tracker.store.web_models import EvidenceFileRow


@dataclass(frozen=True)
class SentReminder:
    on: date  # the Bangkok day it was sent
    recipient: str
    channel: str
    stage: str


@dataclass(frozen=True)
class Deadline:
    org: Organisation
    measure: Measure
    obligation: Obligation
    occurrence_id: int
    status: OccurrenceStatus
    unit_name: str
    actions: list[StoredAction]
    files: dict[int, list[EvidenceFileRow]]  # by action id
    reminders: list[SentReminder]


def occurrence_of(session: Session, org: str, occurrence_id: int) -> tuple[OccurrenceRow, str] | None:
    """The occurrence and its obligation code, only when it belongs to `org` (a link of one organisation
    never opens another's deadline)."""
    found = session.execute(select(OccurrenceRow, ObligationRow.code)
                            .join(ObligationRow, ObligationRow.id == OccurrenceRow.obligation_id)
                            .where(OccurrenceRow.id == occurrence_id,
                                   OccurrenceRow.org_id == org_row(session, org).id)).first()
    return None if found is None else (found[0], found[1])


def load(session: Session, org_code: str, occurrence_id: int, today: date) -> Deadline | None:
    found = occurrence_of(session, org_code, occurrence_id)
    if found is None:
        return None
    occ, code = found
    org, items = status_query.org_statuses(session, org_code, today, occ.fiscal_year)
    status = next((i for i in items if i.occurrence.obligation == code and i.occurrence.period == occ.period), None)
    if status is None:  # no longer in the configuration
        return None
    ob = org.obligation(code)
    unit_name = next((u.name for u in org.units if u.code == ob.unit), ob.unit)
    actions = list_actions(session, org_code, code, include_withdrawn=True)
    files: dict[int, list[EvidenceFileRow]] = {}
    if actions:
        for f in session.scalars(select(EvidenceFileRow).where(
                EvidenceFileRow.action_id.in_([a.id for a in actions])).order_by(EvidenceFileRow.id)):
            files.setdefault(f.action_id, []).append(f)
    reminders = [SentReminder(r.at.astimezone(BANGKOK).date(), r.recipient, r.channel, r.stage)
                 for r in reminder_history.sent_for(session, occurrence_id)]
    return Deadline(org, org.measure(ob.measure), ob, occurrence_id, status, unit_name, actions, files, reminders)
