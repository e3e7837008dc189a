"""In a real Chromium (Debian's, driven by Playwright) at phone width: an admin uploads a broken
configuration and sees every error located (file, line, field, the line itself), then uploads a good
one, previews it and applies it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine

from tests.conftest import SAMPLE
from tests.web_support import MAKHA_ADMIN
from tests.webapp import make_app
from tracker.web.serve import Background, server, url_of

CHROMIUM = os.environ.get("TRACKER_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path(os.environ.get("TRACKER_SCREENSHOTS", "/tmp/tracker-screenshots"))

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                                reason="Chromium is not installed (apt-get install chromium fonts-thai-tlwg)")


@pytest.fixture
def served(sqlite_engine: Engine, tmp_path: Path) -> Iterator[tuple[str, Flask]]:
    app = make_app(sqlite_engine, tmp_path)
    web = Background(server(app, "127.0.0.1", 0)).start()
    yield url_of(web.server), app
    web.stop()


def session_cookie(app: Flask, destination: str) -> str:
    """The cookie the one-time sign-in link sets: Flask's signed session naming the person."""
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    return str(serializer.dumps({"_user_id": destination, "_fresh": True}))


@contextmanager
def admin_at_phone_width(base: str, app: Flask) -> Iterator[Any]:
    """A Chromium page (Playwright's `Page`) at phone width, 390×844 in Thai, signed in as Makha's admin;
    the browser is closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            context = browser.new_context(viewport={"width": 390, "height": 844}, locale="th-TH")
            context.add_cookies([{"name": app.config.get("SESSION_COOKIE_NAME", "session"),
                                  "value": session_cookie(app, MAKHA_ADMIN), "url": base}])
            yield context.new_page()
        finally:
            browser.close()


def test_an_admin_sees_located_errors_then_applies_a_good_file(served: tuple[str, Flask], tmp_path: Path) -> None:
    from playwright.sync_api import expect

    base, app = served
    broken = SAMPLE.read_text(encoding="utf-8").replace("fiscal_year = 2566", "fiscal_year = 2023", 1).replace(
        'role = "officer"', 'role = "boss"', 1)
    line = next(i for i, text in enumerate(broken.splitlines(), start=1) if text.startswith("fiscal_year = 2023"))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "makha.toml").write_text(broken, encoding="utf-8")
    good = SAMPLE.read_text(encoding="utf-8").replace('name = "เทศบาลตำบลมะค่า"', 'name = "เทศบาลตำบลมะค่า (แก้ไข)"', 1)
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "makha.toml").write_text(good, encoding="utf-8")
    SHOTS.mkdir(parents=True, exist_ok=True)

    with admin_at_phone_width(base, app) as page:
        page.goto(f"{base}/admin/makha/config")
        page.set_input_files("input[type=file]", str(tmp_path / "broken" / "makha.toml"))
        page.click("#preview-button")
        problems = page.locator("ol.problems li.error")
        expect(problems.first).to_be_visible()
        assert problems.count() >= 2
        expect(page.locator("#preview")).to_contain_text(f"makha.toml บรรทัด {line}")
        expect(page.locator("#preview")).to_contain_text("fiscal_year = 2023")
        expect(page.locator("#apply")).to_have_count(0)
        width = page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(SHOTS / "admin-config-errors-390.png"), full_page=True)

        page.set_input_files("input[type=file]", str(tmp_path / "good" / "makha.toml"))
        page.click("#preview-button")
        expect(page.locator("#apply")).to_be_visible()
        page.click("#apply")
        expect(page.locator("#applied")).to_contain_text("ใช้ไฟล์ตั้งค่าใหม่แล้ว")
        page.screenshot(path=str(SHOTS / "admin-config-applied-390.png"), full_page=True)
    assert width <= 390 + 1, f"the page scrolls sideways at phone width ({width}px)"
    assert (tmp_path / "orgs" / "makha.toml").read_text(encoding="utf-8") == good
