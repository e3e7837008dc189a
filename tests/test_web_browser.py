"""In a real Chromium (Debian's, driven by Playwright) at 390×844, against the app served over HTTP:
the acceptance case — `tracker remind` at 09:00 on 21 October 2565 writes messages whose link opens the
O10-1 page; the form posted with a date and an evidence link makes `tracker status` show O10-1 done on
that date — and signing in by a one-time link to open the board. Screenshots go to
$TRACKER_SCREENSHOTS (or the test's temporary folder) to be looked at."""

from __future__ import annotations

import io
import json
import os
import re
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine

from config.settings import Settings
from tests.web_support import NOW, settings_for, sync_both
from tracker.cli.common import Context
from tracker.cli.main import main
from tracker.web import create_app
from tracker.web.serve import Background, server

CHROMIUM = os.environ.get("TRACKER_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"width": 390, "height": 844}

# CI installs Chromium (.ci/run) and must run these; elsewhere they are skipped without it.
NO_BROWSER = not Path(CHROMIUM).exists() and not os.environ.get("CI")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(NO_BROWSER, reason=f"no Chromium at {CHROMIUM}")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def site(sqlite_engine: Engine, tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    sync_both(sqlite_engine, tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = replace(settings_for(sqlite_engine, tmp_path), base_url=url)
    web = Background(server(create_app(settings, engine=sqlite_engine, clock=lambda: NOW), "127.0.0.1", port)).start()
    yield url, settings
    web.stop()


@pytest.fixture
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield chromium
        chromium.close()


def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("TRACKER_SCREENSHOTS") or tmp_path / "screens")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def cli(settings: Settings, *args: str) -> str:
    out = io.StringIO()
    assert main(list(args), Context(settings, out=out, err=io.StringIO())) == 0, out.getvalue()
    return out.getvalue()


def o10_link(settings: Settings, base: str) -> str:
    """The action link in the part about O10-1 of a message written to the local outbox (reminders of one
    day to one person travel together, one part per deadline)."""
    for path in sorted(settings.outbox_dir.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for part in data["text"].split("— — —"):
            if "O10-1" in part:
                found = re.search(re.escape(base) + r"/a/[A-Za-z0-9_.-]+", part)
                assert found, part
                assert found.group(0) in data["line_text"]  # the LINE text carries it too
                return found.group(0)
    raise AssertionError("no reminder about O10-1 in the outbox")


def test_reminder_link_to_logged_action_at_phone_width(site: tuple[str, Settings], browser: object,
                                                      tmp_path: Path) -> None:
    base, settings = site
    cli(settings, "remind", "--org", "makha", "--as-of", "2022-10-21T09:00:00+07:00")
    link = o10_link(settings, base)
    page = browser.new_page(viewport=PHONE)  # type: ignore[attr-defined]
    page.goto(link)
    assert "O10-1" in page.inner_text("h1")
    assert page.inner_text("#status") == "ยังไม่ครบกำหนด"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing wider than the phone
    page.screenshot(path=str(shots(tmp_path) / "action-link.png"), full_page=True)
    page.fill("#done_on", "20/10/2565")
    page.fill("#evidence", "https://makha.example.go.th/plan-2566")
    page.fill("#note", "เผยแพร่แผนดำเนินงานบนเว็บไซต์แล้ว")
    page.click("button[type=submit]")
    page.wait_for_selector(".flash.done")
    assert "บันทึกผลแล้ว" in page.inner_text(".flash.done")
    assert page.inner_text("#status") == "ดำเนินการแล้ว"
    assert "https://makha.example.go.th/plan-2566" in page.inner_text("#history")
    page.screenshot(path=str(shots(tmp_path) / "action-recorded.png"), full_page=True)
    status = json.loads(cli(settings, "status", "--org", "makha", "--as-of", "2022-10-21", "--format", "json"))
    row = next(r for r in status["occurrences"] if r["obligation"] == "O10-1")
    assert (row["status"], row["done_on"]) == ("done", "2022-10-20")


def test_sign_in_by_one_time_link_and_open_the_board(site: tuple[str, Settings], browser: object,
                                                    tmp_path: Path) -> None:
    _, settings = site
    url = cli(settings, "login-link", "mayor@makha.example.go.th").splitlines()[0]
    page = browser.new_page(viewport=PHONE)  # type: ignore[attr-defined]
    page.goto(url)
    page.click("#signin")
    page.wait_for_selector("#board")
    assert "เทศบาลตำบลมะค่า" in page.inner_text("h1")
    assert page.locator("#board tbody tr").count() > 20
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(shots(tmp_path) / "board.png"), full_page=False)
    page.select_option("select[name=unit]", "finance")
    page.click(".filters button")
    page.wait_for_url(re.compile(r"unit=finance"))
    assert page.locator("#board tbody tr").count() == 4
    page.goto(url)  # the link was used: it opens no more
    assert "ใช้ไม่ได้แล้ว" in page.inner_text("h1")


def test_a_signed_in_officer_logs_from_the_obligation_page(site: tuple[str, Settings], browser: object,
                                                          tmp_path: Path) -> None:
    """Sent to sign in from the obligation page, back on it after the one-time link, the form records O10-1
    (the same form as the reminder's link) and the page shows it done; English on request."""
    base, settings = site
    page = browser.new_page(viewport=PHONE)  # type: ignore[attr-defined]
    page.goto(f"{base}/o/makha/ob/O10-1")
    assert "/signin/" in page.url and "next=" in page.url  # a browser is sent to sign in, not given a 401
    url = cli(settings, "login-link", "palad@makha.example.go.th").splitlines()[0]
    page.goto(url + "?next=/o/makha/ob/O10-1")
    page.click("#signin")
    page.wait_for_selector("#action-form")
    assert page.url.endswith("/o/makha/ob/O10-1")
    assert page.locator("#history-link").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(shots(tmp_path) / "obligation-form.png"), full_page=True)
    page.fill("#done_on", "20/10/2565")
    page.fill("#evidence", "https://makha.example.go.th/plan-2566")
    page.click("#action-form button[type=submit]")
    page.wait_for_selector(".flash.done")
    assert "บันทึกผลแล้ว" in page.inner_text(".flash.done")
    assert page.locator('tr[data-status="done"]').count() == 1
    page.screenshot(path=str(shots(tmp_path) / "obligation-recorded.png"), full_page=True)
    page.goto(f"{base}/o/makha/ob/O10-1?lang=en")
    assert "Log what was done" in page.inner_text("#log-action")
    page.screenshot(path=str(shots(tmp_path) / "obligation-en.png"), full_page=True)
    status = json.loads(cli(settings, "status", "--org", "makha", "--as-of", "2022-10-21", "--format", "json"))
    row = next(r for r in status["occurrences"] if r["obligation"] == "O10-1")
    assert (row["status"], row["done_on"]) == ("done", "2022-10-20")
