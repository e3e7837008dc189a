"""The current fiscal year's occurrences exist before anything is planned: the rollover.

Occurrences are materialised by the configuration sync, which runs when the files change. A service
that keeps running across 1 October (or keeps the last good configuration while an edit is refused)
would otherwise plan nothing for the new year. The check is one cheap query per planning run: only the
organisations with no occurrence of the year yet are loaded and materialised.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.store.models import OccurrenceRow, OrganisationRow
from tracker.store.repo import ensure_occurrences, load_organisation, refresh_done


def missing_year(session: Session, fy: int, org: str | None = None) -> list[tuple[int, str]]:
    """(id, code) of the organisations (all, or the one named) tracked in `fy` (configured from that
    year or earlier) that have no occurrence of `fy` yet."""
    has_year = select(OccurrenceRow.id).where(OccurrenceRow.org_id == OrganisationRow.id,
                                              OccurrenceRow.fiscal_year == fy).exists()
    query = (select(OrganisationRow.id, OrganisationRow.code)
             .where(OrganisationRow.fiscal_year <= fy, ~has_year).order_by(OrganisationRow.code))
    if org is not None:
        query = query.where(OrganisationRow.code == org)
    return [(org_id, code) for org_id, code in session.execute(query)]


def ensure_fiscal_year(session: Session, fy: int, org: str | None = None) -> int:
    """Materialise fiscal year `fy` for every organisation that lacks it, and attribute the actions
    already logged to the new occurrences. Returns how many occurrences were created."""
    created = 0
    for org_id, code in missing_year(session, fy, org):
        new = ensure_occurrences(session, org_id, load_organisation(session, code), fy)
        if new:
            refresh_done(session, org_id)
        created += new
    return created
