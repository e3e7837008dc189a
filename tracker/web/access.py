"""Scope checks every page makes: the signed-in person, and refusals (sign in first, or 403)."""

from __future__ import annotations

from pathlib import Path

from flask import abort, current_app, redirect, url_for
from flask_login import current_user

from config.viewers import Viewer, load_viewers
from tracker.web.people import Person


def viewers() -> tuple[Viewer, ...]:
    path = current_app.config.get("TRACKER_VIEWERS_FILE")
    return load_viewers(Path(path)) if path else ()


def person() -> Person | None:
    """The signed-in person, or None."""
    if not current_user.is_authenticated:
        return None
    found: Person = current_user._get_current_object()
    return found


def require_person() -> Person:
    """The signed-in person; anonymous visitors are sent to the sign-in page."""
    found = person()
    if found is None:
        abort(redirect(url_for("auth.request_link")))
    return found
