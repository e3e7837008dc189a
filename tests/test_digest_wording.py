"""The executive digest as officials read it (issue 12): one scope, titles that agree with their dates,
an official letter's greeting and closing, honest rates, grouped monthly items, a capped list."""

from __future__ import annotations

import re
from datetime import date

import pytest

from config.loader import LoadResult
from tracker.domain.digest import Digest, build_digest, title_for_year
from tracker.messages.digest import OVERDUE_SHOWN, RenderedDigest, _Format, render_digest

BOARD = "https://ita.example/board/makha"


@pytest.fixture(scope="module")
def later_year(sample: LoadResult) -> Digest:
    """May 2568 (FY 2568), two years after the sample's configuration, as the digest sweep builds it."""
    cfg = sample.org("makha")
    org = cfg.organisation
    return build_digest(org, org.occurrences(2567) + org.occurrences(2568), cfg.actions, 2025, 5, date(2025, 5, 1))


@pytest.fixture(scope="module")
def rendered(later_year: Digest) -> RenderedDigest:
    return render_digest(later_year, board_url=BOARD)


def overdue_section(text: str) -> list[str]:
    start = text.index("รายการที่เกินกำหนด")
    return text[start:text.index("ดำเนินการแล้วเสร็จในเดือนที่ผ่านมา")].splitlines()


def test_subject_chart_and_line_count_the_same_overdue_deadlines(later_year: Digest,
                                                                 rendered: RenderedDigest) -> None:
    overdue = later_year.totals.overdue
    assert overdue == later_year.overdue_count > 0
    n = _Format("th").n(overdue)
    assert rendered.subject.endswith(f"(เกินกำหนด {n} รายการ)")
    assert f"เกินกำหนด {n} ·" in rendered.line_text  # the LINE totals
    assert f"รายการที่เกินกำหนด (เรียงจากเกินนานที่สุด) · {n} รายการ" in rendered.text


def test_the_scope_is_stated_and_earlier_years_are_counted_apart(later_year: Digest,
                                                                  rendered: RenderedDigest) -> None:
    assert "ปีงบประมาณ พ.ศ. ๒๕๖๘" in rendered.text
    carried = _Format("th").n(later_year.carried_over_count)
    assert later_year.carried_over_count > 0
    assert f"ค้างจากปีก่อน {carried} รายการ" in rendered.text
    assert f"ค้างจากปีก่อน {carried} รายการ" in rendered.line_text
    assert all(i.due >= date(2024, 10, 1) for i in later_year.overdue)


def test_titles_shown_per_occurrence_do_not_contradict_their_dates(rendered: RenderedDigest) -> None:
    assert "๒๕๖๕" not in rendered.text  # the configuration was written for FY 2566
    [o10] = [line for line in rendered.text.splitlines() if line.startswith("- [O10-1]")]
    assert "ภายในเดือนตุลาคม ๒๕๖๗ — สำนักปลัด, กำหนด ๓๑ ตุลาคม ๒๕๖๗" in o10
    assert title_for_year("รายงาน ประจำปีงบประมาณ พ.ศ. ๒๕๖๕ ภายใน ธ.ค. 65", 2566, 2568) == \
        "รายงาน ประจำปีงบประมาณ พ.ศ. ๒๕๖๗ ภายใน ธ.ค. 67"


def test_the_digest_opens_with_rian_closes_as_a_letter_and_names_the_place_as_an_address(
        rendered: RenderedDigest) -> None:
    for text in (rendered.text, rendered.line_text):
        assert "เรียน ผู้บริหารเทศบาลตำบลมะค่า" in text
    assert "จึงเรียนมาเพื่อโปรดทราบ" in rendered.text and "จึงเรียนมาเพื่อโปรดทราบ" in rendered.html
    assert "เทศบาลตำบลมะค่า อำเภอโนนสูง จังหวัดนครราชสีมา" in rendered.text
    assert "(โนนสูง, นครราชสีมา)" not in rendered.text + rendered.html


