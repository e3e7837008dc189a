"""Connecting a contact end to end: a code from the CLI, `follow` and the code through the webhook, the
next reminder pushed to that user ID; `unfollow` stops LINE and e-mail carries on. Configuration of
`line:connect` is validated with precise messages."""

from __future__ import annotations

import io
import json
import random
import re
from pathlib import Path

from sqlalchemy import Engine, select

from config.loader import load_config
from config.settings import Settings
from jobs import dispatch, plan
from jobs.line_webhook import handle_webhook
from notifiers.registry import Notifiers
from tests.fakes.line_server import BOT_BASIC_ID, FakeLineServer
from tests.fakes.plugin import fake_line, smtp_server  # noqa: F401
from tests.fakes.smtp_server import SmtpServer
from tests.fixtures_reminders import AS_OF, bkk
from tests.line_support import OFFICER, OFFICER_ID, connect_sample, line_settings, load_connect_sample
from tracker.cli.common import Context
from tracker.cli.main import main
from tracker.store.db import session_scope
from tracker.store.models import OutboxRow


def run(settings: Settings, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), Context(settings, out=out, err=out))
    return code, out.getvalue()


def webhook(engine: Engine, settings: Settings, line: FakeLineServer, *events: dict[str, object]) -> None:
    body, headers = line.webhook_request(*events)
    assert handle_webhook(engine, settings, body, headers["X-Line-Signature"], AS_OF).status == 200


def remind(engine: Engine, settings: Settings, at: object) -> dispatch.DispatchResult:
    with session_scope(engine) as session:
        plan.plan(session, at, "makha")  # type: ignore[arg-type]
    with Notifiers(settings) as notifiers:
        return dispatch.run_once(engine, at, notifiers, "test", rng=random.Random(1))  # type: ignore[arg-type]


def officer_rows(engine: Engine) -> list[OutboxRow]:
    with session_scope(engine) as session:
        return list(session.scalars(select(OutboxRow).where(OutboxRow.recipient == OFFICER).order_by(OutboxRow.id)))


def test_a_contact_without_an_id_is_connected_by_code_and_unfollow_leaves_email_working(
        tmp_path: Path, fake_line: FakeLineServer, smtp_server: SmtpServer) -> None:  # noqa: F811
    settings = line_settings(fake_line, smtp_server, tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                             TRACKER_CONFIG=str(connect_sample(tmp_path / "config")))
    assert run(settings, "sync")[0] == 0
    code, out = run(settings, "line-connect", OFFICER, "--org", "makha")
    assert code == 0, out
    found = re.search(r"code: (ITA-[A-Z0-9]{8})", out)
    assert found is not None and f"https://line.me/R/ti/p/{BOT_BASIC_ID.replace('@', '%40')}" in out
    listed = json.loads(run(settings, "line-bindings", "--org", "makha", "--format", "json")[1])
    assert {r["contact"]: r["status"] for r in listed}[OFFICER] == "not connected"

    engine = Context(settings).engine()
    webhook(engine, settings, fake_line, fake_line.event("follow", OFFICER_ID))
    webhook(engine, settings, fake_line, fake_line.event("message", OFFICER_ID, text=found[1]))
    listed = json.loads(run(settings, "line-bindings", "--org", "makha", "--format", "json")[1])
    officer = {r["contact"]: r for r in listed}[OFFICER]
    assert officer["status"] == "connected" and OFFICER_ID not in officer["chat"] and officer["chat"].endswith("4d")

    remind(engine, settings, AS_OF)
    pushed = [json.loads(p.body) for p in fake_line.pushes() if p.status == 200]
    line_rows = [r for r in officer_rows(engine) if r.destination == "line:connect"]
    assert [p["to"] for p in pushed] == [OFFICER_ID] and len(line_rows) > 1  # one message for the day
    assert fake_line.validation_failures == []
    assert {r.status for r in line_rows} == {"sent"}

    webhook(engine, settings, fake_line, fake_line.event("unfollow", OFFICER_ID))
    mails_before = len(smtp_server.messages)
    seen = {r.id for r in officer_rows(engine)}
    remind(engine, settings, bkk(2022, 10, 28, 9, 0))  # the next stages (3 and 1 days before 31 October)
    later = [r for r in officer_rows(engine) if r.id not in seen]
    assert {(r.destination, r.status) for r in later} == {("line:connect", "skipped"),
                                                         ("mailto:palad@makha.example.go.th", "sent")}
    assert all("LINE not connected" in (r.skip_reason or "") for r in later if r.destination == "line:connect")
    assert len([p for p in fake_line.pushes() if p.status == 200]) == len(pushed)  # none to the blocked user
    assert len(smtp_server.messages) > mails_before
    engine.dispose()


def test_line_connect_refuses_a_contact_without_line_connect(tmp_path: Path) -> None:
    settings = Settings.from_env({"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
                                  "TRACKER_CONFIG": str(connect_sample(tmp_path / "config")),
                                  "LINE_BOT_BASIC_ID": "@x"})
    assert run(settings, "sync")[0] == 0
    code, out = run(settings, "line-connect", "หัวหน้าสำนักปลัด", "--org", "makha")
    assert code == 2 and "line:connect" in out and OFFICER in out


def test_line_connect_destinations_are_validated_with_the_place_and_the_fix(tmp_path: Path) -> None:
    path = connect_sample(tmp_path)
    text = path.read_text(encoding="utf-8")
    text = text.replace('destinations = ["mailto:finance@makha.example.go.th"]',
                        'destinations = ["line:conect", "mailto:finance@makha.example.go.th"]')
    text = text.replace('name = "ปลัดเทศบาลตำบลมะค่า"', f'name = "{OFFICER}"')
    text = text.replace('destinations = ["mailto:clerk@makha.example.go.th"]', 'destinations = ["line:connect"]')
    path.write_text(text, encoding="utf-8")
    errors = [str(p) for p in load_config([path]).errors]
    assert len(errors) == 2, errors
    assert any("units[1].contacts[1].destinations" in e and "line:connect" in e and "line-connect" in e
               for e in errors)
    assert any("executives[1].destinations" in e and f"'{OFFICER}'" in e and "units[0].contacts[1]" in e
               for e in errors)
    assert load_connect_sample(tmp_path / "ok").ok
