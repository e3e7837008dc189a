"""The progress report as officials read it (issue 12): a report as of a date knows nothing after it, it
agrees with the board, and its Word form is laid out as a Thai document."""

from __future__ import annotations

import io
from datetime import date

import docx
import pytest
from docx.oxml.ns import qn

from config.loader import LoadResult
from tests.test_cli_status import Cli, by_obligation, cli  # noqa: F401  (the fixture)
from tracker.domain.thaidate import normalise_digits
from tracker.reports.progress import ProgressReport, build_progress
from tracker.reports.render import print_text, render_docx, render_html, table_cells

AS_OF = date(2023, 4, 30)


@pytest.fixture(scope="module")
def report(sample: LoadResult) -> ProgressReport:
    cfg = sample.org("makha")
    return build_progress(cfg.organisation, cfg.actions, 2566, "6m", AS_OF)


def column5(report: ProgressReport, code: str) -> str:
    return next(cells[4] for row, cells in zip(report.rows, table_cells(report), strict=True) if row.code == code)


def status_of(report: ProgressReport, code: str) -> str:
    return next(ob.status for row in report.rows for ob in row.obligations if ob.code == code)


def test_report_as_of_30_april_2566_lists_no_action_dated_30_october_2566(report: ProgressReport) -> None:
    assert report.title_lines[4] == "ข้อมูล ณ วันที่ ๓๐ เมษายน ๒๕๖๖"
    every_cell = " ".join(cell for cells in table_cells(report) for cell in cells)
    assert "ตุลาคม พ.ศ. ๒๕๖๖" not in every_cell
    assert "ตุลาคม พ.ศ. ๒๕๖๖" not in render_html(report)


def test_report_as_of_31_march_does_not_show_the_plan_published_on_5_april(sample: LoadResult) -> None:
    cfg = sample.org("makha")
    march = build_progress(cfg.organisation, cfg.actions, 2566, "6m", date(2023, 3, 31))
    assert column5(march, "O10") == "ยังไม่มีการดำเนินการ"
    assert "๕ เดือน เมษายน พ.ศ. ๒๕๖๖" not in render_html(march)
    assert status_of(march, "O10-1") == "ยังไม่มีการดำเนินการ เกินกำหนด ๑๕๑ วัน (กำหนด ๓๑ ต.ค. ๖๕)"


def test_report_and_board_agree_on_monthly_publicity(report: ProgressReport, cli: Cli) -> None:  # noqa: F811
    board = by_obligation(cli.json("status", "--org", "makha", "--as-of", "2023-04-30"))["M04-1"]
    in_round = [o["status"] for o in board if o["due"] <= "2023-03-31"]
    assert in_round == ["overdue"] * 6  # October–March, as the board shows them
    assert status_of(report, "M04-1") == "ทุกเดือน: เกินกำหนด ๖ งวด"  # not "ล่าช้า ๑ งวด · เกินกำหนด ๕ งวด"


def test_codes_written_with_mixed_digits_are_normalised(report: ProgressReport) -> None:
    assert normalise_digits("0๑๑ รายงาน ๖ เดือน 2566") == "๐๑๑ รายงาน ๖ เดือน 2566"
    titles = [row.title for row in report.rows]
    assert any(t.startswith("๐๑๑ รายงานการกำกับติดตาม") for t in titles)
    assert not any("0๑" in t or "0๒" in t for t in titles)


def test_mai_yamok_never_starts_a_line() -> None:
    assert print_text("ช่องทางต่าง ๆ ของหน่วยงาน") == "ช่องทางต่าง\u00a0ๆ ของหน่วยงาน"
    assert print_text("ช่องทางอื่นๆ") == "ช่องทางอื่น\u00a0ๆ"


@pytest.fixture(scope="module")
def word(report: ProgressReport) -> docx.document.Document:
    return docx.Document(io.BytesIO(render_docx(report)))


def test_word_runs_are_tagged_thai_not_en_us_or_ar_sa(word: docx.document.Document) -> None:
    runs = [run for table in word.tables for cell in table._cells for p in cell.paragraphs for run in p.runs]
    runs += [run for p in word.paragraphs for run in p.runs]
    assert runs
    for run in runs:
        lang = run._element.rPr.find(qn("w:lang"))
        assert lang is not None and lang.get(qn("w:val")) == lang.get(qn("w:bidi")) == "th-TH"
    styles = word.styles.element.xml
    assert "en-US" not in styles and "ar-SA" not in styles


def test_word_rows_are_never_split_across_pages(word: docx.document.Document) -> None:
    for row in word.tables[0].rows:
        assert row._tr.trPr.find(qn("w:cantSplit")) is not None


def test_word_columns_follow_the_content_and_the_unit_column_keeps_its_words(word: docx.document.Document) -> None:
    grid = [int(col.get(qn("w:w"))) for col in word.tables[0]._tbl.tblGrid.findall(qn("w:gridCol"))]
    assert len(set(grid)) == 5  # not five equal columns
    assert grid[1] == min(grid)  # the unit column is the narrowest
    # ...yet wide enough for "ผู้รับผิดชอบ" in one piece: 8 spacing letters of 14 pt Sarabun, plus margins
    assert grid[1] / 1440 * 25.4 >= 8 * 14 * 0.185 + 4
    texts = [p.text for cell in word.tables[0]._cells for p in cell.paragraphs]
    assert any("\u00a0ๆ" in t for t in texts)
    assert not any(" ๆ" in t or t.lstrip().startswith("ๆ") for t in texts)


def test_a_deadline_falling_on_the_reports_date_reads_due_today_as_on_the_board(sample: LoadResult) -> None:
    cfg = sample.org("makha")
    march = build_progress(cfg.organisation, cfg.actions, 2566, "6m", date(2023, 3, 31))
    # The March period of the monthly publicity and the second quarter are due on 31 March itself.
    assert status_of(march, "M04-2") == "ทุกเดือน: เกินกำหนด ๕ งวด · ครบกำหนดวันนี้ ๑ งวด · ยังไม่มีการดำเนินการ"
    assert status_of(march, "M05-1") == ("อย่างน้อยไตรมาสละ ๑ ครั้ง: เกินกำหนด ๑ งวด · ครบกำหนดวันนี้ ๑ งวด"
                                         " · ยังไม่มีการดำเนินการ")
    april = build_progress(cfg.organisation, cfg.actions, 2566, "6m", AS_OF)
    assert status_of(april, "O10-2") == "ยังไม่มีการดำเนินการ ครบกำหนดวันนี้ (กำหนด ๓๐ เม.ย. ๖๖)"
    assert "ใกล้ครบกำหนด" not in " ".join(ob.status for r in (march, april) for row in r.rows
                                          for ob in row.obligations)
