"""LINE's monthly message quota, read before pushing (cached ten minutes, per channel), an alert to the
admins once at 80 % (once per channel and month, across runs), and a spent quota that pushes nothing:
each reminder goes by the recipient's other destination or waits, visibly, and is sent once when the
quota allows. The fake LINE server answers the quota endpoints (checked against messaging-api.yml) and
refuses pushes beyond its limit with LINE's 429 "monthly limit"."""

from __future__ import annotations

import io
import json
import random
from datetime import datetime, timedelta
from pathlib import Path

import requests
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from config.loader import load_config
from config.settings import SAMPLE_CONFIG_DIR, Settings
from jobs import dispatch, plan
from notifiers.registry import Notifiers
from tests.fakes.line_server import FakeLineServer
from tests.fakes.plugin import LINE_TOKEN, fake_line, smtp_server  # noqa: F401
from tests.fakes.smtp_server import SmtpServer
from tests.fixtures_reminders import AS_OF, SYNCED_AT
from tests.line_support import line_settings
from tests.web_support import MAKHA_ADMIN, settings_for, sign_in
from tracker.cli.common import Context
from tracker.cli.main import main
from tracker.store.db import session_scope
from tracker.store.line_quota import usage
from tracker.store.models import OutboxRow
from tracker.store.repo import sync_organisation
from tracker.web import create_app

OFFICER = "เจ้าหน้าที่ผู้รับผิดชอบ สำนักปลัด"
OFFICER_LINE = "line://U0123456789abcdef0123456789abcdef"
UNIT_GROUP = "C0123456789abcdef0123456789abcdef"


