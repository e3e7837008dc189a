"""`tracker run` as real processes: two on one database send nothing twice; SIGTERM stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.fakes.line_server import FakeLineServer
from tracker.store.db import open_engine, session_scope
from tracker.store.models import OutboxRow

pytestmark = pytest.mark.slow
AS_OF = "2022-10-21T09:00:00+07:00"  # the O10 plan's 7-days-before reminders, and others, are due


def environment(tmp: Path, line: FakeLineServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "LINE_", "SMTP_", "DATABASE_"))}
    return env | {"TRACKER_DATA_DIR": str(tmp / "data"), "LINE_API_BASE": line.base_url,
                  "LINE_CHANNEL_ACCESS_TOKEN": line.token, "PYTHONUNBUFFERED": "1"}


def tracker(tmp: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tracker.cli.main", *args], cwd=tmp, env=env, text=True,
                          capture_output=True, timeout=120, check=True)


def start(tmp: Path, env: dict[str, str], name: str, *args: str) -> subprocess.Popen[str]:
    log = (tmp / f"{name}.log").open("w")
    return subprocess.Popen([sys.executable, "-m", "tracker.cli.main", "run", "--as-of", AS_OF, "--quiet-board",
                             "--no-web", *args],
                            cwd=tmp, env=env, text=True, stdout=log, stderr=subprocess.STDOUT)


def wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.2)


def stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=60)


@pytest.fixture
def line() -> Iterator[FakeLineServer]:
    with FakeLineServer() as server:
        yield server


def messages_sent(tmp: Path) -> int:
    """Messages that went out: a bundle of reminders counts once (its rows share a bundle key)."""
    engine = open_engine(f"sqlite:///{tmp / 'data' / 'tracker.sqlite3'}")
    try:
        with session_scope(engine) as session:
            rows = session.execute(select(OutboxRow.key, OutboxRow.bundle_key).where(OutboxRow.status == "sent"))
            return len({bundle or key for key, bundle in rows})
    finally:
        engine.dispose()


def outbox_statuses(tmp: Path) -> Counter[str]:
    engine = open_engine(f"sqlite:///{tmp / 'data' / 'tracker.sqlite3'}")
    try:
        with session_scope(engine) as session:
            rows = session.execute(select(OutboxRow.status, func.count()).group_by(OutboxRow.status))
            return Counter({status: int(n) for status, n in rows})
    finally:
        engine.dispose()


def test_two_processes_on_one_database_send_nothing_twice(tmp_path: Path, line: FakeLineServer) -> None:
    env = environment(tmp_path, line)
    tracker(tmp_path, env, "init")  # the release step, as in the Procfile
    tracker(tmp_path, env, "sync")
    processes = [start(tmp_path, env, f"run{i}", "--every", "0.5") for i in (1, 2)]
    try:
        wait_for(lambda: outbox_statuses(tmp_path)["sent"] > 0 and not (
            outbox_statuses(tmp_path).keys() & {"pending", "leased"}))
        time.sleep(3)  # several more sweeps of both processes: still nothing new may go out
    finally:
        codes = [stop(p) for p in processes]
    logs = [(tmp_path / f"run{i}.log").read_text() for i in (1, 2)]
    assert codes == [0, 0], logs
    assert all("planned" in log and "sent" in log for log in logs)
    statuses = outbox_statuses(tmp_path)
    pushes = line.pushes()
    keys = Counter(p.headers.get("x-line-retry-key") for p in pushes)
    assert pushes and all(n == 1 for n in keys.values()), "a LINE message was pushed twice"
    assert all(p.status == 200 for p in pushes) and not line.validation_failures
    files = list((tmp_path / "data" / "outbox").rglob("*.eml"))
    assert statuses["sent"] >= messages_sent(tmp_path) == len(pushes) + len(files)


def test_sigterm_lets_the_send_in_flight_finish_and_leaves_no_lease(tmp_path: Path) -> None:
    with FakeLineServer(latency_seconds=3) as slow:
        env = environment(tmp_path, slow)
        tracker(tmp_path, env, "init")
        tracker(tmp_path, env, "sync")
        process = start(tmp_path, env, "run", "--every", "1")
        try:
            wait_for(lambda: outbox_statuses(tmp_path)["leased"] > 0)  # a LINE push is on the wire
        except AssertionError:
            process.kill()
            raise
        code = stop(process)
        log = (tmp_path / "run.log").read_text()
        assert code == 0, log
        assert "SIGTERM received" in log and "stopped" in log
        statuses = outbox_statuses(tmp_path)
        assert statuses["leased"] == 0, statuses
        assert statuses["sent"] >= 1 and len(slow.pushes()) >= 1
