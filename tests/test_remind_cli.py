"""`tracker remind`, `tracker outbox` and `tracker send-test`, run in-process against a temporary SQLite file."""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Text, cast, select

from config.settings import Settings
from jobs import plan
from jobs.plan_context import calendar_from_text, load_contexts, policy_from_text
from tests.fixtures_reminders import count_outbox
from tracker.cli.common import Context
from tracker.cli.main import main
from tracker.store.db import open_engine, session_scope
from tracker.store.models import DeliveryAttemptRow, ObligationRow, OutboxRow

AS_OF = "2022-10-21T09:00:00+07:00"
KEYS = {"org", "measure", "obligation", "due", "stage", "days_to_due", "recipient", "destination", "subject", "text",
        "link"}  # the signed action link the message carries


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = {"TRACKER_DATA_DIR": str(tmp_path), "TRACKER_OUTBOX_DIR": str(tmp_path / "outbox")}
    assert run(environment, "sync")[0] == 0
    return environment


def run(env: dict[str, str], *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), Context(Settings.from_env(env), out=out, err=out))
    return code, out.getvalue()


def run_json(env: dict[str, str], *argv: str) -> Any:
    code, out = run(env, *argv, "--format", "json")
    assert code == 0, out
    return json.loads(out)


def test_dry_run_shows_the_o10_plan_reminder_moved_off_the_24_october_holiday(env: dict[str, str],
                                                                               tmp_path: Path) -> None:
    data = run_json(env, "remind", "--org", "makha", "--as-of", AS_OF, "--dry-run")
    assert data["as_of"] == AS_OF
    o10 = [r for r in data["reminders"] if r["obligation"] == "O10-1"]
    assert o10, "the annual-plan reminder is missing"
    assert all(set(r) == KEYS for r in data["reminders"])
    facts = {(r["measure"], r["due"], r["stage"], r["days_to_due"]) for r in o10}
    assert facts == {("O10", "2022-10-31", "before", 10)}
    assert {r["recipient"] for r in o10} == {"เจ้าหน้าที่ผู้รับผิดชอบ สำนักปลัด"}
    assert "U0123456789abcdef0123456789abcdef" not in json.dumps(data)  # destinations are masked
    assert "วันจันทร์ที่ ๓๑ ตุลาคม ๒๕๖๕" in o10[0]["text"]
    engine = open_engine(f"sqlite:///{tmp_path / 'tracker.sqlite3'}")
    assert count_outbox(engine) == 0  # a dry run writes nothing
    engine.dispose()


def test_dry_run_stage_kinds_and_signed_days(env: dict[str, str]) -> None:
    late = run_json(env, "remind", "--org", "makha", "--as-of", "2022-11-07T09:00:00+07:00", "--dry-run")
    stages = {(r["obligation"], r["stage"], r["days_to_due"]) for r in late["reminders"]}
    assert ("O10-1", "escalation", -7) in stages


def test_remind_plans_and_sends_to_the_outbox_folder_once(env: dict[str, str], tmp_path: Path) -> None:
    first = run_json(env, "remind", "--org", "makha", "--as-of", AS_OF)
    assert first["planned"]["created"] == 13 and first["dispatched"] == {"sent": 13}
    again = run_json(env, "remind", "--org", "makha", "--as-of", "2022-10-21T10:00:00+07:00")
    assert again["planned"]["created"] == 0 and again["dispatched"] == {}
    listed = run_json(env, "outbox", "--status", "sent")["messages"]
    channels = {(m["recipient"], m["destination"]) for m in listed}
    assert len(list((tmp_path / "outbox").glob("*.json"))) == len(channels) == 3  # one file per person and channel
    assert len(listed) == 13 and all("U0123456789abcdef0123456789abcdef" not in m["destination"] for m in listed)


