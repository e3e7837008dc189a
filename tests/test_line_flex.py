"""LINE reminders people can act on: a Flex message (the plain text as altText, valid against LINE's
OpenAPI description), one bubble per item, signed postbacks to snooze (three working days, escalations
never) or acknowledge, both kept in the deadline's history."""

from __future__ import annotations

import json
import random
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from config.settings import Settings
from jobs import dispatch, plan
from jobs.line_webhook import handle_webhook
from notifiers.registry import Notifiers
from tests.fakes.line_server import FakeLineServer
from tests.fakes.plugin import fake_line  # noqa: F401
from tests.fixtures_reminders import AS_OF, bkk
from tests.line_support import OFFICER, OFFICER_ID, line_settings, load_connect_sample, sync
from tracker.store.db import session_scope
from tracker.store.line_links import issue_code
from tracker.store.models import OutboxRow
from tracker.store.snoozes import snooze
from tracker.store.trail_models import AuditRow


@pytest.fixture
def settings(fake_line: FakeLineServer, tmp_path: Path) -> Settings:  # noqa: F811
    return line_settings(fake_line, None, tmp_path)


@pytest.fixture
def connected(engine: Engine, settings: Settings, fake_line: FakeLineServer, tmp_path: Path) -> Engine:  # noqa: F811
    sync(engine, load_connect_sample(tmp_path / "config"))
    with session_scope(engine) as session:
        code = issue_code(session, "makha", OFFICER, AS_OF)[0]
    webhook(engine, settings, fake_line, fake_line.event("message", OFFICER_ID, text=code))
    return engine


def webhook(engine: Engine, settings: Settings, line: FakeLineServer, *events: dict[str, Any],
            at: datetime = AS_OF) -> None:
    body, headers = line.webhook_request(*events)
    assert handle_webhook(engine, settings, body, headers["X-Line-Signature"], at).status == 200


def remind(engine: Engine, settings: Settings, at: datetime) -> None:
    with session_scope(engine) as session:
        plan.plan(session, at, "makha")
    with Notifiers(settings) as notifiers:
        dispatch.run_once(engine, at, notifiers, "test", rng=random.Random(1))


def flex_pushes(line: FakeLineServer) -> list[dict[str, Any]]:
    return [m for p in line.pushes() if p.status == 200 for m in json.loads(p.body)["messages"]
            if m["type"] == "flex"]


def buttons(flex: dict[str, Any]) -> list[dict[str, Any]]:
    bubbles = flex["contents"]["contents"] if flex["contents"]["type"] == "carousel" else [flex["contents"]]
    return [b["action"] for bubble in bubbles for b in bubble.get("footer", {}).get("contents", [])]


def history(engine: Engine) -> list[tuple[str, str]]:
    with session_scope(engine) as session:
        rows = session.scalars(select(AuditRow).where(AuditRow.entity == "occurrence").order_by(AuditRow.id))
        return [(r.entity_id, r.change) for r in rows]


def test_a_line_reminder_is_a_flex_carousel_with_signed_postbacks(connected: Engine, settings: Settings,
                                                                  fake_line: FakeLineServer) -> None:  # noqa: F811
    remind(connected, settings, AS_OF)
    [flex] = flex_pushes(fake_line)
    assert fake_line.validation_failures == []  # checked against messaging-api.yml and LINE's limits
    assert flex["contents"]["type"] == "carousel" and len(flex["contents"]["contents"]) == 6
    # altText is the plain text cut to LINE's limit; each item now carries its signed web link, so the later
    # items may fall past the cut, while every item is in the carousel itself
    assert len(flex["altText"]) <= 1500 and "O10-1" in json.dumps(flex["contents"], ensure_ascii=False)
    everything = buttons(flex)
    links = [a for a in everything if a["type"] == "uri"]
    assert len(links) == 6 and all(a["uri"].startswith(settings.base_url + "/a/") for a in links)
    actions = [a for a in everything if a["type"] == "postback"]
    assert len(actions) == 12 and all(len(a["data"]) <= 300 for a in actions)
    assert {a["data"].split("|")[1] for a in actions} == {"snooze", "ack"}


