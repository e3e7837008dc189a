"""What the planner needs to know about every organisation, read in three set-based queries.

Loading full `Organisation` objects (measures, obligations, rules) for thousands of organisations would
cost more than the planning itself; the planner needs only each organisation's calendar, language,
units with their contacts, and executives.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from store.models import ContactRow, OrganisationRow, UnitRow
from store.repo import policy_from_json
from tracker.model import Contact, Organisation, ReminderPolicy, Unit
from tracker.workdays import WorkCalendar


@dataclass(frozen=True)
class OrgContext:
    id: int
    org: Organisation  # units, contacts, executives, admins and closures only: no measures
    calendar: WorkCalendar  # built once: `Organisation.calendar` builds a new one on every access


@lru_cache(maxsize=1024)
def policy_from_text(text: str) -> ReminderPolicy:
    """Policies stored as JSON text, parsed once per distinct text (a nation shares a handful)."""
    return policy_from_json(json.loads(text))


def load_contexts(session: Session, org_code: str | None = None) -> dict[int, OrgContext]:
    """Every organisation (or the one named), keyed by its row id."""
    orgs = select(OrganisationRow.id, OrganisationRow.code, OrganisationRow.name, OrganisationRow.fiscal_year,
                  OrganisationRow.language, cast(OrganisationRow.policy, Text), cast(OrganisationRow.closures, Text))
    units = select(UnitRow.org_id, UnitRow.code, UnitRow.name).where(UnitRow.active.is_(True))
    contacts = select(ContactRow.org_id, ContactRow.kind, ContactRow.unit_code, ContactRow.name, ContactRow.role,
                      cast(ContactRow.destinations, Text), ContactRow.title).order_by(ContactRow.position)
    if org_code is not None:
        orgs = orgs.where(OrganisationRow.code == org_code)
        ids = select(OrganisationRow.id).where(OrganisationRow.code == org_code).scalar_subquery()
        units = units.where(UnitRow.org_id == ids)
        contacts = contacts.where(ContactRow.org_id == ids)
    people: dict[tuple[int, str, str | None], list[Contact]] = defaultdict(list)
    for org_id, kind, unit, name, role, dests, title in session.execute(contacts):
        people[(org_id, kind, unit)].append(Contact(name, role, tuple(json.loads(dests)), title))
    unit_rows: dict[int, list[Unit]] = defaultdict(list)
    for org_id, code, name in session.execute(units):
        unit_rows[org_id].append(Unit(code, name, tuple(people[(org_id, "unit", code)])))
    out: dict[int, OrgContext] = {}
    for org_id, code, name, fy, lang, policy, closures in session.execute(orgs):
        org = Organisation(
            code=code, name=name, district="", province="", fiscal_year=fy, units=tuple(unit_rows[org_id]),
            executives=tuple(people[(org_id, "executive", None)]), admins=tuple(people[(org_id, "admin", None)]),
            closures=closures_from_text(closures), policy=policy_from_text(policy), language=lang,
        )
        out[org_id] = OrgContext(org_id, org, org.calendar)
    return out


@lru_cache(maxsize=4096)
def closures_from_text(text: str) -> tuple[tuple[date, str], ...]:
    return tuple((date.fromisoformat(d), name) for d, name in json.loads(text))
