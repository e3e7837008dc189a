"""The webhook through the web app: `POST /line/webhook` takes LINE's signed request without a CSRF
token, refuses a bad signature with 401 recording nothing, and answers redeliveries harmlessly."""

from __future__ import annotations

import re
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select

from tests.fakes.line_server import FakeLineServer
from tests.fakes.plugin import LINE_TOKEN, fake_line  # noqa: F401
from tests.line_support import OFFICER, OFFICER_ID, load_connect_sample, sync
from tests.web_support import MAKHA_ADMIN, NOW, settings_for, sign_in
from tracker.store.db import session_scope
from tracker.store.line_links import issue_code, list_bindings
from tracker.store.line_models import LineEventRow
from tracker.web import create_app


def client_for(engine: Engine, tmp_path: Path, line: FakeLineServer, **env: str) -> FlaskClient:
    sync(engine, load_connect_sample(tmp_path / "config"))
    settings = settings_for(engine, tmp_path, LINE_API_BASE=line.base_url, LINE_CHANNEL_ACCESS_TOKEN=LINE_TOKEN,
                            **env)
    app = create_app(settings, engine=engine, clock=lambda: NOW)
    app.config["TESTING"] = True
    return app.test_client()


def recorded(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(session.scalar(select(func.count()).select_from(LineEventRow)) or 0)


def test_signed_events_bind_the_chat_and_forged_ones_are_refused(engine: Engine, tmp_path: Path,
                                                                 fake_line: FakeLineServer) -> None:  # noqa: F811
    client = client_for(engine, tmp_path, fake_line, LINE_CHANNEL_SECRET=fake_line.channel_secret)
    with session_scope(engine) as session:
        code = issue_code(session, "makha", OFFICER, NOW)[0]
    events = (fake_line.event("follow", OFFICER_ID), fake_line.event("message", OFFICER_ID, text=code))
    body, headers = fake_line.webhook_request(*events, tamper=True)
    assert client.post("/line/webhook", data=body, headers=headers).status_code == 401
    body, headers = fake_line.webhook_request(*events)
    assert client.post("/line/webhook", data=body, headers={"Content-Type": "application/json"}).status_code == 401
    assert recorded(engine) == 0 and fake_line.replies == []

    answer = client.post("/line/webhook", data=body, headers=headers)  # no CSRF token: LINE signs instead
    assert answer.status_code == 200 and answer.get_json() == {"handled": 2, "duplicates": 0}
    body, headers = fake_line.webhook_request(*events, redelivery=True)
    assert client.post("/line/webhook", data=body, headers=headers).get_json() == {"handled": 0, "duplicates": 2}
    with session_scope(engine) as session:
        assert {b.contact: b.status for b in list_bindings(session, "makha")}[OFFICER] == "connected"
    assert len(fake_line.replies) == 2 and fake_line.validation_failures == []
    assert client.get("/line/webhook").status_code == 405  # a GET never changes anything


def test_without_a_channel_secret_or_for_an_unknown_channel_nothing_is_accepted(
        engine: Engine, tmp_path: Path, fake_line: FakeLineServer) -> None:  # noqa: F811
    client = client_for(engine, tmp_path, fake_line)
    body, headers = fake_line.webhook_request(fake_line.event("follow", OFFICER_ID))
    assert client.post("/line/webhook", data=body, headers=headers).status_code == 404
    assert client.post("/line/webhook/makha", data=body, headers=headers).status_code == 404
    assert recorded(engine) == 0


def test_binding_changes_show_on_the_organisations_audit_page(engine: Engine, tmp_path: Path,
                                                              fake_line: FakeLineServer) -> None:  # noqa: F811
    """A connect code issued, the chat bound through the webhook and unbound by an unfollow each leave a
    row on /trail/ORG/audit (with who, when and the channel), as actions, tokens and configurations do."""
    client = client_for(engine, tmp_path, fake_line, LINE_CHANNEL_SECRET=fake_line.channel_secret)
    with session_scope(engine) as session:
        code = issue_code(session, "makha", OFFICER, NOW, actor="ผู้ดูแลระบบ")[0]
    for events in ((fake_line.event("follow", OFFICER_ID), fake_line.event("message", OFFICER_ID, text=code)),
                   (fake_line.event("unfollow", OFFICER_ID),)):
        body, headers = fake_line.webhook_request(*events)
        assert client.post("/line/webhook", data=body, headers=headers).status_code == 200
    sign_in(client, engine, MAKHA_ADMIN)
    page = client.get("/trail/makha/audit?entity=line_binding").text
    rows = re.findall(r'<tr data-entity="line_binding" data-change="([a-z_]+)"><td[^>]*>[^<]+</td><td[^>]*>([^<]+)</td>'
                      r'<td[^>]*>([^<]+)</td>', page)
    assert rows == [("disabled", OFFICER, "LINE"), ("bound", OFFICER, "LINE"), ("code_issued", "ผู้ดูแลระบบ", "คำสั่ง")]
    assert "เลิกผูก" in page and "ผูกแล้ว" in page and "การผูก LINE" in page
    everything = client.get("/trail/makha/audit").text  # and in the unfiltered trail
    assert everything.count('data-entity="line_binding"') == 3
    english = client.get("/trail/makha/audit?entity=line_binding&lang=en").text
    assert "LINE bindings" in english and "disabled" in english and "code issued" in english
