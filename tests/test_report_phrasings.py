"""The corpus of report phrasings (tests/corpus/report_phrasings.tsv): each line an input as officers write
it and what the importer must make of it, a rule, dates or a Thai warning (issue 12)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from tests.test_import_report import SEED, Run
from tracker.domain.rules import DueRule
from tracker.reports.parse import (
    ParsedReport,
    ReportSource,
    SourceRow,
    first_due,
    parse_deadline,
    parse_report,
)

CORPUS = Path(__file__).parent / "corpus" / "report_phrasings.tsv"
HEADER = ("ประเด็นที่ต้องปรับปรุงแก้ไข/ประเด็นที่ต้องพัฒนา", "ผู้รับผิดชอบ", "ขั้นตอนหรือวิธีการ/มาตรการ",
          "การรายงานผลและการกำกับติดตาม กำหนดเวลาแล้วเสร็จ", "การดำเนินการ")


@dataclass(frozen=True)
class Case:
    line: int
    kind: str
    fy: int
    text: str
    value: str
    warnings: tuple[str, ...]

    def __str__(self) -> str:
        return f"line{self.line}-{self.kind}"


def load_cases() -> list[Case]:
    cases = []
    for number, raw in enumerate(CORPUS.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        kind, text, expected = raw.split("\t")
        kind, _, fy = kind.partition("@")
        value, *warnings = expected.split(" ! ")
        cases.append(Case(number, kind, int(fy or 2566), text, value.strip(), tuple(w.strip() for w in warnings)))
    return cases


CASES = load_cases()


def rule_text(rule: DueRule | None) -> str:
    if rule is None:
        return "none"
    data = rule.to_dict()
    kind = data["kind"]
    if kind == "month":
        return f"month:{data['month']}"
    if kind == "date":
        return f"date:{data['month']}-{data['day']}"
    if kind == "recurring":
        grace = f"+{data['grace_days']}" if data.get("grace_days") else ""
        return f"recurring:{data['every']}{grace}"
    return str(kind)


def one_row(case: Case, obligations: str, actions: str, title: str = "ประเด็น") -> ParsedReport:
    title_lines = (f"ประจำปีงบประมาณ พ.ศ. {case.fy} รอบ ๖ เดือน", "เทศบาลตำบลทดสอบ อำเภอเมือง จังหวัดนครราชสีมา")
    row = SourceRow((title, "สำนักปลัด", "๑. ทำ", obligations, actions))
    return parse_report(ReportSource(title_lines, (SourceRow(HEADER), row)), known_units=("กองคลัง",))


def thai_warnings(report: ParsedReport) -> list[str]:
    return [w.describe("th") for w in report.warnings if w.row is not None]


def check_warnings(case: Case, found: list[str]) -> None:
    for phrase in case.warnings:
        assert any(phrase in w for w in found), f"no warning saying “{phrase}” in {found}"
    if not case.warnings:
        assert found == [], f"unexpected warnings {found}"


def test_the_corpus_is_large_enough_and_covers_every_kind() -> None:
    assert len(CASES) >= 30
    assert {c.kind for c in CASES} == {"deadline", "cell", "action", "match", "title"}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_phrasing(case: Case) -> None:
    if case.kind == "deadline":
        value, _, due = case.value.partition(" =")
        rule, notes = parse_deadline(case.text, case.fy)
        assert rule_text(rule) == value
        if due:
            assert first_due(rule, case.fy) == date.fromisoformat(due)
        check_warnings(case, [getattr(n, "th", n) for n in notes])
    elif case.kind == "cell":
        report = one_row(case, case.text, "")
        assert " | ".join(rule_text(o.rule) for o in report.measures[0].obligations) == case.value
        check_warnings(case, [w for w in thai_warnings(report) if "คอลัมน์ที่ ๔" in w])
    elif case.kind == "action":
        item = case.text if case.text.startswith(("สำนักปลัด", "กองคลัง")) else f"สำนักปลัด {case.text}"
        report = one_row(case, "๑. ทำ ภายในปีงบประมาณ", f"๑. {item}")
        dates = [a.date.isoformat() for a in report.measures[0].actions if a.date]
        assert (" | ".join(dates) or "none") == case.value
        check_warnings(case, [w for w in thai_warnings(report) if "คอลัมน์ที่ ๕" in w])
    elif case.kind == "match":
        obligations, actions = case.text.split("||")
        report = one_row(case, obligations, actions)
        assert " | ".join(str(a.obligation) for a in report.measures[0].actions) == case.value
    else:
        report = one_row(case, "๑. ทำ ภายในปีงบประมาณ", "", title=case.text)
        measure = report.measures[0]
        assert f"{measure.title} {measure.code}" == case.value


def test_the_seeds_o20_action_serves_the_obligation_it_is_numbered_for(tmp_path: Path) -> None:
    data = Run(tmp_path).json("import-report", str(SEED), "--org", "makha", "--dry-run", "--format", "json")
    [o20] = [m for m in data["measures"] if m["code"] == "O20"]
    assert [a["date"] for a in o20["actions"]] == ["2023-04-20"]
    code, out, _ = Run(tmp_path).__call__("import-report", str(SEED), "--org", "makha", "--dry-run")
    assert code == 0 and "action 2023-04-20 → O20-1" in out  # its own number, ๑, not O20-2


def test_import_speaks_thai_by_default_and_english_on_request(tmp_path: Path) -> None:
    code, out, _ = Run(tmp_path, lang=None)("import-report", str(SEED), "--org", "makha", "--dry-run")
    assert code == 0
    assert "มาตรการ ๙ มาตรการ · รายการ ๒๘ รายการ · การดำเนินการ ๑๐ รายการ" in out
    assert "ดำเนินการ ๕ เมษายน ๒๕๖๖ → O10-1" in out
    assert "แถวที่ ๕ คอลัมน์ที่ ๕: การดำเนินการลงวันที่ ๓๐ ตุลาคม ๒๕๖๖ ซึ่งอยู่นอกปีงบประมาณ ๒๕๖๖" in out
    assert "ทดลองอ่านเท่านั้น: ยังไม่ได้บันทึกสิ่งใด" in out
    assert "warning" not in out and "dry run" not in out
    data = Run(tmp_path, lang=None).json("import-report", str(SEED), "--org", "makha", "--dry-run",
                                         "--format", "json")
    assert any("อยู่นอกปีงบประมาณ" in w["message"] for w in data["warnings"])
    code, out, _ = Run(tmp_path, lang="en")("import-report", str(SEED), "--org", "makha", "--dry-run")
    assert "9 measures, 28 obligations, 10 actions" in out and "dry run: nothing was written" in out


def test_a_refused_file_is_explained_in_thai(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    code, _, err = Run(tmp_path, lang=None)("import-report", str(empty), "--org", "makha")
    assert code == 2 and err.startswith("ข้อผิดพลาด: empty.txt เป็นไฟล์ว่าง") and "ยังไม่ได้บันทึกสิ่งใด" in err
    photo = tmp_path / "photo.txt"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    code, _, err = Run(tmp_path, lang=None)("import-report", str(photo), "--org", "makha")
    assert code == 2 and "photo.txt ไม่ใช่ไฟล์รายงาน" in err and "binary" not in err
