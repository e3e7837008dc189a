"""What the planner needs to know about every organisation, read in two set-based queries.

Loading full `Organisation` objects (measures, obligations, rules) for thousands of organisations would
cost more than the planning itself. The planner needs each organisation's calendar, language and
contacts; an organisation's contacts are turned into domain objects only when one of its occurrences
has a reminder that day, and each audience is resolved once, by the pure `tracker.domain.reminders.audience`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from tracker.domain.model import Contact, Organisation, ReminderPolicy, Unit
from tracker.domain.reminders import EXECUTIVES, HEADS, OFFICERS, audience, recipient_hash
from tracker.domain.workdays import WorkCalendar
from tracker.store.models import ContactRow, OrganisationRow
from tracker.store.repo import policy_from_json

Recipient = tuple[str, str, str]  # name, destination, recipient_hash
ContactData = tuple[str, str | None, str, str, str, str]  # kind, unit code, name, role, destinations JSON, title


@dataclass
class OrgContext:
    id: int
    code: str
    language: str
    closures_text: str  # the stored closures: a cheap key for caches that depend on the calendar
    contacts: list[ContactData] = field(default_factory=list)
    _recipients: dict[tuple[str, str], tuple[Recipient, ...]] = field(default_factory=dict)
    _org: Organisation | None = None

    @property
    def calendar(self) -> WorkCalendar:
        return calendar_from_text(self.closures_text)

    @property
    def org(self) -> Organisation:
        """The organisation with its units and people only (no measures), built on first use."""
        if self._org is None:
            people: dict[tuple[str, str | None], list[Contact]] = defaultdict(list)
            for kind, unit, name, role, dests, title in self.contacts:
                people[(kind, unit)].append(Contact(name, role, tuple(json.loads(dests)), title))
            units = tuple(Unit(code, code, tuple(cs)) for (kind, code), cs in people.items()
                          if kind == "unit" and code is not None)
            self._org = Organisation(self.code, self.code, "", "", 0, units=units,
                                     executives=tuple(people[("executive", None)]),
                                     admins=tuple(people[("admin", None)]), language=self.language)
        return self._org

    def recipients(self, unit_code: str, who: str) -> tuple[Recipient, ...]:
        """(name, destination, key hash) of an audience of a unit, computed once per organisation."""
        found = self._recipients.get((unit_code, who))
        if found is None:
            found = tuple((c.name, d, recipient_hash(c.name, d))
                          for c in audience(self.org, unit_code, who) for d in c.destinations)
            self._recipients[(unit_code, who)] = found
        return found


Shape = tuple[tuple[str, str | None, str], ...]  # (kind, unit code, role) of each contact, in order
AUDIENCES = (OFFICERS, HEADS, EXECUTIVES)


@lru_cache(maxsize=1024)
def audience_indices(shape: Shape) -> dict[tuple[str, str], tuple[int, ...]]:
    """(unit code, audience) → positions of the contacts it reaches, for every organisation whose
    contacts have this shape: `audience` looks only at kinds, units, roles and order, so it runs once
    per shape (a nation has a handful) rather than once per organisation. Executives are under unit "*"."""
    ctx = OrgContext(0, "", "th", "[]",
                     [(kind, unit, str(i), role, "[]", "") for i, (kind, unit, role) in enumerate(shape)])
    units = sorted({unit for kind, unit, _ in shape if kind == "unit" and unit is not None})
    out: dict[tuple[str, str], tuple[int, ...]] = {}
    for unit, who in [("*", EXECUTIVES)] + [(u, w) for u in units for w in (OFFICERS, HEADS)]:
        out[(unit, who)] = tuple(int(c.name) for c in audience(ctx.org, unit, who))
    return out


def all_recipients(ctx: OrgContext) -> Iterator[tuple[str, str, tuple[Recipient, ...]]]:
    """(unit code, audience, recipients) for every unit of the organisation and every audience, as
    `OrgContext.recipients` gives them (executives once, under unit "*")."""
    shape = tuple((kind, unit, role) for kind, unit, _, role, _, _ in ctx.contacts)
    dests: dict[int, list[str]] = {}
    for (unit, who), positions in audience_indices(shape).items():
        found: list[Recipient] = []
        for i in positions:
            if i not in dests:
                dests[i] = json.loads(ctx.contacts[i][4])
            name = ctx.contacts[i][2]
            found.extend((name, d, recipient_hash(name, d)) for d in dests[i])
        yield unit, who, tuple(found)


@lru_cache(maxsize=1024)
def policy_from_text(text: str) -> ReminderPolicy:
    """Policies stored as JSON text, parsed once per distinct text (a nation shares a handful)."""
    return policy_from_json(json.loads(text))


@lru_cache(maxsize=4096)
def closures_from_text(text: str) -> tuple[tuple[date, str], ...]:
    return tuple((date.fromisoformat(d), name) for d, name in json.loads(text))


@lru_cache(maxsize=4096)
def calendar_from_text(text: str) -> WorkCalendar:
    return WorkCalendar.with_closures(closures_from_text(text))


def load_contexts(session: Session, org_code: str | None = None,
                  org_ids: Sequence[int] | None = None) -> dict[int, OrgContext]:
    """Every organisation (or the one named, or those of `org_ids`), keyed by its row id. Contacts of
    units that were removed are gone too (a sync replaces them all), so the contacts alone describe the
    live units."""
    orgs = select(OrganisationRow.id, OrganisationRow.code, OrganisationRow.language,
                  cast(OrganisationRow.closures, Text))
    contacts = select(ContactRow.org_id, ContactRow.kind, ContactRow.unit_code, ContactRow.name, ContactRow.role,
                      cast(ContactRow.destinations, Text), ContactRow.title).order_by(ContactRow.position)
    if org_code is not None:
        orgs = orgs.where(OrganisationRow.code == org_code)
        contacts = contacts.where(ContactRow.org_id == select(OrganisationRow.id)
                                  .where(OrganisationRow.code == org_code).scalar_subquery())
    if org_ids is not None:
        orgs = orgs.where(OrganisationRow.id.in_(list(org_ids)))
        contacts = contacts.where(ContactRow.org_id.in_(list(org_ids)))
    connection = session.connection()  # Core rows: the ORM's per-row bookkeeping is not needed here
    out = {org_id: OrgContext(org_id, code, lang, closures)
           for org_id, code, lang, closures in connection.execute(orgs)}
    for org_id, kind, unit, name, role, dests, title in connection.execute(contacts):
        ctx = out.get(org_id)
        if ctx is not None:
            ctx.contacts.append((kind, unit, name, role, dests, title))
    return out
