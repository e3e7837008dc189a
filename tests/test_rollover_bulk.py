"""The rollover reads and materialises organisations by the batch (issue 9, national load): the new
fiscal year's occurrences, and the actions already logged for them, are exactly what a configuration
sync through that year gives. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, select

from config.loader import LoadResult
from tracker.domain.model import Action
from tracker.domain.thaidate import BANGKOK
from tracker.store.db import session_scope
from tracker.store.models import ObligationRow, OccurrenceRow, OrganisationRow
from tracker.store.repo import record_action, sync_organisation
from tracker.store.rollover import ensure_fiscal_year

SYNCED_AT = datetime(2023, 9, 29, 10, 0, tzinfo=BANGKOK)  # fiscal year 2566


def occurrences(engine: Engine, fy: int) -> set[tuple[Any, ...]]:
    with session_scope(engine) as session:
        return {tuple(row) for row in session.execute(
            select(OrganisationRow.code, ObligationRow.code, OccurrenceRow.period, OccurrenceRow.window_start,
                   OccurrenceRow.due, OccurrenceRow.done_on, OccurrenceRow.active)
            .join(ObligationRow, ObligationRow.id == OccurrenceRow.obligation_id)
            .join(OrganisationRow, OrganisationRow.id == OccurrenceRow.org_id)
            .where(OccurrenceRow.fiscal_year == fy))}


def test_the_rollover_materialises_what_a_sync_would(engine: Engine, sample: LoadResult) -> None:
    early = [Action("O10-1", date(2023, 10, 5)), Action("O10-2", date(2023, 9, 20), period="2567")]
    with session_scope(engine) as session:
        for cfg in sample.orgs:
            sync_organisation(session, cfg, SYNCED_AT, through_fy=2566)
        for action in early:  # logged before the year was materialised
            record_action(session, "makha", action, now=SYNCED_AT)
    assert occurrences(engine, 2567) == set()
    with session_scope(engine) as session:
        created = ensure_fiscal_year(session, 2567)
    rolled = occurrences(engine, 2567)
    assert created == len(rolled) > 0
    assert any(row[1] == "O10-1" and row[5] == date(2023, 10, 5) for row in rolled)  # attributed
    with session_scope(engine) as session:  # the same database synced through 2567 changes nothing
        for cfg in sample.orgs:
            sync_organisation(session, cfg, SYNCED_AT, through_fy=2567)
    assert occurrences(engine, 2567) == rolled
