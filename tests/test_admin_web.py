"""Admin pages through Flask's test client: who may open them (scope), CSRF on every POST, contacts
with masked destinations, the outbox and its retry, API tokens and calendar feeds, the report
download, and uploads of a configuration file or a progress report (preview, then apply)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, update

from jobs import plan
from tests.conftest import REPO, SAMPLE
from tests.fixtures_reminders import outbox
from tests.web_support import FINANCE_OFFICER, MAKHA_ADMIN, NONGBUA_ADMIN, PALAD_HEAD, PALAD_OFFICER, csrf_of
from tests.webapp import NOW, make_app, sign_in
from tracker.store import audit
from tracker.store.db import session_scope
from tracker.store.models import DeliveryAttemptRow, ObligationRow, OccurrenceRow, OutboxRow
from tracker.store.repo import load_organisation, org_row

PAGES = ["/admin/makha/", "/admin/makha/contacts", "/admin/makha/outbox", "/admin/makha/access",
         "/admin/makha/config", "/admin/makha/report-import", "/trail/makha/audit"]


@pytest.fixture
def client(sqlite_engine: Engine, tmp_path: Path) -> Iterator[FlaskClient]:
    with make_app(sqlite_engine, tmp_path).test_client() as c:
        yield c


@pytest.fixture
def admin(client: FlaskClient) -> FlaskClient:
    sign_in(client, MAKHA_ADMIN)
    return client


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client: FlaskClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 302 and "/signin" in response.headers["Location"]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("who", [PALAD_OFFICER, PALAD_HEAD, NONGBUA_ADMIN])
def test_only_the_organisations_admins_open_its_admin_pages(client: FlaskClient, page: str, who: str) -> None:
    sign_in(client, who)
    assert client.get(page).status_code == 403


@pytest.mark.parametrize("page", PAGES)
def test_the_admin_opens_every_admin_page(admin: FlaskClient, page: str) -> None:
    response = admin.get(page)
    assert response.status_code == 200 and "เทศบาลตำบลมะค่า" in response.text


def test_contacts_show_masked_destinations_and_delivery_health(admin: FlaskClient, sqlite_engine: Engine) -> None:
    with session_scope(sqlite_engine) as session:
        plan.plan(session, NOW.replace(year=2022, month=10, day=21), "makha")
        session.execute(update(OutboxRow).where(OutboxRow.destination == "mailto:palad@makha.example.go.th")
                        .values(status="dead", last_error="550 no such user"))
    page = admin.get("/admin/makha/contacts").text
    assert "p***@makha.example.go.th" in page and "palad@makha.example.go.th" not in page
    assert "U0123…cdef" in page and "U0123456789abcdef0123456789abcdef" not in page


def test_a_dead_message_is_retried_with_the_cli_function(admin: FlaskClient, sqlite_engine: Engine) -> None:
    with session_scope(sqlite_engine) as session:
        plan.plan(session, NOW.replace(year=2022, month=10, day=21), "makha")
    message = outbox(sqlite_engine)[0]
    with session_scope(sqlite_engine) as session:
        session.execute(update(OutboxRow).where(OutboxRow.id == message.id).values(status="dead", attempts=8))
    page = admin.get("/admin/makha/outbox?status=dead")
    assert f"/admin/makha/outbox/{message.id}/retry" in page.text
    refused = admin.post(f"/admin/makha/outbox/{message.id}/retry")  # no CSRF token
    assert refused.status_code == 400 and outbox(sqlite_engine, id=message.id)[0].status == "dead"
    done = admin.post(f"/admin/makha/outbox/{message.id}/retry", data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 302
    assert (outbox(sqlite_engine, id=message.id)[0].status, outbox(sqlite_engine, id=message.id)[0].attempts) == (
        "pending", 0)
    again = admin.post(f"/admin/makha/outbox/{message.id}/retry", data={"csrf_token": csrf_of(page.text)})
    assert again.status_code == 409  # pending: nothing to retry


def test_another_organisations_message_cannot_be_retried(client: FlaskClient, sqlite_engine: Engine) -> None:
    with session_scope(sqlite_engine) as session:
        plan.plan(session, NOW.replace(year=2022, month=10, day=21), "makha")
        makha_id = org_row(session, "makha").id
    mine = next(m for m in outbox(sqlite_engine) if m.org_id == makha_id)
    sign_in(client, NONGBUA_ADMIN)
    token = csrf_of(client.get("/admin/nongbua/outbox").text)
    assert client.post(f"/admin/nongbua/outbox/{mine.id}/retry", data={"csrf_token": token}).status_code == 404


@pytest.mark.parametrize(("fmt", "mime", "start"), [
    ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK"),
    ("html", "text/html", b"<!doctype html"), ("tsv", "text/tab-separated-values", "รายงาน".encode())])
def test_the_progress_report_downloads_in_each_format(admin: FlaskClient, fmt: str, mime: str, start: bytes) -> None:
    response = admin.get(f"/admin/makha/report?fy=2566&round=6m&format={fmt}")
    assert response.status_code == 200 and response.mimetype == mime
    assert response.data.lstrip()[:len(start)].lower() == start.lower()
    assert f'filename="makha-2566-6m.{fmt}"' in response.headers["Content-Disposition"]


def test_a_report_in_an_unknown_format_is_400(admin: FlaskClient) -> None:
    assert admin.get("/admin/makha/report?fy=2566&round=9m&format=pdf").status_code == 400


def test_api_tokens_and_feeds_are_created_shown_once_and_revoked(admin: FlaskClient, sqlite_engine: Engine) -> None:
    page = admin.get("/admin/makha/access").text
    assert admin.post("/admin/makha/tokens", data={"name": "dashboard"}).status_code == 400  # no CSRF token
    created = admin.post("/admin/makha/tokens", data={"name": "dashboard", "csrf_token": csrf_of(page)})
    [token] = re.findall(r"itk_[A-Za-z0-9_-]{40,}", created.text)
    api = admin.get("/api/v1/organisations", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200
    listing = admin.get("/admin/makha/access").text
    assert token not in listing and token[:10] in listing
    assert not re.search(r"\d{4}-\d\d-\d\d", listing) and "๒๕๖๖ เวลา" in listing  # it said 2023-04-30
    feed = admin.post("/admin/makha/feeds", data={"unit": "palad", "csrf_token": csrf_of(page)})
    [url] = re.findall(r"http://[^\s<\"]+/feeds/cal_[A-Za-z0-9_-]+\.ics", feed.text)
    assert admin.get(url.split("tracker.test", 1)[-1]).status_code == 200
    assert admin.post("/admin/makha/tokens/1/revoke", data={"csrf_token": csrf_of(page)}).status_code == 302
    assert admin.post("/admin/makha/feeds/1/revoke", data={"csrf_token": csrf_of(page)}).status_code == 302
    assert admin.get("/api/v1/organisations", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert admin.get(url.split("tracker.test", 1)[-1]).status_code == 404
    with session_scope(sqlite_engine) as session:
        trail = audit.entries(session, org_row(session, "makha").id)
    assert {(e.entity, e.change, e.channel) for e in trail} == {
        ("api_token", "created", "web"), ("api_token", "revoked", "web"), ("feed", "created", "web"),
        ("feed", "revoked", "web")}


def test_a_neighbours_admin_cannot_revoke_this_organisations_token(client: FlaskClient) -> None:
    sign_in(client, MAKHA_ADMIN)
    page = client.get("/admin/makha/access").text
    client.post("/admin/makha/tokens", data={"name": "x", "csrf_token": csrf_of(page)})
    sign_in(client, NONGBUA_ADMIN)
    token = csrf_of(client.get("/admin/nongbua/access").text)
    assert client.post("/admin/nongbua/tokens/1/revoke", data={"csrf_token": token}).status_code == 404
    assert client.post("/admin/makha/tokens/1/revoke", data={"csrf_token": token}).status_code == 403


# ---------------------------------------------------------------- uploads

BROKEN = SAMPLE.read_text(encoding="utf-8").replace("fiscal_year = 2566", "fiscal_year = 2023", 1).replace(
    'role = "officer"', 'role = "boss"', 1)


def upload(client: FlaskClient, url: str, name: str, content: bytes, csrf: str | None) -> tuple[int, str]:
    import io
    data: dict[str, object] = {"file": (io.BytesIO(content), name)}
    if csrf:
        data["csrf_token"] = csrf
    response = client.post(url, data=data, content_type="multipart/form-data")
    return response.status_code, response.text


def test_a_broken_configuration_is_previewed_with_located_errors_and_not_applied(admin: FlaskClient,
                                                                               tmp_path: Path) -> None:
    before = (tmp_path / "orgs" / "makha.toml").read_bytes()
    csrf = csrf_of(admin.get("/admin/makha/config").text)
    assert upload(admin, "/admin/makha/config/preview", "makha.toml", BROKEN.encode(), None)[0] == 400
    status, page = upload(admin, "/admin/makha/config/preview", "makha.toml", BROKEN.encode(), csrf)
    assert status == 422
    line = next(i for i, text in enumerate(BROKEN.splitlines(), start=1) if text.startswith("fiscal_year = 2023"))
    assert f"makha.toml บรรทัด {line}" in page and "[organisation.fiscal_year]" in page
    assert "fiscal_year = 2023" in page  # the line itself, quoted
    assert "ข้อผิดพลาด" in page and 'id="apply"' not in page
    assert (tmp_path / "orgs" / "makha.toml").read_bytes() == before


def test_a_good_configuration_is_previewed_then_applied_keeping_the_previous_one(admin: FlaskClient,
                                                                                  sqlite_engine: Engine,
                                                                                  tmp_path: Path) -> None:
    new = SAMPLE.read_text(encoding="utf-8").replace('name = "เทศบาลตำบลมะค่า"', 'name = "เทศบาลตำบลมะค่า ๒"', 1)
    csrf = csrf_of(admin.get("/admin/makha/config").text)
    status, page = upload(admin, "/admin/makha/config/preview", "makha.toml", new.encode(), csrf)
    assert status == 200 and 'id="apply"' in page
    staged = re.search(r'name="staged" value="([0-9a-f]{64}\.toml)"', page)
    assert staged
    assert admin.post("/admin/makha/config/apply", data={"staged": staged.group(1)}).status_code == 400  # CSRF
    applied = admin.post("/admin/makha/config/apply", data={"staged": staged.group(1), "csrf_token": csrf})
    assert applied.status_code == 200 and 'id="applied"' in applied.text
    assert (tmp_path / "orgs" / "makha.toml").read_text(encoding="utf-8") == new
    [kept] = (tmp_path / "orgs" / ".history").iterdir()
    assert kept.read_bytes() == SAMPLE.read_bytes()
    with session_scope(sqlite_engine) as session:
        assert load_organisation(session, "makha").name == "เทศบาลตำบลมะค่า ๒"
    again = admin.post("/admin/makha/config/apply", data={"staged": staged.group(1), "csrf_token": csrf})
    assert again.status_code == 410  # applied once; upload again to apply again


def test_a_configuration_for_another_organisation_is_refused(admin: FlaskClient) -> None:
    text = SAMPLE.read_text(encoding="utf-8").replace('code = "makha"', 'code = "nongbua"', 1)
    csrf = csrf_of(admin.get("/admin/makha/config").text)
    status, page = upload(admin, "/admin/makha/config/preview", "nongbua.toml", text.encode(), csrf)
    assert status == 422 and "not &#39;makha&#39;" in page


def test_an_oversized_configuration_is_413(admin: FlaskClient) -> None:
    csrf = csrf_of(admin.get("/admin/makha/config").text)
    assert upload(admin, "/admin/makha/config/preview", "big.toml", b"#" * 1_000_001, csrf)[0] == 413


def test_a_progress_report_is_previewed_with_warnings_then_imported(admin: FlaskClient, tmp_path: Path) -> None:
    report = (REPO / "tests" / "fixtures" / "reports" / "makha-2566-6m.txt").read_bytes()
    csrf = csrf_of(admin.get("/admin/makha/report-import").text)
    status, page = upload(admin, "/admin/makha/report-import/preview", "report.txt", report, csrf)
    assert status == 200 and "คำเตือน" in page and "row " in page and 'id="apply"' in page
    staged = re.search(r'name="staged" value="([0-9a-f]{64}\.txt)"', page)
    assert staged
    done = admin.post("/admin/makha/report-import/apply",
                      data={"staged": staged.group(1), "name": "report.txt", "csrf_token": csrf})
    assert done.status_code == 200 and 'id="applied"' in done.text
    assert all(p.name.startswith("makha.") for p in (tmp_path / "orgs" / ".history").iterdir())


@pytest.mark.parametrize(("name", "content", "status"), [
    ("report.pdf", b"%PDF-1.4", 415), ("report.txt", b"not a report at all", 422)])
def test_a_report_of_the_wrong_type_or_unreadable_is_refused(admin: FlaskClient, name: str, content: bytes,
                                                              status: int) -> None:
    csrf = csrf_of(admin.get("/admin/makha/report-import").text)
    assert upload(admin, "/admin/makha/report-import/preview", name, content, csrf)[0] == status


def test_the_finance_officer_cannot_upload(client: FlaskClient) -> None:
    sign_in(client, FINANCE_OFFICER)
    assert upload(client, "/admin/makha/config/preview", "makha.toml", b"", None)[0] in (400, 403)
    assert NOW - timedelta(days=1) < NOW


# page → (a phrase of its Thai page, the same phrase on its English page)
LANGUAGES = {
    "/admin/makha/": ("ดาวน์โหลดรายงานผลการดำเนินการ", "Download the progress report"),
    "/admin/makha/contacts": ("ผู้รับแจ้งเตือนและช่องทาง", "Recipients and their channels"),
    "/admin/makha/outbox": ("กล่องข้อความขาออก", "Outbox"),
    "/admin/makha/access": ("สร้างโทเคน", "Create a token"),
    "/admin/makha/config": ("อัปโหลดไฟล์ตั้งค่า", "Upload a configuration file"),
    "/admin/makha/report-import": ("นำเข้ารายงานผลการดำเนินการ", "Import a progress report"),
    "/trail/makha/audit": ("ประวัติการแก้ไข", "Audit trail"),
    "/trail/makha/handovers": ("มอบหมายการแจ้งเตือนระหว่างลา", "Hand reminders over during leave"),
    "/trail/makha/obligations/O10-1": ("การบันทึกผล", "Actions"),
}


@pytest.mark.parametrize("page", list(LANGUAGES))
def test_admin_and_trail_pages_follow_the_language_choice(admin: FlaskClient, page: str) -> None:
    thai, english = LANGUAGES[page]
    assert thai in admin.get(page).text
    in_english = admin.get(page + "?lang=en")
    assert in_english.status_code == 200 and english in in_english.text and thai not in in_english.text
    nav = ("ผู้รับแจ้งเตือน", "กล่องข้อความขาออก", "ไฟล์ตั้งค่า", "ประวัติการแก้ไข")
    assert not any(label in in_english.text for label in nav)
    # the choice is remembered, as on the other pages, until changed back
    assert english in admin.get(page).text
    assert thai in admin.get(page + "?lang=th").text


def test_a_paused_channel_is_shown_above_the_outbox_until_a_send_goes_through(admin: FlaskClient,
                                                                              sqlite_engine: Engine) -> None:
    with session_scope(sqlite_engine) as session:
        plan.plan(session, NOW.replace(year=2022, month=10, day=21), "makha")
    line = next(m for m in outbox(sqlite_engine) if m.destination.startswith("line:"))
    refused_at = NOW.replace(year=2022, month=10, day=21, hour=9, minute=2)
    with session_scope(sqlite_engine) as session:
        session.add(DeliveryAttemptRow(outbox_id=line.id, at=refused_at, outcome="channel", provider_status=401,
                                       error="LINE push: HTTP 401: Authentication failed", duration_ms=5))
    page = admin.get("/admin/makha/outbox").text
    assert "หยุดส่งชั่วคราวตั้งแต่ ๒๑ ตุลาคม ๒๕๖๕ เวลา ๐๙:๐๒ น." in page and "HTTP 401" in page
    assert "paused since 21 October 2022 09:02" in admin.get("/admin/makha/outbox?lang=en").text
    with session_scope(sqlite_engine) as session:
        session.add(DeliveryAttemptRow(outbox_id=line.id, at=refused_at + timedelta(minutes=10), outcome="sent",
                                       duration_ms=5))
    assert "หยุดส่งชั่วคราว" not in admin.get("/admin/makha/outbox?lang=th").text



def test_the_outbox_and_the_history_say_what_each_message_is_in_the_readers_words(
        admin: FlaskClient, sqlite_engine: Engine) -> None:
    """The outbox's "ประเภท" column and an obligation's reminder history showed the internals
    ("reminder before-7", "pending", an ISO time in UTC) on Thai pages."""
    with session_scope(sqlite_engine) as session:
        plan.plan(session, NOW.replace(year=2022, month=10, day=21), "makha")
        early = session.execute(select(ObligationRow.code).join(OccurrenceRow, OccurrenceRow.obligation_id
                                                                  == ObligationRow.id)
                                .join(OutboxRow, OutboxRow.occurrence_id == OccurrenceRow.id)
                                .where(OutboxRow.stage == "before-7")).scalars().first()
    assert early is not None
    internals = re.compile(r"reminder|before-\d|overdue-\d|escalation-|>pending<|\d{4}-\d\d-\d\d \d\d:\d\d")
    page = admin.get("/admin/makha/outbox").text
    assert "แจ้งเตือนล่วงหน้า ๗ วัน" in page and not internals.search(page)
    assert "reminder, 7 days before" in admin.get("/admin/makha/outbox?lang=en").text
    history = admin.get(f"/trail/makha/obligations/{early}?lang=th").text  # the cookie says en now
    assert "แจ้งเตือนล่วงหน้า ๗ วัน" in history and "รอส่ง" in history and "๒๕๖๕ เวลา" in history
    assert not internals.search(history)
    english = admin.get(f"/trail/makha/obligations/{early}?lang=en").text
    assert "reminder, 7 days before" in english and "pending" in english
