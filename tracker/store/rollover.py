"""The current fiscal year's occurrences exist before anything is planned: the rollover.

Occurrences are materialised by the configuration sync, which runs when the files change. A service
that keeps running across 1 October (or keeps the last good configuration while an edit is refused)
would otherwise plan nothing for the new year. The check is one cheap query per planning run: only the
organisations with no occurrence of the year yet are loaded and materialised.
"""

from __future__ import annotations

from sqlalchemy import select, update
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


def _lock(session: Session, org_ids: list[int]) -> None:
    """Hold the organisations' rows until this transaction ends: row locks on PostgreSQL (in id order,
    so two planners cannot deadlock); on SQLite a no-op write takes the database's write lock."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(OrganisationRow.id).where(OrganisationRow.id.in_(org_ids))
                        .order_by(OrganisationRow.id).with_for_update())
        return
    session.execute(update(OrganisationRow).where(OrganisationRow.id.in_(org_ids))
                    .values(fiscal_year=OrganisationRow.fiscal_year).execution_options(synchronize_session=False))


def ensure_fiscal_year(session: Session, fy: int, org: str | None = None) -> int:
    """Materialise fiscal year `fy` for every organisation that lacks it, and attribute the actions
    already logged to the new occurrences. Returns how many occurrences were created."""
    missing = missing_year(session, fy, org)
    if not missing:
        return 0
    # Two planners (two `tracker run` processes, or the service and `tracker remind`) may both find the
    # year missing: the second waits for the first to commit, then finds nothing left to do.
    _lock(session, [org_id for org_id, _ in missing])
    created = 0
    for org_id, code in missing_year(session, fy, org):
        new = ensure_occurrences(session, org_id, load_organisation(session, code), fy)
        if new:
            refresh_done(session, org_id)
        created += new
    return created
