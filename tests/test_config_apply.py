"""Uploading a configuration file: a preview locates every problem and writes nothing; applying keeps
the previous version, swaps the file atomically, syncs and audits; an invalid file changes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import Engine

from config.loader import load_config
from jobs.config_apply import apply_config, preview_config
from tests.conftest import SAMPLE
from tests.two_orgs import NOW
from tracker.store import audit
from tracker.store.db import session_scope
from tracker.store.repo import load_organisation, org_row, sync_organisation

BROKEN = SAMPLE.read_text(encoding="utf-8").replace('fiscal_year = 2566', 'fiscal_year = 2023', 1).replace(
    'role = "officer"', 'role = "boss"', 1)


def setup(engine: Engine, tmp_path: Path) -> Path:
    folder = tmp_path / "orgs"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / "makha.toml")
    [cfg] = load_config([folder]).orgs
    with session_scope(engine) as session:
        sync_organisation(session, cfg, NOW, through_fy=2566)
    return folder


def test_a_preview_locates_every_error_in_the_uploaded_file(tmp_path: Path) -> None:
    preview = preview_config(BROKEN.encode(), "makha-new.toml", "makha", tmp_path / "scratch")
    assert not preview.ok
    errors = [p for p in preview.problems if p.is_error]
    assert {p.file for p in errors} == {"makha-new.toml"}
    assert {p.field for p in errors} >= {"organisation.fiscal_year"} and all(p.line for p in errors)
    assert len(errors) >= 2
    assert list((tmp_path / "scratch").iterdir()) == []


def test_a_toml_syntax_error_has_its_line_and_column(tmp_path: Path) -> None:
    preview = preview_config(b'[organisation]\ncode = "makha\n', "x.toml", "makha", tmp_path)
    [problem] = preview.problems
    assert (problem.file, problem.line) == ("x.toml", 2) and "TOML syntax" in problem.message


def test_a_file_of_another_organisation_is_refused(tmp_path: Path) -> None:
    text = SAMPLE.read_text(encoding="utf-8").replace('code = "makha"', 'code = "nongbua"', 1)
    preview = preview_config(text.encode(), "n.toml", "makha", tmp_path)
    assert not preview.ok and "not 'makha'" in preview.problems[-1].message


def test_applying_a_good_file_keeps_the_previous_version_and_syncs(sqlite_engine: Engine, tmp_path: Path) -> None:
    folder = setup(sqlite_engine, tmp_path)
    before = (folder / "makha.toml").read_text(encoding="utf-8")
    new = before.replace('name = "เทศบาลตำบลมะค่า"', 'name = "เทศบาลตำบลมะค่า (ใหม่)"', 1)
    result = apply_config(sqlite_engine, [folder], "makha", new.encode(), NOW, actor="ผู้ดูแลระบบ", channel="web")
    assert not isinstance(result, list)
    assert (folder / "makha.toml").read_text(encoding="utf-8") == new
    assert result.previous is not None and result.previous.read_text(encoding="utf-8") == before
    assert result.previous.parent.name == ".history" and len(load_config([folder]).orgs) == 1
    with session_scope(sqlite_engine) as session:
        assert load_organisation(session, "makha").name == "เทศบาลตำบลมะค่า (ใหม่)"
        [entry] = audit.entries(session, org_row(session, "makha").id, entity="config")
    assert (entry.change, entry.channel, entry.actor) == ("applied", "web", "ผู้ดูแลระบบ")
    assert sorted(p.name for p in folder.iterdir()) == [".history", "makha.toml"]


def test_applying_a_broken_file_changes_nothing(sqlite_engine: Engine, tmp_path: Path) -> None:
    folder = setup(sqlite_engine, tmp_path)
    before = (folder / "makha.toml").read_bytes()
    result = apply_config(sqlite_engine, [folder], "makha", BROKEN.encode(), NOW, actor="x", channel="web")
    assert isinstance(result, list) and {p.file for p in result if p.is_error} == {"makha.toml"}
    assert (folder / "makha.toml").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["makha.toml"]
    with session_scope(sqlite_engine) as session:
        assert audit.entries(session, org_row(session, "makha").id, entity="config") == []
