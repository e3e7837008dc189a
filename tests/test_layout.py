"""The package layout the design names: four installed packages, imports that only point downwards,
and a pure core that does no I/O and never reads the clock."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest
from setuptools import find_packages

REPO = Path(__file__).resolve().parents[1]
TOP_LEVEL = {"tracker", "jobs", "notifiers", "config"}

# Lower layers never import higher ones. Within a layer, groups do not import each other.
LAYERS: list[set[str]] = [
    {"tracker.domain"},
    {"config"},  # settings, secrets, the loaded configuration's shape (config.model)
    {"tracker.store", "tracker.messages", "tracker.reports"},
    {"notifiers"},
    {"config.loader"},  # validates destinations by asking the channels' registry: above notifiers
    {"jobs"},
    {"tracker.web"},
    {"tracker.cli"},  # the command line starts the web app (`tracker web`, `tracker run`)
]
IO_MODULES = {"os", "io", "pathlib", "socket", "subprocess", "requests", "sqlalchemy", "smtplib", "shutil",
              "tempfile", "urllib", "http", "time", "random", "logging", "sys"}
CLOCK_CALLS = {"now", "today", "utcnow", "time", "monotonic"}


SPLIT_MODULES = {"config.loader"}  # modules that form a group of their own, apart from their package


def group_of(module: str) -> str:
    if module in SPLIT_MODULES:
        return module
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "tracker" and len(parts) > 1 else parts[0]


def layer_of(group: str) -> int:
    for index, groups in enumerate(LAYERS):
        if group in groups:
            return index
    raise AssertionError(f"{group} is in no layer of tests/test_layout.py: give it one")


def source_modules() -> list[tuple[str, Path]]:
    modules = []
    for top in sorted(TOP_LEVEL):
        for path in sorted((REPO / top).rglob("*.py")):
            if "migrations" in path.parts:  # Alembic's scripts run in Alembic's own context
                continue
            modules.append((".".join(path.relative_to(REPO).with_suffix("").parts), path))
    return modules


def project_imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        found.extend((node.lineno, name) for name in names)
    return found


def test_only_the_four_designed_packages_are_installed() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = find_packages(str(REPO), include=include)
    assert {name.split(".")[0] for name in packages} == TOP_LEVEL
    # every folder holding code is a package, so a wheel (not only an editable install) carries it
    for top in TOP_LEVEL:
        for folder in {p.parent for p in (REPO / top).rglob("*.py")}:
            dotted = ".".join(folder.relative_to(REPO).parts)
            assert dotted in packages, f"{dotted} has modules but no __init__.py: `pip install .` would drop it"


@pytest.mark.parametrize(("module", "path"), source_modules(), ids=lambda v: str(v) if isinstance(v, str) else "")
def test_imports_point_downwards(module: str, path: Path) -> None:
    mine = group_of(module)
    for line, target in project_imports(path):
        if target.split(".")[0] not in TOP_LEVEL:
            continue
        theirs = group_of(target)
        if theirs == mine:
            continue
        where = f"{path.relative_to(REPO)}:{line}"
        assert layer_of(theirs) < layer_of(mine), f"{where} imports {target} ({theirs} is not below {mine})"


@pytest.mark.parametrize(("module", "path"), [m for m in source_modules() if group_of(m[0]) == "tracker.domain"],
                         ids=lambda v: str(v) if isinstance(v, str) else "")
def test_the_core_does_no_io_and_never_reads_the_clock(module: str, path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for line, target in project_imports(path):
        assert target.split(".")[0] not in IO_MODULES, f"{path.relative_to(REPO)}:{line} imports {target}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CLOCK_CALLS:
            owner = ast.unparse(node.func.value)
            assert owner not in {"datetime", "date", "time"}, f"{path.relative_to(REPO)}:{node.lineno} reads the clock"
        if isinstance(node, ast.Name) and node.id == "open":
            raise AssertionError(f"{path.relative_to(REPO)}:{node.lineno} opens a file")
