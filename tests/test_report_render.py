"""The generated progress report, looked at as a person would: HTML through an HTML parser, the Word
document reopened with python-docx, the tsv read back. And the statuses it shows."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import docx
import pytest
from docx.enum.section import WD_ORIENT
from docx.oxml.ns import qn

from config.loader import LoadResult
from tracker.domain.model import Action
from tracker.reports.parse import COLUMN_NAMES, parse_report
from tracker.reports.progress import ProgressReport, build_progress
from tracker.reports.reader import read_report_bytes
from tracker.reports.render import render_docx, render_html, render_tsv

AS_OF = date(2023, 4, 30)


@pytest.fixture(scope="module")
def progress(sample: LoadResult) -> ProgressReport:
    cfg = sample.org("makha")
    return build_progress(cfg.organisation, cfg.actions, 2566, "6m", AS_OF)


def obligation(progress: ProgressReport, code: str) -> tuple[str, str]:
    line = next(o for row in progress.rows for o in row.obligations if o.code == code)
    return line.status, line.state


# ---------------------------------------------------------------- statuses

def test_o10_plan_published_five_months_late_says_so(progress: ProgressReport) -> None:
    assert obligation(progress, "O10-1") == ("ดำเนินการแล้ว ล่าช้า ๑๕๖ วัน (กำหนด ๓๑ ต.ค. ๖๕)", "late")


def test_an_obligation_with_no_action_past_its_deadline_is_overdue(progress: ProgressReport) -> None:
    assert obligation(progress, "O10-3") == ("ยังไม่มีการดำเนินการ เกินกำหนด ๑๒๐ วัน (กำหนด ๓๑ ธ.ค. ๖๕)", "overdue")


def test_done_on_time_and_still_open(progress: ProgressReport) -> None:
    assert obligation(progress, "M01-1")[1] == "done"
    assert obligation(progress, "M01-1")[0].startswith("ดำเนินการแล้ว ทันกำหนด")
    assert obligation(progress, "O10-4") == ("ยังไม่มีการดำเนินการ ยังอยู่ในกำหนด (กำหนด ๓๐ ก.ย. ๖๖)", "open")
    # O10-2 is due on the report's date, 30 April: it says so, as the board does.
    assert obligation(progress, "O10-2") == ("ยังไม่มีการดำเนินการ ครบกำหนดวันนี้ (กำหนด ๓๐ เม.ย. ๖๖)", "open")


def test_a_monthly_obligation_counts_the_months_of_the_round(progress: ProgressReport) -> None:
    status, state = obligation(progress, "M06-2")
    assert status == "ทุกเดือน: เกินกำหนด ๖ งวด · ยังไม่มีการดำเนินการ" and state == "overdue"


def test_an_obligation_without_a_deadline_says_whether_anything_was_done(sample: LoadResult) -> None:
    org = sample.org("makha").organisation
    bare = replace(org.obligation("M02-3"), rule=None)
    edited = replace(org, measures=(replace(org.measure("M02"), obligations=(bare,)),))
    report = build_progress(edited, [], 2566, "6m", AS_OF)
    assert report.rows[0].obligations[0].status == "ไม่มีกำหนดเวลา · ยังไม่มีการดำเนินการ"
    report = build_progress(edited, [Action("M02-3", date(2023, 1, 3), note="รายงานแล้ว")], 2566, "6m", AS_OF)
    assert report.rows[0].obligations[0].status == "ไม่มีกำหนดเวลา · ดำเนินการแล้ว"


def test_statuses_count_only_work_done_by_the_day_judged(sample: LoadResult) -> None:
    cfg = sample.org("makha")
    before = build_progress(cfg.organisation, cfg.actions, 2566, "6m", date(2023, 4, 1))
    assert obligation(before, "O10-1")[0].startswith("ยังไม่มีการดำเนินการ เกินกำหนด ๑๕๒ วัน")


def test_actions_are_written_as_the_seed_writes_them(progress: ProgressReport) -> None:
    o10 = next(r for r in progress.rows if r.code == "O10")
    assert o10.actions[0].sentence == ("สำนักปลัด จัดทำแผนดำเนินงานประจำปี และเผยแพร่ลงเว็บไซต์"
                                       " ดำเนินการเมื่อวันที่ ๕ เดือน เมษายน พ.ศ. ๒๕๖๖")
    assert o10.actions[0].reference == "[ตามข้อ ๑]"


# ---------------------------------------------------------------- html

class _Page(HTMLParser):
    """Collects what a reader sees: texts by element, table headers, cells, the style sheet."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.title_block: list[str] = []
        self.headers: list[str] = []
        self.cells: list[str] = []
        self.statuses: list[tuple[str, str]] = []
        self.style = ""
        self.lang = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html":
            self.lang = dict(attrs).get("lang") or ""
        self.stack.append((tag, dict(attrs)))
        if tag == "td":
            self.cells.append("")

    def handle_endtag(self, tag: str) -> None:
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        tags = [t for t, _ in self.stack]
        classes = " ".join(a.get("class") or "" for _, a in self.stack)
        if "style" in tags:
            self.style += data
        elif "header" in tags and data.strip():
            self.title_block.append(data.strip())
        elif "th" in tags:
            self.headers.append(data.strip())
        elif "td" in tags:
            self.cells[-1] += data
            if "status" in classes:
                self.statuses.append((self.stack[-1][1].get("class") or "", data.strip()))


