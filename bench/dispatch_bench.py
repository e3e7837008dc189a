"""Dispatch throughput: the real dispatcher and LINE notifier against the fake LINE server, which runs in
its own process (as LINE does) so that its threads do not share the dispatcher's interpreter lock."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import Engine, insert, select

from config.loader import load_config
from config.settings import SAMPLE_CONFIG_DIR, Settings
from jobs import dispatch
from notifiers.registry import Notifiers
from tracker.store.db import migrate, open_engine, session_scope
from tracker.store.models import ContactRow, OccurrenceRow, OutboxRow
from tracker.store.repo import sync_organisation

TOKEN = "bench-channel-token"
REPO = Path(__file__).resolve().parents[1]
SERVER = """
import sys, time
from tests.fakes.line_server import FakeLineServer
from tests.fakes.line_schema import validator
validator("PushMessageRequest")
server = FakeLineServer({token!r}, latency_seconds={latency}).start()
# The fake writes headers and body in two sends; with Nagle on, each answer waits ~40 ms for the
# client's delayed ACK, which LINE's servers do not do. Turn it off so the 20 ms latency is what we measure.
server._server.RequestHandlerClass.disable_nagle_algorithm = True
print(server.base_url, flush=True)
sys.stdin.read()
"""


@contextmanager
def fake_line(latency: float) -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-c", SERVER.format(token=TOKEN, latency=latency)], cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)


def delivered(base: str) -> int:
    answer = requests.get(f"{base}/v2/bot/message/quota/consumption", headers={"Authorization": f"Bearer {TOKEN}"},
                          timeout=10)
    return int(answer.json()["totalUsage"])


def outbox_engine(now: datetime) -> tuple[Engine, int, int]:
    """A database with the Makha sample synced: (engine, its organisation id, one of its open deadlines).
    The dispatcher checks at send time that a reminder's deadline is still open and its recipient still
    configured (and cancels it otherwise), so the benchmark's messages must be real ones."""
    engine = open_engine(f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-dispatch-')) / 'outbox.sqlite3'}")
    migrate(engine)
    loaded = load_config([SAMPLE_CONFIG_DIR / "makha.toml"])
    assert loaded.ok, loaded.errors
    with session_scope(engine) as session:
        sync_organisation(session, loaded.orgs[0], now, through_fy=2566)
        org_id, occurrence_id = session.execute(
            select(OccurrenceRow.org_id, OccurrenceRow.id)
            .where(OccurrenceRow.due > now.date(), OccurrenceRow.done_on.is_(None), OccurrenceRow.active.is_(True))
            .order_by(OccurrenceRow.due).limit(1)).one()
    return engine, org_id, occurrence_id


def queue(engine: Engine, org_id: int, occurrence_id: int, count: int, now: datetime) -> None:
    """`count` rendered messages to distinct LINE users, due now, each a configured contact (the dispatcher
    checks at send time that its recipient is still configured, and cancels what is not)."""
    run = uuid.uuid4().hex[:8]
    officers = [(f"officer {run}-{i}", f"line://U{run}{i:024x}") for i in range(count)]
    contacts = [{"org_id": org_id, "kind": "unit", "unit_code": "bench", "name": name, "role": "officer",
                 "destinations": [destination]} for name, destination in officers]
    rows = [{"key": f"bench:{run}:{i}", "kind": "reminder", "org_id": org_id, "occurrence_id": occurrence_id,
             "stage": "due", "merged_stages": "",
             "recipient": name, "destination": destination, "lang": "th",
             "subject": "ครบกำหนด", "text": f"ข้อความที่ {i}", "line_text": f"ข้อความที่ {i}", "send_after": now,
             "next_attempt_at": now, "status": "pending", "attempts": 0, "created_at": now}
            for i, (name, destination) in enumerate(officers)]
    with session_scope(engine) as session:
        session.execute(insert(ContactRow), contacts)
        session.execute(insert(OutboxRow), rows)


def run(database: tuple[Engine, int, int], base: str, now: datetime, count: int, concurrency: int,
        rates: dict[str, float]) -> tuple[float, int]:
    engine, org_id, occurrence_id = database
    queue(engine, org_id, occurrence_id, count, now)
    settings = Settings.from_env({"LINE_CHANNEL_ACCESS_TOKEN": TOKEN, "LINE_API_BASE": base})
    session = requests.Session()
    session.mount("http://", HTTPAdapter(pool_maxsize=max(10, concurrency)))
    before = delivered(base)
    with Notifiers(settings, session) as notifiers:
        started = time.perf_counter()
        result = dispatch.run_once(engine, now, notifiers, "bench", concurrency=concurrency, rate_limits=rates,
                                   batch=max(200, concurrency * 8))
        seconds = time.perf_counter() - started
    session.close()
    assert result.sent == count, result
    assert delivered(base) - before == count
    return seconds, count


def dispatch_benchmarks(args: argparse.Namespace, now: datetime) -> None:
    database = outbox_engine(now)
    with fake_line(args.latency) as base:
        seq_s, seq_n = run(database, base, now, args.sequential, 1, {"line": args.line_rate})
        par_s, par_n = run(database, base, now, args.messages, args.concurrency, {"line": args.line_rate})
        lim_n = int(args.limited_rate * 3)
        lim_s, _ = run(database, base, now, lim_n, args.concurrency, {"line": args.limited_rate})
    database[0].dispose()
    seq_rate, par_rate, lim_rate = seq_n / seq_s, par_n / par_s, lim_n / lim_s
    print(f"dispatch to fake LINE ({args.latency * 1000:.0f} ms per request):")
    print(f"  sequential:  {seq_n:,} messages in {seq_s:.2f} s = {seq_rate:.0f} msg/s")
    print(f"  concurrent ({args.concurrency} threads, limit {args.line_rate:g}/s): {par_n:,} messages in"
          f" {par_s:.2f} s = {par_rate:.0f} msg/s = {par_rate / seq_rate:.1f}× sequential")
    print(f"  rate-limited to {args.limited_rate:g}/s: {lim_n:,} messages in {lim_s:.2f} s = {lim_rate:.0f} msg/s")
