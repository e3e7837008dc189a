"""Organisations as the pages read them, loaded once per configuration rather than once per request.

Every board and obligation page needs the organisation's units, people, measures and obligations (six
queries and a few hundred objects). They change only when a configuration is synced, and a sync stores
the configuration's hash on the organisation's row: so each request reads that one row, and the
organisation is loaded again only when its hash (or the row) changed. Rows without a hash (written by
hand, never synced) are always loaded afresh.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.model import Organisation
from tracker.store.models import OrganisationRow
from tracker.store.repo import load_organisation

MAX_ORGANISATIONS = 512  # per process: a worker serves a few offices at a time, not the country

Key = tuple[str, int, str, datetime]


@dataclass(frozen=True)
class Loaded:
    """An organisation, its row's id, and the key it is cached under (None: never synced, not cached).
    The key names this version of its configuration: whatever a page derives from the configuration
    alone may be cached under it too."""

    org: Organisation
    id: int
    key: Key | None


class OrgCache:
    def __init__(self, size: int = MAX_ORGANISATIONS) -> None:
        self.size = size
        self._found: OrderedDict[Key, Organisation] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session: Session, code: str) -> Loaded:
        """Organisation `code` as last synced (raises NotFoundError, as `load_organisation` does)."""
        row = session.execute(select(OrganisationRow.id, OrganisationRow.config_hash, OrganisationRow.updated_at)
                              .where(OrganisationRow.code == code)).first()
        if row is None or not row.config_hash:
            org = load_organisation(session, code)  # raises NotFoundError when there is no row
            assert row is not None
            return Loaded(org, row.id, None)
        key: Key = (code, row.id, row.config_hash, row.updated_at)
        with self._lock:
            found = self._found.get(key)
            if found is not None:
                self._found.move_to_end(key)
                return Loaded(found, row.id, key)
        found = load_organisation(session, code)
        with self._lock:
            self._found[key] = found
            while len(self._found) > self.size:
                self._found.popitem(last=False)
        return Loaded(found, row.id, key)


def loaded(session: Session, code: str) -> Loaded:
    """Organisation `code` through the app's cache (one per app: tests build many apps on many databases)."""
    cache: OrgCache = current_app.extensions.setdefault("tracker_orgs", OrgCache())
    return cache.get(session, code)


def organisation(session: Session, code: str) -> Organisation:
    return loaded(session, code).org
