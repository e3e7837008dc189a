"""Reading many organisations at once: what `repo.load_organisation`, `repo.stored_occurrences` and
`repo.list_actions` give for one, for a batch, in a handful of queries.

The monthly digest reads every organisation of the country on one morning. One at a time, the dozen
queries (and ORM objects) per organisation cost more than building and rendering the digests; the
results here are the same objects, in the same order, as the one-organisation functions give.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Connection, Row, Select, Text, cast, select, type_coerce
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.types import NullType

from tracker.domain.model import Action, Contact, Measure, Obligation, Organisation, ReminderPolicy, Unit
from tracker.domain.rules import DueRule, Occurrence, rule_from_dict
from tracker.store.models import (
    ActionRow,
    ContactRow,
    MeasureRow,
    ObligationRow,
    OccurrenceRow,
    OrganisationRow,
    UnitRow,
)
from tracker.store.repo import line_channel_from, policy_from_json

_Columns = TypeVarTuple("_Columns")


def load_organisations(session: Session, codes: Sequence[str]) -> dict[str, tuple[int, Organisation]]:
    """code → (row id, the organisation as `repo.load_organisation` builds it) for the codes that exist.

    Organisations of the country mostly carry the same obligations (the national ITA measures): each
    distinct rule, policy and obligation is parsed and built once per call, from the JSON's text, and the
    (frozen) objects are shared. Core rows throughout: the ORM's per-row bookkeeping is not needed here."""
    connection = session.connection()
    parsed = _Parsed()
    # Rows are unpacked, never read by name: a Row's attribute costs ~0.9 µs, and the ~170 read per
    # organisation were half of this function's own time.
    orgs = _all(connection, (
        select(OrganisationRow.id, OrganisationRow.code, OrganisationRow.name, OrganisationRow.district,
               OrganisationRow.province, OrganisationRow.fiscal_year, OrganisationRow.language,
               cast(OrganisationRow.policy, Text), cast(OrganisationRow.closures, Text), OrganisationRow.line_channel)
        .where(OrganisationRow.code.in_(list(codes)))))
    ids = [row[0] for row in orgs]
    contacts: dict[int, list[tuple[str, str | None, Contact]]] = defaultdict(list)
    for org_id, kind, unit_code, name, role, destinations, title in _all(connection, select(
            ContactRow.org_id, ContactRow.kind, ContactRow.unit_code, ContactRow.name, ContactRow.role,
            ContactRow.destinations, ContactRow.title)
            .where(ContactRow.org_id.in_(ids)).order_by(ContactRow.org_id, ContactRow.position)):
        contacts[org_id].append((kind, unit_code, Contact(name, role, tuple(destinations), title)))

    def people(org_id: int, kind: str, unit: str | None = None) -> tuple[Contact, ...]:
        return tuple(person for k, u, person in contacts[org_id] if k == kind and u == unit)

    units: dict[int, list[Unit]] = defaultdict(list)
    for org_id, code, name in _all(connection, select(UnitRow.org_id, UnitRow.code, UnitRow.name)
                                   .where(UnitRow.org_id.in_(ids), UnitRow.active.is_(True))
                                   .order_by(UnitRow.org_id, UnitRow.position)):
        units[org_id].append(Unit(code, name, people(org_id, "unit", code)))
    measure_codes = dict(_all(connection, select(MeasureRow.id, MeasureRow.code).where(MeasureRow.org_id.in_(ids))))
    obligations: dict[int, list[Obligation]] = defaultdict(list)
    for measure_id, code, title, unit, rule, policy, done_when, evidence_required in _all(connection, select(
            ObligationRow.measure_id, ObligationRow.code, ObligationRow.title, ObligationRow.unit_code,
            cast(ObligationRow.rule, Text), cast(ObligationRow.policy, Text), ObligationRow.done_when,
            ObligationRow.evidence_required)
            .where(ObligationRow.org_id.in_(ids), ObligationRow.active.is_(True))
            .order_by(ObligationRow.measure_id, ObligationRow.position)):
        obligations[measure_id].append(parsed.obligation(measure_codes[measure_id], code, title, unit, rule, policy,
                                                         done_when, evidence_required))
    measures: dict[int, list[Measure]] = defaultdict(list)
    for measure_id, org_id, code, title, unit, oit, steps in _all(connection, select(
            MeasureRow.id, MeasureRow.org_id, MeasureRow.code, MeasureRow.title, MeasureRow.unit_code, MeasureRow.oit,
            cast(MeasureRow.steps, Text))
            .where(MeasureRow.org_id.in_(ids), MeasureRow.active.is_(True))
            .order_by(MeasureRow.org_id, MeasureRow.position)):
        measures[org_id].append(Measure(code, title, unit, oit, parsed.steps(steps), tuple(obligations[measure_id])))
    found: dict[str, tuple[int, Organisation]] = {}
    for org_id, code, name, district, province, year, language, policy, closures, line in orgs:
        found[code] = (org_id, Organisation(
            code=code, name=name, district=district, province=province, fiscal_year=year,
            units=tuple(units[org_id]), executives=people(org_id, "executive"), admins=people(org_id, "admin"),
            measures=tuple(measures[org_id]), closures=parsed.closures(closures), policy=parsed.policy(policy),
            language=language, line=line_channel_from(code, line)))
    return found