@pytest.fixture(scope="module")
def page(progress: ProgressReport) -> _Page:
    parser = _Page()
    parser.feed(render_html(progress))
    return parser


def test_html_title_block(page: _Page) -> None:
    assert page.title_block == [
        "รายงานการดำเนินการตามมาตรการส่งเสริมคุณธรรมและความโปร่งใสภายในหน่วยงาน",
        "ประจำปีงบประมาณ พ.ศ. ๒๕๖๖ รอบ ๖ เดือน (เดือนตุลาคม ๒๕๖๕ - มีนาคม ๒๕๖๖)",
        "เทศบาลตำบลมะค่า", "อำเภอโนนสูง จังหวัดนครราชสีมา", "ข้อมูล ณ วันที่ ๓๐ เมษายน ๒๕๖๖"]
    assert page.lang == "th"


def test_html_has_the_five_headers_and_nine_rows(page: _Page) -> None:
    assert tuple(page.headers) == COLUMN_NAMES
    assert len(page.cells) == 9 * 5


def test_html_uses_thai_digits_and_shows_statuses(page: _Page) -> None:
    text = " ".join(page.cells)
    assert "ดำเนินการเมื่อวันที่ ๕ เดือน เมษายน พ.ศ. ๒๕๖๖" in text
    assert "๑." in text and "๒." in text
    assert ("status late", "สถานะ: ดำเนินการแล้ว ล่าช้า ๑๕๖ วัน (กำหนด ๓๑ ต.ค. ๖๕)") in page.statuses
    assert any(cls == "status overdue" and "ยังไม่มีการดำเนินการ" in s for cls, s in page.statuses)
    assert not any(ch.isdigit() and ch.isascii() for ch in " ".join(s for _, s in page.statuses))


def test_html_is_print_ready_on_a4_with_thai_fonts(page: _Page) -> None:
    assert "size: A4" in page.style
    assert '"TH Sarabun New", "Sarabun", "Noto Sans Thai", "Loma", sans-serif' in page.style
    assert "table-header-group" in page.style


def test_html_escapes_what_officers_typed(sample: LoadResult) -> None:
    cfg = sample.org("makha")
    actions = [Action("O10-1", date(2023, 4, 5), note="<script>alert(1)</script>", unit="palad")]
    html = render_html(build_progress(cfg.organisation, actions, 2566, "6m", AS_OF))
    assert "<script>" not in html and "&lt;script&gt;" in html


# ---------------------------------------------------------------- docx