def test_snooze_from_line_waits_three_working_days_and_is_in_the_history(
        connected: Engine, settings: Settings, fake_line: FakeLineServer) -> None:  # noqa: F811
    remind(connected, settings, AS_OF)
    [flex] = flex_pushes(fake_line)
    first = flex["contents"]["contents"][0]
    item = first["body"]["contents"][1]["text"].split()[0]
    snooze_data = next(a["data"] for a in buttons({"contents": first})
                       if a["type"] == "postback" and a["data"].split("|")[1] == "snooze")
    tampered = snooze_data[:-3] + ("AAA" if not snooze_data.endswith("AAA") else "BBB")
    webhook(connected, settings, fake_line, fake_line.event("postback", OFFICER_ID, postback=tampered))
    assert history(connected) == []  # not our signature: nothing recorded
    webhook(connected, settings, fake_line, fake_line.event("postback", OFFICER_ID, postback=snooze_data))
    occurrence = snooze_data.split("|")[3]
    assert history(connected) == [(occurrence, "snoozed")]
    reply = fake_line.reply_texts()[-1]
    assert item in reply and "๒๗ ตุลาคม ๒๕๖๕" in reply  # Fri 21 Oct + 3 working days (24 Oct is a holiday)
    ack = next(a["data"] for a in buttons({"contents": first})
               if a["type"] == "postback" and a["data"].split("|")[1] == "ack")
    webhook(connected, settings, fake_line, fake_line.event("postback", OFFICER_ID, postback=ack))
    assert history(connected)[-1] == (occurrence, "acknowledged")
    other = "U" + "f" * 32  # a chat not bound to the officer cannot press the officer's buttons
    webhook(connected, settings, fake_line, fake_line.event("postback", other, postback=snooze_data))
    assert len(history(connected)) == 2


def test_a_snoozed_item_is_set_aside_but_its_other_items_and_escalations_go(
        connected: Engine, settings: Settings, fake_line: FakeLineServer) -> None:  # noqa: F811
    remind(connected, settings, AS_OF)
    with session_scope(connected) as session:
        rows = list(session.scalars(select(OutboxRow).where(OutboxRow.recipient == OFFICER)))
        o10 = next(r.occurrence_id for r in rows if r.stage == "before-7" and r.occurrence_id)
        snooze(session, rows[0].org_id, o10, OFFICER, date(2022, 11, 30), AS_OF)
    for day in (1, 7, 8):  # O10-1 overdue: the officer's reminders wait, the escalation to the head does not
        remind(connected, settings, bkk(2022, 11, day, 9, 0))
    with session_scope(connected) as session:
        today = list(session.scalars(select(OutboxRow).where(OutboxRow.occurrence_id == o10,
                                                             OutboxRow.stage_day > date(2022, 10, 31))))
    officer = [r for r in today if r.recipient == OFFICER]
    assert officer and {r.status for r in officer} == {"skipped"}
    assert all("snoozed" in (r.skip_reason or "") for r in officer)
    escalations = [r for r in today if r.stage.startswith("escalation")]
    assert escalations and {r.status for r in escalations} == {"sent"}


def test_a_catch_up_bubble_names_the_reminders_it_replaces(connected: Engine, settings: Settings,
                                                           fake_line: FakeLineServer) -> None:  # noqa: F811
    # The catch-up sentence reached the e-mail and the LINE text (altText) but not the bubble people read.
    remind(connected, settings, bkk(2022, 10, 26, 9, 0))
    sent_before = len(flex_pushes(fake_line))
    remind(connected, settings, bkk(2022, 11, 2, 9, 0))  # down Thu 27 Oct - Tue 1 Nov
    [flex] = flex_pushes(fake_line)[sent_before:]
    bubbles = flex["contents"]["contents"] if flex["contents"]["type"] == "carousel" else [flex["contents"]]
    texts = [" ".join(t["text"] for t in b["body"]["contents"]) for b in bubbles]
    named = [t for t in texts if "ไม่ได้ส่งการแจ้งเตือน" in t]
    assert named and all("วันจันทร์ที่ ๓๑ ตุลาคม ๒๕๖๕" in t for t in named)
    assert fake_line.validation_failures == []
