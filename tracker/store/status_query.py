"""The status of an organisation's deadlines as `tracker status` computes it, for every reader (the CLI,
the JSON API, the boards), so that their numbers agree for the same instant.

Reading never writes: occurrences are computed from the rules here (the planner materialises them).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from tracker.domain.model import Organisation
from tracker.domain.status import OccurrenceStatus, organisation_statuses
from tracker.store.repo import list_actions, load_organisation


def org_statuses(session: Session, code: str, today: date, fy: int) -> tuple[Organisation, list[OccurrenceStatus]]:
    """Every deadline of fiscal year `fy` with its status on `today`."""
    org = load_organisation(session, code)
    return org, statuses_of(session, org, today, fy)


def statuses_of(session: Session, org: Organisation, today: date, fy: int) -> list[OccurrenceStatus]:
    """`org_statuses` for an organisation the caller has already loaded (a page loads it once)."""
    actions = [s.action for s in list_actions(session, org.code)]
    return organisation_statuses(org, actions, today, fy)


def status_rows(org: Organisation, items: list[OccurrenceStatus]) -> list[dict[str, Any]]:
    """The JSON form of a status list: the issue's keys, then the period label."""
    rows = []
    for item in items:
        ob = org.obligation(item.occurrence.obligation)
        rows.append({
            "org": org.code, "measure": ob.measure, "obligation": ob.code, "unit": ob.unit,
            "window_start": item.occurrence.window_start.isoformat(), "due": item.occurrence.due.isoformat(),
            "status": item.status.value, "done_on": item.done_on.isoformat() if item.done_on else None,
            "days_late": item.days_late, "days_overdue": item.days_overdue, "period": item.occurrence.period,
        })
    return rows
