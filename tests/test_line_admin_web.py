"""LINE on the admin pages and the officer's signed page: bindings listed (IDs masked, status, when), and a
one-time connect code with the add-friend link issued from the web by the same function as
`tracker line-connect` — a code that then binds the chat it is sent from."""

from __future__ import annotations

import re
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import Engine

from tests.fakes.line_server import BOT_BASIC_ID, FakeLineServer
from tests.fakes.plugin import LINE_TOKEN, fake_line  # noqa: F401
from tests.line_support import GROUP_ID, MAYOR, OFFICER, OFFICER_ID, load_connect_sample, sync
from tests.web_support import MAKHA_ADMIN, NOW, csrf_of, link_path, occurrence_id, settings_for, sign_in
from tracker.store.db import session_scope
from tracker.store.line_links import issue_code, list_bindings
from tracker.web import create_app

CODE = re.compile(r'id="connect-code">(ITA-[A-Z0-9]{8})<')


def client_for(engine: Engine, tmp_path: Path, line: FakeLineServer) -> FlaskClient:
    sync(engine, load_connect_sample(tmp_path / "config"))
    settings = settings_for(engine, tmp_path, LINE_API_BASE=line.base_url, LINE_CHANNEL_ACCESS_TOKEN=LINE_TOKEN,
                            LINE_CHANNEL_SECRET=line.channel_secret)
    app = create_app(settings, engine=engine, clock=lambda: NOW)
    app.config["TESTING"] = True
    return app.test_client()


def send_code(client: FlaskClient, line: FakeLineServer, chat: str, code: str, user: str | None = None) -> None:
    body, headers = line.webhook_request(line.event("message", chat, text=code, user=user))
    assert client.post("/line/webhook", data=body, headers=headers).status_code == 200


def statuses(engine: Engine) -> dict[str, str]:
    with session_scope(engine) as session:
        return {b.contact: b.status for b in list_bindings(session, "makha")}


def test_the_admin_page_lists_bindings_masked_with_status_and_when(engine: Engine, tmp_path: Path,
                                                                    fake_line: FakeLineServer) -> None:  # noqa: F811
    client = client_for(engine, tmp_path, fake_line)
    with session_scope(engine) as session:
        officer_code, mayor_code = (issue_code(session, "makha", c, NOW)[0] for c in (OFFICER, MAYOR))
    send_code(client, fake_line, OFFICER_ID, officer_code)
    send_code(client, fake_line, GROUP_ID, mayor_code, OFFICER_ID)
    body, headers = fake_line.webhook_request(fake_line.event("leave", GROUP_ID))
    client.post("/line/webhook", data=body, headers=headers)
    assert client.get("/admin/makha/line").status_code == 302  # sign in first
    sign_in(client, engine, MAKHA_ADMIN)
    page = client.get("/admin/makha/line")
    assert page.status_code == 200
    table = page.text.split('id="line-bindings"')[1].split("</table>")[0]
    rows = {re.findall(r"<td>(.*?)</td>", r)[0]: r for r in table.split("<tr")[2:]}
    assert "เชื่อมต่อแล้ว" in rows[OFFICER] and "line://U1a2b…3c4d" in rows[OFFICER] and "ผู้ใช้" in rows[OFFICER]
    assert "ถูกยกเลิก" in rows[MAYOR] and "leave" in rows[MAYOR] and "กลุ่ม" in rows[MAYOR]
    # When, as the other admin pages write it: a B.E. date in Thai digits, Bangkok time (it was ISO C.E.).
    assert "๒๑ ตุลาคม ๒๕๖๕ เวลา ๐๙:๐๐ น." in rows[OFFICER] and "2022-10-21" not in page.text
    assert OFFICER_ID not in page.text and GROUP_ID not in page.text  # never the whole ID
    assert 'href="/admin/makha/line"' in client.get("/admin/makha/").text  # linked from the admin pages


def test_an_admin_issues_a_code_from_the_contacts_page_and_it_binds_the_chat(
        engine: Engine, tmp_path: Path, fake_line: FakeLineServer) -> None:  # noqa: F811
    client = client_for(engine, tmp_path, fake_line)
    sign_in(client, engine, MAKHA_ADMIN)
    contacts = client.get("/admin/makha/contacts").text
    assert contacts.count("ขอรหัสเชื่อมต่อ LINE") == 2  # the officer and the mayor's group list line:connect
    answer = client.post("/admin/makha/line/connect", data={"csrf_token": csrf_of(contacts), "contact": OFFICER})
    assert answer.status_code == 200
    found = CODE.search(answer.text)
    assert found and f"https://line.me/R/ti/p/{BOT_BASIC_ID.replace('@', '%40')}" in answer.text
    assert client.post("/admin/makha/line/connect", data={"contact": OFFICER}).status_code == 400  # CSRF
    assert client.post("/admin/makha/line/connect",
                       data={"csrf_token": csrf_of(contacts), "contact": "ใครก็ได้"}).status_code == 400
    send_code(client, fake_line, OFFICER_ID, found.group(1))
    assert statuses(engine)[OFFICER] == "connected"


def test_the_officer_gets_a_code_for_their_own_contact_from_their_signed_page(
        engine: Engine, tmp_path: Path, fake_line: FakeLineServer) -> None:  # noqa: F811
    client = client_for(engine, tmp_path, fake_line)
    path = link_path(client.application, occurrence_id(engine), contact=OFFICER)
    page = client.get(path)
    assert page.status_code == 200 and 'id="line-connect"' in page.text and "ยังไม่ได้เชื่อมต่อ" in page.text
    answer = client.post(f"{path}/line", data={"csrf_token": csrf_of(page.text)})
    assert answer.status_code == 200
    found = CODE.search(answer.text)
    assert found and "line.me/R/ti/p/" in answer.text
    send_code(client, fake_line, OFFICER_ID, found.group(1))
    assert statuses(engine) == {OFFICER: "connected", MAYOR: "not connected"}
    assert "เชื่อมต่อแล้ว" in client.get(path).text
    assert client.post(f"{path[:-3]}xyz/line", data={"csrf_token": csrf_of(page.text)}).status_code == 403
