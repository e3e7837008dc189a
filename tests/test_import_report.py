"""`tracker import-report`: the seed's dry run, writing config and actions, refusals, the round trip."""

from __future__ import annotations

import argparse
import io
import json
import shutil
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import docx
import pytest
from sqlalchemy import func, select

from config.loader import load_config
from config.settings import SAMPLE_CONFIG_DIR, Settings
from tracker.cli import import_report, report
from tracker.cli.common import Context
from tracker.store.db import open_engine, session_scope
from tracker.store.models import ActionRow

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "reports"
SEED = FIXTURES / "makha-2566-6m.txt"


class Run:
    """Runs the two commands as `tracker` would, with settings of a temporary folder."""

    def __init__(self, tmp: Path, config_dir: Path | None = None, lang: str | None = "en") -> None:
        self.tmp = tmp
        # These tests read the English output (`--lang en`); lang=None runs the Thai default.
        self.lang = lang
        self.config_dir = config_dir or tmp / "conf"
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.settings = Settings(data_dir=tmp, database_url=f"sqlite:///{tmp / 'tracker.sqlite3'}",
                                 config_paths=(self.config_dir,))

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        parser = argparse.ArgumentParser(prog="tracker")
        sub = parser.add_subparsers(required=True)
        import_report.register(sub)
        report.register(sub)
        if argv and argv[0] == "import-report" and self.lang and "--lang" not in argv:
            argv = (*argv, "--lang", self.lang)
        args = parser.parse_args(argv)
        ctx = Context(self.settings, out=io.StringIO(), err=io.StringIO())
        try:
            code = args.func(args, ctx)
        finally:
            ctx.close()
        assert isinstance(ctx.out, io.StringIO) and isinstance(ctx.err, io.StringIO)
        return code, ctx.out.getvalue(), ctx.err.getvalue()

    def json(self, *argv: str) -> dict[str, Any]:
        code, out, err = self(*argv)
        assert code == 0, err
        data: dict[str, Any] = json.loads(out)
        return data

    def action_rows(self) -> int:
        engine = open_engine(self.settings.database_url)
        try:
            with session_scope(engine) as session:
                return int(session.scalar(select(func.count()).select_from(ActionRow)) or 0)
        finally:
            engine.dispose()


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return Run(tmp_path)


@pytest.fixture
def dry(run: Run) -> dict[str, Any]:
    return run.json("import-report", str(SEED), "--org", "makha", "--dry-run", "--format", "json")


# ---------------------------------------------------------------- the seed's dry run

def test_dry_run_json_has_exactly_the_issues_shape(dry: dict[str, Any]) -> None:
    assert list(dry) == ["org", "fiscal_year", "measures", "warnings"]
    assert (dry["org"], dry["fiscal_year"]) == ("makha", 2566)
    for measure in dry["measures"]:
        assert list(measure) == ["code", "title", "unit", "obligations", "actions"]
        assert all(list(o) == ["text", "rule", "due"] for o in measure["obligations"])
        assert all(list(a) == ["date", "unit", "text"] for a in measure["actions"])
    assert all(list(w) == ["row", "column", "text", "message"] for w in dry["warnings"])


def test_dry_run_finds_nine_measures_units_and_oit_codes(dry: dict[str, Any]) -> None:
    measures = dry["measures"]
    assert len(measures) == 9
    assert {m["unit"] for m in measures} == {"สำนักปลัด", "กองคลัง"}
    assert {"O10", "O11", "O20"} <= {m["code"] for m in measures}


def test_dry_run_gives_o10s_deadlines(dry: dict[str, Any]) -> None:
    o10 = next(m for m in dry["measures"] if m["code"] == "O10")
    assert [o["due"] for o in o10["obligations"]] == ["2022-10-31", "2023-04-30", "2022-12-31", None]
    assert o10["obligations"][0]["rule"] == {"kind": "month", "month": 10}
    assert o10["actions"] == [{"date": "2023-04-05", "unit": "สำนักปลัด",
                               "text": "จัดทำแผนดำเนินงานประจำปี และเผยแพร่ลงเว็บไซต์"}]


