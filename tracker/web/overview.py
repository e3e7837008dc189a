"""The province/national overview: per organisation, how many of the fiscal year's deadlines are
finished and how many are overdue on a day, worst first.

Read from the stored occurrences in one grouped query (a national database has thousands of
organisations): `done_on` there is the first attributed action, kept by `refresh_done` with the same
attribution `tracker status` uses, so the counts match its done+late and overdue for the same day.

Nationally that query reads every occurrence of the year (about 1.2 million rows, ~2 s on SQLite), so
`OverviewCache` keeps each answer for CACHE_SECONDS per scope, computed once even when many viewers (and
gunicorn's worker processes) ask at the same moment; the page says the instant its numbers were computed.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import astuple, dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from tracker.store.models import ObligationRow, OccurrenceRow, OrganisationRow

PAGE_SIZE = 25
CACHE_SECONDS = 60.0


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


Key = tuple[int, date, frozenset[str] | None, frozenset[str]]


@dataclass(frozen=True)
class Computed:
    at: datetime  # the instant the numbers were judged at
    rows: list[OrgProgress]


class OverviewCache:
    """Answers of `rows` by scope, kept CACHE_SECONDS in a file under `folder` shared by every worker
    process, computed by one of them at a time (the others wait for it and read its answer), and kept in
    this process's memory beside the file."""

    def __init__(self, folder: Path, seconds: float = CACHE_SECONDS) -> None:
        self.folder, self.seconds = folder, seconds
        self._memory: dict[str, tuple[float, Computed]] = {}

    def _fresh(self, path: Path) -> Computed | None:
        try:
            written = path.stat().st_mtime
        except FileNotFoundError:
            return None
        if time.time() - written > self.seconds:
            return None
        kept = self._memory.get(path.name)
        if kept is not None and kept[0] == written:
            return kept[1]
        data = json.loads(path.read_text(encoding="utf-8"))
        found = Computed(datetime.fromisoformat(data["at"]), [OrgProgress(*row) for row in data["rows"]])
        self._memory = {name: v for name, v in self._memory.items() if time.time() - v[0] <= self.seconds}
        self._memory[path.name] = (written, found)
        return found

    def get(self, key: Key, compute: Callable[[], Computed]) -> Computed:
        fy, day, provinces, orgs = key
        scope = (fy, day.isoformat(), None if provinces is None else sorted(provinces), sorted(orgs))
        name = hashlib.sha256(repr(scope).encode()).hexdigest()[:32]
        path = self.folder / f"overview-{name}.json"
        found = self._fresh(path)
        if found is not None:
            return found
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / f"overview-{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # one computation at a time; the others then read its file
            found = self._fresh(path)
            if found is None:
                found = compute()
                temp = path.with_suffix(f".{os.getpid()}.tmp")
                temp.write_text(json.dumps({"at": found.at.isoformat(),
                                            "rows": [astuple(r) for r in found.rows]}), encoding="utf-8")
                os.replace(temp, path)
        finally:
            os.close(fd)  # closing releases the lock
        return found
