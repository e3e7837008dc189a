"""The province/national overview: per organisation, how many of the fiscal year's deadlines are
finished and how many are overdue on a day, worst first.

Read from the stored occurrences in one grouped query (a national database has thousands of
organisations): `done_on` there is the first attributed action, kept by `refresh_done` with the same
attribution `tracker status` uses, so the counts match its done+late and overdue for the same day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from tracker.store.models import ObligationRow, OccurrenceRow, OrganisationRow

PAGE_SIZE = 25


@dataclass(frozen=True)
class OrgProgress:
    code: str
    name: str
    district: str
    province: str
    total: int
    finished: int
    overdue: int

    @property
    def completion(self) -> int:
        """Finished deadlines, in whole percent of the year's."""
        return round(100 * self.finished / self.total) if self.total else 100


def rows(session: Session, fy: int, today: date, provinces: set[str] | None, orgs: set[str]) -> list[OrgProgress]:
    """Every organisation in `provinces` (None: all) or in `orgs`, worst first: most overdue, then lowest
    completion, then by name."""
    finished = and_(OccurrenceRow.done_on.is_not(None), OccurrenceRow.done_on <= today)
    query = (select(OrganisationRow.code, OrganisationRow.name, OrganisationRow.district, OrganisationRow.province,
                    func.count(OccurrenceRow.id),
                    func.coalesce(func.sum(case((finished, 1), else_=0)), 0),
                    func.coalesce(func.sum(case((and_(~finished, OccurrenceRow.due < today), 1), else_=0)), 0))
             .join(OccurrenceRow, and_(OccurrenceRow.org_id == OrganisationRow.id, OccurrenceRow.fiscal_year == fy,
                                       OccurrenceRow.active.is_(True)))
             .join(ObligationRow, and_(ObligationRow.id == OccurrenceRow.obligation_id, ObligationRow.active.is_(True)))
             .group_by(OrganisationRow.code, OrganisationRow.name, OrganisationRow.district, OrganisationRow.province))
    if provinces is not None:
        query = query.where(or_(OrganisationRow.province.in_(sorted(provinces)),
                                OrganisationRow.code.in_(sorted(orgs))))
    found = [OrgProgress(c, n, d, p, int(t), int(f), int(o)) for c, n, d, p, t, f, o in session.execute(query)]
    found.sort(key=lambda r: (-r.overdue, r.completion, r.name))
    return found


def occurrence_ids(session: Session, org: str, obligation: str, fy: int) -> dict[str, int]:
    """period → occurrence id of one obligation's deadlines in a fiscal year (links to their pages)."""
    query = (select(OccurrenceRow.period, OccurrenceRow.id)
             .join(ObligationRow, ObligationRow.id == OccurrenceRow.obligation_id)
             .join(OrganisationRow, OrganisationRow.id == OccurrenceRow.org_id)
             .where(OrganisationRow.code == org, ObligationRow.code == obligation, OccurrenceRow.fiscal_year == fy))
    return {period: int(i) for period, i in session.execute(query)}
