"""A signed-in officer logs an action from the obligation page: the same form and the same function as
the action link's page (and `tracker log`), with CSRF, under their own name; only the unit's officers
and head and the organisation's admins may, anyone else's POST gets 403. The page links to the
obligation's history and shows its evidence links that the checker found broken."""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select

from tests.web_support import (
    FINANCE_OFFICER,
    MAKHA_ADMIN,
    MAYOR,
    NONGBUA_ADMIN,
    PALAD_HEAD,
    PALAD_OFFICER,
    csrf_of,
    make_app,
    sign_in,
    sync_both,
)
from tracker.domain.model import Action
from tracker.domain.thaidate import BANGKOK
from tracker.store.actions import log_action
from tracker.store.db import session_scope
from tracker.store.evidence import CheckOutcome, record_check
from tracker.store.models import ActionRow
from tracker.store.repo import list_actions
from tracker.store.status_query import org_statuses
from tracker.store.web_models import EvidenceFileRow

LATER = datetime(2023, 4, 30, 10, 0, tzinfo=BANGKOK)
PAGE = "/o/makha/ob/M04-1"  # a monthly obligation of the palad unit
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def app(engine: Engine, tmp_path: Path) -> Flask:
    sync_both(engine, tmp_path)
    return make_app(engine, tmp_path, now=LATER)


def client_as(app: Flask, engine: Engine, destination: str) -> FlaskClient:
    client = app.test_client()
    sign_in(client, engine, destination, LATER)
    return client


def status_of(engine: Engine, obligation: str, period: str) -> tuple[str, date | None]:
    with session_scope(engine) as session:
        _, items = org_statuses(session, "makha", date(2023, 4, 30), 2566)
    item = next(i for i in items if i.occurrence.obligation == obligation and i.occurrence.period == period)
    return item.status.value, item.done_on


def actions(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(session.scalar(select(func.count()).select_from(ActionRow)) or 0)


@pytest.mark.parametrize("who", [PALAD_OFFICER, PALAD_HEAD, MAKHA_ADMIN])
def test_a_unit_writer_logs_an_action_from_the_obligation_page(app: Flask, engine: Engine, who: str) -> None:
    client = client_as(app, engine, who)
    page = client.get(PAGE)
    assert page.status_code == 200 and 'id="action-form"' in page.text
    assert 'value="2566-M01" selected' in page.text  # the first deadline not yet done
    assert status_of(engine, "M04-1", "2566-M02")[0] == "overdue"
    done = client.post(PAGE, data={"csrf_token": csrf_of(page.text), "period": "2566-M02", "done_on": "20/4/2566",
                                   "evidence": "https://makha.example.go.th/m04-02", "note": "จากหน้าภาระงาน"})
    assert done.status_code == 302 and done.headers["Location"].startswith(PAGE)
    assert status_of(engine, "M04-1", "2566-M02") == ("late", date(2023, 4, 20))
    with session_scope(engine) as session:
        [logged] = [a for a in list_actions(session, "makha", "M04-1") if a.action.note == "จากหน้าภาระงาน"]
    assert logged.source == "web" and logged.action.period == "2566-M02"
    assert logged.action.recorded_by and logged.action.recorded_by in page.text  # the signed-in person's name
    confirmation = client.get(done.headers["Location"]).text
    assert "บันทึกผลแล้ว" in confirmation


def test_the_form_refuses_what_tracker_log_refuses_and_keeps_no_file(app: Flask, engine: Engine,
                                                                     tmp_path: Path) -> None:
    client = client_as(app, engine, PALAD_OFFICER)
    before = actions(engine)
    for fields, message in (({"period": "2566-M02", "done_on": "2023-05-30"}, "อนาคต"),
                            ({"period": "2566-M02", "done_on": "2023-04-20"}, "โปรดใส่ลิงก์หลักฐาน"),
                            ({"period": "2599-M02", "done_on": "2023-04-20", "evidence": "https://x.go.th/a"},
                             "โปรดเลือกรอบ")):
        token = csrf_of(client.get(PAGE).text)
        answer = client.post(PAGE, data={"csrf_token": token, "file": (io.BytesIO(PDF), "a.pdf"), **fields}
                             if "อนาคต" in message else {"csrf_token": token, **fields},
                             content_type="multipart/form-data")
        assert answer.status_code == 400 and message in answer.text, fields
    assert actions(engine) == before
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(EvidenceFileRow)) == 0
    assert not [p for p in (tmp_path / "data").rglob("*.pdf")]


def test_a_post_without_csrf_records_nothing(app: Flask, engine: Engine) -> None:
    client = client_as(app, engine, PALAD_OFFICER)
    before = actions(engine)
    answer = client.post(PAGE, data={"period": "2566-M02", "done_on": "2023-04-20",
                                     "evidence": "https://makha.example.go.th/x"})
    assert answer.status_code == 400 and actions(engine) == before


@pytest.mark.parametrize(("who", "get_status"), [
    (FINANCE_OFFICER, 403),  # another unit of the same organisation: cannot even read it
    (NONGBUA_ADMIN, 403),  # another organisation's admin
    (MAYOR, 200),  # an executive reads the whole organisation but logs nothing
])
def test_anyone_but_the_units_writers_gets_403(app: Flask, engine: Engine, who: str, get_status: int) -> None:
    client = client_as(app, engine, who)
    page = client.get(PAGE)
    assert page.status_code == get_status and 'id="action-form"' not in page.text
    token = csrf_of(client.get("/", follow_redirects=True).text)  # the sign-out form carries one
    before = actions(engine)
    answer = client.post(PAGE, data={"csrf_token": token, "period": "2566-M02", "done_on": "2023-04-20",
                                     "evidence": "https://makha.example.go.th/x"})
    assert answer.status_code == 403 and actions(engine) == before


def test_the_page_links_to_the_history_and_shows_broken_evidence(app: Flask, engine: Engine) -> None:
    client = client_as(app, engine, PALAD_OFFICER)
    page = client.get(PAGE).text
    assert 'href="/trail/makha/obligations/M04-1"' in page and 'id="broken-evidence"' not in page
    assert client.get("/trail/makha/obligations/M04-1").status_code == 200
    gone = "https://makha.example.go.th/gone.pdf"
    with session_scope(engine) as session:
        action_id = log_action(session, "makha", Action("M04-1", date(2023, 4, 20), gone, period="2566-M03"),
                               channel="cli", now=LATER)
        record_check(session, action_id, gone, CheckOutcome(False, 404, gone, "HTTP 404"), LATER)
    page = client.get(PAGE).text
    assert 'id="broken-evidence"' in page and gone in page and "HTTP 404" in page
    english = client.get(PAGE + "?lang=en").text
    assert "Evidence links that do not open" in english and "Full history" in english
