"""The admin pages and the board at phone width (390×844) in a real Chromium: nothing wider than the
screen (the contacts and outbox tables were), the paused-channel banner in a warning colour (it had none), Thai words
whole in narrow columns (the outbox and the board's unit column broke them mid-word), and the outbox's
item column headed 'รายการ' as officials call an item of a measure (it said 'ภาระงาน'); an obligation's
reminder history as cards too (its table squeezed 'ผู้รับผิดชอบ' into a column one syllable wide)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, update

from jobs import plan
from tests.fixtures_reminders import outbox
from tests.test_browser_admin import CHROMIUM, SHOTS, admin_at_phone_width
from tests.webapp import NOW, make_app
from tracker.store.db import session_scope
from tracker.store.models import DeliveryAttemptRow, OutboxRow
from tracker.web.serve import Background, server, url_of

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                                reason="Chromium is not installed (apt-get install chromium fonts-thai-tlwg)")

# name → (path, the cells whose words must stay whole): every cell of the admin tables; on the board, the
# unit column (a title is long text, wrapped where the browser can).
TABLE_WIDTHS = (680, 768, 1024, 1280)
PAGES = {"contacts": ("/admin/makha/contacts", "main td, main th"),
         "outbox": ("/admin/makha/outbox", "main td, main th"),
         "outbox-dead": ("/admin/makha/outbox?status=dead", "main td, main th"),
         "board": ("/o/makha", "#board td.unit, #board th"),
         # an obligation's history with the reminders planned on 21 October 2022 (M03-1's 7 days before)
         "history": ("/trail/makha/obligations/M03-1", "main table td, main table th")}
# The other admin pages: no wider than the screen either (their tables scroll in their box).
OTHER_PAGES = ("/admin/makha/", "/admin/makha/access", "/admin/makha/config", "/admin/makha/report-import",
               "/trail/makha/audit", "/o/makha/ob/O10-1", "/overview")

# The text of each text node under the selected elements, with the line (top of its box) each character
# is drawn on (None for marks drawn on the character before).
CHARACTER_LINES = """(selector) => {
  const out = [];
  for (const cell of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const tops = [];
      for (let i = 0; i < node.data.length; i++) {
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const boxes = [...range.getClientRects()].filter(r => r.width > 0);
        tops.push(boxes.length ? Math.round(boxes[0].top) : null);
      }
      out.push([node.data, tops]);
    }
  }
  return out;
}"""


def broken_words(nodes: list[tuple[str, list[int | None]]]) -> list[str]:
    """Thai words (as pythainlp's dictionary splits them, not the browser's, which splits 'กองคลัง' as
    'กองค|ลัง') drawn across two lines."""
    from pythainlp.tokenize import word_tokenize

    broken = []
    for text, tops in nodes:
        start = 0
        for word in word_tokenize(text, keep_whitespace=True):
            lines = {top for top in tops[start:start + len(word)] if top is not None}
            if len(lines) > 1 and any("\u0e00" <= c <= "\u0e7f" for c in word):
                broken.append(word)
            start += len(word)
    return broken


def wrapped(nodes: list[tuple[str, list[int | None]]]) -> list[str]:
    """The texts drawn on more than one line."""
    return [text for text, tops in nodes if len({top for top in tops if top is not None}) > 1]


# On the board's table, what must stay on one line: unit names ('สำนักปลัด' is a name, not two words to
# split), the column headers, periods and dates.
ONE_LINE = "#board td.unit, #board th, #board td.nowrap"


@pytest.fixture
def served(sqlite_engine: Engine, tmp_path: Path) -> Iterator[tuple[str, Flask]]:
    app = make_app(sqlite_engine, tmp_path)
    with session_scope(sqlite_engine) as session:
        plan.plan(session, NOW.replace(year=2022, month=10, day=21), "makha")
    messages = outbox(sqlite_engine)
    line = next(m for m in messages if m.destination.startswith("line:"))
    with session_scope(sqlite_engine) as session:
        session.add(DeliveryAttemptRow(outbox_id=line.id, at=NOW.replace(year=2022, month=10, day=21, hour=9),
                                       outcome="channel", provider_status=401,
                                       error="LINE push: HTTP 401: Authentication failed", duration_ms=5))
        session.execute(update(OutboxRow).where(OutboxRow.id == messages[0].id)
                        .values(status="dead", attempts=8, last_error="550 5.1.1 ไม่พบผู้รับปลายทาง (no such user)"))
    web = Background(server(app, "127.0.0.1", 0)).start()
    yield url_of(web.server), app
    web.stop()


def test_admin_pages_and_the_board_fit_a_phone(served: tuple[str, Flask]) -> None:
    base, app = served
    SHOTS.mkdir(parents=True, exist_ok=True)
    found: dict[str, dict[str, Any]] = {}
    with admin_at_phone_width(base, app) as page:
        for name, (path, cells) in PAGES.items():
            page.goto(base + path)
            page.screenshot(path=str(SHOTS / f"narrow-{name}-390.png"), full_page=True)
            page.locator("main table").first.scroll_into_view_if_needed()
            page.screenshot(path=str(SHOTS / f"narrow-{name}-390-table.png"))
            found[name] = {"width": page.evaluate("document.documentElement.scrollWidth"), "screen": 390,
                           "broken": broken_words(page.evaluate(CHARACTER_LINES, cells))}
        for path in OTHER_PAGES:
            page.goto(base + path)
            found[path] = {"width": page.evaluate("document.documentElement.scrollWidth"), "screen": 390,
                           "broken": []}
        for width in TABLE_WIDTHS:  # wide enough for the board's table: its unit column narrows
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(base + "/o/makha")
            page.screenshot(path=str(SHOTS / f"narrow-board-{width}-table.png"))
            found[f"board at {width}"] = {"width": page.evaluate("document.documentElement.scrollWidth"),
                                          "screen": width,
                                          "broken": wrapped(page.evaluate(CHARACTER_LINES, ONE_LINE))}
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(base + "/admin/makha/outbox")
        banner = page.locator("p.notice.warning").first
        found["banner"] = {"background": banner.evaluate("e => getComputedStyle(e).backgroundColor"),
                           "headers": page.locator("main thead th").all_inner_texts()}
    for name in [*PAGES, *OTHER_PAGES, *(f"board at {width}" for width in TABLE_WIDTHS)]:
        assert found[name]["width"] <= found[name]["screen"], f"{name}: wider than the screen: {found[name]}"
        assert found[name]["broken"] == [], f"{name}: words broken across lines: {found[name]['broken']}"
    assert found["banner"]["background"] not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)", "transparent"), found
    headers = found["banner"]["headers"]
    assert isinstance(headers, list) and "รายการ" in headers and "ภาระงาน" not in headers
