"""Loading the configuration into the database: idempotent, keyed by codes, never losing actions.

Runs on SQLite and on a real PostgreSQL server (the `engine` fixture)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, func, select

from config.loader import OrgConfig
from tests.conftest import NOW
from tracker.domain.model import Action
from tracker.domain.rules import MonthRule
from tracker.store.db import is_up_to_date, session_scope
from tracker.store.models import ActionRow, ObligationRow, OccurrenceRow
from tracker.store.repo import list_actions, load_organisation, record_action, sync_organisation


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.__tablename__: int(conn.scalar(select(func.count()).select_from(t)) or 0)
                for t in (ObligationRow, OccurrenceRow, ActionRow)}


def test_migrations_reach_head(engine: Engine) -> None:
    assert is_up_to_date(engine)


def test_sync_twice_changes_nothing_the_second_time(engine: Engine, sample: object) -> None:
    cfg = sample.orgs[0]  # type: ignore[attr-defined]
    with session_scope(engine) as session:
        first = sync_organisation(session, cfg, NOW)
    with session_scope(engine) as session:
        second = sync_organisation(session, cfg, NOW)
    assert first.created["obligations"] == 28 and first.created["actions"] == 10
    assert not any(second.created.values()) and not any(second.updated.values())
    assert counts(engine) == {"obligations": 28, "occurrences": 24 * 1 + 3 * 12 + 1 * 4, "actions": 10}


def edited(cfg: OrgConfig) -> OrgConfig:
    """The sample with O10-1 moved to November, O10-4 removed and M01's title changed."""
    org = cfg.organisation
    measures = []
    for m in org.measures:
        obligations = tuple(replace(o, rule=MonthRule(11)) if o.code == "O10-1" else o
                            for o in m.obligations if o.code != "O10-4")
        measures.append(replace(m, obligations=obligations, title="แก้ไข" if m.code == "M01" else m.title))
    return replace(cfg, organisation=replace(org, measures=tuple(measures)))


def test_reloading_an_edited_configuration_updates_in_place_and_keeps_every_action(
    engine: Engine, sample: object
) -> None:
    cfg = sample.orgs[0]  # type: ignore[attr-defined]
    with session_scope(engine) as session:
        sync_organisation(session, cfg, NOW)
        record_action(session, "makha", Action("O10-4", date(2023, 5, 1), note="ติดตามแล้ว", recorded_by="ปลัด"),
                      now=NOW)
    with session_scope(engine) as session:
        report = sync_organisation(session, edited(cfg), NOW + timedelta(days=1))
    assert report.updated["obligations"] == 1 and report.deactivated["obligations"] == 1
    assert report.updated["measures"] == 1
    with session_scope(engine) as session:
        org = load_organisation(session, "makha")
        actions = list_actions(session, "makha")
        o10 = session.scalar(select(OccurrenceRow).join(ObligationRow, OccurrenceRow.obligation_id == ObligationRow.id)
                             .where(ObligationRow.code == "O10-1"))
    assert "O10-4" not in {o.code for o in org.obligations()}
    assert len(actions) == 11 and any(a.action.obligation == "O10-4" for a in actions)
    assert o10 is not None and o10.due == date(2022, 11, 30) and o10.done_on == date(2023, 4, 5)
    # Putting the obligation back brings its history back with it.
    with session_scope(engine) as session:
        sync_organisation(session, cfg, NOW + timedelta(days=2))
        assert "O10-4" in {o.code for o in load_organisation(session, "makha").obligations()}


def test_correcting_a_date_in_the_file_corrects_the_row(engine: Engine, sample: object) -> None:
    cfg = sample.orgs[0]  # type: ignore[attr-defined]
    with session_scope(engine) as session:
        sync_organisation(session, cfg, NOW)
    fixed = [replace(a, done_on=date(2022, 10, 30)) if a.done_on == date(2023, 10, 30) else a for a in cfg.actions]
    with session_scope(engine) as session:
        report = sync_organisation(session, replace(cfg, actions=fixed), NOW)
    assert report.updated["actions"] == 2 and counts(engine)["actions"] == 10


def test_logged_action_marks_its_occurrence_done_and_timestamps_are_utc(engine: Engine, sample: object) -> None:
    cfg = sample.orgs[0]  # type: ignore[attr-defined]
    bangkok_noon = datetime(2023, 5, 2, 12, 0, tzinfo=UTC) + timedelta(hours=-7)
    with session_scope(engine) as session:
        sync_organisation(session, cfg, NOW)
        assert record_action(session, "makha", Action("O10-2", date(2023, 4, 28), recorded_at=bangkok_noon),
                             source="cli", source_key="k1")
        assert not record_action(session, "makha", Action("O10-2", date(2023, 4, 28)), source="cli", source_key="k1")
    with session_scope(engine) as session:
        row = session.scalar(select(OccurrenceRow).join(ObligationRow, OccurrenceRow.obligation_id == ObligationRow.id)
                             .where(ObligationRow.code == "O10-2"))
        stored = [a for a in list_actions(session, "makha", "O10-2")]
    assert row is not None and row.done_on == date(2023, 4, 28)
    assert len(stored) == 1 and stored[0].action.recorded_at == bangkok_noon
    assert stored[0].action.recorded_at is not None and stored[0].action.recorded_at.tzinfo is UTC
