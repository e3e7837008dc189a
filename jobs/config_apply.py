"""Applying an uploaded configuration file or progress report: preview first, then all or nothing.

The admin page and the CLI share these. A preview writes nothing and locates every problem as `tracker
check` does (the problems name the uploaded file, its line and field). Applying validates the whole
configuration with the new file in place of the old one; only when every file is valid is the previous
version kept under `.history/` beside it, the new file put in place (an atomic rename) and the
organisation synced, in one database transaction. A failure leaves the old file and the old rows.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from config.loader import OrgConfig, config_files, load_config
from tracker.domain.errors import Problem
from tracker.domain.thaidate import fiscal_year
from tracker.reports.parse import ReportFormatError
from tracker.reports.to_config import ImportPlan
from tracker.store import audit
from tracker.store.db import session_scope
from tracker.store.repo import config_hash, org_row, record_action, sync_organisation

HISTORY = ".history"


@dataclass(frozen=True)
class ConfigPreview:
    problems: list[Problem]  # errors and warnings, located in the uploaded file
    config: OrgConfig | None

    @property
    def ok(self) -> bool:
        return self.config is not None and not any(p.is_error for p in self.problems)


def _renamed(problem: Problem, shown: str) -> Problem:
    return Problem(shown, problem.message, field=problem.field, line=problem.line, column=problem.column,
                   severity=problem.severity)


def preview_config(content: bytes, filename: str, org_code: str, scratch: Path) -> ConfigPreview:
    """Validate an uploaded file for organisation `org_code` without applying it."""
    shown = Path(filename).name or "upload.toml"
    scratch.mkdir(parents=True, exist_ok=True)
    staged = scratch / (shown if shown.endswith(".toml") else f"{shown}.toml")
    staged.write_bytes(content)
    try:
        loaded = load_config([staged])
    finally:
        staged.unlink(missing_ok=True)
    problems = [_renamed(p, shown) if p.file == str(staged) else p for p in loaded.problems]
    config = loaded.orgs[0] if loaded.orgs else None
    if config is not None and config.organisation.code != org_code:
        problems.append(Problem(shown, f"this file is for organisation '{config.organisation.code}', not"
                                f" '{org_code}': upload it from that organisation's page",
                                field="organisation.code"))
        config = None
    return ConfigPreview(problems, config)


@dataclass(frozen=True)
class Applied:
    target: Path
    previous: Path | None
    summary: str


def target_file(engine: Engine, config_paths: Sequence[Path], org_code: str) -> Path:
    """The file the organisation was loaded from, or `<org>.toml` in the first configured folder."""
    with session_scope(engine) as session:
        source = org_row(session, org_code).source
    if source and Path(source) in config_files(config_paths):
        return Path(source)
    first = config_paths[0]
    folder = first if first.is_dir() or not first.suffix else first.parent
    return folder / f"{org_code}.toml"


def apply_config(engine: Engine, config_paths: Sequence[Path], org_code: str, content: bytes, now: datetime, *,
                 actor: str, channel: str) -> Applied | list[Problem]:
    """Put `content` in place of the organisation's file and sync it, or return every problem."""
    target = target_file(engine, config_paths, org_code)
    staged = target.with_name(f".{target.name}.uploading")
    staged.write_bytes(content)
    try:
        others = [f for f in config_files(config_paths) if f != target]
        loaded = load_config([*others, staged])
        problems = [_renamed(p, target.name) if p.file == str(staged) else p for p in loaded.problems]
        mine = [c for c in loaded.orgs if c.source == staged]
        if not loaded.ok or not mine or mine[0].organisation.code != org_code:
            if loaded.ok:
                problems.append(Problem(target.name, f"the file must describe organisation '{org_code}'",
                                        field="organisation.code"))
            return problems
        cfg = OrgConfig(mine[0].organisation, mine[0].actions, target)
        previous = _keep_previous(target, now)
        with session_scope(engine) as session:
            report = sync_organisation(session, cfg, now, through_fy=fiscal_year(now.date()))
            audit.record(session, org_row(session, org_code).id, now, actor=actor, channel=channel, entity="config",
                         entity_id=target.name, change="applied",
                         detail={"summary": report.summary(), "hash": config_hash(cfg),
                                 "previous": str(previous) if previous else None})
            os.replace(staged, target)
        return Applied(target, previous, report.summary())
    finally:
        staged.unlink(missing_ok=True)


def _keep_previous(target: Path, now: datetime) -> Path | None:
    if not target.exists():
        return None
    history = target.parent / HISTORY
    history.mkdir(exist_ok=True)
    kept = history / f"{target.stem}.{now.strftime('%Y%m%dT%H%M%SZ')}{target.suffix}"
    shutil.copy2(target, kept)
    return kept


def apply_import(engine: Engine, plan: ImportPlan, target: Path, now: datetime, *, actor: str = "",
                 channel: str = "import") -> int:
    """Validate the TOML made from a report, sync it and record its actions in one transaction, then put
    the file in place. Returns how many actions were new. Any failure leaves neither file nor rows."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.importing")
    staging.write_text(plan.toml, encoding="utf-8")
    try:
        loaded = load_config([staging])
        if not loaded.ok:
            raise ReportFormatError("the configuration made from the report does not load: "
                                    + "; ".join(str(p) for p in loaded.errors))
        cfg = loaded.orgs[0]
        added = 0
        with session_scope(engine) as session:
            sync_organisation(session, OrgConfig(cfg.organisation, cfg.actions, target), now)
            for key, action in plan.actions:
                added += record_action(session, plan.organisation_code, action, source="import", source_key=key,
                                       now=now)
            previous = _keep_previous(target, now)
            audit.record(session, org_row(session, plan.organisation_code).id, now, actor=actor, channel=channel,
                         entity="config", entity_id=target.name, change="imported",
                         detail={"actions_added": added, "previous": str(previous) if previous else None})
            os.replace(staging, target)
        return added
    finally:
        staging.unlink(missing_ok=True)
