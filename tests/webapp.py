"""The web app for my tests, built by the app factory through `tests.web_support`: two organisations,
a fixed clock, signing a person in, API tokens."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from tests import web_support
from tests.conftest import SAMPLE
from tracker.domain.thaidate import BANGKOK
from tracker.store.db import session_scope
from tracker.store.secrets_store import create_api_token
from tracker.web import create_app

NOW = datetime(2023, 4, 30, 10, 0, tzinfo=BANGKOK)


def make_app(engine: Engine, tmp_path: Path, now: datetime = NOW) -> Flask:
    """The app on both organisations; its configuration folder is a copy in `tmp_path/orgs` (the admin
    pages write there, never into the packaged sample)."""
    web_support.sync_both(engine, tmp_path)
    folder = tmp_path / "orgs"
    folder.mkdir(exist_ok=True)
    shutil.copy(SAMPLE, folder / "makha.toml")
    shutil.copy(web_support.neighbour(tmp_path), folder / "nongbua.toml")
    settings = web_support.settings_for(engine, tmp_path, TRACKER_CONFIG=str(folder))
    app = create_app(settings, engine=engine, clock=lambda: now)
    app.config["TESTING"] = True
    return app


def sign_in(client: FlaskClient, destination: str) -> None:
    """What the one-time sign-in link leaves behind: Flask-Login's session naming the person's key."""
    with client.session_transaction() as session:
        session["_user_id"] = destination
        session["_fresh"] = True


def api_token(engine: Engine, org: str = "makha") -> str:
    with session_scope(engine) as session:
        return create_api_token(session, org, "test", NOW, actor="test")[1]
