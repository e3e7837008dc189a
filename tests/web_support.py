"""The web app on a test database: Tambon Makha and a neighbour (`nongbua`, a different province and
its own people), a fixed clock, and helpers to sign in and to read CSRF tokens from pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from config.loader import load_config
from config.settings import Settings
from tests.conftest import SAMPLE
from tracker.domain.thaidate import BANGKOK
from tracker.store.db import session_scope
from tracker.store.repo import sync_organisation
from tracker.web import create_app

NOW = datetime(2022, 10, 21, 9, 0, tzinfo=BANGKOK)
SYNCED_AT = datetime(2022, 10, 1, 1, 0, tzinfo=BANGKOK)
BASE_URL = "http://tracker.test"

PALAD_OFFICER = "mailto:palad@makha.example.go.th"
PALAD_HEAD = "mailto:palad.head@makha.example.go.th"
FINANCE_OFFICER = "mailto:finance@makha.example.go.th"
MAKHA_ADMIN = "mailto:admin@makha.example.go.th"
MAYOR = "mailto:mayor@makha.example.go.th"
NONGBUA_ADMIN = "mailto:admin@nongbua.example.go.th"
PROVINCE_VIEWER = "mailto:viewer@korat.example.go.th"
NATIONAL_VIEWER = "mailto:viewer@nacc.example.go.th"


def neighbour(tmp_path: Path) -> Path:
    """Tambon Makha's file as another organisation: code `nongbua`, another province, other people."""
    text = (SAMPLE.read_text(encoding="utf-8").replace('code = "makha"', 'code = "nongbua"', 1)
            .replace("makha.example", "nongbua.example").replace("U0123456789abcdef", "U9999999999abcdef")
            .replace("Cfedcba9876543210", "C9999999999999999")
            .replace('province = "นครราชสีมา"', 'province = "ขอนแก่น"'))
    path = tmp_path / "nongbua.toml"
    path.write_text(text, encoding="utf-8")
    return path


def viewers_file(tmp_path: Path) -> Path:
    path = tmp_path / "viewers.toml"
    path.write_text(f'''
[[viewers]]
name = "สถจ.นครราชสีมา"
scope = "province:นครราชสีมา"
destinations = ["{PROVINCE_VIEWER}"]

[[viewers]]
name = "สำนักงาน ป.ป.ช."
scope = "national"
destinations = ["{NATIONAL_VIEWER}"]
''', encoding="utf-8")
    return path


def sync_both(engine: Engine, tmp_path: Path) -> None:
    loaded = load_config([SAMPLE, neighbour(tmp_path)])
    assert loaded.ok, loaded.errors
    with session_scope(engine) as session:
        for cfg in loaded.orgs:
            sync_organisation(session, cfg, SYNCED_AT, through_fy=2566)


def settings_for(engine: Engine, tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"TRACKER_DATA_DIR": str(tmp_path / "data"), "TRACKER_BASE_URL": BASE_URL,
                              "DATABASE_URL": engine.url.render_as_string(hide_password=False),
                              "TRACKER_VIEWERS": str(viewers_file(tmp_path)), **env})


def make_app(engine: Engine, tmp_path: Path, now: datetime = NOW, clock: Callable[[], datetime] | None = None) -> Flask:
    app = create_app(settings_for(engine, tmp_path), engine=engine, clock=clock or (lambda: now))
    app.config["TESTING"] = True
    return app


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def occurrence_id(engine: Engine, org: str = "makha", obligation: str = "O10-1", period: str = "2566") -> int:
    from sqlalchemy import select

    from tracker.store.models import ObligationRow, OccurrenceRow, OrganisationRow
    with session_scope(engine) as session:
        found = session.scalar(select(OccurrenceRow.id)
                               .join(ObligationRow, ObligationRow.id == OccurrenceRow.obligation_id)
                               .join(OrganisationRow, OrganisationRow.id == OccurrenceRow.org_id)
                               .where(OrganisationRow.code == org, ObligationRow.code == obligation,
                                      OccurrenceRow.period == period))
    assert found is not None
    return int(found)


def link_path(app: Flask, occurrence: int, org: str = "makha", contact: str = "เจ้าหน้าที่ผู้รับผิดชอบ สำนักปลัด",
              due: date = date(2022, 10, 31), issued: datetime = NOW) -> str:
    from tracker.store.links import ActionLinks
    links = ActionLinks.from_settings(app.config["TRACKER_SETTINGS"])
    return "/a/" + links.token(org, occurrence, contact, due, issued)


def sign_in(client: FlaskClient, engine: Engine, destination: str, now: datetime = NOW) -> None:
    """Sign in as the person with `destination`, through a one-time link as a person would."""
    from tracker.store import signin
    with session_scope(engine) as session:
        token = signin.issue(session, destination, now)
    page = client.get(f"/signin/{token}")
    assert page.status_code == 200, page.text
    done = client.post(f"/signin/{token}", data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 302, done.text