def synced(engine: Engine, folder: Path, *, line_only: bool = False, group: bool = False) -> None:
    """The sample; with `line_only` the สำนักปลัด officer has LINE and no e-mail; with `group` their LINE
    is their unit's group chat (`UNIT_GROUP`)."""
    text = (SAMPLE_CONFIG_DIR / "makha.toml").read_text(encoding="utf-8")
    if line_only:
        text = text.replace(f'["{OFFICER_LINE}", "mailto:palad@makha.example.go.th"]', f'["{OFFICER_LINE}"]')
    if group:
        text = text.replace(OFFICER_LINE, f"line://{UNIT_GROUP}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "makha.toml").write_text(text, encoding="utf-8")
    loaded = load_config([folder / "makha.toml"])
    assert loaded.ok, loaded.errors
    with session_scope(engine) as session:
        sync_organisation(session, loaded.orgs[0], SYNCED_AT, through_fy=2566)


def remind(engine: Engine, settings: Settings, at: datetime) -> dispatch.DispatchResult:
    with session_scope(engine) as session:
        plan.plan(session, at, "makha")
    with Notifiers(settings) as notifiers:
        return dispatch.run_once(engine, at, notifiers, "test", rng=random.Random(1))


def line_rows(engine: Engine) -> list[OutboxRow]:
    with session_scope(engine) as session:
        return list(session.scalars(select(OutboxRow).where(OutboxRow.destination.like("line%"),
                                                            OutboxRow.kind == "reminder").order_by(OutboxRow.id)))


def alerts(engine: Engine) -> list[OutboxRow]:
    with session_scope(engine) as session:
        return list(session.scalars(select(OutboxRow).where(OutboxRow.kind == "alert").order_by(OutboxRow.id)))


def pushed(line: FakeLineServer) -> list[str]:
    return [json.loads(p.body)["to"] for p in line.pushes() if p.status == 200]


def test_the_fake_answers_the_quota_endpoints_as_the_reference_says_and_refuses_beyond_the_limit(
        fake_line: FakeLineServer) -> None:  # noqa: F811
    headers = {"Authorization": f"Bearer {LINE_TOKEN}"}
    fake_line.quota_limit, fake_line.usage_offset = 3, 2
    quota = requests.get(f"{fake_line.base_url}/v2/bot/message/quota", headers=headers, timeout=5).json()
    used = requests.get(f"{fake_line.base_url}/v2/bot/message/quota/consumption", headers=headers, timeout=5).json()
    assert quota == {"type": "limited", "value": 3} and used == {"totalUsage": 2}
    push = {"to": "U" + "a" * 32, "messages": [{"type": "text", "text": "x"}]}
    first = requests.post(f"{fake_line.base_url}/v2/bot/message/push", json=push, headers=headers, timeout=5)
    second = requests.post(f"{fake_line.base_url}/v2/bot/message/push", json=push, headers=headers, timeout=5)
    assert first.status_code == 200 and second.status_code == 429
    assert second.json() == {"message": "You have reached your monthly limit."}
    assert len(fake_line.delivered) == 1 and fake_line.validation_failures == []


def test_the_quota_is_read_once_per_ten_minutes_and_the_admins_are_told_once_at_80_percent(
        engine: Engine, tmp_path: Path, fake_line: FakeLineServer, smtp_server: SmtpServer) -> None:  # noqa: F811
    synced(engine, tmp_path / "config")
    settings = line_settings(fake_line, smtp_server, tmp_path)
    fake_line.quota_limit, fake_line.usage_offset = 100, 79
    remind(engine, settings, AS_OF)
    assert pushed(fake_line) == [OFFICER_LINE.removeprefix("line://")] and fake_line.quota_reads() == 1
    told = alerts(engine)
    assert [(a.destination, a.status) for a in told] == [("mailto:admin@makha.example.go.th", "sent")]
    assert "โควตา LINE" in (told[0].subject or "") and "๘๐ จาก ๑๐๐" in (told[0].subject or "")
    with session_scope(engine) as session:
        seen = usage(session, "")
    assert seen is not None and (seen.quota, seen.used) == (100, 80)

    remind(engine, settings, AS_OF + timedelta(minutes=5))  # within ten minutes: the stored reading serves
    assert fake_line.quota_reads() == 1
    remind(engine, settings, AS_OF + timedelta(days=7))  # the next stage, days later (a restart): read again
    assert fake_line.quota_reads() == 2
    assert len(alerts(engine)) == 1  # once per channel and month, whatever the runs and restarts
    fake_line.usage_offset = 85
    remind(engine, settings, datetime(2022, 11, 1, 9, 0, tzinfo=AS_OF.tzinfo))  # a new month: told again
    assert len(alerts(engine)) == 2
    assert fake_line.validation_failures == []


def test_a_spent_quota_pushes_nothing_and_the_reminder_goes_by_email_instead(
        engine: Engine, tmp_path: Path, fake_line: FakeLineServer, smtp_server: SmtpServer) -> None:  # noqa: F811
    synced(engine, tmp_path / "config")
    settings = line_settings(fake_line, smtp_server, tmp_path)
    fake_line.quota_limit, fake_line.usage_offset = 500, 500
    result = remind(engine, settings, AS_OF)
    assert pushed(fake_line) == [] and [p.status for p in fake_line.pushes()] == []  # not even tried
    rows = line_rows(engine)
    assert rows and {r.status for r in rows} == {"skipped"}
    assert all("quota" in (r.skip_reason or "") and "mailto:" in (r.skip_reason or "") for r in rows)
    assert any("palad@makha.example.go.th" in str(m["To"]) for m in smtp_server.messages)
    assert result.statuses["skipped"] >= len(rows)
    fake_line.quota_limit = 1000  # the plan is raised: what e-mail carried is not sent again by LINE
    remind(engine, settings, AS_OF + timedelta(minutes=11))
    assert pushed(fake_line) == []


def test_a_spent_quota_holds_what_no_other_destination_carries_and_sends_it_once_when_it_allows(
        engine: Engine, tmp_path: Path, fake_line: FakeLineServer, smtp_server: SmtpServer) -> None:  # noqa: F811
    synced(engine, tmp_path / "config", line_only=True)
    settings = line_settings(fake_line, smtp_server, tmp_path)
    fake_line.quota_limit, fake_line.usage_offset = 500, 500
    remind(engine, settings, AS_OF)
    rows = line_rows(engine)
    assert rows and {r.status for r in rows} == {"pending"} and pushed(fake_line) == []
    assert all((r.last_error or "").startswith("held: LINE monthly quota") and r.attempts == 0 for r in rows)
    out = io.StringIO()
    assert main(["outbox", "--org", "makha"], Context(settings_with_db(settings, engine), out=out, err=out)) == 0
    assert "500 / 500" in out.getvalue() and "100" in out.getvalue() and "held: LINE monthly quota" in out.getvalue()

    admin = admin_client(engine, tmp_path)
    page = admin.get("/admin/makha/line").text.split('id="line-quota"')[1].split("</section>")[0]
    assert "๕๐๐ / ๕๐๐" in page and "(๑๐๐%)" in page and "โควตาหมดแล้ว" in page

    remind(engine, settings, AS_OF + timedelta(minutes=5))  # still spent (the stored reading): still held
    assert pushed(fake_line) == []
    fake_line.quota_limit = 1000
    remind(engine, settings, AS_OF + timedelta(minutes=11))
    assert pushed(fake_line) == [OFFICER_LINE.removeprefix("line://")]  # the day's bundle, once
    assert {r.status for r in line_rows(engine)} == {"sent"}
    remind(engine, settings, AS_OF + timedelta(minutes=30))
    assert len(pushed(fake_line)) == 1 and fake_line.validation_failures == []


def test_line_answering_429_monthly_limit_holds_the_message_without_costing_an_attempt(
        engine: Engine, tmp_path: Path, fake_line: FakeLineServer, smtp_server: SmtpServer) -> None:  # noqa: F811
    synced(engine, tmp_path / "config", line_only=True)
    settings = line_settings(fake_line, smtp_server, tmp_path)
    fake_line.fail_next(429, times=1, body={"message": "You have reached your monthly limit."},
                        path="/v2/bot/message/push")
    remind(engine, settings, AS_OF)  # the quota says "none" (no target), yet LINE refuses: it is spent
    rows = line_rows(engine)
    assert {r.status for r in rows} == {"pending"} and all(r.attempts == 0 for r in rows)
    assert all("monthly limit" in (r.last_error or "") for r in rows)
    with session_scope(engine) as session:
        seen = usage(session, "")
    assert seen is not None and seen.exhausted
    remind(engine, settings, AS_OF + timedelta(minutes=11))  # read again: LINE has room, sent once
    assert len(pushed(fake_line)) == 1 and {r.status for r in line_rows(engine)} == {"sent"}
    remind(engine, settings, AS_OF + timedelta(minutes=30))
    assert len(pushed(fake_line)) == 1


def admin_client(engine: Engine, tmp_path: Path) -> FlaskClient:
    app = create_app(settings_for(engine, tmp_path), engine=engine, clock=lambda: AS_OF)
    app.config["TESTING"] = True
    client = app.test_client()
    sign_in(client, engine, MAKHA_ADMIN)
    return client


def settings_with_db(settings: Settings, engine: Engine) -> Settings:
    env = dict(settings.env) | {"DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    return Settings.from_env(env)


def test_a_push_to_a_group_counts_once_per_member_as_line_counts_it(
        engine: Engine, tmp_path: Path, fake_line: FakeLineServer, smtp_server: SmtpServer) -> None:  # noqa: F811
    # The quota check counted one per push; LINE counts a group push once per member, so the 80 % alert
    # came late and a month's last pushes met LINE's 429.
    synced(engine, tmp_path / "config", group=True)
    settings = line_settings(fake_line, smtp_server, tmp_path)
    fake_line.group_members[UNIT_GROUP] = 20
    fake_line.quota_limit, fake_line.usage_offset = 100, 65
    remind(engine, settings, AS_OF)
    assert pushed(fake_line) == [UNIT_GROUP]
    with session_scope(engine) as session:
        seen = usage(session, "")
    assert seen is not None and seen.used == 85 == fake_line.consumption
    assert [a.destination for a in alerts(engine)] == ["mailto:admin@makha.example.go.th"]  # 85 % of 100
    assert fake_line.validation_failures == []


def test_a_group_push_that_would_overrun_the_quota_is_not_tried(
        engine: Engine, tmp_path: Path, fake_line: FakeLineServer, smtp_server: SmtpServer) -> None:  # noqa: F811
    synced(engine, tmp_path / "config", group=True)
    settings = line_settings(fake_line, smtp_server, tmp_path)
    fake_line.group_members[UNIT_GROUP] = 20
    fake_line.quota_limit, fake_line.usage_offset = 100, 90  # 10 left: one user could be told, not 20
    remind(engine, settings, AS_OF)
    assert fake_line.pushes() == []  # not even tried
    rows = line_rows(engine)
    assert rows and {r.status for r in rows} == {"skipped"}  # the officer's e-mail carries it
    assert all("quota" in (r.skip_reason or "") for r in rows)
