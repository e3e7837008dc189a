"""The organisation board's rows, each rendered once per content and then reused.

A year's board has ~390 rows, and rendering them (dates, periods and statuses in Thai, links) was
about half of a board request's CPU time. A row's HTML depends only on the organisation's configuration
(titles, unit names, links), the fiscal year shown, the language and the deadline's status (an
`OccurrenceStatus`: period, due date, status, done date, days late or overdue). So rows are cached under
exactly that: the organisation's cache key (its configuration's hash, `orgcache.Loaded.key`), the year,
the language and the status itself. A logged action changes one deadline's status, hence its key: the
new row is rendered, the other rows are reused. Nothing needs invalidating; old rows age out of the LRU.
Organisations never synced (no configuration hash) are rendered afresh every time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from functools import partial
from typing import Any

from flask import current_app, url_for
from markupsafe import Markup

from tracker.domain.model import Obligation, Organisation
from tracker.domain.status import OccurrenceStatus
from tracker.web.i18n import current_lang

MAX_ROWS = 50_000  # per process, ~300 bytes each: the rows of ~40 organisation-years in two languages


class RowCache:
    def __init__(self, size: int = MAX_ROWS) -> None:
        self.size = size
        self._rows: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, render: Callable[[], str]) -> str:
        with self._lock:
            found = self._rows.get(key)
            if found is not None:
                self._rows.move_to_end(key)
                return found
        found = render()
        with self._lock:
            self._rows[key] = found
            while len(self._rows) > self.size:
                self._rows.popitem(last=False)
        return found


def _cache() -> RowCache:
    found: RowCache = current_app.extensions.setdefault("tracker_board_rows", RowCache())
    return found


def rows(org: Organisation, org_key: Hashable | None, fy: int, items: Sequence[OccurrenceStatus],
         obligations: dict[str, Obligation], units: dict[str, str]) -> Markup:
    """The `<tr>` of each item, in order."""
    macro = current_app.jinja_env.get_template("boards/_board_row.html").module.row  # type: ignore[attr-defined]
    urls: dict[str, str] = {}

    def link(endpoint: str, **values: Any) -> str:
        key = f"{endpoint}:{values}"
        if key not in urls:
            urls[key] = url_for(endpoint, org=org.code, **values)
        return urls[key]

    def render(item: OccurrenceStatus) -> str:
        ob = obligations[item.occurrence.obligation]
        return str(macro(item, ob, org.occurrence_title(item.occurrence),
                         link("boards.obligation_page", code=ob.code, fy=fy), link("boards.unit_page", unit=ob.unit),
                         units.get(ob.unit, ob.unit)))

    if org_key is None:
        return Markup("".join(render(item) for item in items))
    cache, prefix = _cache(), (org_key, fy, current_lang())
    return Markup("".join(cache.get((prefix, item), partial(render, item)) for item in items))
