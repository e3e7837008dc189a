"""Deadline statuses for the boards: actions read as plain rows, each obligation judged once per content.

The organisation board, a unit's page and an obligation's page judge deadlines on every request.
`store.status_query.statuses_of` reads the organisation's actions as ORM objects (~20 µs a row: 10 ms of
a board's ~26 ms at national scale) and judges every obligation again. Here the same rows (the
organisation's actions not withdrawn, in the same order) are read as tuples, ~1 µs a row, and each
obligation's statuses are kept under exactly what they depend on: the organisation's configuration (its
cache key), the day, the fiscal year and that obligation's actions. A logged action changes one
obligation's actions, so only that obligation is judged again; nothing needs invalidating.

The judging is `organisation_statuses` itself, given the organisation with only the obligations to judge:
an obligation's deadlines take only its own actions (`attribute_actions` works per obligation), so the
statuses are those of `tracker status` (tests/test_web_statuses.py compares them, withdrawn and
corrected actions included).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Hashable
from dataclasses import replace
from datetime import date

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.model import Action, Organisation
from tracker.domain.status import OccurrenceStatus, organisation_statuses
from tracker.store.models import ActionRow, ObligationRow
from tracker.web.orgcache import Loaded

MAX_ENTRIES = 20_000  # obligation-years per process: 40 a year for a few hundred organisations

Done = tuple[date, str | None]  # what judging reads of an action: the day it was done, the period it names


class StatusCache:
    def __init__(self, size: int = MAX_ENTRIES) -> None:
        self.size = size
        self._found: OrderedDict[Hashable, list[OccurrenceStatus]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> list[OccurrenceStatus] | None:
        with self._lock:
            found = self._found.get(key)
            if found is not None:
                self._found.move_to_end(key)
            return found

    def put(self, key: Hashable, items: list[OccurrenceStatus]) -> None:
        with self._lock:
            self._found[key] = items
            while len(self._found) > self.size:
                self._found.popitem(last=False)


def _cache() -> StatusCache:
    found: StatusCache = current_app.extensions.setdefault("tracker_statuses", StatusCache())
    return found


def current_actions(session: Session, org_id: int, obligation: str | None = None) -> dict[str, list[Done]]:
    """obligation code → (date done, period) of each of its actions that count (not withdrawn), in the
    order `store.repo.list_actions` lists them; only obligation `obligation`'s when given."""
    query = (select(ObligationRow.code, ActionRow.done_on, ActionRow.period)
             .join(ObligationRow, ActionRow.obligation_id == ObligationRow.id)
             .where(ActionRow.org_id == org_id, ActionRow.withdrawn_at.is_(None))
             .order_by(ActionRow.done_on, ActionRow.id))
    if obligation is not None:
        query = query.where(ObligationRow.code == obligation)
    found: dict[str, list[Done]] = defaultdict(list)
    for code, done_on, period in session.execute(query):
        found[code].append((done_on, period))
    return found


def _judge(org: Organisation, codes: list[str], done: dict[str, list[Done]], today: date,
           fy: int) -> dict[str, list[OccurrenceStatus]]:
    """`organisation_statuses` of the obligations `codes` only, by obligation."""
    wanted = set(codes)
    only = replace(org, measures=tuple(replace(m, obligations=tuple(o for o in m.obligations if o.code in wanted))
                                       for m in org.measures))
    actions = [Action(code, day, period=period) for code in codes for day, period in done.get(code, ())]
    by_code: dict[str, list[OccurrenceStatus]] = {code: [] for code in codes}
    for item in organisation_statuses(only, actions, today, fy):
        by_code[item.occurrence.obligation].append(item)
    return by_code


def statuses_of(session: Session, loaded: Loaded, today: date, fy: int,
                obligation: str | None = None) -> list[OccurrenceStatus]:
    """Every deadline of fiscal year `fy` with its status on `today` (only `obligation`'s when given), in
    `organisation_statuses`' order."""
    org = loaded.org
    done = current_actions(session, loaded.id, obligation)
    codes = [obligation] if obligation is not None else list(dict.fromkeys(ob.code for ob in org.obligations()))
    found: dict[str, list[OccurrenceStatus]] = {}
    keys = {code: (loaded.key, today, fy, code, tuple(done.get(code, ()))) for code in codes}
    cache = _cache()
    if loaded.key is not None:  # never synced: no key to keep it under
        for code, key in keys.items():
            cached = cache.get(key)
            if cached is not None:
                found[code] = cached
    missing = [code for code in codes if code not in found]
    if missing:
        judged = _judge(org, missing, done, today, fy)
        found.update(judged)
        if loaded.key is not None:
            for code, items in judged.items():
                cache.put(keys[code], items)
    out = [item for code in codes for item in found[code]]
    out.sort(key=lambda s: (s.occurrence.due, s.occurrence.obligation))  # as organisation_statuses sorts
    return out
