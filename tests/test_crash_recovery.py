"""A dispatcher killed between sending and recording: the lease expires, a restart sends again with the
same LINE retry key, and every message reaches the (fake) LINE server exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from tests.fakes.line_schema import validator
from tests.fakes.line_server import FakeLineServer
from tests.fakes.plugin import fake_line, notifier_env  # noqa: F401
from tracker.store.db import open_engine, session_scope
from tracker.store.models import OutboxRow

REPO = Path(__file__).resolve().parents[1]
AS_OF = "2022-10-21T09:00:00+07:00"
AFTER_LEASE = "2022-10-21T09:06:00+07:00"  # the default lease is 5 minutes


def tracker(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tracker.cli.main", *args], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=False)


def test_killed_dispatcher_loses_nothing_and_doubles_nothing(tmp_path: Path,
                                                             fake_line: FakeLineServer) -> None:  # noqa: F811
    validator("PushMessageRequest")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SMTP_URL")}
    env |= notifier_env(line=fake_line, outbox_dir=tmp_path / "outbox") | {"TRACKER_DATA_DIR": str(tmp_path)}
    env.pop("SMTP_URL", None)  # mail goes to the outbox folder; LINE goes to the fake server
    assert tracker(env, "sync").returncode == 0

    crashed = tracker(env | {"TRACKER_TEST_CRASH_AFTER_SEND": "1"}, "remind", "--org", "makha", "--as-of", AS_OF,
                      "--concurrency", "1")
    assert crashed.returncode == 137, crashed.stderr
    assert len(fake_line.delivered) == 1  # sent, then killed before it could be recorded

    engine = open_engine(f"sqlite:///{tmp_path / 'tracker.sqlite3'}")
    with session_scope(engine) as session:
        statuses = Counter(session.scalars(select(OutboxRow.status)))
    assert statuses == Counter({"leased": 13})

    early = tracker(env, "remind", "--org", "makha", "--as-of", "2022-10-21T09:01:00+07:00")
    assert early.returncode == 0 and len(fake_line.delivered) == 1  # leases still live: nothing taken

    restarted = tracker(env, "remind", "--org", "makha", "--as-of", AFTER_LEASE)
    assert restarted.returncode == 0, restarted.stderr
    with session_scope(engine) as session:
        rows = list(session.scalars(select(OutboxRow)))
    engine.dispose()
    line_rows = [r for r in rows if r.destination.startswith("line://")]
    assert {r.status for r in rows} == {"sent"}
    assert len(line_rows) == 6 and len({r.bundle_key for r in line_rows}) == 1
    assert len(fake_line.delivered) == 1  # the officer's six reminders in one push, delivered once
    assert all(code in fake_line.delivered[0][1] for code in ("O10-1", "M03-1"))
    assert [p.status for p in fake_line.pushes()].count(409) == 1  # the repeat of the crashed send
    assert fake_line.validation_failures == []
