"""`tracker --help` and `tracker check` start without importing SQLAlchemy, Alembic or requests (they were
0.65 s of every start-up); the table that makes this possible agrees with the command modules.
Start-up time itself is measured by bench/bench_startup.py, never by a timed test."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLE
from tracker.cli.main import COMMAND_MODULES, COMMANDS, command_module

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("sqlalchemy", "alembic", "requests", "jinja2", "docx", "apscheduler", "flask")


def registered(module: str) -> dict[str, str]:
    """The commands `module` registers, with their help lines."""
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers()
    command_module(module).register(subparsers)
    return {action.dest: action.help or "" for action in subparsers._choices_actions}


@pytest.mark.parametrize("module", COMMAND_MODULES)
def test_the_command_table_lists_what_each_module_registers(module: str) -> None:
    assert registered(module) == {name: line for name, (owner, line) in COMMANDS.items() if owner == module}


def heavy_modules_after(code: str) -> list[str]:
    script = (f"import json, sys\nfrom tracker.cli.main import main\ntry:\n    main({code})\nexcept SystemExit:\n"
              f"    pass\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60,
                          check=True)
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def test_help_imports_no_database_or_http_library() -> None:
    assert heavy_modules_after("['--help']") == []


def test_check_imports_no_database_or_http_library() -> None:
    assert heavy_modules_after(f"['check', {str(SAMPLE)!r}]") == []


def test_a_database_command_still_gets_its_module() -> None:
    assert "sqlalchemy" in heavy_modules_after("['status', '--help']")
