"""What a person sees (issue 12): the HTML progress report, the digest and a reminder e-mail rendered in a
real Chromium (Debian's, with Thai fonts), their text read back from the page.

Chromium is /usr/bin/chromium or $TRACKER_CHROMIUM. Outside CI a machine without it skips these tests
with a reason; in CI (.ci/run installs it) they must run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from config.loader import LoadResult
from notifiers.email import build_email
from tests.test_official_wording import SIX_MONTH
from tracker.domain.digest import build_digest
from tracker.messages.digest import render_digest
from tracker.messages.render import render_reminder
from tracker.reports.progress import build_progress
from tracker.reports.render import render_html

CHROMIUM = os.environ.get("TRACKER_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = os.environ.get("TRACKER_SCREENSHOTS")  # a folder: full-page screenshots to look at


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            raise RuntimeError(f"CI must provide Chromium at {CHROMIUM} (.ci/run installs Debian's chromium)")
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium fonts-thai-tlwg)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield launched
        launched.close()


def open_page(browser: Any, html: str, name: str, width: int = 1200) -> Any:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.set_content(html, wait_until="load")
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)
    return page


def lines_of(page: Any, selector: str) -> int:
    """How many line boxes the text of the first element matching `selector` takes on screen."""
    return int(page.evaluate("""(selector) => {
        const range = document.createRange();
        range.selectNodeContents(document.querySelector(selector));
        const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        return tops.size;
    }""", selector))


def test_progress_report_as_a_person_sees_it(browser: Any, sample: LoadResult) -> None:
    cfg = sample.org("makha")
    page = open_page(browser, render_html(build_progress(cfg.organisation, cfg.actions, 2566, "6m",
                                                         date(2023, 4, 30))), "report")
    text = page.inner_text("body")
    assert "ข้อมูล ณ วันที่ ๓๐ เมษายน ๒๕๖๖" in text
    assert "ตุลาคม พ.ศ. ๒๕๖๖" not in text  # nothing dated after the report's own date
    assert "๐๑๑ รายงานการกำกับติดตามการดำเนินงานประจำปี" in text and "0๑๑" not in text
    o10 = page.inner_text("tr#O10")
    assert "ดำเนินการเมื่อวันที่ ๕ เดือน เมษายน พ.ศ. ๒๕๖๖" in o10 and "ล่าช้า ๑๕๖ วัน" in o10
    assert "ทุกเดือน: เกินกำหนด ๖ งวด" in page.inner_text("tr#M04")
    # The narrow unit column keeps its words whole: the header and each unit name on one line each.
    assert lines_of(page, "thead th:nth-child(2)") == 1
    assert lines_of(page, "tr#O20 td.unit") == 1
    page.close()


def test_digest_as_an_executive_sees_it(browser: Any, sample: LoadResult) -> None:
    cfg = sample.org("makha")
    org = cfg.organisation
    digest = build_digest(org, org.occurrences(2567) + org.occurrences(2568), cfg.actions, 2025, 5, date(2025, 5, 1))
    rendered = render_digest(digest, board_url="https://ita.example/board/makha")
    page = open_page(browser, rendered.html, "digest", width=700)
    text = page.inner_text("body")
    assert "เรียน ผู้บริหารเทศบาลตำบลมะค่า" in text and "จึงเรียนมาเพื่อโปรดทราบ" in text
    assert "เทศบาลตำบลมะค่า อำเภอโนนสูง จังหวัดนครราชสีมา" in text
    assert "ปีงบประมาณ พ.ศ. ๒๕๖๘" in text and "ค้างจากปีก่อน" in text
    assert "และอีก ๔ รายการ ดูทั้งหมดได้ที่ https://ita.example/board/makha" in text
    assert text.count("[M04-1]") + text.count("M04-1 ") <= 2  # once overdue, once due next: grouped
    assert page.evaluate("document.documentElement.scrollHeight") < 3000  # not an 8,000 px e-mail
    page.close()


def test_reminder_email_as_an_officer_sees_it(browser: Any) -> None:
    url = "https://ita.example/a/t0k3n"
    message = render_reminder(replace(SIX_MONTH, period="2566-M07"), action_url=url).outgoing("k", "th")
    mail: EmailMessage = build_email(message, from_addr="ita@makha.example", to_addr="palad@makha.example",
                                     now=datetime(2023, 4, 28, 1, 0, tzinfo=UTC))
    html_part = mail.get_body(("html",))
    assert html_part is not None
    page = open_page(browser, html_part.get_content(), "reminder", width=600)
    text = page.inner_text("body")
    assert text.startswith("เรียน เจ้าหน้าที่ผู้รับผิดชอบ สำนักปลัด")
    assert "ครบกำหนดในวันอาทิตย์ที่ ๓๐ เมษายน ๒๕๖๖ ซึ่งเป็นวันหยุดราชการ วันนี้จึงเป็นวันทำการสุดท้ายก่อนครบกำหนด" in text
    assert "รอบ\tเม.ย. ๖๖" in text or "รอบ เม.ย. ๖๖" in text
    assert f"บันทึกผลการดำเนินการ: {url}" in text
    assert "จึงเรียนมาเพื่อโปรดทราบและดำเนินการให้แล้วเสร็จ" in text
    assert "tracker" not in text
    assert page.get_attribute("a", "href") == url
    page.close()
