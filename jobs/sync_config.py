"""Load the admins' configuration into the database: all or nothing.

Used by `tracker sync`, by `tracker run` at start-up and by its configuration-watch sweep. When any file
has an error, nothing is written, and the database keeps the last good configuration.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from config.loader import LoadResult, load_config
from tracker.domain.thaidate import fiscal_year
from tracker.store.repo import SyncReport, sync_organisation


@dataclass
class SyncResult:
    loaded: LoadResult
    reports: list[SyncReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.loaded.ok


def run_once(session: Session, paths: Iterable[Path], now: datetime) -> SyncResult:
    """Validate every file under `paths`; if all are valid, sync each organisation in `session`.

    Occurrences are materialised up to the fiscal year of `now`, so that the service keeps tracking
    recurring obligations after a fiscal-year rollover.
    """
    loaded = load_config(list(paths))
    result = SyncResult(loaded)
    if not loaded.ok:
        return result
    through = fiscal_year(now.date())
    for cfg in loaded.orgs:
        result.reports.append(sync_organisation(session, cfg, now, through_fy=through))
    return result
