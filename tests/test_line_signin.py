"""`เข้าสู่ระบบ` in the LINE chat: a real one-time sign-in link (tracker.store.signin: 15 minutes, once) for
the contact bound to that LINE user, redeemed on the web as that contact; unbound chats and groups are told
in Thai why there is no link."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import Engine

from tests.fakes.line_server import FakeLineServer
from tests.fakes.plugin import LINE_TOKEN, fake_line  # noqa: F401
from tests.line_support import GROUP_ID, MAYOR, OFFICER, OFFICER_ID, load_connect_sample, sync
from tests.web_support import NOW, csrf_of, settings_for
from tracker.store.db import session_scope
from tracker.store.line_links import issue_code
from tracker.web import create_app

SIGNIN = re.compile(r"(https?://\S+/signin/)([A-Za-z0-9_-]{20,})")


def app_client(engine: Engine, tmp_path: Path, line: FakeLineServer, clock: list[object]) -> FlaskClient:
    sync(engine, load_connect_sample(tmp_path / "config"))
    settings = settings_for(engine, tmp_path, LINE_API_BASE=line.base_url, LINE_CHANNEL_ACCESS_TOKEN=LINE_TOKEN,
                            LINE_CHANNEL_SECRET=line.channel_secret)
    app = create_app(settings, engine=engine, clock=lambda: clock[0])  # type: ignore[arg-type,return-value]
    app.config["TESTING"] = True
    return app.test_client()


def say(client: FlaskClient, line: FakeLineServer, chat: str, text: str, user: str | None = None) -> str:
    body, headers = line.webhook_request(line.event("message", chat, text=text, user=user))
    assert client.post("/line/webhook", data=body, headers=headers).status_code == 200
    return line.reply_texts()[-1]


def bind(engine: Engine, client: FlaskClient, line: FakeLineServer, contact: str, chat: str,
         user: str | None = None) -> None:
    with session_scope(engine) as session:
        code = issue_code(session, "makha", contact, NOW)[0]
    assert "เชื่อมต่อเรียบร้อยแล้ว" in say(client, line, chat, code, user)


def test_the_signin_command_gives_a_one_time_link_that_signs_in_as_the_bound_contact(
        engine: Engine, tmp_path: Path, fake_line: FakeLineServer) -> None:  # noqa: F811
    clock: list[object] = [NOW]
    client = app_client(engine, tmp_path, fake_line, clock)
    bind(engine, client, fake_line, OFFICER, OFFICER_ID)
    reply = say(client, fake_line, OFFICER_ID, "เข้าสู่ระบบ")
    found = SIGNIN.search(reply)
    assert found, reply
    assert "๑๕ นาที" in reply and "ครั้งเดียว" in reply
    path = "/signin/" + found.group(2)
    page = client.get(path)  # opening (LINE's link preview) spends nothing
    assert page.status_code == 200 and client.get(path).status_code == 200
    done = client.post(path, data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 302
    board = client.get("/o/makha", follow_redirects=True)
    assert board.status_code == 200 and OFFICER in board.text  # signed in as the bound contact
    assert client.post(path, data={"csrf_token": csrf_of(page.text)}).status_code == 410  # once only


def test_the_signin_link_expires_after_15_minutes(engine: Engine, tmp_path: Path,
                                                  fake_line: FakeLineServer) -> None:  # noqa: F811
    clock: list[object] = [NOW]
    client = app_client(engine, tmp_path, fake_line, clock)
    bind(engine, client, fake_line, OFFICER, OFFICER_ID)
    found = SIGNIN.search(say(client, fake_line, OFFICER_ID, "เข้าสู่ระบบ"))
    assert found
    clock[0] = NOW + timedelta(minutes=15, seconds=1)
    assert client.get("/signin/" + found.group(2)).status_code == 410


def test_unbound_users_and_groups_get_a_thai_explanation_and_no_link(
        engine: Engine, tmp_path: Path, fake_line: FakeLineServer) -> None:  # noqa: F811
    clock: list[object] = [NOW]
    client = app_client(engine, tmp_path, fake_line, clock)
    stranger = say(client, fake_line, "U" + "e" * 32, "เข้าสู่ระบบ")
    assert not SIGNIN.search(stranger) and "ยังไม่ได้เชื่อมต่อ" in stranger
    bind(engine, client, fake_line, MAYOR, GROUP_ID, OFFICER_ID)
    group = say(client, fake_line, GROUP_ID, "เข้าสู่ระบบ", OFFICER_ID)
    assert not SIGNIN.search(group) and "แชตส่วนตัว" in group
    assert fake_line.validation_failures == []
