"""The digest sweep's log line (issue 9): on the national digest day it listed all 7,850 organisation
codes, one line of 70 kB. It gives counts, and names at most a few organisations."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from freezegun import freeze_time

from jobs.digest import ORGS_NAMED, DigestResult
from tests.test_scheduler import Harness, at


def test_the_line_counts_the_organisations_and_names_a_few() -> None:
    codes = [f"org{o:05d}" for o in range(1, 7851)]
    line = DigestResult(created=7850, already_queued=2, orgs=codes).line()
    assert line == "queued 7,850, already queued 2; due for 7,850 organisations (org00001, org00002, org00003" \
                   " and 7,847 more)"
    assert sum(code in line for code in codes) == ORGS_NAMED
    one = DigestResult(created=3, orgs=["makha"]).line()
    assert one == "queued 3, already queued 0; due for 1 organisation (makha)"
    assert DigestResult(already_queued=5).line() == "queued 0, already queued 5"  # not a digest day


def test_the_service_logs_one_short_line_per_digest_sweep(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    harness = Harness(tmp_path)
    caplog.set_level(logging.INFO, logger="tracker")
    caplog.clear()
    with freeze_time(at(2023, 2, 1, 9, 0)):  # the first working day of February
        result = harness.service.digests()
    harness.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "tracker.run"]
    assert lines == ["digests at 2023-02-01 09:00+0700: queued 3, already queued 0; due for 1 organisation (makha)"]
    assert result.created == 3
