"""The WSGI entry point for gunicorn (`gunicorn 'tracker.web.wsgi:app'`): settings from the environment.

Only gunicorn imports this module; `tracker web` and `tracker run` build their app themselves.
"""

from __future__ import annotations

from config.settings import Settings
from tracker.store.db import migrate, open_engine
from tracker.web import create_app

_settings = Settings.from_env()
_engine = open_engine(_settings.database_url)
migrate(_engine)  # the release step usually did it; a no-op then, and a fresh deployment still works
app = create_app(_settings, engine=_engine)
