"""The status of an organisation's deadlines as `tracker status` computes it, for every reader (the CLI,
the JSON API, the boards), so that their numbers agree for the same instant.

Reading never writes: occurrences are computed from the rules here (the planner materialises them).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from tracker.domain.model import Organisation
from tracker.domain.status import OccurrenceStatus, statuses
from tracker.store.repo import list_actions, load_organisation


def org_statuses(session: Session, code: str, today: date, fy: int) -> tuple[Organisation, list[OccurrenceStatus]]:
    """Every deadline of fiscal year `fy` with its status on `today`."""
    org = load_organisation(session, code)
    actions = [s.action for s in list_actions(session, code)]
    # Late work for an earlier fiscal year must find its deadline there, so attribute over every year
    # tracked, then show the one asked for.
    years = range(min(fy, org.fiscal_year), max(fy, org.fiscal_year) + 1)
    by_year = {year: org.occurrences(year) for year in years}
    occurrences = [occ for year_occurrences in by_year.values() for occ in year_occurrences]
    soon = {ob.code: ob.policy.due_soon_days for ob in org.obligations()}
    shown = set(by_year[fy])
    return org, [item for item in statuses(occurrences, actions, today, soon) if item.occurrence in shown]


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
