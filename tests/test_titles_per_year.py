"""An obligation's title names the years of the plan it was written for ("…ภายในเดือนตุลาคม ๒๕๖๕" in Tambon
Makha's FY 2566 plan). Shown for a later fiscal year, the years move with it everywhere a person reads it:
reminders (e-mail and LINE items), the LINE status answer, the web board, an obligation's and a deadline's
page, the calendar feed and the progress report, as the digest already does (issue 12)."""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from config.loader import LoadResult, load_config
from config.settings import Settings
from tests.conftest import SAMPLE
from tests.fakes.line_server import FakeLineServer
from tests.fakes.plugin import fake_line  # noqa: F401
from tests.fixtures_reminders import bkk
from tests.test_line_flex import connected, flex_pushes, remind, settings  # noqa: F401  (fixtures)
from tests.web_support import PALAD_OFFICER, SYNCED_AT, make_app, occurrence_id, sign_in, sync_both
from tracker.cli.common import Context
from tracker.cli.main import main
from tracker.domain.status import organisation_statuses
from tracker.domain.thaidate import BANGKOK
from tracker.messages.line_chat import status_reply
from tracker.reports.progress import build_progress
from tracker.store.db import session_scope
from tracker.store.repo import sync_organisation

WRITTEN = "ภายในเดือนตุลาคม ๒๕๖๕"  # O10-1's title in the FY 2566 plan
FY_2567 = "ภายในเดือนตุลาคม ๒๕๖๖"  # the same deadline in FY 2567
ROLLOVER = "2023-10-17T09:00:00+07:00"  # FY 2567, the configuration still the FY 2566 plan


def run(env: dict[str, str], *argv: str) -> Any:
    out = io.StringIO()
    code = main([*argv, "--format", "json"], Context(Settings.from_env(env), out=out, err=out))
    assert code == 0, out.getvalue()
    return json.loads(out.getvalue())


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = {"TRACKER_DATA_DIR": str(tmp_path), "TRACKER_OUTBOX_DIR": str(tmp_path / "outbox")}
    out = io.StringIO()
    assert main(["sync"], Context(Settings.from_env(environment), out=out, err=out)) == 0, out.getvalue()
    return environment


def test_a_reminder_of_fy_2567_names_october_2566_not_the_plans_2565(env: dict[str, str]) -> None:
    data = run(env, "remind", "--org", "makha", "--as-of", ROLLOVER, "--dry-run")
    [o10] = {r["text"] for r in data["reminders"] if r["obligation"] == "O10-1" and r["due"] == "2023-10-31"}
    assert FY_2567 in o10 and WRITTEN not in o10


def test_line_bubbles_of_a_sent_bundle_carry_the_years_title(connected: Engine, settings: Settings,  # noqa: F811
                                                             fake_line: FakeLineServer) -> None:  # noqa: F811
    remind(connected, settings, bkk(2023, 10, 17, 9, 0))
    carousels = [f["contents"] for f in flex_pushes(fake_line)]
    bubbles = [json.dumps(b, ensure_ascii=False) for c in carousels
               for b in (c["contents"] if c["type"] == "carousel" else [c])]
    o10 = [b for b in bubbles if "O10-1" in b]
    assert o10 and all(FY_2567 in b and WRITTEN not in b for b in o10), o10


def test_the_line_status_answer_and_the_report_of_fy_2567_move_the_year(sample: LoadResult) -> None:
    cfg = sample.org("makha")
    org = cfg.organisation
    items = organisation_statuses(org, cfg.actions, date(2023, 10, 17), 2567)
    answer = status_reply(org, items, {"palad"}, "สำนักปลัด")
    [line] = [x for x in answer.splitlines() if "O10-1" in x]
    assert FY_2567 in line and WRITTEN not in line
    report = build_progress(org, cfg.actions, 2567, "6m", date(2023, 10, 17))
    [o10] = [ob.text for row in report.rows for ob in row.obligations if ob.code == "O10-1"]
    assert o10.endswith(FY_2567)
    same_year = build_progress(org, cfg.actions, 2566, "6m", date(2023, 4, 30))
    assert next(ob.text for row in same_year.rows for ob in row.obligations if ob.code == "O10-1").endswith(WRITTEN)


def test_the_web_board_and_pages_of_fy_2567_move_the_year(engine: Engine, tmp_path: Path) -> None:
    sync_both(engine, tmp_path)
    with session_scope(engine) as session:  # FY 2567's deadlines, as the scheduler materialises them
        sync_organisation(session, load_config([SAMPLE]).org("makha"), SYNCED_AT, through_fy=2567)
    later = datetime(2023, 10, 17, 10, 0, tzinfo=BANGKOK)
    app = make_app(engine, tmp_path, now=later)
    client = app.test_client()
    sign_in(client, engine, PALAD_OFFICER, later)
    board = client.get("/o/makha?fy=2567")
    assert board.status_code == 200
    assert FY_2567 in board.text and WRITTEN not in board.text
    assert WRITTEN in client.get("/o/makha?fy=2566").text  # the year it was written for reads as written
    page = client.get("/o/makha/ob/O10-1?fy=2567")
    assert page.status_code == 200 and FY_2567 in page.text and WRITTEN not in page.text
    deadline = client.get(f"/o/makha/d/{occurrence_id(engine, period='2567')}")
    assert deadline.status_code == 200 and FY_2567 in deadline.text and WRITTEN not in deadline.text
