"""The bad-input corpus (tests/bad_input/corpus.txt): every case ends in a clear one- or two-line message
and the exit code the table gives, shows no traceback, keeps secrets out of its output, and leaves the
database, the outbox folder and the configuration files exactly as they were.

Cases run in-process through `tracker.cli.main.main` (as the `tracker` script does), each on its own copy
of a database that holds the Tambon Makha sample and the reminders of 21 October 2022. A few run as real
processes too (`test_real_process_*`), to show what a person sees at the terminal."""

from __future__ import annotations

import hashlib
import io
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from config.settings import Settings
from tests.conftest import SAMPLE
from tracker.cli.common import Context
from tracker.cli.main import main
from tracker.domain.thaidate import BANGKOK

HERE = Path(__file__).resolve().parent / "bad_input"
CLEARED = ("TRACKER_", "DATABASE_", "LINE_", "SMTP_", "WEBHOOK_", "PG")


@dataclass(frozen=True)
class Case:
    name: str
    env: tuple[str, ...]
    args: str
    exit_code: int
    words: tuple[str, ...]

    @property
    def locked(self) -> bool:
        return "@locked" in self.env


def corpus() -> list[Case]:
    cases = []
    for line in (HERE / "corpus.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, env, args, code, words = (part.strip() for part in line.split("|"))
        cases.append(Case(name, tuple(env.split()), args, int(code),
                          tuple(w.strip() for w in words.split(",") if w.strip())))
    return cases


CASES = corpus()


def make_files(folder: Path) -> Path:
    """The files too big or too odd to keep in the repository, made once."""
    folder.mkdir()
    (folder / "deep.toml").write_text("x = " + "[" * 3000 + "]" * 3000 + "\n")
    (folder / "deep_inline.toml").write_text("x = " + "{a = " * 3000 + "1" + " }" * 3000 + "\n")
    (folder / "big.toml").write_text(SAMPLE.read_text(encoding="utf-8") + "# " + "ก" * 400_000 + "\n")
    obligations = "".join(f'[[measures.obligations]]\ncode = "M-{i}"\ntitle = "ภาระงาน {i}"\n'
                          f'due = {{ kind = "recurring", every = "quarterly" }}\n' for i in range(2001))
    tiny = (HERE / "files" / "valid.toml").read_text(encoding="utf-8")
    (folder / "many_obligations.toml").write_text(tiny.split("[[measures.obligations]]")[0] + obligations)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b" " * 60_000_000)  # 60 MB of spaces: ~60 KB compressed
    (folder / "bomb.docx").write_bytes(bomb.getvalue())
    (folder / "bomb.zip").write_bytes(bomb.getvalue())
    with open(folder / "huge.docx", "wb") as huge:  # 21 MB, sparse: refused by its size before it is read
        huge.truncate(21_000_000)
    notword = io.BytesIO()
    with zipfile.ZipFile(notword, "w") as archive:
        archive.writestr("photos/readme.txt", "a zip of photos, not a Word document")
    (folder / "notword.zip").write_bytes(notword.getvalue())
    row = "ประเด็น\tสำนักปลัด\tขั้นตอน\tภายในเดือนตุลาคม\tดำเนินการแล้ว\n"
    (folder / "big.txt").write_text("แบบรายงาน\n" + row * (2_100_000 // len(row.encode())), encoding="utf-8")
    (folder / "report.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 40)
    (folder / "notdb.sqlite3").write_text("this is a note, not a database\n" * 100)
    foreign = sqlite3.connect(folder / "foreign.sqlite3")
    foreign.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    foreign.commit()
    foreign.close()
    (folder / "a_file").write_text("a file where a folder is expected\n")
    return folder


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a case folder to copy: data/ with the synced sample and an outbox, config/; the made files)."""
    root = tmp_path_factory.mktemp("bad-input")
    case = root / "template"
    (case / "config").mkdir(parents=True)
    shutil.copy(SAMPLE, case / "config" / SAMPLE.name)
    env = {"TRACKER_DATA_DIR": str(case / "data"), "TRACKER_CONFIG": str(case / "config")}
    out = io.StringIO()
    for argv in (["sync"], ["remind", "--as-of", "2022-10-21T09:00:00+07:00"]):
        assert main(argv, Context(Settings.from_env(env), out=out, err=out)) == 0, out.getvalue()
    return case, make_files(root / "made")


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` by content hash, with the database as its SQL dump (SQLite's -wal and
    -shm files are the same database, read through the dump)."""
    found: dict[str, str] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.name.endswith(("-wal", "-shm")):
            continue
        if path.suffix == ".sqlite3":
            connection = sqlite3.connect(path)
            content = "\n".join(connection.iterdump()).encode()
            connection.close()
        else:
            content = path.read_bytes()
        found[str(path.relative_to(folder))] = hashlib.sha256(content).hexdigest()
    return found


def expand(text: str, case_dir: Path, made: Path) -> str:
    tomorrow = (datetime.now(BANGKOK).date() + timedelta(days=1)).isoformat()  # the CLI reads the real clock too
    return (text.replace("{files}", str(HERE / "files")).replace("{made}", str(made)).replace("{tomorrow}", tomorrow)
            .replace("{tmp}", str(case_dir)).replace("{db}", str(case_dir / "data" / "tracker.sqlite3")))


def run_case(case: Case, case_dir: Path, made: Path, monkeypatch: pytest.MonkeyPatch,
             capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    for name in list(os.environ):
        if name.startswith(CLEARED):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TRACKER_DATA_DIR", str(case_dir / "data"))
    monkeypatch.setenv("TRACKER_CONFIG", str(case_dir / "config"))
    for assignment in case.env:
        if assignment != "@locked":
            name, _, value = assignment.partition("=")
            monkeypatch.setenv(name, expand(value, case_dir, made))
    monkeypatch.chdir(case_dir)
    argv = [expand(word, case_dir, made) for word in shlex.split(case.args)]
    lock = sqlite3.connect(case_dir / "data" / "tracker.sqlite3") if case.locked else None
    try:
        if lock is not None:
            lock.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse refuses arguments by exiting
            code = int(exc.code or 0)
    finally:
        if lock is not None:
            lock.rollback()
            lock.close()
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_the_corpus_has_at_least_60_cases_with_distinct_names() -> None:
    assert len(CASES) >= 60
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_refused_clearly_and_changes_nothing(
        case: Case, template: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    folder, made = template
    case_dir = tmp_path / "case"
    shutil.copytree(folder, case_dir)
    before = snapshot(case_dir)
    code, output = run_case(case, case_dir, made, monkeypatch, capsys)
    lines = [line for line in output.splitlines() if line.strip()]
    assert "Traceback" not in output, output
    assert code == case.exit_code, output
    assert 1 <= len(lines) <= 2, output
    for word in case.words:
        if word.startswith("!"):
            assert word[1:].lower() not in output.lower(), f"{word[1:]} leaked: {output}"
        else:
            assert word.lower() in output.lower(), output
    assert snapshot(case_dir) == before


def tracker(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED)}
    return subprocess.run([sys.executable, "-m", "tracker.cli.main", *args], env=clean | env, cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_real_process_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    done = tracker(["status"], {"DATABASE_URL": "postgresql+psycopg://u:s3cret-db-pw@127.0.0.1:9/ita"}, tmp_path)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "cannot connect" in done.stderr and "Traceback" not in done.stderr
    assert "s3cret-db-pw" not in done.stderr + done.stdout


def test_real_process_with_debug_shows_the_traceback_too(tmp_path: Path) -> None:
    done = tracker(["--debug", "status"], {"TRACKER_DATA_DIR": str(tmp_path / "data"),
                                           "DATABASE_URL": "sqlite:///" + str(tmp_path / "x.sqlite3")}, tmp_path)
    assert done.returncode == 2
    assert "Traceback" in done.stderr and "no tracker tables" in done.stderr
