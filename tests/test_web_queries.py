"""A page's database work must not grow with the country: the same pages, read by the same person, on a
database with one organisation and on one with twenty, issue as many SQL statements and load as many
ORM rows. (Signing a person in once read every contact in the country on every request: at national
scale that was 2 s per page. Speed itself is measured by bench/bench_web.py, never by a timed test.)"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Engine, event

from config.loader import load_config
from tests.conftest import SAMPLE
from tests.web_support import MAKHA_ADMIN, NOW, csrf_of, link_path, occurrence_id, settings_for, sign_in
from tracker.store.db import migrate, open_engine, session_scope
from tracker.store.models import Base
from tracker.store.repo import sync_organisation
from tracker.store.secrets_store import create_api_token
from tracker.web import create_app

SYNCED_AT = NOW


def _copy_of_makha(tmp_path: Path, number: int) -> Path:
    """Tambon Makha's file as another organisation with its own people."""
    text = (SAMPLE.read_text(encoding="utf-8").replace('code = "makha"', f'code = "copy{number:02d}"', 1)
            .replace("makha.example", f"copy{number:02d}.example")
            .replace("U0123456789abcdef", f"U{number:016x}").replace("Cfedcba9876543210", f"C{number:016x}"))
    path = tmp_path / f"copy{number:02d}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _database(tmp_path: Path, organisations: int) -> Engine:
    engine = open_engine(f"sqlite:///{tmp_path / f'orgs{organisations}.sqlite3'}")
    migrate(engine)
    loaded = load_config([SAMPLE, *(_copy_of_makha(tmp_path, n) for n in range(1, organisations))])
    assert loaded.ok, loaded.errors
    with session_scope(engine) as session:
        for cfg in loaded.orgs:
            sync_organisation(session, cfg, SYNCED_AT, through_fy=2566)
    return engine


@dataclass
class Work:
    statements: int = 0
    rows_loaded: int = 0


@contextmanager
def counting(engine: Engine) -> Iterator[Work]:
    """SQL statements sent and ORM rows loaded while the block runs."""
    work = Work()

    def statement(*_: Any) -> None:
        work.statements += 1

    def loaded(*_: Any) -> None:
        work.rows_loaded += 1

    event.listen(engine, "after_cursor_execute", statement)
    event.listen(Base, "load", loaded, propagate=True)
    try:
        yield work
    finally:
        event.remove(engine, "after_cursor_execute", statement)
        event.remove(Base, "load", loaded)


def _work_per_page(tmp_path: Path, organisations: int) -> dict[str, tuple[int, int]]:
    folder = tmp_path / f"n{organisations}"
    folder.mkdir()
    engine = _database(folder, organisations)
    app: Flask = create_app(settings_for(engine, folder), engine=engine, clock=lambda: NOW)
    app.config["TESTING"] = True
    client = app.test_client()
    sign_in(client, engine, MAKHA_ADMIN)
    with session_scope(engine) as session:
        token = create_api_token(session, "makha", "queries", NOW, actor="test")[1]
    occurrence = occurrence_id(engine)
    link = link_path(app, occurrence)
    form = csrf_of(client.get(link).text)
    api = {"Authorization": f"Bearer {token}"}
    pages = {
        "board": lambda: client.get("/o/makha"),
        "unit page": lambda: client.get("/o/makha/u/palad"),
        "obligation page": lambda: client.get("/o/makha/ob/O10-1"),
        "deadline page": lambda: client.get(f"/o/makha/d/{occurrence}"),
        "overview": lambda: client.get("/overview"),
        "history": lambda: client.get("/trail/makha/obligations/O10-1"),
        "audit": lambda: client.get("/trail/makha/audit"),
        "admin contacts": lambda: client.get("/admin/makha/contacts"),
        "admin outbox": lambda: client.get("/admin/makha/outbox"),
        "action link": lambda: client.get(link),
        "action link POST": lambda: client.post(link, data={"csrf_token": form, "done_on": "2022-10-20",
                                                            "evidence": "https://makha.example.go.th/plan"}),
        "API occurrences": lambda: client.get("/api/v1/organisations/makha/occurrences?fy=2566", headers=api),
        "API action POST": lambda: client.post("/api/v1/organisations/makha/actions", headers=api, json={
            "obligation": "O10-2", "date": "2022-10-20", "evidence": "https://makha.example.go.th/x"}),
    }
    found = {}
    for name, request in pages.items():
        with counting(engine) as work:
            response = request()
        assert response.status_code < 400, (name, response.status_code, response.text[:500])
        found[name] = (work.statements, work.rows_loaded)
    engine.dispose()
    return found


def test_a_pages_database_work_does_not_grow_with_the_number_of_organisations(tmp_path: Path) -> None:
    one = _work_per_page(tmp_path, 1)
    twenty = _work_per_page(tmp_path, 20)
    grown = {name: (one[name], twenty[name]) for name in one if twenty[name] != one[name]}
    assert not grown, f"(statements, ORM rows loaded) with 1 organisation → with 20: {grown}"


def test_an_edited_configuration_shows_at_once_though_organisations_are_cached(tmp_path: Path) -> None:
    """The boards keep each organisation by its configuration's hash: a sync that changes the file (a
    title, a removed obligation) shows on the next request, as the grants do."""
    engine = _database(tmp_path, 1)
    app: Flask = create_app(settings_for(engine, tmp_path), engine=engine, clock=lambda: NOW)
    client = app.test_client()
    sign_in(client, engine, MAKHA_ADMIN)
    assert "จัดทำแผนดำเนินงานประจำปี" in client.get("/o/makha/ob/O10-1").text
    edited = tmp_path / "makha.toml"
    edited.write_text(SAMPLE.read_text(encoding="utf-8").replace(
        "จัดทำแผนดำเนินงานประจำปีงบประมาณ ภายในเดือนตุลาคม", "แผนงานฉบับแก้ไขใหม่ ภายในเดือนตุลาคม", 1),
        encoding="utf-8")
    loaded = load_config([edited])
    assert loaded.ok, loaded.errors
    with session_scope(engine) as session:
        sync_organisation(session, loaded.orgs[0], SYNCED_AT, through_fy=2566)
    page = client.get("/o/makha/ob/O10-1").text
    assert "แผนงานฉบับแก้ไขใหม่" in page and "จัดทำแผนดำเนินงานประจำปีงบประมาณ" not in page
    engine.dispose()
