"""An organisation's own LINE official account: its file names the variables holding its token and secret
(validated with file, line and field, never echoing a value); its pushes use its token, its quota is its
own, `POST /line/webhook/<org>` checks its secret, and a code binds only through its own channel."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from config.loader import load_config
from config.settings import SAMPLE_CONFIG_DIR, Settings
from jobs import dispatch, plan
from jobs.line_connect import connect_code
from notifiers.registry import Notifiers
from tests.fakes.line_server import FakeLineServer
from tests.fakes.plugin import fake_line, notifier_env, smtp_server  # noqa: F401
from tests.fakes.smtp_server import SmtpServer
from tests.fixtures_reminders import AS_OF, SYNCED_AT
from tests.web_support import NOW, neighbour, settings_for
from tracker.store.channel_state import channel_states
from tracker.store.db import session_scope
from tracker.store.line_links import issue_code, list_bindings
from tracker.store.line_models import LineQuotaRow
from tracker.store.models import OrganisationRow, OutboxRow
from tracker.store.repo import sync_organisation
from tracker.web import create_app

OWN_TOKEN, OWN_SECRET = "makha-own-channel-token-Zq9", "makha-own-channel-secret-Wk4"
GLOBAL_TOKEN, GLOBAL_SECRET = "the-global-token-Pp2", "the-global-secret-Jj7"
OFFICER = "เจ้าหน้าที่ผู้รับผิดชอบ สำนักปลัด"
OFFICER_ID = "U0123456789abcdef0123456789abcdef"
LINE_TABLE = '[organisation.line]\ntoken_env = "MAKHA_LINE_TOKEN"\nsecret_env = "MAKHA_LINE_SECRET"\n'


@pytest.fixture
def own_line() -> Iterator[FakeLineServer]:
    """LINE as the organisation's own official account sees it: only its token and secret work."""
    with FakeLineServer(token=OWN_TOKEN, channel_secret=OWN_SECRET) as server:
        yield server


def sample_with(folder: Path, table: str = LINE_TABLE, *, connect: bool = False) -> Path:
    text = (SAMPLE_CONFIG_DIR / "makha.toml").read_text(encoding="utf-8").replace("\n[reminders]",
                                                                                    f"\n{table}\n[reminders]", 1)
    if connect:
        text = text.replace(f"line://{OFFICER_ID}", "line:connect")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "makha.toml").write_text(text, encoding="utf-8")
    return folder / "makha.toml"


def sync_own(engine: Engine, folder: Path, *, connect: bool = False) -> None:
    loaded = load_config([sample_with(folder, connect=connect)])
    assert loaded.ok, loaded.errors
    with session_scope(engine) as session:
        sync_organisation(session, loaded.orgs[0], SYNCED_AT, through_fy=2566)


def env_for(line: FakeLineServer, smtp: SmtpServer, tmp_path: Path, **extra: str) -> dict[str, str]:
    return notifier_env(line=line, smtp=smtp, outbox_dir=tmp_path / "outbox",
                        LINE_CHANNEL_ACCESS_TOKEN=GLOBAL_TOKEN, LINE_CHANNEL_SECRET=GLOBAL_SECRET, **extra)


def remind(engine: Engine, settings: Settings, at: datetime) -> None:
    with session_scope(engine) as session:
        plan.plan(session, at, "makha")
    with Notifiers(settings) as notifiers:
        dispatch.run_once(engine, at, notifiers, "test", rng=random.Random(1))


def test_the_line_table_is_validated_with_file_line_and_field_and_never_repeats_a_value(tmp_path: Path) -> None:
    pasted = "Xy7+tokenlike/value=="
    bad = (f'[organisation.line]\ntoken_env = "{pasted}"\nsecret_env = "LINE_CHANNEL_SECRET"\n'
           'basic_id = "not an id"\ncolour = "green"\n')
    path = sample_with(tmp_path, bad)
    errors = load_config([path]).errors
    by_field = {e.field: e for e in errors}
    assert set(by_field) == {"organisation.line.token_env", "organisation.line.secret_env",
                             "organisation.line.basic_id", "organisation.line.colour"}
    lines = path.read_text(encoding="utf-8").splitlines()
    for field, problem in by_field.items():
        assert problem.file == str(path) and problem.line is not None
        assert lines[problem.line - 1].startswith(field.rsplit(".", 1)[1])
    assert all(pasted not in str(e) for e in errors)  # a token pasted by mistake never reaches a log
    assert "environment variable" in str(by_field["organisation.line.token_env"])
    assert "global" in str(by_field["organisation.line.secret_env"])
    missing = load_config([sample_with(tmp_path / "b", '[organisation.line]\ntoken_env = "MAKHA_LINE_TOKEN"\n')])
    assert [e.field for e in missing.errors] == ["organisation.line.secret_env"]
    ok = load_config([sample_with(tmp_path / "c")])
    assert ok.ok and ok.orgs[0].organisation.line is not None


