"""Permissions of the admin and integrity pages, on top of the signed-in person's grants
(`tracker.web.people`): admin pages are the organisation admins'; an action is withdrawn or corrected
by its author, the head of its unit or an admin; a hand-over is made by the head of the person's unit
or an admin."""

from __future__ import annotations

from flask import abort

from tracker.web.access import require_person
from tracker.web.people import Person


def require_admin(org: str) -> Person:
    """The signed-in admin of `org`; anonymous visitors are sent to sign in, others get 403."""
    person = require_person()
    if not person.is_admin(org):
        abort(403)
    return person


def may_correct(person: Person, org: str, unit: str | None, recorded_by: str) -> bool:
    author = bool(recorded_by) and recorded_by == person.name and unit is not None and person.writes_unit(org, unit)
    return person.is_admin(org) or person.is_head(org, unit) or author


def may_hand_over(person: Person, org: str, units: set[str]) -> bool:
    return person.is_admin(org) or any(person.is_head(org, unit) for unit in units)