@pytest.fixture(scope="module")
def document(progress: ProgressReport) -> docx.document.Document:
    return docx.Document(io.BytesIO(render_docx(progress)))


def test_docx_is_landscape_a4(document: docx.document.Document) -> None:
    section = document.sections[0]
    assert section.orientation == WD_ORIENT.LANDSCAPE
    assert section.page_width is not None and section.page_height is not None
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (297, 210)


def test_docx_has_the_title_block_and_one_five_column_table(document: docx.document.Document) -> None:
    paragraphs = [p.text for p in document.paragraphs if p.text]
    assert paragraphs[:4] == ["รายงานการดำเนินการตามมาตรการส่งเสริมคุณธรรมและความโปร่งใสภายในหน่วยงาน",
                              "ประจำปีงบประมาณ พ.ศ. ๒๕๖๖ รอบ ๖ เดือน (เดือนตุลาคม ๒๕๖๕ - มีนาคม ๒๕๖๖)",
                              "เทศบาลตำบลมะค่า", "อำเภอโนนสูง จังหวัดนครราชสีมา"]
    assert len(document.tables) == 1
    table = document.tables[0]
    assert len(table.columns) == 5 and len(table.rows) == 10
    assert tuple(c.text for c in table.rows[0].cells) == COLUMN_NAMES
    row_props = table.rows[0]._tr.trPr
    assert row_props is not None and row_props.find(qn("w:tblHeader")) is not None  # repeats on every page


def test_docx_texts_statuses_and_thai_digits(document: docx.document.Document) -> None:
    o10 = document.tables[0].rows[7].cells
    assert o10[0].text.startswith("เครื่องมือ OIT ตัวชี้วัดที่ ๙")
    assert "สถานะ: ดำเนินการแล้ว ล่าช้า ๑๕๖ วัน" in o10[3].text
    assert "ดำเนินการเมื่อวันที่ ๕ เดือน เมษายน พ.ศ. ๒๕๖๖" in o10[4].text


def test_docx_runs_use_th_sarabun_new_for_thai(document: docx.document.Document) -> None:
    runs = [r for p in document.tables[0].rows[1].cells[0].paragraphs for r in p.runs]
    assert runs
    for run in runs:
        fonts = run._element.rPr.rFonts
        assert fonts.get(qn("w:cs")) == "TH Sarabun New" and fonts.get(qn("w:ascii")) == "TH Sarabun New"
        assert run._element.rPr.find(qn("w:szCs")) is not None


# ---------------------------------------------------------------- tsv

def test_tsv_has_the_seeds_layout_and_reads_back(progress: ProgressReport, tmp_path: Path) -> None:
    text = render_tsv(progress)
    rows = [line.split("\t") for line in text.splitlines() if "\t" in line]
    assert tuple(rows[0]) == COLUMN_NAMES and len(rows) == 10 and all(len(r) == 5 for r in rows)
    parsed = parse_report(read_report_bytes(text.encode("utf-8"), "generated.tsv"))
    assert (parsed.org_name, parsed.district, parsed.province, parsed.fiscal_year, parsed.round) == (
        "เทศบาลตำบลมะค่า", "โนนสูง", "นครราชสีมา", 2566, "6m")
    assert [m.code for m in parsed.measures] == [r.code for r in progress.rows]
    assert [o.text for o in parsed.measures[6].obligations] == [o.text for o in progress.rows[6].obligations]


def test_a_measure_without_actions_says_so(sample: LoadResult) -> None:
    cfg = sample.org("makha")
    text = render_tsv(build_progress(cfg.organisation, [], 2566, "6m", AS_OF))
    rows = [line.split("\t") for line in text.splitlines() if "\t" in line][1:]
    assert all(r[4] == "ยังไม่มีการดำเนินการ" for r in rows)
    parsed = parse_report(read_report_bytes(text.encode("utf-8"), "generated.tsv"))
    assert all(m.actions == () for m in parsed.measures)