def test_remind_json_says_how_many_open_deadlines_the_planner_selected(env: dict[str, str], tmp_path: Path) -> None:
    # `planned.selected` went missing from the JSON when planning became set-based: it is the planner's one
    # query (open occurrences due on a day with a stage in the range), counted here by that query itself.
    planned = run_json(env, "remind", "--org", "makha", "--as-of", AS_OF)["planned"]
    today = datetime.fromisoformat(AS_OF).date()
    engine = open_engine(f"sqlite:///{tmp_path / 'tracker.sqlite3'}")
    with session_scope(engine) as session:
        ctx = load_contexts(session)
        policies = session.scalars(select(cast(ObligationRow.policy, Text)).distinct()).all()
        pairs = [(policy_from_text(p), calendar_from_text(c.closures_text)) for p in policies for c in ctx.values()]
        selected = len(session.execute(plan.open_occurrences(plan.candidate_dues(pairs, today, today), today)).all())
    engine.dispose()
    assert planned["selected"] == selected > 0
    assert planned["created"] == 13


def test_outbox_retry_needs_a_retryable_message(env: dict[str, str]) -> None:
    run_json(env, "remind", "--org", "makha", "--as-of", AS_OF)
    code, out = run(env, "outbox", "retry", "1")
    assert code == 2 and "never sent twice" in out
    assert run(env, "outbox", "retry", "999")[0] == 2
    assert run(env, "outbox", "retry")[0] == 2


def test_send_test_without_credentials_writes_to_the_outbox_folder(env: dict[str, str], tmp_path: Path) -> None:
    code, out = run(env, "send-test", "line://U0123456789abcdef0123456789abcdef")
    assert code == 0 and "outbox" in out
    assert list((tmp_path / "outbox").glob("*.json"))
    assert run(env, "send-test", "carrier-pigeon://coop")[0] == 2  # bad input, refused before any send


def test_outbox_says_which_channel_is_paused_and_why(env: dict[str, str], tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'tracker.sqlite3'}")
    with session_scope(engine) as session:
        plan.plan(session, datetime.fromisoformat(AS_OF), "makha")
        waiting = session.scalars(select(OutboxRow.id).where(OutboxRow.destination.like("line:%"))).all()
        session.add(DeliveryAttemptRow(outbox_id=waiting[0], at=datetime.fromisoformat("2022-10-21T09:02:00+07:00"),
                                       outcome="channel", provider_status=401, error="LINE push: HTTP 401"))
    engine.dispose()
    code, out = run(env, "outbox")
    assert code == 0 and "channel line: paused since 2022-10-21 09:02 (Bangkok): LINE push: HTTP 401" in out
    assert f"{len(waiting)} message(s) waiting" in out
    paused = run_json(env, "outbox")["paused_channels"]
    assert [(p["channel"], p["waiting"]) for p in paused] == [("line", len(waiting))]


class _Deadlock(Exception):
    sqlstate = "40P01"


def test_planning_aborted_as_one_side_of_a_deadlock_is_run_again(env: dict[str, str], tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # PostgreSQL aborts one of two deadlocked transactions and expects it to be retried (seen in the crash
    # suite with two dispatchers planning at once); any other database error is not retried.
    from sqlalchemy.exc import OperationalError

    from tracker.cli import remind

    calls: list[int] = []
    real = remind.plan

    def flaky(session: Any, now: datetime, org: str | None = None) -> plan.PlanResult:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("INSERT …", {}, _Deadlock("deadlock detected"))
        return real(session, now, org)

    monkeypatch.setattr(remind, "plan", flaky)
    engine = open_engine(f"sqlite:///{tmp_path / 'tracker.sqlite3'}")
    result = remind.plan_retrying_deadlocks(engine, datetime.fromisoformat(AS_OF), "makha")
    assert len(calls) == 2 and result.created == 13

    def broken(session: Any, now: datetime, org: str | None = None) -> plan.PlanResult:
        raise OperationalError("INSERT …", {}, Exception("disk I/O error"))

    monkeypatch.setattr(remind, "plan", broken)
    with pytest.raises(OperationalError):
        remind.plan_retrying_deadlocks(engine, datetime.fromisoformat(AS_OF), "makha")
    engine.dispose()