def test_pushes_use_the_organisations_own_token_and_its_quota_is_its_own(
        engine: Engine, tmp_path: Path, own_line: FakeLineServer, smtp_server: SmtpServer) -> None:  # noqa: F811
    sync_own(engine, tmp_path / "config")
    settings = Settings.from_env(env_for(own_line, smtp_server, tmp_path, MAKHA_LINE_TOKEN=OWN_TOKEN,
                                         MAKHA_LINE_SECRET=OWN_SECRET))
    own_line.quota_limit = 1000
    remind(engine, settings, AS_OF)
    pushes = [p for p in own_line.pushes() if p.status == 200]
    assert [json.loads(p.body)["to"] for p in pushes] == [OFFICER_ID]
    assert all(p.headers["authorization"] == f"Bearer {OWN_TOKEN}" for p in own_line.requests)
    with session_scope(engine) as session:
        assert [(q.channel, q.quota) for q in session.scalars(select(LineQuotaRow))] == [("makha", 1000)]
    assert own_line.validation_failures == []


def test_a_missing_own_token_pauses_that_channel_naming_the_variable_and_no_secret_is_logged(
        engine: Engine, tmp_path: Path, own_line: FakeLineServer, smtp_server: SmtpServer,  # noqa: F811
        caplog: pytest.LogCaptureFixture) -> None:
    sync_own(engine, tmp_path / "config")
    settings = Settings.from_env(env_for(own_line, smtp_server, tmp_path, MAKHA_LINE_SECRET=OWN_SECRET))
    caplog.set_level(logging.DEBUG)
    remind(engine, settings, AS_OF)
    assert own_line.pushes() == [] and not (tmp_path / "outbox").exists()  # not written to the demo folder
    with session_scope(engine) as session:
        rows = list(session.scalars(select(OutboxRow).where(OutboxRow.destination.like("line%"),
                                                            OutboxRow.kind == "reminder")))
        alerts = list(session.scalars(select(OutboxRow).where(OutboxRow.kind == "alert")))
    assert rows and {r.status for r in rows} == {"pending"}
    assert all("MAKHA_LINE_TOKEN" in (r.last_error or "") for r in rows)
    assert alerts and all(GLOBAL_TOKEN not in (a.text or "") for a in alerts)
    everything = caplog.text + " ".join(str(r.last_error) for r in rows) + " ".join(a.text or "" for a in alerts)
    for secret in (OWN_SECRET, GLOBAL_TOKEN, GLOBAL_SECRET):
        assert secret not in everything


def test_the_organisations_webhook_checks_its_own_secret_and_binds_only_its_codes(
        engine: Engine, tmp_path: Path, own_line: FakeLineServer) -> None:
    sync_own(engine, tmp_path / "config", connect=True)
    settings = settings_for(engine, tmp_path, LINE_API_BASE=own_line.base_url, LINE_CHANNEL_ACCESS_TOKEN=GLOBAL_TOKEN,
                            LINE_CHANNEL_SECRET=GLOBAL_SECRET, MAKHA_LINE_TOKEN=OWN_TOKEN,
                            MAKHA_LINE_SECRET=OWN_SECRET)
    app = create_app(settings, engine=engine, clock=lambda: NOW)
    client = app.test_client()
    with session_scope(engine) as session:
        first, second = (issue_code(session, "makha", OFFICER, NOW)[0] for _ in range(2))
    user = "U" + "5e" * 16
    body, headers = own_line.webhook_request(own_line.event("message", user, text=first), secret=GLOBAL_SECRET)
    assert client.post("/line/webhook/makha", data=body, headers=headers).status_code == 401  # not its secret
    assert client.post("/line/webhook/nongbua", data=body, headers=headers).status_code == 404  # no such channel
    # the global channel accepts the request (its secret) but not a code of an organisation with its own account
    assert client.post("/line/webhook", data=body, headers=headers).status_code == 200
    with session_scope(engine) as session:
        assert {b.contact: b.status for b in list_bindings(session, "makha")}[OFFICER] == "not connected"
    body, headers = own_line.webhook_request(own_line.event("message", user, text=second))  # signed by its own
    answer = client.post("/line/webhook/makha", data=body, headers=headers)
    assert answer.status_code == 200 and answer.get_json() == {"handled": 1, "duplicates": 0}
    with session_scope(engine) as session:
        listed = {b.contact: b for b in list_bindings(session, "makha")}
    assert listed[OFFICER].status == "connected" and listed[OFFICER].chat_id == user
    replies = [r for r in own_line.requests if r.path == "/v2/bot/message/reply"]
    # the global channel's reply went with the global token; the organisation's with its own
    assert [r.headers["authorization"] for r in replies] == [f"Bearer {GLOBAL_TOKEN}", f"Bearer {OWN_TOKEN}"]
    assert "เชื่อมต่อเรียบร้อยแล้ว" in own_line.reply_texts()[-1]