@pytest.mark.parametrize("rate, text", [(0.056, "๕.๖%"), (0.5, "๕๐%"), (1.0, "๑๐๐%"), (0.9996, "๑๐๐%"),
                                        (0.004, "๐.๔%")])
def test_rates_keep_one_decimal_where_rounding_would_mislead(rate: float, text: str) -> None:
    assert _Format("th").pct(rate) == text


@pytest.mark.parametrize("delta, text", [(-0.035, "ลดลง ๓.๕ จุด"), (0.02, "เพิ่มขึ้น ๒ จุด"), (0.0, "เท่าเดิม"),
                                         (0.0004, "เท่าเดิม")])
def test_rate_changes_read_as_words(delta: float, text: str) -> None:
    assert _Format("th").change(delta) == text
    assert "±" not in _Format("th").change(delta)


def test_a_monthly_item_behind_for_months_is_one_line(rendered: RenderedDigest) -> None:
    lines = overdue_section(rendered.text)
    [m04] = [line for line in lines if line.startswith("- [M04-1]")]
    assert "๗ งวด (ต.ค. ๖๗, พ.ย. ๖๗, ธ.ค. ๖๗, ม.ค. ๖๘, ก.พ. ๖๘, มี.ค. ๖๘, เม.ย. ๖๘), งวดแรกกำหนด ๓๑ ตุลาคม ๒๕๖๗" in m04


def test_the_overdue_list_is_capped_and_points_to_the_board(later_year: Digest, rendered: RenderedDigest) -> None:
    lines = overdue_section(rendered.text)
    assert len([line for line in lines if line.startswith("- [")]) == OVERDUE_SHOWN
    rest = _Format("th").n(len(later_year.overdue) - OVERDUE_SHOWN)
    assert f"และอีก {rest} รายการ ดูทั้งหมดได้ที่ {BOARD}" in rendered.text
    assert f'<a href="{BOARD}"' in rendered.html
    assert len(re.findall(r"<tr><td valign=\"top\"", rendered.html)) == OVERDUE_SHOWN
    assert BOARD not in render_digest(later_year).text  # no link given, none shown


def test_the_heading_names_the_month_as_the_subject_does(later_year: Digest, rendered: RenderedDigest) -> None:
    assert "ประจำเดือนพฤษภาคม ๒๕๖๘ · ข้อมูล ณ วันที่" in rendered.text
    assert "ประจำเดือนพฤษภาคม ๒๕๖๘ · ข้อมูล ณ วันที่" in rendered.html
    assert "ประจำเดือน พฤษภาคม" not in rendered.text + rendered.html  # Thai writes no space after "ประจำเดือน"
    assert "for May 2025 · as of" in render_digest(later_year, "en", board_url=BOARD).text


def test_work_done_last_month_but_late_says_how_late(sample: LoadResult) -> None:
    cfg = sample.org("makha")
    org = cfg.organisation
    may = render_digest(build_digest(org, org.occurrences(2566), cfg.actions, 2023, 5, date(2023, 5, 2)),
                        board_url=BOARD)
    completed = may.text[may.text.index("ดำเนินการแล้วเสร็จในเดือนที่ผ่านมา"):may.text.index("ครบกำหนดภายใน")]
    [o10] = [line for line in completed.splitlines() if line.startswith("- [O10-1]")]
    assert o10.endswith("ดำเนินการเมื่อ ๕ เมษายน ๒๕๖๖ (ล่าช้า ๑๕๖ วัน)")  # not as if it were on time
    [m04] = [line for line in completed.splitlines() if line.startswith("- [M04-1]")]
    assert m04.endswith("ดำเนินการเมื่อ ๒๐ เมษายน ๒๕๖๖")  # April's publicity, done on time
    assert "(ล่าช้า ๑๕๖ วัน)" in may.html
