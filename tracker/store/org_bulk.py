"""Reading many organisations at once: what `repo.load_organisation`, `repo.stored_occurrences` and
`repo.list_actions` give for one, for a batch, in a handful of queries.

The monthly digest reads every organisation of the country on one morning. One at a time, the dozen
queries (and ORM objects) per organisation cost more than building and rendering the digests; the
results here are the same objects, in the same order, as the one-organisation functions give.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.model import Action, Contact, Measure, Obligation, Organisation, Unit
from tracker.domain.rules import Occurrence, rule_from_dict
from tracker.store.models import (
    ActionRow,
    ContactRow,
    MeasureRow,
    ObligationRow,
    OccurrenceRow,
    OrganisationRow,
    UnitRow,
)
from tracker.store.repo import line_channel_of, policy_from_json


def load_organisations(session: Session, codes: Sequence[str]) -> dict[str, tuple[int, Organisation]]:
    """code → (row id, the organisation as `repo.load_organisation` builds it) for the codes that exist."""
    connection = session.connection()  # Core rows: the ORM's per-row bookkeeping is not needed here
    orgs = list(session.scalars(select(OrganisationRow).where(OrganisationRow.code.in_(list(codes)))))
    ids = [row.id for row in orgs]
    contacts: dict[int, list[tuple[str, str | None, Contact]]] = defaultdict(list)
    for c in connection.execute(select(ContactRow.__table__).where(ContactRow.org_id.in_(ids))
                                .order_by(ContactRow.org_id, ContactRow.position)):
        contacts[c.org_id].append((c.kind, c.unit_code, Contact(c.name, c.role, tuple(c.destinations), c.title)))

    def people(org_id: int, kind: str, unit: str | None = None) -> tuple[Contact, ...]:
        return tuple(person for k, u, person in contacts[org_id] if k == kind and u == unit)

    units: dict[int, list[Unit]] = defaultdict(list)
    for u in connection.execute(select(UnitRow.__table__).where(UnitRow.org_id.in_(ids), UnitRow.active.is_(True))
                                .order_by(UnitRow.org_id, UnitRow.position)):
        units[u.org_id].append(Unit(u.code, u.name, people(u.org_id, "unit", u.code)))
    obligations: dict[int, list[Obligation]] = defaultdict(list)
    measure_codes = {m.id: m.code for m in connection.execute(
        select(MeasureRow.id, MeasureRow.code).where(MeasureRow.org_id.in_(ids)))}
    for o in connection.execute(select(ObligationRow.__table__).where(ObligationRow.org_id.in_(ids),
                                                                      ObligationRow.active.is_(True))
                                .order_by(ObligationRow.measure_id, ObligationRow.position)):
        obligations[o.measure_id].append(
            Obligation(o.code, o.title, measure_codes[o.measure_id], o.unit_code,
                       rule_from_dict(o.rule) if o.rule else None, policy_from_json(o.policy), o.done_when,
                       o.evidence_required))
    measures: dict[int, list[Measure]] = defaultdict(list)
    for m in connection.execute(select(MeasureRow.__table__).where(MeasureRow.org_id.in_(ids),
                                                                   MeasureRow.active.is_(True))
                                .order_by(MeasureRow.org_id, MeasureRow.position)):
        measures[m.org_id].append(Measure(m.code, m.title, m.unit_code, m.oit, tuple(m.steps),
                                          tuple(obligations[m.id])))
    return {row.code: (row.id, Organisation(
        code=row.code, name=row.name, district=row.district, province=row.province, fiscal_year=row.fiscal_year,
        units=tuple(units[row.id]), executives=people(row.id, "executive"), admins=people(row.id, "admin"),
        measures=tuple(measures[row.id]), closures=tuple((date.fromisoformat(d), name) for d, name in row.closures),
        policy=policy_from_json(row.policy), language=row.language, line=line_channel_of(row))) for row in orgs}


def occurrences_of(session: Session, org_ids: Sequence[int], years: Sequence[int]) -> dict[int, list[Occurrence]]:
    """org id → its active occurrences of active obligations in the fiscal `years`, year by year (as
    `repo.stored_occurrences` gives each year)."""
    query = (select(OccurrenceRow.org_id, ObligationRow.code, OccurrenceRow.period, OccurrenceRow.window_start,
                    OccurrenceRow.due)
             .join(ObligationRow, OccurrenceRow.obligation_id == ObligationRow.id)
             .where(OccurrenceRow.org_id.in_(list(org_ids)), OccurrenceRow.fiscal_year.in_(list(years)),
                    OccurrenceRow.active.is_(True), ObligationRow.active.is_(True))
             .order_by(OccurrenceRow.org_id, OccurrenceRow.fiscal_year, OccurrenceRow.id))
    out: dict[int, list[Occurrence]] = defaultdict(list)
    for org_id, code, period, window_start, due in session.connection().execute(query):
        out[org_id].append(Occurrence(code, period, window_start, due))
    return out


def actions_of(session: Session, org_ids: Sequence[int]) -> dict[int, list[Action]]:
    """org id → its actions not withdrawn, by date then id (as `repo.list_actions` gives them)."""
    query = (select(ActionRow.org_id, ObligationRow.code, ActionRow.done_on, ActionRow.evidence, ActionRow.note,
                    ActionRow.recorded_by, ActionRow.recorded_at, ActionRow.period, ActionRow.unit_code)
             .join(ObligationRow, ActionRow.obligation_id == ObligationRow.id)
             .where(ActionRow.org_id.in_(list(org_ids)), ActionRow.withdrawn_at.is_(None))
             .order_by(ActionRow.org_id, ActionRow.done_on, ActionRow.id))
    out: dict[int, list[Action]] = defaultdict(list)
    for org_id, code, done_on, evidence, note, by, at, period, unit in session.execute(query):
        out[org_id].append(Action(code, done_on, evidence, note, by, at, period, unit))
    return out


def executives(session: Session) -> list[tuple[str, str, list[str]]]:
    """(organisation code, name, destinations) of every executive, in each organisation's order."""
    query = (select(OrganisationRow.code, ContactRow.name, ContactRow.destinations)
             .join(OrganisationRow, OrganisationRow.id == ContactRow.org_id)
             .where(ContactRow.kind == "executive").order_by(ContactRow.org_id, ContactRow.position))
    return [(code, name, list(destinations or [])) for code, name, destinations in session.connection().execute(query)]
