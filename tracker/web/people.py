"""Who a signed-in person is and what they may see and do, from the configuration.

A person signs in with one of their configured destinations (`mailto:…`, `line://…`); their grants are
every place that destination appears: a unit's contacts (officer or head of that unit), an
organisation's executives or admins, and the province or national viewers (`TRACKER_VIEWERS`). Grants
are read again on every request, so an edited configuration takes effect at once.

| role | reads | writes |
|---|---|---|
| unit officer, unit head | their unit's deadlines (and the organisation board) | their unit's actions |
| organisation executive | the whole organisation | – |
| organisation admin | the whole organisation | every unit's actions, admin pages |
| province viewer | every organisation of the province | – |
| national viewer | every organisation | – |
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_login import UserMixin
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from config.viewers import Viewer
from tracker.store.line_links import contacts_bound_to
from tracker.store.models import ContactAddressRow, ContactRow, OrganisationRow, address_key

UNIT_ROLES = ("officer", "head")
ORG_ROLES = ("executive", "admin")


@dataclass(frozen=True)
class Grant:
    role: str  # officer | head | executive | admin | province | national
    org: str | None = None
    unit: str | None = None
    province: str | None = None


def same_destination(a: str, b: str) -> bool:
    """E-mail addresses compare without case; LINE IDs and the rest exactly."""
    if a.lower().startswith("mailto:") and b.lower().startswith("mailto:"):
        return a.lower() == b.lower()
    return a == b


@dataclass(frozen=True, eq=False)
class Person(UserMixin):  # type: ignore[misc]
    """A signed-in person. `key` is the destination they signed in with (Flask-Login's user id)."""

    key: str
    name: str
    grants: tuple[Grant, ...]

    def get_id(self) -> str:
        return self.key

    def _org_grants(self, org: str) -> list[Grant]:
        return [g for g in self.grants if g.org == org]

    def reads_org(self, org: str, province: str) -> bool:
        """May read the whole organisation board (every unit's deadlines)."""
        return any(g.role == "national" or (g.role == "province" and g.province == province)
                   or (g.org == org and g.role in (*ORG_ROLES, *UNIT_ROLES)) for g in self.grants)

    def reads_unit(self, org: str, province: str, unit: str) -> bool:
        return self.reads_org(org, province) and (self.sees_all_units(org, province) or self.in_unit(org, unit))

    def sees_all_units(self, org: str, province: str) -> bool:
        return any(g.role == "national" or (g.role == "province" and g.province == province)
                   or (g.org == org and g.role in ORG_ROLES) for g in self.grants)

    def in_unit(self, org: str, unit: str) -> bool:
        return any(g.org == org and g.unit == unit and g.role in UNIT_ROLES for g in self.grants)

    def writes_unit(self, org: str, unit: str) -> bool:
        """May log actions for the unit's obligations."""
        return self.in_unit(org, unit) or self.is_admin(org)

    def is_admin(self, org: str) -> bool:
        return any(g.org == org and g.role == "admin" for g in self.grants)

    def is_head(self, org: str, unit: str | None) -> bool:
        return any(g.org == org and g.unit == unit and g.role == "head" for g in self.grants)

    def orgs(self) -> list[str]:
        return sorted({g.org for g in self.grants if g.org})

    @property
    def is_viewer(self) -> bool:
        return any(g.role in ("province", "national") for g in self.grants)


def _reaches(contact: ContactRow, key: str, bound: set[tuple[int, str]]) -> bool:
    """Whether `key` is one of the contact's destinations, or the LINE chat its `line:connect` is bound to."""
    return (contact.org_id, contact.name) in bound or any(same_destination(str(d), key) for d in contact.destinations)


def _contacts_with(session: Session, key: str) -> list[tuple[ContactRow, str]]:
    """The contacts (and their organisation's code) that `key` reaches, by the indexed address table and
    the LINE bindings: a few lookups, however many contacts the country has."""
    bound = contacts_bound_to(session, key)  # `line://<ID>` of a chat a `line:connect` contact is bound to
    reached = or_(ContactRow.id.in_(select(ContactAddressRow.contact_id)
                                    .where(ContactAddressRow.address == address_key(key))),
                  *(and_(ContactRow.org_id == org_id, ContactRow.name == name) for org_id, name in bound))
    query = (select(ContactRow, OrganisationRow.code)
             .join(OrganisationRow, OrganisationRow.id == ContactRow.org_id)
             .where(reached)
             .order_by(OrganisationRow.code, ContactRow.position))
    # The address table is a copy: the contact's own list stays the truth.
    return [(c, org) for c, org in session.execute(query) if _reaches(c, key, bound)]


def person_for(session: Session, key: str, viewers: tuple[Viewer, ...]) -> Person | None:
    """The person who signs in with destination `key`, or None when it is nobody's destination."""
    grants: list[Grant] = []
    name = ""
    for contact, org in _contacts_with(session, key):
        name = name or contact.name
        if contact.kind == "unit":
            grants.append(Grant("head" if contact.role == "head" else "officer", org, contact.unit_code))
        elif contact.kind in ORG_ROLES:
            grants.append(Grant(contact.kind, org))
    for viewer in viewers:
        if any(same_destination(d, key) for d in viewer.destinations):
            name = name or viewer.name
            national = viewer.scope == "national"
            grants.append(Grant("national") if national else Grant("province", province=viewer.province))
    return Person(key, name, tuple(grants)) if grants else None


def destinations_of(session: Session, key: str, viewers: tuple[Viewer, ...]) -> list[str]:
    """Every destination configured together with `key` (where a sign-in link for that person goes)."""
    found: list[str] = []
    for row, _ in _contacts_with(session, key):
        found.extend(str(d) for d in row.destinations)
    for viewer in viewers:
        if any(same_destination(d, key) for d in viewer.destinations):
            found.extend(viewer.destinations)
    return list(dict.fromkeys(found))