class _Parsed:
    """JSON columns parsed once per distinct text (a measure's steps too: the driver parsed every row's),
    and obligations built once per distinct row."""

    def __init__(self) -> None:
        self._policies: dict[str, ReminderPolicy] = {}
        self._rules: dict[str, DueRule] = {}
        self._closures: dict[str, tuple[tuple[date, str], ...]] = {}
        self._steps: dict[str, tuple[str, ...]] = {}
        self._obligations: dict[tuple[Any, ...], Obligation] = {}

    def policy(self, text: str) -> ReminderPolicy:
        if text not in self._policies:
            self._policies[text] = policy_from_json(json.loads(text))
        return self._policies[text]

    def rule(self, text: str | None) -> DueRule | None:
        if text is None:
            return None
        if text not in self._rules:
            data = json.loads(text)
            if not data:  # null or {} in the column: no deadline, as `repo.load_organisation` reads it
                return None
            self._rules[text] = rule_from_dict(data)
        return self._rules[text]

    def steps(self, text: str) -> tuple[str, ...]:
        if text not in self._steps:
            self._steps[text] = tuple(json.loads(text))
        return self._steps[text]

    def closures(self, text: str) -> tuple[tuple[date, str], ...]:
        if text not in self._closures:
            self._closures[text] = tuple((date.fromisoformat(d), name) for d, name in json.loads(text))
        return self._closures[text]

    def obligation(self, measure: str, code: str, title: str, unit: str, rule: str | None, policy: str,
                   done_when: str, evidence_required: bool) -> Obligation:
        key = (measure, code, title, unit, rule, policy, done_when, evidence_required)
        found = self._obligations.get(key)
        if found is None:
            found = self._obligations[key] = Obligation(code, title, measure, unit, self.rule(rule),
                                                        self.policy(policy), done_when, evidence_required)
        return found


def occurrences_of(session: Session, org_ids: Sequence[int], years: Sequence[int]) -> dict[int, list[Occurrence]]:
    """org id → its active occurrences of active obligations in the fiscal `years`, year by year (as
    `repo.stored_occurrences` gives each year). The same deadlines recur in every organisation: each
    distinct one is built once (and its dates parsed once) and shared."""
    query = (select(OccurrenceRow.org_id, ObligationRow.code, OccurrenceRow.period, _raw(OccurrenceRow.window_start),
                    _raw(OccurrenceRow.due))
             .join(ObligationRow, OccurrenceRow.obligation_id == ObligationRow.id)
             # The obligations' own org_id too (the same organisations): without it PostgreSQL scanned every
             # obligation of the country for each batch (4× slower reads at national scale).
             .where(OccurrenceRow.org_id.in_(list(org_ids)), ObligationRow.org_id.in_(list(org_ids)),
                    OccurrenceRow.fiscal_year.in_(list(years)), OccurrenceRow.active.is_(True),
                    ObligationRow.active.is_(True))
             .order_by(OccurrenceRow.org_id, OccurrenceRow.fiscal_year, OccurrenceRow.id))
    out: dict[int, list[Occurrence]] = defaultdict(list)
    built: dict[tuple[str, str, date | str, date | str], Occurrence] = {}
    days = _Days()
    for org_id, code, period, window_start, due in _all(session.connection(), query):
        found = (code, period, window_start, due)
        occurrence = built.get(found)
        if occurrence is None:
            occurrence = built[found] = Occurrence(code, period, days(window_start), days(due))
        out[org_id].append(occurrence)
    return out


def actions_of(session: Session, org_ids: Sequence[int]) -> dict[int, list[Action]]:
    """org id → its actions not withdrawn, by date then id (as `repo.list_actions` gives them), with
    what counting them and showing their evidence needs: the obligation, the day, the evidence, the
    period and unit they name. Who recorded them, when, and their note are left out (the digest shows
    none of them; reading and converting them was a third of the time spent here)."""
    query = (select(ActionRow.org_id, ObligationRow.code, _raw(ActionRow.done_on), ActionRow.evidence,
                    ActionRow.period, ActionRow.unit_code)
             .join(ObligationRow, ActionRow.obligation_id == ObligationRow.id)
             .where(ActionRow.org_id.in_(list(org_ids)), ObligationRow.org_id.in_(list(org_ids)),
                    ActionRow.withdrawn_at.is_(None))
             .order_by(ActionRow.org_id, ActionRow.done_on, ActionRow.id))
    out: dict[int, list[Action]] = defaultdict(list)
    days = _Days()
    for org_id, code, done_on, evidence, period, unit in _all(session.connection(), query):
        out[org_id].append(Action(code, days(done_on), evidence, period=period, unit=unit))
    return out


def _all(connection: Connection, query: Select[*_Columns]) -> Sequence[Row[*_Columns]]:
    """Every row of `query`, fetched at once: iterating a result fetches row by row (a driver call per
    row), which cost twice the CPU of fetching all (psycopg, 31,200 occurrences of 200 organisations)."""
    return connection.execute(query).all()


def _raw(column: InstrumentedAttribute[date]) -> ColumnElement[Any]:
    """A date column as the driver gives it (a date from psycopg, ISO text from SQLite), to be converted
    by `_Days`: the same few hundred days recur in every organisation."""
    return type_coerce(column, NullType())


class _Days:
    """Driver values of date columns → dates, each distinct value converted once."""

    def __init__(self) -> None:
        self._seen: dict[date | str, date] = {}

    def __call__(self, value: date | str) -> date:
        found = self._seen.get(value)
        if found is None:
            found = self._seen[value] = value if isinstance(value, date) else date.fromisoformat(value)
        return found


def executives(session: Session) -> list[tuple[str, str, list[str]]]:
    """(organisation code, name, destinations) of every executive, in each organisation's order."""
    query = (select(OrganisationRow.code, ContactRow.name, ContactRow.destinations)
             .join(OrganisationRow, OrganisationRow.id == ContactRow.org_id)
             .where(ContactRow.kind == "executive").order_by(ContactRow.org_id, ContactRow.position))
    return [(code, name, list(destinations or [])) for code, name, destinations in _all(session.connection(), query)]
