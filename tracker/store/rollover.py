"""The current fiscal year's occurrences exist before anything is planned: the rollover.

Occurrences are materialised by the configuration sync, which runs when the files change. A service
that keeps running across 1 October (or keeps the last good configuration while an edit is refused)
would otherwise plan nothing for the new year. The check is one cheap query per planning run: only the
organisations with no occurrence of the year yet are read, by the batch (`tracker.store.org_bulk`), and
their occurrences inserted in one statement per batch. One organisation at a time (its ORM objects and
rules expanded each time) the rollover of 7,850 organisations took a minute; most share their rules and
calendar, so each (rule, calendar) is expanded once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from tracker.domain.rules import DueRule
from tracker.domain.workdays import WorkCalendar
from tracker.store.models import ActionRow, ObligationRow, OccurrenceRow, OrganisationRow
from tracker.store.org_bulk import load_organisations
from tracker.store.repo import refresh_done

BATCH = 500  # organisations read and inserted per statement


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
    missing = missing_year(session, fy, org)
    created = 0
    for start in range(0, len(missing), BATCH):
        created += materialise(session, fy, [code for _, code in missing[start:start + BATCH]])
    return created


def materialise(session: Session, fy: int, codes: Sequence[str]) -> int:
    """What `repo.ensure_occurrences` and `repo.refresh_done` do for organisations with no occurrence of
    `fy` at all: every occurrence of each active obligation, then the actions attributed again where one
    could serve a new occurrence."""
    orgs = load_organisations(session, codes)
    ids = {org_id: code for code, (org_id, _) in orgs.items()}
    obligation_ids = {(org_id, code): ob_id for ob_id, org_id, code in session.connection().execute(
        select(ObligationRow.id, ObligationRow.org_id, ObligationRow.code).where(ObligationRow.org_id.in_(list(ids))))}
    expanded: dict[tuple[DueRule, tuple[tuple[date, str], ...]], list[tuple[str, date, date]]] = {}

    def rows() -> Iterator[dict[str, object]]:
        for org_id, org in orgs.values():
            calendar: WorkCalendar | None = None
            for ob in org.obligations():
                if ob.rule is None:
                    continue
                key = (ob.rule, org.closures)
                if key not in expanded:
                    calendar = calendar or org.calendar
                    expanded[key] = [(o.period, o.window_start, o.due) for o in ob.rule.occurrences("", fy, calendar)]
                for period, window_start, due in expanded[key]:
                    yield {"org_id": org_id, "obligation_id": obligation_ids[(org_id, ob.code)], "fiscal_year": fy,
                           "period": period, "window_start": window_start, "due": due, "active": True}

    new = list(rows())
    if not new:
        return 0
    session.connection().execute(insert(OccurrenceRow), new)
    # Only actions dated within the new occurrences' windows, or naming one of the new periods, can be
    # attributed to them: the other organisations' attributions cannot change.
    first = min(row["window_start"] for row in new)  # type: ignore[type-var]
    touched = session.scalars(select(ActionRow.org_id).distinct().where(
        ActionRow.org_id.in_(list(ids)), ActionRow.withdrawn_at.is_(None),
        or_(ActionRow.done_on >= first, ActionRow.period.like(f"{fy}%"))))
    for org_id in sorted(touched):
        refresh_done(session, org_id)
    return len(new)
