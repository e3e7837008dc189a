"""Boards and scope: each page's numbers are those `tracker status` prints for the same day; a unit's
people see their unit only, an organisation's people theirs only, viewers their province or the country;
anonymous visitors are sent to sign in."""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from tests.web_support import (
    FINANCE_OFFICER,
    MAYOR,
    NATIONAL_VIEWER,
    NONGBUA_ADMIN,
    PALAD_OFFICER,
    PROVINCE_VIEWER,
    make_app,
    occurrence_id,
    settings_for,
    sign_in,
    sync_both,
)
from tracker.cli.common import Context
from tracker.cli.main import main
from tracker.domain.thaidate import BANGKOK

LATER = datetime(2023, 4, 30, 10, 0, tzinfo=BANGKOK)


@pytest.fixture
def app(engine: Engine, tmp_path: Path) -> Flask:
    sync_both(engine, tmp_path)
    return make_app(engine, tmp_path, now=LATER)


def client_as(app: Flask, engine: Engine, destination: str) -> FlaskClient:
    client = app.test_client()
    sign_in(client, engine, destination, LATER)
    return client


def cli_status(engine: Engine, tmp_path: Path, org: str, day: str = "2023-04-30") -> list[dict[str, object]]:
    out = io.StringIO()
    assert main(["status", "--org", org, "--as-of", day, "--format", "json"],
                Context(settings_for(engine, tmp_path), out=out, err=io.StringIO())) == 0
    rows: list[dict[str, object]] = json.loads(out.getvalue())["occurrences"]
    return rows


