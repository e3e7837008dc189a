"""The CLI on the sample: init, sync, status (the acceptance case), log and actions."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from config.settings import Settings
from tests.conftest import SAMPLE
from tracker.cli.common import Context
from tracker.cli.main import main


class Cli:
    def __init__(self, tmp_path: Path) -> None:
        self.env = {"TRACKER_DATA_DIR": str(tmp_path / "data"), "TRACKER_CONFIG": str(SAMPLE)}

    def __call__(self, *argv: str) -> tuple[int, str]:
        out = io.StringIO()
        code = main(list(argv), Context(Settings.from_env(self.env), out=out, err=out))
        return code, out.getvalue()

    def json(self, *argv: str) -> Any:
        code, out = self(*argv, "--format", "json")
        assert code == 0, out
        return json.loads(out)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    run = Cli(tmp_path)
    assert run("init")[0] == 0
    assert run("sync")[0] == 0
    return run


def by_obligation(data: Any) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for occ in data["occurrences"]:
        out.setdefault(occ["obligation"], []).append(occ)
    return out


def test_status_json_shows_the_annual_plan_156_days_late(cli: Cli) -> None:
    data = cli.json("status", "--org", "makha", "--as-of", "2023-04-30")
    assert data["as_of"] == "2023-04-30"
    [o10] = by_obligation(data)["O10-1"]
    assert o10 == {"org": "makha", "measure": "O10", "obligation": "O10-1", "unit": "palad",
                   "window_start": "2022-10-01", "due": "2022-10-31", "status": "late", "done_on": "2023-04-05",
                   "days_late": 156, "days_overdue": None, "period": "2566"}


def test_status_of_every_fy_2566_occurrence_follows_from_the_ten_actions(cli: Cli) -> None:
    obs = by_obligation(cli.json("status", "--org", "makha", "--as-of", "2023-04-30"))
    assert sum(len(v) for v in obs.values()) == 64
    status = {k: [o["status"] for o in v] for k, v in obs.items()}
    assert status["O11-2"] == ["done"]  # six-month report, 5 April, due 30 April
    assert status["O20-1"] == ["late"] and obs["O20-1"][0]["days_late"] == 171
    assert status["M02-1"] == ["done"] and obs["M02-1"][0]["done_on"] == "2022-10-30"
    assert status["M01-1"] == ["done"] and status["M01-2"] == ["done"]
    assert status["M03-4"] == ["done"] and status["M03-2"] == ["open"]
    assert status["M03-1"] == ["overdue"] and obs["M03-1"][0]["days_overdue"] == 181
    assert status["O10-3"] == ["overdue"] and status["O10-2"] == ["due_soon"]
    # Monthly publicity logged once, on 20 April: April is done; October–March are overdue; May on is upcoming.
    assert status["M04-1"] == ["overdue"] * 6 + ["done"] + ["upcoming"] * 5
    # The two actions dated 30 October 2566 lie in the future on 30 April 2566: they do not count yet.
    assert status["M05-1"] == ["overdue", "overdue", "open", "upcoming"]
    assert status["M06-1"] == ["open"]


def test_next_fiscal_year_starts_fresh_and_keeps_last_years_late_work_where_it_belongs(cli: Cli) -> None:
    obs = by_obligation(cli.json("status", "--org", "makha", "--as-of", "2023-11-15"))
    assert {o["period"][:4] for v in obs.values() for o in v} == {"2567"}
    assert [o["status"] for o in obs["O10-1"]] == ["overdue"]  # FY 2566's plan does not satisfy FY 2567's
    # The two actions dated 30 October 2566 fall in FY 2567's first quarter and count there.
    assert obs["M05-1"][0]["status"] == "done" and obs["M05-1"][0]["done_on"] == "2023-10-30"


def test_a_reader_that_stops_early_gets_no_error(cli: Cli, tmp_path: Path) -> None:
    # `tracker status | head -1` printed "error: unexpected BrokenPipeError … report it" and exited 1.
    import os
    import subprocess
    import sys

    env = {**os.environ, **cli.env}
    proc = subprocess.Popen([sys.executable, "-m", "tracker.cli.main", "simulate", "--org", "makha",
                             "--from", "2022-10-01", "--to", "2023-09-30"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()  # read one line, then stop reading, as `head -1` does
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert err == "" and proc.returncode == 141  # as a shell tool killed by SIGPIPE: 128 + 13
