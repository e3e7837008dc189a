"""The web app officers answer their reminders with: signed action links, sign-in, boards.

`create_app(settings)` builds it (Flask 3, the project's SQLAlchemy sessions, Flask-Login sessions,
Flask-WTF CSRF on every form). Blueprints by audience: `officer` (the signed link in each reminder),
`boards` (organisation, unit, obligation, overview), `auth` (passwordless sign-in). Other parts of the
app register themselves by existing: each module named in OPTIONAL_BLUEPRINTS that is present exposes
a Blueprint `bp` and is registered here (CSRF exempt where the caller is a machine, not a browser).
"""

from __future__ import annotations

import importlib
import importlib.util

from flask import Flask
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import Engine

from config.settings import Settings
from config.viewers import ENV as VIEWERS_ENV
from config.web_secret import web_secret_key
from tracker.store.db import open_engine
from tracker.web import appctx, errors, i18n
from tracker.web.uploads import MAX_UPLOAD_BYTES

# module → CSRF exempt? The JSON API (bearer tokens) and the LINE webhook (signed by LINE) are called by
# machines; everything a browser posts carries a CSRF token.
OPTIONAL_BLUEPRINTS: dict[str, bool] = {
    "tracker.web.admin": False,
    "tracker.web.admin_upload": False,
    "tracker.web.trail": False,
    "tracker.web.api": True,
    "tracker.web.feeds": False,
    "tracker.web.line": True,
    "tracker.web.line_admin": False,
}

VIEWERS_KEY = "TRACKER_VIEWERS_FILE"


def create_app(settings: Settings, *, engine: Engine | None = None, clock: appctx.Clock | None = None) -> Flask:
    """The app. `engine` defaults to one on `settings.database_url` (migrated by the caller);
    `clock` (tests) fixes the instant pages are judged at."""
    app = Flask(__name__)
    secure = settings.base_url.startswith("https://")
    app.config.update(
        SECRET_KEY=web_secret_key(settings).reveal(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        # An officer may open a reminder and fill the form an hour later: the token lives with the session.
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES + 256 * 1024,  # the file and the form's other fields
        PREFERRED_URL_SCHEME="https" if secure else "http",
    )
    app.config[appctx.ENGINE_KEY] = engine if engine is not None else open_engine(settings.database_url)
    app.config[appctx.SETTINGS_KEY] = settings
    app.config[appctx.CLOCK_KEY] = clock
    app.config[VIEWERS_KEY] = settings.env.get(VIEWERS_ENV) or None

    csrf = CSRFProtect(app)
    login = LoginManager(app)
    i18n.init_app(app)
    errors.init_app(app)

    from tracker.web import auth, boards, officer
    auth.init_login(login)
    for bp in (boards.bp, officer.bp, auth.bp):
        app.register_blueprint(bp)
    _register_optional(app, csrf)
    return app


def _register_optional(app: Flask, csrf: CSRFProtect) -> None:
    for name, exempt in OPTIONAL_BLUEPRINTS.items():
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)  # an error in a present module must show, not be skipped
        bp = module.bp
        if exempt:
            csrf.exempt(bp)
        app.register_blueprint(bp)