def test_the_connect_code_links_to_the_organisations_own_account(engine: Engine, tmp_path: Path,
                                                                 own_line: FakeLineServer) -> None:
    table = LINE_TABLE + 'basic_id = "@makha-own"\n'
    loaded = load_config([sample_with(tmp_path / "config", table, connect=True)])
    assert loaded.ok, loaded.errors
    with session_scope(engine) as session:
        sync_organisation(session, loaded.orgs[0], SYNCED_AT, through_fy=2566)
    settings = settings_for(engine, tmp_path, LINE_API_BASE=own_line.base_url, LINE_BOT_BASIC_ID="@global-bot",
                            MAKHA_LINE_TOKEN=OWN_TOKEN, MAKHA_LINE_SECRET=OWN_SECRET)
    issued = connect_code(engine, settings, "makha", OFFICER, NOW)
    assert issued.add_friend_url == "https://line.me/R/ti/p/%40makha-own"


def test_one_organisations_missing_token_does_not_pause_the_global_channel_for_the_others(
        engine: Engine, tmp_path: Path, fake_line: FakeLineServer, smtp_server: SmtpServer) -> None:  # noqa: F811
    sync_own(engine, tmp_path / "config")  # makha: its own channel, whose token is not set
    loaded = load_config([neighbour(tmp_path)])  # nongbua: the global channel
    with session_scope(engine) as session:
        sync_organisation(session, loaded.orgs[0], SYNCED_AT, through_fy=2566)
    settings = Settings.from_env(notifier_env(line=fake_line, smtp=smtp_server, outbox_dir=tmp_path / "outbox",
                                              MAKHA_LINE_SECRET=OWN_SECRET))
    with session_scope(engine) as session:
        plan.plan(session, AS_OF, None)
    with Notifiers(settings) as notifiers:
        dispatch.run_once(engine, AS_OF, notifiers, "test", rng=random.Random(1), concurrency=1)
    to = {json.loads(p.body)["to"] for p in fake_line.pushes() if p.status == 200}
    assert to == {"U9999999999abcdef0123456789abcdef"}  # nongbua's officer, through the global channel
    with session_scope(engine) as session:
        waiting = session.scalars(
            select(OutboxRow.last_error).join(OrganisationRow, OrganisationRow.id == OutboxRow.org_id)  # no FK
            .where(OrganisationRow.code == "makha", OutboxRow.destination.like("line%"))).all()
    assert waiting and all("MAKHA_LINE_TOKEN" in (e or "") for e in waiting)
    # What `tracker outbox` and the admin page show: makha's own channel paused, the shared one not.
    with session_scope(engine) as session:
        states = {c.channel: c for c in channel_states(session)}
        makha_id = session.scalar(select(OrganisationRow.id).where(OrganisationRow.code == "makha"))
        nongbua_id = session.scalar(select(OrganisationRow.id).where(OrganisationRow.code != "makha"))
        assert [c.channel for c in channel_states(session, org_id=nongbua_id) if c.paused] == []
        assert [c.channel for c in channel_states(session, org_id=makha_id) if c.paused] == ["line@makha"]
    assert states["line@makha"].paused and states["line@makha"].waiting == len(waiting)
    assert "MAKHA_LINE_TOKEN" in states["line@makha"].reason
    assert not states["line"].paused


def test_an_organisations_unreadable_secret_file_is_said_at_start_up_not_first_at_send_time(
        tmp_path: Path) -> None:
    # The global LINE_*_FILE variables were checked at start; an organisation's own were found only when
    # its first push failed, as a paused channel.
    import io

    from tracker.cli.common import Context
    from tracker.cli.main import main

    path = sample_with(tmp_path / "config")
    missing = tmp_path / "no-such-secret"
    env = {"TRACKER_DATA_DIR": str(tmp_path / "data"), "TRACKER_CONFIG": str(path),
           "MAKHA_LINE_TOKEN_FILE": str(missing), "MAKHA_LINE_SECRET": OWN_SECRET}
    for argv in (["check"], ["run", "--once", "--no-web", "--quiet-board", "--as-of", "2022-10-21T09:00:00+07:00"]):
        out = io.StringIO()
        code = main(argv, Context(Settings.from_env(env), out=out, err=out))
        said = out.getvalue()
        assert code == 0, said  # a warning: the other organisations and channels carry on
        warning = [line for line in said.splitlines() if "MAKHA_LINE_TOKEN_FILE" in line]
        assert warning and str(missing) in warning[0] and "makha" in warning[0], said
        assert OWN_SECRET not in said
