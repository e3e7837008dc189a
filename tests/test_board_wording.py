"""The web board says what `tracker status` says, in the words officials write (issue 12): periods as
"เม.ย. ๖๖", "ไตรมาส ๑/๒๕๖๖", "ปีงบ ๒๕๖๖" (the codes stay in the JSON and in data attributes), statuses
from the same `status_text` ("ยังไม่ครบกำหนด", "ครบกำหนดวันนี้" on the due date), and "รายการ" for an
item of a measure."""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from config.settings import Settings
from tests.test_web_browser import CHROMIUM, NO_BROWSER, browser, cli, free_port, shots  # noqa: F401  (fixture)
from tests.web_support import MAYOR, make_app, settings_for, sign_in, sync_both
from tracker.cli.common import Context
from tracker.cli.main import main
from tracker.domain.thaidate import BANGKOK, to_arabic_digits
from tracker.web import create_app
from tracker.web.serve import Background, server

LATER = datetime(2023, 4, 30, 10, 0, tzinfo=BANGKOK)  # O10-2, O11-2 and O20-2 are due this very day


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> FlaskClient:
    sync_both(engine, tmp_path)
    client = make_app(engine, tmp_path, now=LATER).test_client()
    sign_in(client, engine, MAYOR, LATER)
    return client


def cells(html: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(obligation, period code) → (the period cell's text, the status cell's first badge) of each row."""
    rows = re.findall(r'<tr data-obligation="([^"]+)" data-status="[^"]+">(.*?)</tr>', html, re.S)
    out = {}
    for ob, row in rows:
        code = re.search(r'data-period="([^"]+)"', row)
        assert code is not None
        period = code.group(1)
        tds = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        badge = re.search(r'<span class="badge[^"]*">([^<]*)</span>', tds[4])
        assert badge is not None
        out[(ob, period)] = (tds[2].strip(), badge.group(1).strip())
    return out


def test_the_board_shows_periods_and_statuses_as_tracker_status_prints_them(client: FlaskClient, engine: Engine,
                                                                             tmp_path: Path) -> None:
    page = client.get("/o/makha")
    assert page.status_code == 200
    shown = cells(page.text)
    assert shown[("M04-1", "2566-M07")][0] == "เม.ย. ๖๖"  # never "๒๕๖๖-M07", which reads as July
    assert shown[("M05-1", "2566-Q1")][0] == "ไตรมาส ๑/๒๕๖๖"
    assert shown[("O10-4", "2566")] == ("ปีงบ ๒๕๖๖", "ยังไม่ครบกำหนด")
    assert shown[("O10-2", "2566")][1] == "ครบกำหนดวันนี้"  # not "ใกล้ครบกำหนด"
    assert "-M0" not in re.sub(r'data-period="[^"]+"', "", page.text)
    assert "<th>รายการ</th>" in page.text and "ภาระงาน" not in page.text
    out = io.StringIO()
    assert main(["status", "--org", "makha", "--as-of", "2023-04-30"],
                Context(settings_for(engine, tmp_path), out=out, err=io.StringIO())) == 0
    board = out.getvalue()
    for (ob, _), (period, status) in shown.items():  # each line of `tracker status` holds the same words
        assert any(ob in line and period in line and status in line for line in board.splitlines()), (ob, period)


def test_an_obligations_page_and_a_deadlines_page_use_the_same_words(client: FlaskClient) -> None:
    page = client.get("/o/makha/ob/M05-1")
    assert page.status_code == 200 and "ไตรมาส ๑/๒๕๖๖" in page.text and "2566-Q1" not in page.text
    due_today = client.get("/o/makha/ob/O10-2")
    assert "ครบกำหนดวันนี้" in due_today.text and "ใกล้ครบกำหนด</span>" not in due_today.text


@pytest.fixture
def later_site(sqlite_engine: Engine, tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    sync_both(sqlite_engine, tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = replace(settings_for(sqlite_engine, tmp_path), base_url=url)
    web = Background(server(create_app(settings, engine=sqlite_engine, clock=lambda: LATER), "127.0.0.1", port))
    web.start()
    yield url, settings
    web.stop()


@pytest.mark.slow
@pytest.mark.skipif(NO_BROWSER, reason=f"no Chromium at {CHROMIUM}")
def test_the_board_read_back_from_chromium_says_what_officials_write(later_site: tuple[str, Settings],
                                                                      browser: object, tmp_path: Path) -> None:  # noqa: F811
    _, settings = later_site
    url = cli(settings, "login-link", "mayor@makha.example.go.th").splitlines()[0]
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page.goto(url)
    page.click("#signin")
    page.wait_for_selector("#board")
    periods = page.locator("#board td[data-period]").all_inner_texts()
    assert "เม.ย. ๖๖" in periods and "ไตรมาส ๑/๒๕๖๖" in periods and "ปีงบ ๒๕๖๖" in periods
    assert not any("-M" in p or "-Q" in p for p in periods)
    row = page.locator('#board tr[data-obligation="O10-2"]').inner_text()
    assert "ครบกำหนดวันนี้" in row and "ใกล้ครบกำหนด" not in row
    assert "ยังไม่ครบกำหนด" in page.locator('#board tr[data-obligation="O10-4"]').inner_text()
    assert page.inner_text("#board thead").split()[0] == "รายการ"
    page.screenshot(path=str(shots(tmp_path) / "board-wording.png"))


def test_the_summary_badges_count_what_the_rows_say(client: FlaskClient) -> None:
    # The badges counted by status code, so "ใกล้ครบกำหนด ๔" included rows that read "ครบกำหนดวันนี้".
    page = client.get("/o/makha").text
    summary = page.split('id="summary"')[1].split("</div>")[0]
    badges = {text: int(to_arabic_digits(n)) for text, n in
              re.findall(r'<span class="badge[^"]*"[^>]*>([^<]*?) ([๐-๙]+)</span>', summary)}
    rows = Counter(badge for _, badge in cells(page).values())
    assert rows["ครบกำหนดวันนี้"] >= 1 and badges == dict(rows)
