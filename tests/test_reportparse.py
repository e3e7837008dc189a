"""Reading the ITA progress report: the seed, hand-written fragments in the other phrasings, broken files."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Any

import docx
import pytest

from tracker.reports.parse import (
    ParsedReport,
    ReportFormatError,
    ReportSource,
    SourceRow,
    oit_code,
    parse_deadline,
    parse_report,
    parse_title,
    split_items,
)
from tracker.reports.reader import read_report, read_report_bytes

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "reports"
SEED = FIXTURES / "makha-2566-6m.txt"
SHARED_SEED = Path(__file__).resolve().parents[1].parent / "shared" / "seed" / "000_fcb22e52cdb06b25.txt"
FRAGMENT = FIXTURES / "fragment-nongbua-2567-12m.txt"
HEADER = ("ประเด็นที่ต้องปรับปรุงแก้ไข/ประเด็นที่ต้องพัฒนา", "ผู้รับผิดชอบ", "ขั้นตอนหรือวิธีการ/มาตรการ",
          "การรายงานผลและการกำกับติดตาม กำหนดเวลาแล้วเสร็จ", "การดำเนินการ")
TITLE = ("รายงานการดำเนินการตามมาตรการส่งเสริมคุณธรรมและความโปร่งใสภายในหน่วยงาน",
         "ประจำปีงบประมาณ พ.ศ. ๒๕๖๖ รอบ ๖ เดือน", "เทศบาลตำบลทดสอบ", "อำเภอเมือง จังหวัดลำปาง")


@pytest.fixture(scope="module")
def seed() -> ParsedReport:
    return parse_report(read_report(SEED))


def one_row(*cells: str, title: tuple[str, ...] = TITLE) -> ParsedReport:
    return parse_report(ReportSource(title, (SourceRow(HEADER), SourceRow(tuple(cells)))))


def rule_of(text: str, fy: int = 2566) -> dict[str, Any] | None:
    rule, _ = parse_deadline(text, fy)
    return rule.to_dict() if rule else None


# ---------------------------------------------------------------- the seed


def test_the_seed_fixture_is_the_shared_seed() -> None:
    if not SHARED_SEED.exists():
        pytest.skip("shared/ is not beside the repository")
    assert SEED.read_bytes() == SHARED_SEED.read_bytes()


def test_seed_title_block(seed: ParsedReport) -> None:
    assert (seed.org_name, seed.district, seed.province) == ("เทศบาลตำบลมะค่า", "โนนสูง", "นครราชสีมา")
    assert (seed.fiscal_year, seed.round) == (2566, "6m")


def test_seed_has_nine_measures_with_their_units_and_oit_codes(seed: ParsedReport) -> None:
    assert [m.code for m in seed.measures] == ["M01", "M02", "M03", "M04", "M05", "M06", "O10", "O11", "O20"]
    assert {m.unit_name for m in seed.measures} == {"สำนักปลัด", "กองคลัง"}
    assert [m.oit for m in seed.measures if m.oit] == ["O10", "O11", "O20"]
    assert seed.measures[8].unit_name == "กองคลัง"
    assert len(seed.measures[6].steps) == 4 and seed.measures[6].steps[0].startswith("เจ้าหน้าที่ผู้รับผิดชอบ จัดทำแผน")


def test_seed_o10_deadlines_are_the_months_of_column_four(seed: ParsedReport) -> None:
    o10 = seed.measures[6]
    assert [o.due for o in o10.obligations] == [date(2022, 10, 31), date(2023, 4, 30), date(2022, 12, 31), None]
    assert [o.rule.to_dict() if o.rule else None for o in o10.obligations[:3]] == [
        {"kind": "month", "month": 10}, {"kind": "month", "month": 4}, {"kind": "month", "month": 12}]


def test_seed_other_deadlines(seed: ParsedReport) -> None:
    rules = {f"{m.code}-{i}": o.rule.to_dict() if o.rule else None
             for m in seed.measures for i, o in enumerate(m.obligations, start=1)}
    assert rules["M01-1"] == {"kind": "fiscal_year"}  # ดำเนินการในปีงบประมาณ
    assert rules["M03-1"] == {"kind": "month", "month": 10}  # ภายใน เดือนตุลาคม ๒๕๖๕
    assert rules["M04-2"] == {"kind": "recurring", "every": "monthly"}  # ทุกเดือน
    assert rules["M05-1"] == {"kind": "recurring", "every": "quarterly"}  # อย่างน้อยไตรมาสละ ๑ ครั้ง
    assert rules["M04-1"] is None  # อย่างสม่ำเสมอ: warned, not guessed
    assert sum(len(m.obligations) for m in seed.measures) == 28


def test_seed_ten_actions_with_the_reports_dates(seed: ParsedReport) -> None:
    actions = [(m.code, a.date, a.unit_name) for m in seed.measures for a in m.actions]
    assert [d for _, d, _ in actions] == [
        date(2023, 3, 17), date(2023, 3, 24), date(2022, 10, 30), date(2023, 4, 10), date(2023, 4, 20),
        date(2023, 10, 30), date(2023, 10, 30), date(2023, 4, 5), date(2023, 4, 5), date(2023, 4, 20)]
    assert {u for _, _, u in actions} == {"สำนักปลัด"}
    o10 = seed.measures[6].actions[0]
    assert o10.text == "จัดทำแผนดำเนินงานประจำปี และเผยแพร่ลงเว็บไซต์" and o10.obligation == 1


def test_seed_warns_about_the_two_actions_dated_october_2566(seed: ParsedReport) -> None:
    outside = [w for w in seed.warnings if "outside fiscal year" in w.message]
    assert [(w.row, w.column) for w in outside] == [(5, 5), (6, 5)]
    assert all("๓๐ ตุลาคม ๒๕๖๖" in w.message and "2023-10-30" in w.message for w in outside)


def test_seed_warns_for_every_obligation_without_a_deadline(seed: ParsedReport) -> None:
    no_rule = sum(1 for m in seed.measures for o in m.obligations if o.rule is None)
    deadline_warnings = [w for w in seed.warnings if w.column == 4]
    assert no_rule == len(deadline_warnings) == 12
    assert any("อย่างสม่ำเสมอ" in w.message for w in deadline_warnings)


# ---------------------------------------------------------------- deadline phrasings

@pytest.mark.parametrize(("text", "expected"), [
    ("ภายในเดือนตุลาคม ๒๕๖๕", {"kind": "month", "month": 10}),
    ("ภายใน ต.ค. 65", {"kind": "month", "month": 10}),
    ("ภายใน ต. ค. ๖๕", {"kind": "month", "month": 10}),
    ("ภายในเดือนเมษายน", {"kind": "month", "month": 4}),
    ("ส่งภายใน มี.ค. 2566", {"kind": "month", "month": 3}),
    ("ภายในวันที่ ๓๑ ตุลาคม ๒๕๖๕", {"kind": "date", "month": 10, "day": 31}),
    ("ภายในวันที่ 15 ม.ค. 66", {"kind": "date", "month": 1, "day": 15}),
    ("ภายในปีงบประมาณ", {"kind": "fiscal_year"}),
    ("ดำเนินการในปีงบประมาณ", {"kind": "fiscal_year"}),
    ("ตลอดปีงบประมาณ พ.ศ. ๒๕๖๖", {"kind": "fiscal_year"}),
    ("ต.ค. 65 – ก.ย. 66", {"kind": "fiscal_year"}),
    ("ตุลาคม ๒๕๖๕ - กันยายน ๒๕๖๖", {"kind": "fiscal_year"}),
    ("รายงานทุกไตรมาส (ต.ค. 65 – ก.ย. 66)", {"kind": "recurring", "every": "quarterly"}),
    ("ทุกเดือน", {"kind": "recurring", "every": "monthly"}),
    ("ทุกไตรมาส", {"kind": "recurring", "every": "quarterly"}),
    ("อย่างน้อยไตรมาสละ ๑ ครั้ง", {"kind": "recurring", "every": "quarterly"}),
    ("ทุก ๖ เดือน", {"kind": "recurring", "every": "half_yearly"}),
    ("ทุก 3 เดือน", {"kind": "recurring", "every": "quarterly"}),
    ("อย่างน้อยปีละ ๑ ครั้ง", {"kind": "recurring", "every": "yearly"}),
    ("สรุปผล ภายในวันที่ 10 ของเดือนถัดไป", {"kind": "recurring", "every": "monthly", "grace_days": 10}),
    ("รายงานผลรอบ ๖ เดือน", {"kind": "month", "month": 3}),
    ("รายงานรอบ ๑๒ เดือน", {"kind": "fiscal_year"}),
    ("ภายใน ม.ค. – มี.ค. 66", {"kind": "month", "month": 3}),
    ("รายงานผลรอบ ๖ เดือน ของปีงบประมาณ พ.ศ. ๒๕๖๖ ภายในเดือนเมษายน ๒๕๖๖", {"kind": "month", "month": 4}),
    ("ประจำปีงบประมาณ พ.ศ. ๒๕๖๕ ภายในเดือนธันวาคม ๒๕๖๕", {"kind": "month", "month": 12}),
])
def test_deadline_phrasings(text: str, expected: dict[str, Any]) -> None:
    assert rule_of(text) == expected


@pytest.mark.parametrize(("text", "says"), [
    ("ภายใน 30 วัน นับแต่วันที่ได้รับเรื่อง", "counts days from an event"),
    ("ภายใน ๑๕ วันทำการ หลังได้รับแจ้ง", "counts days from an event"),
    ("ตรวจสอบช่องทางอย่างสม่ำเสมอ", "gives no definite deadline"),
    ("รายงานผู้บริหาร", "no recognisable deadline"),
    ("ภายในวันที่ 31 เมษายน 2566", "does not exist"),
    ("ภายในวันที่ 29 กุมภาพันธ์ 2566", "does not exist"),  # 2023 is not a leap year
])
def test_phrases_without_a_fixed_deadline_give_none_and_say_why(text: str, says: str) -> None:
    rule, warnings = parse_deadline(text, 2566)
    assert rule is None
    assert len(warnings) == 1 and says in warnings[0]


def test_a_dated_month_outside_the_fiscal_year_is_read_in_it_with_a_warning() -> None:
    rule, warnings = parse_deadline("ภายในเดือนตุลาคม ๒๕๖๖", 2566)
    assert rule is not None and rule.to_dict() == {"kind": "month", "month": 10}
    assert len(warnings) == 1 and "outside fiscal year 2566" in warnings[0] and "ตุลาคม 2565" in warnings[0]


def test_no_warning_when_the_year_is_inside_the_fiscal_year() -> None:
    assert parse_deadline("ภายในเดือนธันวาคม 65", 2566)[1] == []
    assert parse_deadline("ภายใน ก.ย. ๒๕๖๖", 2566)[1] == []


def test_a_status_mark_from_a_generated_report_is_not_read_as_a_deadline() -> None:
    rule, warnings = parse_deadline("รายงานผู้บริหาร [สถานะ: ยังไม่มีการดำเนินการ (กำหนด ๓๑ ต.ค. ๖๕)]", 2566)
    assert rule is None and "no recognisable deadline" in warnings[0]


# ---------------------------------------------------------------- items, codes, title

@pytest.mark.parametrize(("cell", "items"), [
    ("๑.จัดทำแผน ๒.เผยแพร่", ["จัดทำแผน", "เผยแพร่"]),
    ("1. จัดทำแผน 2. เผยแพร่ 3.รายงาน", ["จัดทำแผน", "เผยแพร่", "รายงาน"]),
    ("๑. ให้มีมากกว่า ๑ ช่องทาง ๒. รายงาน", ["ให้มีมากกว่า ๑ ช่องทาง", "รายงาน"]),
    ("จัดทำแผนฉบับเดียว", ["จัดทำแผนฉบับเดียว"]),
    ("๑. ภายใน พ.ศ.๒๕๖๖ ๒. ต่อไป", ["ภายใน พ.ศ.๒๕๖๖", "ต่อไป"]),
])
def test_numbered_items_split_on_thai_or_arabic_digits(cell: str, items: list[str]) -> None:
    assert [text for _, text in split_items(cell)] == items


@pytest.mark.parametrize(("title", "code"), [
    ("เครื่องมือ OIT ตัวชี้วัดที่ ๙ การเปิดเผยข้อมูล ๐๑๐ แผนดำเนินงานประจำปี", "O10"),
    ("0๑๑ รายงานการกำกับติดตาม", "O11"),
    ("0๒๐ รายงานผลการใช้จ่ายงบประมาณประจำปี", "O20"),
    ("O36 แผนป้องกันการทุจริต", "O36"),
    ("การพัฒนาการเผยแพร่และประชาสัมพันธ์ ปี 2566", None),
])
def test_oit_codes(title: str, code: str | None) -> None:
    assert oit_code(title) == code


def test_title_of_a_twelve_month_report_of_an_sao() -> None:
    title = parse_title(["ประจำปีงบประมาณ พ.ศ. 2567 รอบ 12 เดือน", "องค์การบริหารส่วนตำบลหนองบัว",
                         "อำเภอเมือง จังหวัดขอนแก่น"])
    assert (title.org_name, title.district, title.province, title.fiscal_year, title.round) == (
        "องค์การบริหารส่วนตำบลหนองบัว", "เมือง", "ขอนแก่น", 2567, "12m")


# ---------------------------------------------------------------- a hand-written fragment

@pytest.fixture(scope="module")
def fragment() -> ParsedReport:
    return parse_report(read_report(FRAGMENT))


def test_fragment_title_and_measures(fragment: ParsedReport) -> None:
    assert (fragment.org_name, fragment.fiscal_year, fragment.round) == ("องค์การบริหารส่วนตำบลหนองบัว", 2567, "12m")
    assert [m.code for m in fragment.measures] == ["O21", "M01", "M02"]


def test_fragment_deadlines_with_abbreviated_months_and_two_digit_years(fragment: ParsedReport) -> None:
    dues = [o.due for o in fragment.measures[0].obligations]
    assert dues == [date(2023, 10, 31), date(2023, 11, 10), date(2023, 12, 31), date(2023, 12, 31)]
    kinds = [o.rule.to_dict()["kind"] if o.rule else None for o in fragment.measures[1].obligations]
    assert kinds == ["fiscal_year", "recurring", "recurring", None]


def test_fragment_actions_with_na_wan_thi_and_latest(fragment: ParsedReport) -> None:
    assert [(a.date, a.unit_name, a.text) for a in fragment.measures[0].actions] == [
        (date(2023, 10, 25), "กองคลัง", "จัดทำแผนจัดซื้อจัดจ้าง"),
        (date(2023, 11, 8), "กองคลัง", "สรุปผลการจัดซื้อจัดจ้างเดือนตุลาคม")]
    assert fragment.measures[1].actions[0].date == date(2024, 1, 15)  # ดำเนินการล่าสุด เมื่อวันที่ ๑๕ มกราคม ๒๕๖๗


def test_fragment_warnings_name_row_column_and_text(fragment: ParsedReport) -> None:
    found = {(w.row, w.column): w for w in fragment.warnings}
    assert "counts days from an event" in found[(2, 4)].message
    assert "is empty" in found[(3, 2)].message and "ผู้รับผิดชอบ" in found[(3, 2)].message
    assert any(w.row == 3 and w.column == 4 and "does not exist" in w.message for w in fragment.warnings)
    assert "30 กุมภาพันธ์ 2567 does not exist" in found[(3, 5)].message
    assert found[(3, 5)].text.startswith("กองช่าง จัดทำแผน")
    assert "1 column(s) instead of five" in found[(4, None)].message and "line 13" in found[(4, None)].message
    assert "3 column(s) instead of five" in found[(5, None)].message
    assert fragment.measures[2].actions[0].date is None  # impossible: listed, not recorded


def test_an_action_by_a_unit_not_in_the_table_is_a_warning() -> None:
    report = one_row("ประเด็น", "สำนักปลัด", "๑. ทำ", "๑. ทำ ภายในปีงบประมาณ",
                     "๑. กองช่าง ซ่อมป้าย เมื่อวันที่ ๒ ธ.ค. ๒๕๖๕")
    assert report.measures[0].actions[0].unit_name == "กองช่าง"
    assert any("\"กองช่าง\"" in w.message for w in report.warnings)


def test_an_action_without_a_unit_takes_the_rows_unit_and_says_so() -> None:
    report = one_row("ประเด็น", "สำนักปลัด", "๑. ทำ", "๑. ทำ ภายในปีงบประมาณ", "๑. ประชุมคณะทำงาน เมื่อวันที่ ๒ ธ.ค. ๖๕")
    action = report.measures[0].actions[0]
    assert (action.unit_name, action.text, action.date) == ("สำนักปลัด", "ประชุมคณะทำงาน", date(2022, 12, 2))
    assert any("does not start with a unit name" in w.message for w in report.warnings)


def test_an_action_without_a_year_takes_the_fiscal_year() -> None:
    report = one_row("ประเด็น", "สำนักปลัด", "๑. ทำ", "๑. ทำ ภายในปีงบประมาณ",
                     "๑. สำนักปลัด ประชุม เมื่อวันที่ ๒ ธันวาคม ๒. สำนักปลัด ประชุม เมื่อวันที่ ๕ มกราคม")
    assert [a.date for a in report.measures[0].actions] == [date(2022, 12, 2), date(2023, 1, 5)]


def test_an_action_without_a_date_is_listed_and_warned_about() -> None:
    report = one_row("ประเด็น", "สำนักปลัด", "๑. ทำ", "๑. ทำ ภายในปีงบประมาณ", "๑. สำนักปลัด ประชุมคณะทำงาน")
    assert report.measures[0].actions[0].date is None
    assert any("has no date" in w.message and w.column == 5 for w in report.warnings)


def test_a_duplicated_oit_code_gets_its_own_code() -> None:
    rows = (SourceRow(HEADER), SourceRow(("๐๑๐ แผน", "สำนักปลัด", "๑. ก", "๑. ก ภายในปีงบประมาณ", "")),
            SourceRow(("๐๑๐ แผนอีกฉบับ", "สำนักปลัด", "๑. ข", "๑. ข ภายในปีงบประมาณ", "")))
    report = parse_report(ReportSource(TITLE, rows))
    assert [m.code for m in report.measures] == ["O10", "M01"]
    assert any("already used" in w.message and w.row == 2 for w in report.warnings)


def test_a_missing_title_block_is_warned_about_and_the_fiscal_year_can_be_given() -> None:
    report = parse_report(ReportSource((), (SourceRow(HEADER),)), fiscal_year=2567)
    assert report.fiscal_year == 2567 and report.measures == ()
    messages = " ".join(w.message for w in report.warnings)
    assert "organisation's name" in messages and "district" in messages and "round" in messages


# ---------------------------------------------------------------- not reports

def test_no_header_row_is_refused() -> None:
    with pytest.raises(ReportFormatError, match="no header row"):
        parse_report(ReportSource(TITLE, (SourceRow(("ก", "ข", "ค", "ง", "จ")),)))


def test_a_header_with_four_columns_is_refused() -> None:
    with pytest.raises(ReportFormatError, match="has 4 columns; a progress report has five"):
        parse_report(ReportSource(TITLE, (SourceRow(HEADER[:4], "line 3"),)))


def test_a_report_without_a_fiscal_year_is_refused_unless_given() -> None:
    with pytest.raises(ReportFormatError, match="fiscal year"):
        parse_report(ReportSource(("เทศบาลตำบลทดสอบ",), (SourceRow(HEADER),)))


@pytest.mark.parametrize(("data", "says"), [
    (b"", "is empty"),
    (b"  \n\n ", "is empty"),
    (b"\x00\x01\x02binary\x00", "binary file"),
    (b"%PDF-1.7\n...", "binary file"),
    ("รายงาน".encode("cp874"), "not UTF-8"),
    ("รายงานไม่มีตาราง\nบรรทัดที่สอง\n".encode(), "has no table"),
])
def test_files_that_are_not_reports_are_refused(data: bytes, says: str) -> None:
    with pytest.raises(ReportFormatError, match=says):
        read_report_bytes(data, "upload.txt")


def test_a_docx_without_a_table_is_refused() -> None:
    document = docx.Document()
    document.add_paragraph("รายงานการดำเนินการ ประจำปีงบประมาณ พ.ศ. ๒๕๖๖")
    buffer = io.BytesIO()
    document.save(buffer)
    with pytest.raises(ReportFormatError, match="has no table"):
        read_report_bytes(buffer.getvalue(), "report.docx")


def test_a_fake_docx_is_refused() -> None:
    with pytest.raises(ReportFormatError, match="not a Word document"):
        read_report_bytes(b"hello\tworld", "report.docx")


def test_utf16_text_with_a_bom_is_read() -> None:
    text = "\n".join(TITLE) + "\n" + "\t".join(HEADER) + "\n"
    source = read_report_bytes(text.encode("utf-16"), "report.txt")
    assert source.rows[0].cells == HEADER and source.title_lines[0] == TITLE[0]


def test_the_seed_as_docx_reads_like_the_text(seed: ParsedReport, tmp_path: Path) -> None:
    text = read_report(SEED)
    document = docx.Document()
    for line in text.title_lines:
        document.add_paragraph(line)
    table = document.add_table(rows=0, cols=5)
    for row in text.rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, row.cells, strict=True):
            cell.text = value
    path = tmp_path / "makha.docx"
    document.save(str(path))
    assert parse_report(read_report(path)) == seed


def test_docx_automatic_list_numbers_become_item_numbers(tmp_path: Path) -> None:
    document = docx.Document()
    for line in TITLE:
        document.add_paragraph(line)
    table = document.add_table(rows=2, cols=5)
    for cell, text in zip(table.rows[0].cells, HEADER, strict=True):
        cell.text = text
    cells = table.rows[1].cells
    for cell, text in zip(cells[:2], ("ประเด็น", "สำนักปลัด"), strict=True):
        cell.text = text
    cells[2].text = "ขั้นตอน"
    cells[3].paragraphs[0].text = "จัดทำแผน ภายในเดือนตุลาคม"
    cells[3].paragraphs[0].style = document.styles["List Number"]
    cells[3].add_paragraph("รายงานผล ทุกเดือน", style="List Number")
    path = tmp_path / "numbered.docx"
    document.save(str(path))
    report = parse_report(read_report(path))
    assert [o.rule.to_dict() if o.rule else None for o in report.measures[0].obligations] == [
        {"kind": "month", "month": 10}, {"kind": "recurring", "every": "monthly"}]