def test_dry_run_lists_the_ten_actions_with_the_reports_dates(dry: dict[str, Any]) -> None:
    dates = [a["date"] for m in dry["measures"] for a in m["actions"]]
    assert dates == ["2023-03-17", "2023-03-24", "2022-10-30", "2023-04-10", "2023-04-20", "2023-10-30",
                     "2023-10-30", "2023-04-05", "2023-04-05", "2023-04-20"]


def test_dry_run_warns_about_the_two_actions_of_october_2566(dry: dict[str, Any]) -> None:
    outside = [w for w in dry["warnings"] if "outside fiscal year 2566" in w["message"] and w["column"] == 5]
    assert [w["row"] for w in outside] == [5, 6]
    assert "๓๐ เดือน ตุลาคม พ.ศ. ๒๕๖๖" in outside[0]["text"]


def test_dry_run_writes_nothing(run: Run, dry: dict[str, Any]) -> None:
    assert not any(run.config_dir.iterdir())
    assert not (run.tmp / "tracker.sqlite3").exists()


def test_dry_run_text_shows_counts_mapping_and_warnings(run: Run) -> None:
    code, out, _ = run("import-report", str(SEED), "--org", "makha", "--dry-run")
    assert code == 0
    assert "9 measures, 28 obligations, 10 actions, 15 warning(s)" in out
    assert "action 2023-04-05 → O10-1 [สำนักปลัด]" in out
    assert "row 5, column 5: the action is dated ๓๐ ตุลาคม ๒๕๖๖" in out
    assert "dry run: nothing was written" in out


# ---------------------------------------------------------------- writing

def test_import_writes_a_config_that_loads_and_records_the_actions(run: Run) -> None:
    code, out, err = run("import-report", str(SEED), "--org", "makha")
    assert code == 0, err
    written = run.config_dir / "makha.toml"
    loaded = load_config([written])
    assert loaded.ok, loaded.errors
    org = loaded.org("makha").organisation
    assert [u.code for u in org.units] == ["palad", "finance"]
    assert org.obligation("O10-1").rule is not None and org.measure("O20").unit == "finance"
    assert loaded.org("makha").actions == []  # the actions go to the database
    assert run.action_rows() == 10
    assert "recorded 10 action(s) (0 already recorded)" in out
    assert written.read_text(encoding="utf-8").startswith("# เทศบาลตำบลมะค่า")


def test_importing_twice_adds_nothing(run: Run) -> None:
    assert run("import-report", str(SEED), "--org", "makha")[0] == 0
    code, out, _ = run("import-report", str(SEED), "--org", "makha", "--force", "--format", "json")
    assert code == 0
    assert json.loads(out)["written"]["actions_added"] == 0
    assert run.action_rows() == 10


def test_an_existing_config_is_not_overwritten_without_force(run: Run) -> None:
    target = run.config_dir / "makha.toml"
    shutil.copy(SAMPLE_CONFIG_DIR / "makha.toml", target)
    before = target.read_bytes()
    code, _, err = run("import-report", str(SEED), "--org", "makha")
    assert code == 2 and "already exists" in err and "--force" in err
    assert target.read_bytes() == before
    assert not (run.tmp / "tracker.sqlite3").exists()


def test_an_existing_config_keeps_its_units_and_contacts(run: Run) -> None:
    shutil.copy(SAMPLE_CONFIG_DIR / "makha.toml", run.config_dir / "makha.toml")
    out = run.tmp / "review" / "makha.toml"
    assert run("import-report", str(SEED), "--org", "makha", "--out", str(out))[0] == 0
    loaded = load_config([out])
    assert loaded.ok, loaded.errors
    palad = loaded.org("makha").organisation.unit("palad")
    assert palad.name == "สำนักปลัด" and len(palad.contacts) == 2


