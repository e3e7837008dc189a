"""Signed action links: GET shows the deadline and changes nothing; POST with CSRF records the action as
`tracker log` does and stops the pending reminders; tampered, expired, revoked and foreign links are
refused with a Thai page; uploads are checked and never served without the link."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select

from tests.web_support import NOW, csrf_of, link_path, make_app, occurrence_id, sync_both
from tracker.domain.status import Status, status_label
from tracker.store.db import session_scope
from tracker.store.links import LINK_DAYS_AFTER_DUE, revoke
from tracker.store.models import ActionRow, OutboxRow
from tracker.store.repo import list_actions
from tracker.store.status_query import org_statuses
from tracker.store.web_models import EvidenceFileRow

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def app(engine: Engine, tmp_path: Path) -> Flask:
    sync_both(engine, tmp_path)
    return make_app(engine, tmp_path)


def o10(engine: Engine, today: date = date(2022, 10, 21)) -> tuple[str, date | None]:
    with session_scope(engine) as session:
        _, items = org_statuses(session, "makha", today, 2566)
    item = next(i for i in items if i.occurrence.obligation == "O10-1")
    return item.status.value, item.done_on


def count(engine: Engine, table: type) -> int:
    with session_scope(engine) as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def post(client: FlaskClient, path: str, **fields: object) -> object:
    token = csrf_of(client.get(path).text)
    return client.post(path, data={"csrf_token": token, **fields}, content_type="multipart/form-data")


def test_get_shows_the_deadline_in_thai_and_changes_nothing(app: Flask, engine: Engine) -> None:
    path = link_path(app, occurrence_id(engine))
    before = count(engine, ActionRow)
    page = app.test_client().get(path)
    assert page.status_code == 200
    text = page.text
    assert "O10-1" in text and "จัดทำแผนดำเนินงานประจำปี" in text
    assert "๓๑ ตุลาคม ๒๕๖๕" in text  # due in B.E., Thai digits
    assert status_label(Status(o10(engine)[0]), "th") in text  # the status `tracker status` computes
    assert "เผยแพร่บนเว็บไซต์หน่วยงานแล้ว" in text  # what counts as done
    assert 'name="csrf_token"' in text and 'value="เจ้าหน้าที่ผู้รับผิดชอบ สำนักปลัด"' in text
    assert count(engine, ActionRow) == before


def test_post_records_like_tracker_log_and_stops_reminders(app: Flask, engine: Engine) -> None:
    occ = occurrence_id(engine)
    with session_scope(engine) as session:
        session.add(OutboxRow(key="test-pending", org_id=1, occurrence_id=occ, stage="before-7", recipient="x",
                              destination="outbox:", created_at=NOW, send_after=NOW, next_attempt_at=NOW,
                              status="pending"))
    client = app.test_client()
    path = link_path(app, occ)
    answer = post(client, path, done_on="20/10/2565", evidence="https://makha.example.go.th/plan", note="เผยแพร่แล้ว",
                  name="สมศรี")
    assert answer.status_code == 302  # type: ignore[attr-defined]
    page = client.get(answer.headers["Location"])  # type: ignore[attr-defined]
    assert "บันทึกผลแล้ว" in page.text and "ดำเนินการแล้ว" in page.text and "https://makha.example.go.th/plan" in page.text
    assert o10(engine) == ("done", date(2022, 10, 20))
    with session_scope(engine) as session:
        stored = next(a for a in list_actions(session, "makha", "O10-1") if a.source == "web")
        assert stored.source == "web" and stored.action.recorded_by == "สมศรี" and stored.action.period == "2566"
        assert session.scalar(select(OutboxRow.status).where(OutboxRow.key == "test-pending")) == "cancelled"


def test_post_without_csrf_is_refused_and_records_nothing(app: Flask, engine: Engine) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    path = link_path(app, occurrence_id(engine))
    before = count(engine, ActionRow)
    answer = app.test_client().post(path, data={"done_on": "2022-10-20", "evidence": "https://x.example/plan"})
    assert answer.status_code == 400 and "แบบฟอร์ม" in answer.text
    assert count(engine, ActionRow) == before


@pytest.mark.parametrize(("fields", "field_error"), [
    ({"done_on": "31/02/2565", "evidence": "https://x.example/a"}, "อ่านวันที่ไม่ได้"),
    ({"done_on": "2022-10-30", "evidence": "https://x.example/a"}, "อนาคต"),
    ({"done_on": "2022-10-20"}, "โปรดใส่ลิงก์หลักฐาน"),
    ({"done_on": "2022-10-20", "evidence": "ftp://x.example/a"}, "https://"),
])
def test_invalid_form_says_what_and_records_nothing(app: Flask, engine: Engine, fields: dict[str, str],
                                                    field_error: str) -> None:
    before = count(engine, ActionRow)
    answer = post(app.test_client(), link_path(app, occurrence_id(engine)), **fields)
    assert answer.status_code == 400 and field_error in answer.text  # type: ignore[attr-defined]
    assert count(engine, ActionRow) == before


def test_uploaded_pdf_is_kept_by_hash_and_served_only_with_the_link(app: Flask, engine: Engine, tmp_path: Path) -> None:
    client = app.test_client()
    path = link_path(app, occurrence_id(engine))
    answer = post(client, path, done_on="2022-10-20", file=(io.BytesIO(PDF), "แผน.pdf"))
    assert answer.status_code == 302  # type: ignore[attr-defined]
    with session_scope(engine) as session:
        row = session.scalars(select(EvidenceFileRow)).one()
    assert (tmp_path / "data" / "uploads" / row.sha256[:2] / f"{row.sha256}.pdf").read_bytes() == PDF
    page = client.get(path).text
    assert f"{path}/files/{row.id}" in page
    got = client.get(f"{path}/files/{row.id}")
    assert got.status_code == 200 and got.data == PDF and got.headers["X-Content-Type-Options"] == "nosniff"
    # another organisation's link, a tampered link, or no link at all: no file
    foreign = link_path(app, occurrence_id(engine, org="nongbua"), org="nongbua")
    assert client.get(f"{foreign}/files/{row.id}").status_code == 404
    assert client.get(f"{path}x/files/{row.id}").status_code == 403
    assert client.get(f"/files/{row.id}").status_code in (302, 401, 404)


@pytest.mark.parametrize(("fields", "field_error"), [
    ({"done_on": "2022-10-30"}, "อนาคต"),  # a day in the future: refused by the form
    ({"done_on": "31/02/2565"}, "อ่านวันที่ไม่ได้"),  # no such day
    ({"done_on": "2022-10-20", "evidence": "ftp://x.example/a"}, "https://"),  # refused by log_action itself
])
def test_a_refused_action_leaves_no_uploaded_file_behind(app: Flask, engine: Engine, tmp_path: Path,
                                                          fields: dict[str, str], field_error: str) -> None:
    before = count(engine, ActionRow)
    answer = post(app.test_client(), link_path(app, occurrence_id(engine)), file=(io.BytesIO(PDF), "แผน.pdf"),
                  **fields)
    assert answer.status_code == 400 and field_error in answer.text  # type: ignore[attr-defined]
    assert count(engine, ActionRow) == before and count(engine, EvidenceFileRow) == 0
    uploads = tmp_path / "data" / "uploads"
    assert not uploads.exists() or not [p for p in uploads.rglob("*") if p.is_file()]


@pytest.mark.parametrize(("name", "data", "message"), [
    ("run.exe", b"MZ\x90\x00", "ไม่รับไฟล์ชนิดนี้"),
    ("plan.pdf", b"MZ\x90\x00 not a pdf", "ไม่ใช่ชนิดที่ชื่อไฟล์บอก"),
])
def test_wrong_type_upload_is_refused(app: Flask, engine: Engine, name: str, data: bytes, message: str) -> None:
    answer = post(app.test_client(), link_path(app, occurrence_id(engine)), done_on="2022-10-20",
                  file=(io.BytesIO(data), name))
    assert answer.status_code == 400 and message in answer.text  # type: ignore[attr-defined]
    assert count(engine, ActionRow) == 0 or count(engine, EvidenceFileRow) == 0


def test_oversized_upload_is_refused(app: Flask, engine: Engine) -> None:
    big = b"%PDF-1.4\n" + b"0" * (11 * 1024 * 1024)
    client = app.test_client()
    path = link_path(app, occurrence_id(engine))
    token = csrf_of(client.get(path).text)
    answer = client.post(path, data={"csrf_token": token, "done_on": "2022-10-20", "file": (io.BytesIO(big), "a.pdf")},
                         content_type="multipart/form-data")
    assert answer.status_code == 413 and "ไฟล์ใหญ่เกินไป" in answer.text
    assert count(engine, EvidenceFileRow) == 0


def test_tampered_link_is_a_thai_403(app: Flask, engine: Engine) -> None:
    path = link_path(app, occurrence_id(engine))
    for bad in (path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB"), "/a/not-a-token"):
        page = app.test_client().get(bad)
        assert page.status_code == 403 and "ลิงก์ไม่ถูกต้อง" in page.text and "ข้อความแจ้งเตือน" in page.text


def test_link_expires_after_the_documented_period(engine: Engine, tmp_path: Path) -> None:
    sync_both(engine, tmp_path)
    due = date(2022, 10, 31)
    last_day = datetime(2022, 10, 31, 12, tzinfo=UTC) + timedelta(days=LINK_DAYS_AFTER_DUE)
    path = link_path(make_app(engine, tmp_path), occurrence_id(engine), due=due)
    assert make_app(engine, tmp_path, now=last_day).test_client().get(path).status_code == 200
    page = make_app(engine, tmp_path, now=last_day + timedelta(days=1)).test_client().get(path)
    assert page.status_code == 410 and "หมดอายุ" in page.text


def test_revoked_contact_link_is_refused_and_a_new_one_works(app: Flask, engine: Engine) -> None:
    occ = occurrence_id(engine)
    old = link_path(app, occ, issued=NOW - timedelta(days=3))
    with session_scope(engine) as session:
        revoke(session, "makha", "เจ้าหน้าที่ผู้รับผิดชอบ สำนักปลัด", NOW - timedelta(days=1), actor="admin", channel="cli")
    client = app.test_client()
    page = client.get(old)
    assert page.status_code == 410 and "ยกเลิก" in page.text
    assert client.get(link_path(app, occ, issued=NOW)).status_code == 200
    other = link_path(app, occ, contact="หัวหน้าสำนักปลัด", issued=NOW - timedelta(days=3))
    assert client.get(other).status_code == 200  # revocation is per contact


def test_a_link_never_opens_another_organisations_deadline(app: Flask, engine: Engine) -> None:
    nongbua_occurrence = occurrence_id(engine, org="nongbua")
    page = app.test_client().get(link_path(app, nongbua_occurrence, org="makha"))
    assert page.status_code == 404


def test_english_page(app: Flask, engine: Engine) -> None:
    page = app.test_client().get(link_path(app, occurrence_id(engine)) + "?lang=en")
    assert "Log what was done" in page.text and "31 October 2022" in page.text


def test_the_digest_links_to_the_organisation_board(app: Flask, engine: Engine) -> None:
    from jobs.digest import compose
    from tests.web_support import BASE_URL
    with session_scope(engine) as session:
        composed = compose(session, "makha", 2022, 11, date(2022, 11, 1), NOW, BASE_URL)
        without = compose(session, "makha", 2022, 11, date(2022, 11, 1), NOW)
    assert f"{BASE_URL}/o/makha" in composed.rendered.text and f"{BASE_URL}/o/makha" in composed.rendered.html
    assert "/o/makha" not in without.rendered.text
    assert client_board_opens(app, "/o/makha")


def client_board_opens(app: Flask, path: str) -> bool:
    return app.test_client().get(path).status_code in (200, 302)  # the page exists (sign-in comes first)
