"""Across 1 October the service plans what `tracker remind` plans (issue 8).

The database is synced in fiscal year 2566 (29 September 2023); at 24 October 2023 09:00 (FY 2567) the
service's reminder sweep, `tracker run --once` and `tracker remind` must plan the same rows, which
include the new year's occurrences, for an organisation with executives (Makha) and one without
(whose digest step, the only other place that materialised a year, never runs).
"""

from __future__ import annotations

import io
import logging
import re
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from config.settings import SAMPLE_CONFIG_DIR, Settings
from jobs import sync_config
from jobs.scheduler import Service
from notifiers.registry import Notifiers
from tracker.cli.common import Context
from tracker.cli.main import main
from tracker.domain.thaidate import BANGKOK
from tracker.store.db import migrate, open_engine, session_scope
from tracker.store.models import ObligationRow, OccurrenceRow, OrganisationRow, OutboxRow

SYNCED_AT = datetime(2023, 9, 29, 10, 0, tzinfo=BANGKOK)  # Friday, fiscal year 2566
AS_OF = datetime(2023, 10, 24, 9, 0, tzinfo=BANGKOK)  # Tuesday, fiscal year 2567
Planned = set[tuple[str, str, str, str, str, str]]


def config_folder(tmp: Path) -> Path:
    """Makha, and a copy of it under the code `noexec` with no executives."""
    folder = tmp / "orgs"
    folder.mkdir()
    shutil.copy(SAMPLE_CONFIG_DIR / "makha.toml", folder / "makha.toml")
    text = (SAMPLE_CONFIG_DIR / "makha.toml").read_text(encoding="utf-8")
    text = text.replace('code = "makha"', 'code = "noexec"', 1)
    text, removed = re.subn(r"\[\[executives\]\]\n(?:[^\[\n].*\n)*", "", text)
    assert removed == 2
    (folder / "noexec.toml").write_text(text, encoding="utf-8")
    return folder


class Twin:
    """One database synced in FY 2566 from the two files."""

    def __init__(self, tmp: Path, folder: Path) -> None:
        self.env = {"TRACKER_DATA_DIR": str(tmp), "TRACKER_CONFIG": str(folder)}
        self.settings = Settings.from_env(self.env)
        self.engine: Engine = open_engine(self.settings.database_url)
        migrate(self.engine)
        with session_scope(self.engine) as session:
            assert sync_config.run_once(session, [folder], SYNCED_AT).ok

    def cli(self, *argv: str) -> str:
        out = io.StringIO()
        assert main(list(argv), Context(Settings.from_env(self.env), out=out, err=out)) == 0, out.getvalue()
        return out.getvalue()

    def planned(self) -> Planned:
        with session_scope(self.engine) as session:
            rows = session.execute(
                select(OrganisationRow.code, ObligationRow.code, OccurrenceRow.period, OutboxRow.stage,
                       OutboxRow.recipient, OutboxRow.destination)
                .join(OrganisationRow, OrganisationRow.id == OutboxRow.org_id)
                .join(OccurrenceRow, OccurrenceRow.id == OutboxRow.occurrence_id)
                .join(ObligationRow, ObligationRow.id == OccurrenceRow.obligation_id)
                .where(OutboxRow.kind == "reminder"))
            return {tuple(r) for r in rows}  # type: ignore[misc]


@pytest.fixture
def twins(tmp_path: Path) -> Iterator[tuple[Twin, Twin]]:
    folder = config_folder(tmp_path)
    pair = (Twin(tmp_path / "service", folder), Twin(tmp_path / "remind", folder))
    yield pair
    for twin in pair:
        twin.engine.dispose()


def assert_same_and_new_year(service: Planned, remind: Planned) -> None:
    for org in ("makha", "noexec"):
        new_year = {r for r in remind if r[0] == org and r[2].startswith("2567")}
        assert new_year, f"{org}: no reminder of fiscal year 2567 at all"
        assert {r for r in service if r[0] == org} == {r for r in remind if r[0] == org}, org


def test_the_running_services_sweep_plans_the_new_fiscal_year_like_tracker_remind(twins: tuple[Twin, Twin]) -> None:
    service, remind = twins
    # The service started in FY 2566 (its configuration synced then) and is still running on 24 October.
    with Notifiers(service.settings) as notifiers:
        counts = Service(service.engine, service.settings, notifiers, clock=lambda: AS_OF).reminders()
    assert counts.materialised > 0 and "new fiscal-year occurrences" in counts.line()
    remind.cli("remind", "--as-of", AS_OF.isoformat())
    assert_same_and_new_year(service.planned(), remind.planned())


def test_run_once_plans_the_new_fiscal_year_even_while_an_edit_is_refused(twins: tuple[Twin, Twin],
                                                                          tmp_path: Path) -> None:
    # An admin's half-finished edit: the service keeps the last good configuration (synced in FY 2566),
    # so only the sweep itself can roll the occurrences over.
    with (tmp_path / "orgs" / "noexec.toml").open("a", encoding="utf-8") as handle:
        handle.write("\n[[measures\n")
    service, remind = twins
    logger = logging.getLogger("tracker")
    level = logger.level
    try:
        service.cli("run", "--once", "--quiet-board", "--as-of", AS_OF.isoformat())
    finally:
        logger.setLevel(level)  # `tracker run` turns its log on; other tests' captures expect it off
    remind.cli("remind", "--as-of", AS_OF.isoformat())
    assert_same_and_new_year(service.planned(), remind.planned())