def test_an_unknown_unit_is_a_warning_that_names_it(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    sample = (SAMPLE_CONFIG_DIR / "makha.toml").read_text(encoding="utf-8")
    (conf / "makha.toml").write_text(sample.replace('name = "กองคลัง"', 'name = "กองการเงิน"'), encoding="utf-8")
    data = Run(tmp_path, conf).json("import-report", str(SEED), "--org", "makha", "--dry-run", "--format", "json")
    unknown = [w for w in data["warnings"] if "unknown unit" in w["message"]]
    assert len(unknown) == 1 and unknown[0]["text"] == "กองคลัง" and (unknown[0]["row"], unknown[0]["column"]) == (9, 2)


@pytest.mark.parametrize(("name", "data", "says"), [
    ("empty.txt", b"", "is empty"),
    ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00", "binary file"),
    ("four-columns.txt", "ประจำปีงบประมาณ พ.ศ. ๒๕๖๖\nประเด็นที่ต้องปรับปรุงแก้ไข\tผู้รับผิดชอบ\tขั้นตอน\t"
     "กำหนดเวลาแล้วเสร็จ การดำเนินการ\n".encode(), "has 4 columns"),
    ("plain.txt", "เป็นแค่จดหมาย\tไม่ใช่รายงาน\n".encode(), "no header row"),
])
def test_a_file_that_is_not_a_report_is_refused_and_nothing_is_written(run: Run, name: str, data: bytes,
                                                                       says: str) -> None:
    path = run.tmp / name
    path.write_bytes(data)
    code, _, err = run("import-report", str(path), "--org", "makha")
    assert code == 2 and says in err and "Nothing was written" in err
    assert not any(run.config_dir.iterdir()) and not (run.tmp / "tracker.sqlite3").exists()


def test_a_docx_without_a_table_is_refused(run: Run) -> None:
    document = docx.Document()
    document.add_paragraph("รายงานการดำเนินการตามมาตรการ ประจำปีงบประมาณ พ.ศ. ๒๕๖๖")
    path = run.tmp / "report.docx"
    document.save(str(path))
    code, _, err = run("import-report", str(path), "--org", "makha")
    assert code == 2 and "has no table" in err


# ---------------------------------------------------------------- round trip

def _comparable(data: dict[str, Any]) -> list[Any]:
    return [(m["code"], m["title"], m["unit"], m["obligations"],
             sorted((a["date"], a["unit"], a["text"]) for a in m["actions"])) for m in data["measures"]]


def test_round_trip_import_report_import_gives_the_same_measures(run: Run) -> None:
    first = run.json("import-report", str(SEED), "--org", "makha", "--dry-run", "--format", "json")
    assert run("import-report", str(SEED), "--org", "makha")[0] == 0
    tsv = run.tmp / "makha-2566-6m.tsv"
    # As of a day after every action (two are dated 30 October 2566): a report knows nothing after its date.
    assert run("report", "--org", "makha", "--fy", "2566", "--round", "6m", "--as-of", "2023-10-31",
               "--out", str(tsv))[0] == 0
    again = run.json("import-report", str(tsv), "--org", "makha", "--dry-run", "--format", "json")
    assert _comparable(again) == _comparable(first)
    assert sum(len(m["obligations"]) for m in again["measures"]) == 28
    assert sum(len(m["actions"]) for m in again["measures"]) == 10
    # and importing the generated report records nothing new
    code, out, _ = run("import-report", str(tsv), "--org", "makha", "--force", "--format", "json")
    assert code == 0 and json.loads(out)["written"]["actions_added"] == 0
    assert run.action_rows() == 10


def _rows(text: str) -> Sequence[list[str]]:
    return [line.split("\t") for line in text.splitlines() if "\t" in line]


def test_report_without_out_prints_tsv_in_the_seeds_layout(run: Run) -> None:
    assert run("import-report", str(SEED), "--org", "makha")[0] == 0
    code, out, _ = run("report", "--org", "makha", "--round", "6m", "--as-of", "2023-04-30")
    assert code == 0
    rows = _rows(out)
    assert len(rows) == 10 and all(len(r) == 5 for r in rows)
    assert rows[0][0] == "ประเด็นที่ต้องปรับปรุงแก้ไข/ประเด็นที่ต้องพัฒนา"
    o10 = rows[7]
    assert "ดำเนินการเมื่อวันที่ ๕ เดือน เมษายน พ.ศ. ๒๕๖๖" in o10[4]
    assert "ล่าช้า ๑๕๖ วัน" in o10[3]
    assert "ประจำปีงบประมาณ พ.ศ. ๒๕๖๖ รอบ ๖ เดือน (เดือนตุลาคม ๒๕๖๕ - มีนาคม ๒๕๖๖)" in out


def test_report_docx_goes_to_a_file(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("import-report", str(SEED), "--org", "makha")[0] == 0
    monkeypatch.chdir(run.tmp)
    code, out, _ = run("report", "--org", "makha", "--round", "12m", "--format", "docx", "--as-of", "2023-09-30")
    assert code == 0 and "makha-2566-12m.docx" in out
    document = docx.Document(str(run.tmp / "makha-2566-12m.docx"))
    assert len(document.tables) == 1 and len(document.tables[0].rows) == 10


def test_report_html_to_a_file(run: Run) -> None:
    assert run("import-report", str(SEED), "--org", "makha")[0] == 0
    path = run.tmp / "out" / "makha.html"
    assert run("report", "--org", "makha", "--round", "6m", "--format", "html", "--out", str(path),
               "--as-of", str(date(2023, 4, 30)))[0] == 0
    assert "@page" in path.read_text(encoding="utf-8")


# ---------------------------------------------------------------- two deadlines in one item

TWO_MONTHS = "\n".join([
    "รายงานการดำเนินการตามมาตรการส่งเสริมคุณธรรมและความโปร่งใสภายในหน่วยงาน",
    "ประจำปีงบประมาณ พ.ศ. ๒๕๖๖ รอบ ๖ เดือน",
    "เทศบาลตำบลทดสอบ",
    "อำเภอเมือง จังหวัดนครราชสีมา",
    "\t".join(("ประเด็นที่ต้องปรับปรุงแก้ไข/ประเด็นที่ต้องพัฒนา", "ผู้รับผิดชอบ", "ขั้นตอนหรือวิธีการ/มาตรการ",
               "การรายงานผลและการกำกับติดตาม กำหนดเวลาแล้วเสร็จ", "การดำเนินการ")),
    "\t".join(("๐๑๑ รายงานการกำกับติดตามการดำเนินงาน", "สำนักปลัด", "๑. จัดทำรายงาน",
               "๑. รายงานผลการดำเนินงาน ภายในเดือนเมษายนและตุลาคม ๒. เผยแพร่รายงาน ภายในปีงบประมาณ",
               "๑. สำนักปลัด รายงานผล ครั้งที่ ๑ ดำเนินการเมื่อวันที่ ๕ ตุลาคม ๒๕๖๕ ครั้งที่ ๒ ดำเนินการเมื่อวันที่"
               " ๒๐ เมษายน ๒๕๖๖")),
]) + "\n"


def test_two_months_joined_by_and_become_two_obligations_that_tracker_check_accepts(tmp_path: Path) -> None:
    from tracker.cli.main import main

    source = tmp_path / "two-months.txt"
    source.write_text(TWO_MONTHS, encoding="utf-8")
    run = Run(tmp_path, lang=None)
    code, out, err = run("import-report", str(source), "--org", "tambon")
    assert code == 0, err
    assert "แยกเป็น ๒ รายการ" in out
    written = run.config_dir / "tambon.toml"
    loaded = load_config([written])
    assert loaded.ok, loaded.errors
    org = loaded.org("tambon").organisation
    assert [(ob.code, ob.title, ob.rule.to_dict() if ob.rule else None) for ob in org.measure("O11").obligations] == [
        ("O11-1", "รายงานผลการดำเนินงาน ภายในเดือนเมษายน", {"kind": "month", "month": 4}),
        ("O11-2", "รายงานผลการดำเนินงาน ภายในเดือนตุลาคม", {"kind": "month", "month": 10}),
        ("O11-3", "เผยแพร่รายงาน ภายในปีงบประมาณ", {"kind": "fiscal_year"}),
    ]
    # Each action of item ๑ serves the month it was done in.
    assert "ดำเนินการ ๕ ตุลาคม ๒๕๖๕ → O11-2" in out and "ดำเนินการ ๒๐ เมษายน ๒๕๖๖ → O11-1" in out
    checked = io.StringIO()
    assert main(["check", str(written)], Context(run.settings, out=checked, err=checked)) == 0, checked.getvalue()
