"""The integrity pages through Flask's test client: an obligation's history shows withdrawn and
corrected actions with who, when and channel; only the author, the unit's head or an admin may
withdraw or correct (with a CSRF token); the audit page is the admins'; hand-overs by unit heads."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from tests.web_support import FINANCE_OFFICER, MAKHA_ADMIN, NONGBUA_ADMIN, PALAD_HEAD, PALAD_OFFICER, csrf_of
from tests.webapp import NOW, make_app, sign_in
from tracker.domain.model import Action
from tracker.store import audit
from tracker.store.actions import log_action
from tracker.store.db import session_scope
from tracker.store.handovers import list_handovers
from tracker.store.repo import list_actions, org_row

OFFICER_NAME = "เจ้าหน้าที่ผู้รับผิดชอบ สำนักปลัด"


@pytest.fixture
def client(sqlite_engine: Engine, tmp_path: Path) -> Iterator[FlaskClient]:
    with make_app(sqlite_engine, tmp_path).test_client() as c:
        yield c


def logged(engine: Engine, by: str = OFFICER_NAME, obligation: str = "O10-3") -> int:
    with session_scope(engine) as session:
        return log_action(session, "makha", Action(obligation, date(2022, 12, 20), "https://makha.go.th/r",
                                                   recorded_by=by), channel="web", now=NOW)


def history(client: FlaskClient, code: str = "O10-3") -> str:
    response = client.get(f"/trail/makha/obligations/{code}")
    assert response.status_code == 200
    return response.text


def test_the_author_withdraws_and_the_history_shows_who_when_and_channel(client: FlaskClient,
                                                                         sqlite_engine: Engine) -> None:
    action_id = logged(sqlite_engine)
    sign_in(client, PALAD_OFFICER)
    page = history(client)
    assert f"/trail/makha/actions/{action_id}/withdraw" in page
    assert client.post(f"/trail/makha/actions/{action_id}/withdraw", data={"reason": "ผิด"}).status_code == 400
    done = client.post(f"/trail/makha/actions/{action_id}/withdraw", data={"reason": "บันทึกผิดภาระงาน",
                                                                          "csrf_token": csrf_of(page)})
    assert done.status_code == 302
    page = history(client)
    assert "ถอนแล้วโดย เจ้าหน้าที่ผู้รับผิดชอบ สำนักปลัด ทาง เว็บ" in page and "บันทึกผิดภาระงาน" in page
    # Dates and times as officials write them (it said "2022-12-20", "2023-04-30 03:00 UTC"): the day done,
    # when it was recorded and withdrawn (the form's date field keeps ISO, which it reads).
    shown = page.replace('value="2022-12-20"', "")
    assert "๒๐ ธันวาคม ๒๕๖๕" in shown and "เมื่อ ๓๐ เมษายน ๒๕๖๖ เวลา ๑๐:๐๐ น." in shown
    assert "UTC" not in shown and not re.search(r"\d{4}-\d\d-\d\d", shown)
    assert f"/trail/makha/actions/{action_id}/withdraw" not in page  # nothing left to withdraw
    with session_scope(sqlite_engine) as session:
        assert list_actions(session, "makha", "O10-3") == []


def test_the_unit_head_corrects_an_officers_action(client: FlaskClient, sqlite_engine: Engine) -> None:
    action_id = logged(sqlite_engine)
    sign_in(client, PALAD_HEAD)
    page = history(client)
    done = client.post(f"/trail/makha/actions/{action_id}/correct",
                       data={"done_on": "๑๘ ธ.ค. ๒๕๖๕", "evidence": "https://makha.go.th/r2", "reason": "วันที่ผิด",
                             "csrf_token": csrf_of(page)})
    assert done.status_code == 302
    with session_scope(sqlite_engine) as session:
        [current] = list_actions(session, "makha", "O10-3")
    assert (current.action.done_on, current.action.evidence, current.corrects_id) == (
        date(2022, 12, 18), "https://makha.go.th/r2", action_id)
    page = history(client)
    assert f"แก้ไขจากรายการ #{action_id}" in page and "corrected: วันที่ผิด" in page


def test_an_invalid_correction_is_422_and_changes_nothing(client: FlaskClient, sqlite_engine: Engine) -> None:
    action_id = logged(sqlite_engine)
    sign_in(client, PALAD_HEAD)
    page = history(client)
    refused = client.post(f"/trail/makha/actions/{action_id}/correct",
                          data={"done_on": "31/2/2566", "reason": "x", "csrf_token": csrf_of(page)})
    assert refused.status_code == 422 and "done_on" in refused.text
    refused = client.post(f"/trail/makha/actions/{action_id}/correct",
                          data={"evidence": "makha.go.th", "reason": "", "csrf_token": csrf_of(page)})
    assert refused.status_code == 422 and "evidence" in refused.text and "reason" in refused.text
    with session_scope(sqlite_engine) as session:
        assert [a.id for a in list_actions(session, "makha", "O10-3")] == [action_id]


@pytest.mark.parametrize("who", [FINANCE_OFFICER, NONGBUA_ADMIN])
def test_others_can_neither_read_nor_withdraw_another_units_action(client: FlaskClient, sqlite_engine: Engine,
                                                                    who: str) -> None:
    action_id = logged(sqlite_engine)
    sign_in(client, who)
    assert client.get("/trail/makha/obligations/O10-3").status_code == 403
    token = csrf_of(client.get("/", follow_redirects=True).text)  # the sign-out form carries one
    response = client.post(f"/trail/makha/actions/{action_id}/withdraw", data={"reason": "x", "csrf_token": token})
    assert response.status_code == 403
    with session_scope(sqlite_engine) as session:
        assert [a.id for a in list_actions(session, "makha", "O10-3")] == [action_id]


def test_an_officer_cannot_withdraw_a_colleagues_action(client: FlaskClient, sqlite_engine: Engine) -> None:
    action_id = logged(sqlite_engine, by="หัวหน้าสำนักปลัด")
    sign_in(client, PALAD_OFFICER)
    page = history(client)  # the officer reads the unit's history…
    assert f"/trail/makha/actions/{action_id}/withdraw" not in page
    response = client.post(f"/trail/makha/actions/{action_id}/withdraw",
                           data={"reason": "x", "csrf_token": csrf_of(page)})
    assert response.status_code == 403  # …but only its author, the head or an admin may withdraw it


def test_an_unknown_obligation_or_action_is_404(client: FlaskClient) -> None:
    sign_in(client, MAKHA_ADMIN)
    assert client.get("/trail/makha/obligations/Z99").status_code == 404
    page = client.get("/trail/makha/audit").text
    assert client.post("/trail/makha/actions/999/withdraw", data={"reason": "x", "csrf_token": csrf_of(page)}
                       ).status_code == 404


def test_the_audit_page_lists_changes_newest_first_and_filters(client: FlaskClient, sqlite_engine: Engine) -> None:
    action_id = logged(sqlite_engine)
    sign_in(client, MAKHA_ADMIN)
    page = history(client)
    client.post(f"/trail/makha/actions/{action_id}/withdraw", data={"reason": "ซ้ำ", "csrf_token": csrf_of(page)})
    audit_page = client.get("/trail/makha/audit").text
    assert audit_page.index("withdrawn") < audit_page.index("created")
    assert "ผู้ดูแลระบบ เทศบาลตำบลมะค่า" in audit_page
    only_tokens = client.get("/trail/makha/audit?entity=api_token").text
    assert "withdrawn" not in only_tokens


def test_the_audit_page_writes_times_as_officials_do(client: FlaskClient, sqlite_engine: Engine) -> None:
    """It wrote "2023-04-30 03:00" under "เวลา (UTC)"."""
    logged(sqlite_engine)  # at NOW: 30 April 2023, 10:00 in Bangkok
    sign_in(client, MAKHA_ADMIN)
    thai = client.get("/trail/makha/audit?lang=th").text
    assert "๓๐ เมษายน ๒๕๖๖ เวลา ๑๐:๐๐ น." in thai
    assert "2023-04-30" not in thai and "UTC" not in thai
    assert "30 April 2023 10:00" in client.get("/trail/makha/audit?lang=en").text


def test_a_unit_head_hands_an_officers_reminders_to_a_colleague(client: FlaskClient, sqlite_engine: Engine) -> None:
    sign_in(client, PALAD_HEAD)
    page = client.get("/trail/makha/handovers")
    assert page.status_code == 200 and OFFICER_NAME in page.text
    form = {"from_name": OFFICER_NAME, "to_name": "หัวหน้าสำนักปลัด", "starts_on": "2023-05-01",
            "ends_on": "2023-05-12"}
    assert client.post("/trail/makha/handovers", data=form).status_code == 400  # no CSRF token
    done = client.post("/trail/makha/handovers", data={**form, "csrf_token": csrf_of(page.text)})
    assert done.status_code == 200 and "๑ พฤษภาคม ๒๕๖๖ – ๑๒ พฤษภาคม ๒๕๖๖" in done.text
    # a finance officer is not the palad head's to hand over
    other = {**form, "from_name": "เจ้าหน้าที่ผู้รับผิดชอบ กองคลัง", "csrf_token": csrf_of(page.text)}
    assert client.post("/trail/makha/handovers", data=other).status_code == 403
    bad = {**form, "ends_on": "2023-04-01", "csrf_token": csrf_of(page.text)}
    assert client.post("/trail/makha/handovers", data=bad).status_code == 422
    with session_scope(sqlite_engine) as session:
        [handover] = list_handovers(session, "makha")
        [entry] = audit.entries(session, org_row(session, "makha").id, entity="handover")
    assert (handover.created_by, entry.channel) == ("หัวหน้าสำนักปลัด", "web")
    revoked = client.post(f"/trail/makha/handovers/{handover.id}/revoke", data={"csrf_token": csrf_of(page.text)})
    assert revoked.status_code == 302


def test_officers_cannot_hand_over(client: FlaskClient) -> None:
    sign_in(client, PALAD_OFFICER)
    assert client.get("/trail/makha/handovers").status_code == 403
