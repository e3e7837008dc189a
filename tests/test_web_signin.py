"""Passwordless sign-in: the link goes to the person's destinations (the local outbox here), works once
within 15 minutes, opening it spends nothing, requests are rate-limited and reveal nobody;
`tracker login-link` prints one."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from flask import Flask
from sqlalchemy import Engine
from sqlalchemy import text as text_sql

from tests.web_support import (
    BASE_URL,
    MAKHA_ADMIN,
    NOW,
    PALAD_OFFICER,
    csrf_of,
    make_app,
    settings_for,
    sync_both,
)
from tracker.cli.common import Context
from tracker.cli.main import main
from tracker.store import signin
from tracker.store.db import session_scope


@pytest.fixture
def app(engine: Engine, tmp_path: Path) -> Flask:
    sync_both(engine, tmp_path)
    return make_app(engine, tmp_path)


def sent_links(tmp_path: Path) -> list[tuple[str, str]]:
    """(for, link) of every sign-in message written to the local outbox."""
    found = []
    for path in sorted((tmp_path / "data" / "outbox").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        match = re.search(re.escape(BASE_URL) + r"/signin/([A-Za-z0-9_-]+(?:\?next=[^\s]+)?)", data["text"])
        if match:
            found.append((data["for"], match.group(1)))
    return found


def ask(app: Flask, who: str) -> str:
    client = app.test_client()
    page = client.get("/signin/")
    answer = client.post("/signin/", data={"csrf_token": csrf_of(page.text), "who": who})
    assert answer.status_code == 200
    return answer.text


def test_link_sent_to_every_destination_of_the_person_and_signs_in_once(app: Flask, tmp_path: Path) -> None:
    assert "ระบบได้ส่งลิงก์" in ask(app, "palad@makha.example.go.th")
    links = sent_links(tmp_path)
    assert len(links) == 2 and len({token for _, token in links}) == 1  # LINE and e-mail, one token
    token = links[0][1]
    client = app.test_client()
    confirm = client.get(f"/signin/{token}")
    assert confirm.status_code == 200 and client.get(f"/signin/{token}").status_code == 200  # opening spends nothing
    done = client.post(f"/signin/{token}", data={"csrf_token": csrf_of(confirm.text)})
    assert done.status_code == 302
    assert "เจ้าหน้าที่ผู้รับผิดชอบ สำนักปลัด" in client.get("/o/makha").text
    again = app.test_client()
    page = again.get(f"/signin/{token}")
    assert page.status_code == 410 and "ใช้ได้ครั้งเดียว" in page.text


def test_unknown_address_gets_the_same_answer_and_nothing_is_sent(app: Flask, tmp_path: Path) -> None:
    assert "ระบบได้ส่งลิงก์" in ask(app, "stranger@example.com")
    assert sent_links(tmp_path) == []


def test_requests_are_rate_limited_per_destination(app: Flask, tmp_path: Path) -> None:
    for _ in range(signin.SIGNIN_PER_WINDOW + 2):
        ask(app, MAKHA_ADMIN.removeprefix("mailto:"))
    assert len(sent_links(tmp_path)) == signin.SIGNIN_PER_WINDOW


def test_requests_are_rate_limited_per_client_address(engine: Engine, tmp_path: Path) -> None:
    """SIGNIN_PER_CLIENT requests per client in SIGNIN_MINUTES, whoever they name (here each a different
    address, so the per-destination limit never applies); another client is not held up; after the
    window the client may ask again."""
    sync_both(engine, tmp_path)
    clock = [NOW]
    app = make_app(engine, tmp_path, clock=lambda: clock[0])

    def ask_from(address: str, who: str) -> tuple[int, str]:
        client = app.test_client()
        page = client.get("/signin/", environ_base={"REMOTE_ADDR": address})
        answer = client.post("/signin/", data={"csrf_token": csrf_of(page.text), "who": who},
                             environ_base={"REMOTE_ADDR": address})
        return answer.status_code, answer.text

    for n in range(signin.SIGNIN_PER_CLIENT):
        assert ask_from("198.51.100.7", f"person{n}@example.com")[0] == 200
    status, text = ask_from("198.51.100.7", MAKHA_ADMIN.removeprefix("mailto:"))
    assert status == 429 and "ขอลิงก์เข้าสู่ระบบบ่อยเกินไป" in text and "๑๕ นาที" in text
    assert sent_links(tmp_path) == []  # refused before anything was sent
    assert ask_from("203.0.113.9", MAKHA_ADMIN.removeprefix("mailto:"))[0] == 200
    assert len(sent_links(tmp_path)) == 1
    clock[0] = NOW + timedelta(minutes=signin.SIGNIN_MINUTES, seconds=1)
    assert ask_from("198.51.100.7", "someone@example.com")[0] == 200
    with session_scope(engine) as session:  # the address is not kept in the clear
        assert "198.51.100.7" not in str(session.execute(text_sql("SELECT client FROM signin_requests")).all())


def test_link_expires_after_15_minutes(engine: Engine, tmp_path: Path) -> None:
    sync_both(engine, tmp_path)
    with session_scope(engine) as session:
        token = signin.issue(session, PALAD_OFFICER, NOW)
    late = make_app(engine, tmp_path, now=NOW + timedelta(minutes=signin.SIGNIN_MINUTES, seconds=1)).test_client()
    assert late.get(f"/signin/{token}").status_code == 410
    in_time = make_app(engine, tmp_path, now=NOW + timedelta(minutes=signin.SIGNIN_MINUTES - 1)).test_client()
    assert in_time.get(f"/signin/{token}").status_code == 200


def test_only_the_hash_of_the_token_is_stored(engine: Engine, tmp_path: Path) -> None:
    from sqlalchemy import select

    from tracker.store.web_models import SignInTokenRow
    sync_both(engine, tmp_path)
    with session_scope(engine) as session:
        token = signin.issue(session, PALAD_OFFICER, NOW)
        stored = session.scalars(select(SignInTokenRow.token_hash)).all()
    assert token not in stored and len(stored[0]) == 64


def test_signin_post_without_csrf_is_refused(app: Flask, engine: Engine) -> None:
    with session_scope(engine) as session:
        token = signin.issue(session, PALAD_OFFICER, NOW)
    assert app.test_client().post(f"/signin/{token}").status_code == 400
    with session_scope(engine) as session:
        assert signin.is_valid(session, token, NOW)  # not spent


def test_sign_out(app: Flask, engine: Engine) -> None:
    from tests.web_support import sign_in
    client = app.test_client()
    sign_in(client, engine, PALAD_OFFICER)
    page = client.get("/o/makha")
    assert page.status_code == 200
    client.post("/signin/out", data={"csrf_token": csrf_of(page.text)})
    assert client.get("/o/makha").status_code == 302


def test_tracker_login_link_prints_a_working_link(engine: Engine, tmp_path: Path) -> None:
    sync_both(engine, tmp_path)
    out = io.StringIO()
    ctx = Context(settings_for(engine, tmp_path), out=out, err=io.StringIO())
    assert main(["login-link", "หัวหน้าสำนักปลัด"], ctx) == 0
    url = out.getvalue().splitlines()[0]
    assert url.startswith(f"{BASE_URL}/signin/")
    client = make_app(engine, tmp_path).test_client()
    path = url.removeprefix(BASE_URL)
    page = client.get(path)
    assert client.post(path, data={"csrf_token": csrf_of(page.text)}).status_code == 302
    assert client.get("/o/makha").status_code == 200
    bad = Context(settings_for(engine, tmp_path), out=io.StringIO(), err=io.StringIO())
    assert main(["login-link", "nobody@example.com"], bad) == 2


@pytest.mark.parametrize(("asked", "lands"), [
    ("/o/makha/ob/M04-1", "/o/makha/ob/M04-1"),  # where the visitor was sent from
    ("//evil.example/o/makha", "/o/makha"),  # never another site: home (here the admin's board)
    ("https://evil.example/", "/o/makha"),
])
def test_a_visitor_sent_to_sign_in_comes_back_to_the_page(app: Flask, tmp_path: Path, asked: str, lands: str) -> None:
    client = app.test_client()
    if asked.startswith("/o/"):
        sent = client.get(asked)  # a browser, not an API client: the sign-in page, not a 401
        assert sent.status_code == 302 and sent.headers["Location"].startswith("/signin/?next=")
        signin_page = sent.headers["Location"]
    else:
        signin_page = "/signin/?" + urlencode({"next": asked})
    form = client.get(signin_page)
    assert client.post(signin_page, data={"csrf_token": csrf_of(form.text), "who": "admin@makha.example.go.th"}
                       ).status_code == 200
    [(_, link)] = sent_links(tmp_path)
    confirm = client.get(f"/signin/{link}")
    done = client.post(f"/signin/{link}", data={"csrf_token": csrf_of(confirm.text)})
    assert done.status_code == 302
    assert client.get(done.headers["Location"], follow_redirects=True).request.path == lands