def board_rows(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<tr data-obligation="([^"]+)" data-status="([^"]+)">', html)


def test_anonymous_visitors_are_sent_to_sign_in(app: Flask, engine: Engine) -> None:
    client = app.test_client()
    for path in ("/o/makha", "/o/makha/u/palad", "/o/makha/ob/O10-1", f"/o/makha/d/{occurrence_id(engine)}",
                 "/overview"):
        answer = client.get(path)
        assert answer.status_code == 302 and "/signin/" in answer.headers["Location"], path


def test_executive_board_matches_tracker_status(app: Flask, engine: Engine, tmp_path: Path) -> None:
    page = client_as(app, engine, MAYOR).get("/o/makha")
    assert page.status_code == 200
    expected = Counter((str(r["obligation"]), str(r["status"])) for r in cli_status(engine, tmp_path, "makha"))
    assert Counter(board_rows(page.text)) == expected
    summary = dict(re.findall(r'data-status="([a-z_]+)">[^<]*?([๐-๙]+)</span>', page.text))
    # The summary counts as the rows read: those due this very day apart ("ครบกำหนดวันนี้").
    by_status = Counter("due_today" if r["status"] in ("open", "due_soon") and r["due"] == "2023-04-30"
                        else str(r["status"]) for r in cli_status(engine, tmp_path, "makha"))
    from tracker.domain.thaidate import to_arabic_digits
    assert {k: int(to_arabic_digits(v)) for k, v in summary.items()} == dict(by_status)


def test_filters(app: Flask, engine: Engine, tmp_path: Path) -> None:
    client = client_as(app, engine, MAYOR)
    rows = cli_status(engine, tmp_path, "makha")
    overdue = client.get("/o/makha?status=overdue").text
    assert Counter(board_rows(overdue)) == Counter((str(r["obligation"]), "overdue") for r in rows
                                                   if r["status"] == "overdue")
    finance = board_rows(client.get("/o/makha?unit=finance").text)
    assert finance and {o for o, _ in finance} == {str(r["obligation"]) for r in rows if r["unit"] == "finance"}
    first_half = board_rows(client.get("/o/makha?round=6m").text)
    assert len(first_half) == sum(1 for r in rows if str(r["due"])[5:7] in ("10", "11", "12", "01", "02", "03"))
    assert client.get("/o/makha?fy=2565").status_code == 400  # before the tracked years
    assert client.get("/o/makha?status=nonsense").status_code == 400


def test_unit_officer_sees_only_their_unit(app: Flask, engine: Engine, tmp_path: Path) -> None:
    client = client_as(app, engine, FINANCE_OFFICER)
    rows = board_rows(client.get("/o/makha").text)
    assert rows and {o for o, _ in rows} == {str(r["obligation"]) for r in cli_status(engine, tmp_path, "makha")
                                            if r["unit"] == "finance"}
    assert client.get("/o/makha/u/finance").status_code == 200
    assert client.get("/o/makha/u/palad").status_code == 403
    assert client.get("/o/makha?unit=palad").status_code == 403
    assert client.get("/o/makha/ob/O10-1").status_code == 403  # a palad obligation
    assert client.get(f"/o/makha/d/{occurrence_id(engine)}").status_code == 403
    assert client.get("/o/makha/ob/O20-1").status_code == 200


def test_one_organisation_cannot_read_another(app: Flask, engine: Engine) -> None:
    client = client_as(app, engine, NONGBUA_ADMIN)
    assert client.get("/o/nongbua").status_code == 200
    for path in ("/o/makha", "/o/makha/u/palad", "/o/makha/ob/O10-1", f"/o/makha/d/{occurrence_id(engine)}"):
        assert client.get(path).status_code == 403, path
    palad = client_as(app, engine, PALAD_OFFICER)
    assert palad.get("/o/nongbua").status_code == 403
    assert palad.get(f"/o/nongbua/d/{occurrence_id(engine, org='nongbua')}").status_code == 403
    assert palad.get(f"/o/makha/d/{occurrence_id(engine, org='nongbua')}").status_code == 404
    assert palad.get("/o/nosuch").status_code == 404


def test_obligation_and_deadline_pages(app: Flask, engine: Engine, tmp_path: Path) -> None:
    client = client_as(app, engine, PALAD_OFFICER)
    page = client.get("/o/makha/ob/O10-1").text
    row = next(r for r in cli_status(engine, tmp_path, "makha") if r["obligation"] == "O10-1")
    assert f'data-status="{row["status"]}"' in page and "เผยแพร่บนเว็บไซต์หน่วยงานแล้ว" in page
    deadline = client.get(f"/o/makha/d/{occurrence_id(engine)}").text
    assert "ประวัติการดำเนินการ" in deadline and ("๕ เม.ย. ๖๖" in deadline or "๕ เมษายน ๒๕๖๖" in deadline)


def test_overview_by_province_worst_first_matching_status(app: Flask, engine: Engine, tmp_path: Path) -> None:
    province = client_as(app, engine, PROVINCE_VIEWER).get("/overview")
    assert province.status_code == 200
    orgs = re.findall(r'data-org="([^"]+)" data-finished="(\d+)" data-overdue="(\d+)" data-total="(\d+)"',
                      province.text)
    assert [o[0] for o in orgs] == ["makha"]  # nongbua is in another province
    rows = cli_status(engine, tmp_path, "makha")
    finished = sum(1 for r in rows if r["status"] in ("done", "late"))
    overdue = sum(1 for r in rows if r["status"] == "overdue")
    assert orgs[0][1:] == (str(finished), str(overdue), str(len(rows)))
    national = client_as(app, engine, NATIONAL_VIEWER).get("/overview").text
    assert {o for o, *_ in re.findall(r'data-org="([^"]+)" data-finished="(\d+)"', national)} == {"makha", "nongbua"}
    # a unit officer is no viewer: only their own organisation is listed
    officer = client_as(app, engine, PALAD_OFFICER).get("/overview").text
    assert re.findall(r'data-org="([^"]+)"', officer) == ["makha"]


def test_viewer_reads_boards_in_their_province_only(app: Flask, engine: Engine) -> None:
    client = client_as(app, engine, PROVINCE_VIEWER)
    assert client.get("/o/makha").status_code == 200
    assert client.get("/o/nongbua").status_code == 403


def test_english_board(app: Flask, engine: Engine) -> None:
    page = client_as(app, engine, MAYOR).get("/o/makha?lang=en").text
    assert "Status board" in page or "Fiscal year" in page
    assert "overdue" in page
