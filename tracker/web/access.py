"""Scope checks every page makes: the signed-in person, and refusals (sign in first, or 403)."""

from __future__ import annotations

from pathlib import Path

from flask import abort, current_app
from flask_login import current_user

from config.viewers import Viewer, load_viewers
from tracker.web.people import Person

_read: dict[str, tuple[float, tuple[Viewer, ...]]] = {}  # path → (its mtime when read, its viewers)


def viewers() -> tuple[Viewer, ...]:
    """The province and national viewers (TRACKER_VIEWERS), read again whenever the file changes: every
    signed-in request asks, and parsing the file each time cost more than the lookup it serves."""
    path = current_app.config.get("TRACKER_VIEWERS_FILE")
    if not path:
        return ()
    try:
        changed = Path(path).stat().st_mtime
    except OSError:
        return load_viewers(Path(path))  # says what is wrong with it, as before
    found = _read.get(path)
    if found is None or found[0] != changed:
        found = (changed, load_viewers(Path(path)))
        _read[path] = found
    return found[1]


def person() -> Person | None:
    """The signed-in person, or None."""
    if not current_user.is_authenticated:
        return None
    found: Person = current_user._get_current_object()
    return found


def require_person() -> Person:
    """The signed-in person; an anonymous visitor is redirected to the sign-in page (with `next`, so that
    signing in leads back here). Flask-Login's `unauthorized()` returns that redirect: it is raised here."""
    found = person()
    if found is None:
        abort(current_app.login_manager.unauthorized())  # type: ignore[attr-defined]
    return found
