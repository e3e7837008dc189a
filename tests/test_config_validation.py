"""Broken configuration: every problem is reported with file, line and field; exit 2; database unchanged."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from config.loader import load_config
from config.settings import Settings
from tests.conftest import SAMPLE
from tracker.cli.common import Context
from tracker.cli.main import main
from tracker.store.models import ActionRow, ObligationRow

BASE = SAMPLE.read_text(encoding="utf-8")


def run(argv: list[str], db_url: str) -> tuple[int, str]:
    out = io.StringIO()
    ctx = Context(Settings.from_env({"DATABASE_URL": db_url}), out=out, err=out)
    return main(argv, ctx), out.getvalue()


def broken(tmp_path: Path, old: str, new: str, *, count: int = 1) -> Path:
    assert old in BASE, f"the sample no longer contains {old!r}"
    path = tmp_path / "makha.toml"
    path.write_text(BASE.replace(old, new, count), encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


CASES = [
    # (id, old, new, expected message fragment, text on the reported line or None)
    ("toml-syntax", 'district = "โนนสูง"', 'district = "โนนสูง', "TOML syntax error", 'district = "โนนสูง'),
    ("ce-fiscal-year", "fiscal_year = 2566", "fiscal_year = 2023", "looks like a C.E. year", "fiscal_year = 2023"),
    ("unknown-unit", 'unit = "finance"\noit = "O20"', 'unit = "finanse"\noit = "O20"', "unknown unit 'finanse'",
     'unit = "finanse"'),
    ("duplicate-measure", 'code = "M02"', 'code = "M01"', "duplicate measure code 'M01'", None),
    ("duplicate-obligation", 'code = "M01-2"', 'code = "M01-1"', "duplicate obligation code 'M01-1'", None),
    ("impossible-rule-date", 'due = { kind = "month", month = 12 }', 'due = { kind = "date", month = 2, day = 30 }',
     "30 กุมภาพันธ์", "day = 30"),
    ("month-13", 'due = { kind = "month", month = 4 }', 'due = { kind = "month", month = 13 }', "month 13",
     "month = 13"),
    ("unknown-obligation", 'obligation = "O11-2"', 'obligation = "O11-9"', "unknown obligation 'O11-9'",
     'obligation = "O11-9"'),
    ("impossible-action-date", "date = 2023-03-17", 'date = "31/4/2566"', "31 เมษายน 2566 does not exist",
     'date = "31/4/2566"'),
    ("typo-field", 'title = "นายกเทศมนตรี"', 'titel = "นายกเทศมนตรี"', "unknown field 'titel'", "titel ="),
    ("bad-line-id", "line://U0123456789abcdef0123456789abcdef", "line://U0123", "32 hex digits", "line://U0123"),
    ("token-in-line-notify", '"mailto:admin@makha.example.go.th"', '"line-notify://abcDEF123secret"',
     "never the token itself", "line-notify://"),
    ("send-hours", 'send_from = "08:30"', 'send_from = "17:30"', "must be before send_until", None),
    ("bad-time", 'send_until = "16:30"', 'send_until = "4pm"', "a time such as", 'send_until = "4pm"'),
    ("missing-organisation", "[organisation]", "[organization]", "unknown field 'organization'", "[organization]"),
]


@pytest.mark.parametrize(("old", "new", "message", "line_text"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_kind_of_broken_configuration_is_located_and_refused(
    tmp_path: Path, old: str, new: str, message: str, line_text: str | None
) -> None:
    path = broken(tmp_path, old, new)
    code, out = run(["check", str(path)], f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert code == 2
    assert message in out
    assert str(path) in out
    if line_text is not None:
        assert f"{path}:{line_of(path, line_text)}" in out


def test_every_error_is_reported_not_only_the_first(tmp_path: Path) -> None:
    text = BASE.replace('unit = "finance"\noit = "O20"', 'unit = "nowhere"\noit = "O20"')
    text = text.replace('obligation = "O11-2"', 'obligation = "O11-9"')
    text = text.replace("fiscal_year = 2566", "fiscal_year = 2023")
    path = tmp_path / "makha.toml"
    path.write_text(text, encoding="utf-8")
    loaded = load_config([path])
    messages = "\n".join(str(p) for p in loaded.errors)
    assert len(loaded.errors) == 3, messages
    assert "nowhere" in messages and "O11-9" in messages and "C.E. year" in messages


def test_not_utf8_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "makha.toml"
    path.write_bytes(BASE.encode("tis-620", errors="replace"))
    loaded = load_config([path])
    assert not loaded.ok and "save the file as UTF-8" in str(loaded.errors[0])


def test_two_files_with_one_organisation_code_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(BASE, encoding="utf-8")
    (tmp_path / "b.toml").write_text(BASE, encoding="utf-8")
    loaded = load_config([tmp_path])
    assert any("already used" in str(p) for p in loaded.errors)


def test_the_sample_is_valid_and_flags_the_two_actions_outside_the_fiscal_year() -> None:
    loaded = load_config([SAMPLE])
    assert loaded.ok
    outside = [p for p in loaded.warnings if "outside fiscal year 2566" in p.message]
    assert len(outside) == 2
    assert all("2023-10-30" in p.message for p in outside)


def test_sync_of_a_broken_file_leaves_the_database_unchanged(tmp_path: Path, engine: Engine, db_url: str) -> None:
    code, _ = run(["sync", str(SAMPLE)], db_url)
    assert code == 0
    with engine.connect() as conn:
        before = (conn.scalar(select(func.count()).select_from(ObligationRow)),
                  conn.scalar(select(func.count()).select_from(ActionRow)),
                  conn.scalar(select(ObligationRow.title).where(ObligationRow.code == "O10-1")))
    path = broken(tmp_path, 'code = "O10-1"\ntitle = "', 'code = "O10-1"\ntitle = "CHANGED ')
    text = path.read_text(encoding="utf-8").replace('obligation = "O11-2"', 'obligation = "O11-9"')
    path.write_text(text, encoding="utf-8")
    code, out = run(["sync", str(path)], db_url)
    assert code == 2 and "the database was not changed" in out
    with engine.connect() as conn:
        after = (conn.scalar(select(func.count()).select_from(ObligationRow)),
                 conn.scalar(select(func.count()).select_from(ActionRow)),
                 conn.scalar(select(ObligationRow.title).where(ObligationRow.code == "O10-1")))
    assert after == before
