"""The bulk reader (`tracker.store.org_bulk`) gives, for a batch, exactly what the one-organisation reader
gives for each: it parses each distinct rule and policy once and shares the objects between organisations
(the national digest reads 7,850 organisations carrying the same obligations), so a difference would
show here first. SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from sqlalchemy import Engine

from config.loader import LoadResult
from config.model import OrgConfig
from tracker.domain.model import Action, Contact, LineChannel, Measure, Obligation
from tracker.domain.rules import MonthRule
from tracker.store.actions import withdraw_action
from tracker.store.db import session_scope
from tracker.store.org_bulk import actions_of, load_organisations, occurrences_of
from tracker.store.repo import (
    add_action,
    list_actions,
    load_organisation,
    org_row,
    stored_occurrences,
    sync_organisation,
)

SYNCED_AT = datetime(2022, 9, 1, tzinfo=UTC)


def variant(cfg: OrgConfig) -> OrgConfig:
    """Makha's twin with what the sample lacks: its own LINE channel, closures, an obligation without a
    deadline and one with its own reminder policy and optional evidence."""
    org = cfg.organisation
    first = org.measures[0]
    extra = (Obligation("Z-1", "ไม่มีกำหนด", first.code, first.unit, None),
             Obligation("Z-2", "นโยบายของตนเอง", first.code, first.unit, MonthRule(11),
                        replace(org.policy, before_days=(5, 2), due_soon_days=3), "ส่งแล้ว", False))
    return replace(cfg, organisation=replace(
        org, code="twin", name="เทศบาลแฝด", line=LineChannel("twin", "TWIN_TOKEN", "TWIN_SECRET", "@twin"),
        closures=((date(2023, 1, 3), "ปิดทำการ"),),
        executives=(*org.executives, Contact("รองนายก", "executive", ("mailto:rong@x.th",), "รองนายกเทศมนตรี")),
        measures=(replace(first, obligations=(*first.obligations, *extra)), *org.measures[1:],
                  Measure("EMPTY", "ยังไม่มีภาระงาน", first.unit))))


def test_the_bulk_reader_gives_what_load_organisation_gives(engine: Engine, sample: LoadResult) -> None:
    configs = [*sample.orgs, variant(sample.orgs[0])]
    with session_scope(engine) as session:
        for cfg in configs:
            sync_organisation(session, cfg, SYNCED_AT, through_fy=2566)
    codes = [cfg.organisation.code for cfg in configs]
    with session_scope(engine) as session:
        bulk = load_organisations(session, [*codes, "nobody"])
        one_by_one = {code: (org_row(session, code).id, load_organisation(session, code)) for code in codes}
    assert bulk == one_by_one
    assert bulk["twin"][1].line is not None and bulk["twin"][1].obligation("Z-1").rule is None


def test_the_bulk_reader_gives_each_organisation_its_own_deadlines_and_actions(engine: Engine,
                                                                               sample: LoadResult) -> None:
    """`occurrences_of` and `actions_of` for a batch: what `stored_occurrences` (two fiscal years) and
    `list_actions` give for each organisation, the actions with what the digest reads of them, a withdrawn
    one left out."""
    configs = [*sample.orgs, variant(sample.orgs[0])]
    with session_scope(engine) as session:
        for cfg in configs:
            sync_organisation(session, cfg, SYNCED_AT, through_fy=2566)
        twin_work = Action("Z-2", date(2022, 11, 30), "https://twin.example/z2", period="2566", unit="palad")
        add_action(session, "twin", twin_work, now=SYNCED_AT)
        mistaken = add_action(session, "twin", Action("Z-2", date(2022, 12, 1)), now=SYNCED_AT)
        assert mistaken is not None
        withdraw_action(session, "twin", mistaken, SYNCED_AT, actor="test", channel="cli", reason="logged twice")
    codes = [cfg.organisation.code for cfg in configs]
    with session_scope(engine) as session:
        ids = {code: org_row(session, code).id for code in codes}
        occurrences = occurrences_of(session, list(ids.values()), [2565, 2566])
        actions = actions_of(session, list(ids.values()))
        for code, org_id in ids.items():
            stored = stored_occurrences(session, code, 2565) + stored_occurrences(session, code, 2566)
            assert sorted(occurrences[org_id]) == sorted(stored) and stored, code
            assert actions.get(org_id, []) == [
                Action(a.obligation, a.done_on, a.evidence, period=a.period, unit=a.unit)
                for a in (s.action for s in list_actions(session, code))], code
    assert twin_work in actions[ids["twin"]] and len(actions[ids["makha"]]) == len(sample.org("makha").actions)
