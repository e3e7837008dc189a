"""Crash trials: real dispatcher processes killed with SIGKILL while they send to LINE, SMTP and webhook
fakes, then restarted; afterwards every message must have arrived, and none twice.

One trial: three organisations (the Makha sample and two copies) with LINE, e-mail and webhook destinations,
the reminders of 21 October 2022 planned; one or two `tracker remind` processes start dispatching, and
one or both are killed once the k-th message has been accepted (k random, 1–4): either exactly then, from
inside the fake server before it answers (the window where a send happened but was not recorded), or at
a random moment 0–0.15 s later, wherever the dispatcher then is. Some trials also inject
faults (LINE 500, LINE accept-then-500, LINE 429 with Retry-After, SMTP 451, webhook 503). Restarts after
the leases expire finish the work. What counts is what the fake servers received:

- LINE: each bundle's retry key accepted once, and each bundle delivered once (the fake answers a repeated
  retry key with 409 and does not deliver it again, as LINE does);
- e-mail: each bundle's Message-ID received; a send repeated after a kill in the window carries the same
  Message-ID (mail clients show it once), counted separately as `resent_same_id`;
- webhook: each bundle's Idempotency-Key received with a 2xx answer (a repeat after a kill carries the same
  key, counted in `resent_same_id` with the e-mails').

`tests/test_crash_suite.py` runs a bounded number of trials in CI; `python -m bench.crash_trials` runs
many more and prints the totals.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from config.loader import load_config
from jobs import plan
from notifiers.base import idempotency_key
from notifiers.email import message_id
from tests.fakes.line_server import FakeLineServer, RecordedRequest
from tests.fakes.plugin import LINE_TOKEN, notifier_env
from tests.fakes.smtp_server import SmtpServer
from tests.fakes.webhook_server import FakeWebhookServer, Received
from tracker.domain.thaidate import BANGKOK
from tracker.store.db import session_scope
from tracker.store.models import OutboxRow
from tracker.store.repo import sync_organisation

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "config" / "orgs" / "makha.toml"
AS_OF = datetime(2022, 10, 21, 9, 0, tzinfo=BANGKOK)
SYNCED_AT = datetime(2022, 10, 1, 8, 0, tzinfo=BANGKOK)
# Restarts after the 5-minute leases have expired, then after the longest backoff a fault can cause.
RESTARTS = (timedelta(minutes=6), timedelta(minutes=20), timedelta(hours=1), timedelta(hours=3))
FINAL = ("sent", "skipped", "cancelled", "dead")
FAULTS = ("line-500", "line-accept-then-500", "line-429", "smtp-451", "webhook-503")


@dataclass
class TrialResult:
    seed: int
    dispatchers: int
    kill: str  # "in-window" or "random" (see `Killer`)
    faults: tuple[str, ...]
    killed: int = 0  # processes that really died of SIGKILL
    rows: Counter[str] = field(default_factory=Counter)  # outbox status -> count
    expected: Counter[str] = field(default_factory=Counter)  # channel -> bundles that must arrive
    arrived: Counter[str] = field(default_factory=Counter)  # channel -> distinct bundles that arrived
    doubled: Counter[str] = field(default_factory=Counter)  # channel -> bundles that arrived more than once
    resent_same_id: int = 0  # e-mails / webhook calls repeated after a kill, with their original ID / key
    errors: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return sum((self.expected - self.arrived).values())


def configuration(folder: Path, webhook_url: str, copies: int = 3) -> list[Path]:
    """Makha and copies ("makha2", …), with the finance officer also on a webhook."""
    text = SAMPLE.read_text(encoding="utf-8").replace(
        '"mailto:finance@makha.example.go.th"', f'"mailto:finance@makha.example.go.th", "{webhook_url}"', 1)
    files = []
    for n in range(1, copies + 1):
        path = folder / f"makha{n}.toml"
        path.write_text(text if n == 1 else text.replace('code = "makha"', f'code = "makha{n}"', 1), encoding="utf-8")
        files.append(path)
    return files


def prepare(engine: Engine, files: list[Path]) -> None:
    loaded = load_config(files)
    assert loaded.ok, loaded.errors
    with session_scope(engine) as session:
        for cfg in loaded.orgs:
            sync_organisation(session, cfg, SYNCED_AT, through_fy=2566)
    with session_scope(engine) as session:
        plan.plan(session, AS_OF)


class Killer:
    """Counts the messages the fake servers accepted and, at the `after`-th, kills the doomed dispatchers:
    with no `delay` from inside the fake server, before it answers (the send happened, its record
    cannot: "in-window"), else `delay` seconds later from a timer, wherever the dispatcher then is
    (recording, renewing a lease, mid-send of the next message: "random")."""

    def __init__(self, after: int, delay: float | None) -> None:
        self.after, self.delay = after, delay
        self.targets: list[subprocess.Popen[str]] = []
        self.others: list[subprocess.Popen[str]] = []  # killed instead when every target has already exited
        self.count = 0  # messages accepted so far, by any fake server
        self._lock = threading.Lock()

    def accepted(self) -> None:
        with self._lock:
            self.count += 1
            if self.count != self.after:
                return
        if self.delay is None:
            self.kill()
        else:
            threading.Timer(self.delay, self.kill).start()

    def kill(self) -> None:
        # The doomed dispatcher may have found nothing to claim and exited (the other took the batch), or be
        # exiting right now, so that the signal finds it gone: then the one still sending dies instead, so
        # that the kill lands where messages are in flight. (A CI run once ended a trial with no dispatcher
        # dead of the signal, most likely so: the trial proved nothing.)
        for group in (self.targets, self.others):
            alive = [p for p in group if p.poll() is None]
            for proc in alive:
                os.kill(proc.pid, signal.SIGKILL)
            if any(_died_of(proc, signal.SIGKILL) for proc in alive):
                return


def _died_of(proc: subprocess.Popen[str], signum: int) -> bool:
    try:
        return proc.wait(timeout=10) == -signum
    except subprocess.TimeoutExpired:
        return False


def wire_faults(line: FakeLineServer, smtp: SmtpServer, webhook: FakeWebhookServer, faults: tuple[str, ...],
                killer: Killer) -> list[str]:
    """Program the faults, and make every accepted message tell `killer`. Returns the list that collects
    the Idempotency-Keys the webhook receiver accepted (answered 2xx)."""
    hook_accepted: list[str] = []
    line_handle, webhook_answer = line.handle, webhook.answer
    smtp_data = smtp.handler.handle_DATA
    state = {"accept_then_500": "line-accept-then-500" in faults, "smtp_451": "smtp-451" in faults}
    if "line-500" in faults:
        line.fail_next(500)
    if "line-429" in faults:
        # The rate limit, not the monthly quota: LINE words them differently, and a spent quota is handled
        # otherwise (e-mail carries what it can, the rest waits for the month).
        line.fail_next(429, retry_after=30, body={"message": "The API rate limit has been exceeded. Try again later."})
    if "webhook-503" in faults:
        webhook.fail_next(503, {"Retry-After": "30"})

    def handle(rec: RecordedRequest, auth: str | None) -> tuple[int, dict[str, str], Any]:
        status, headers, body = line_handle(rec, auth)
        if status == 200 and rec.path == "/v2/bot/message/push":
            killer.accepted()
            if state.pop("accept_then_500", False):
                return 500, {}, {"message": "An error occurred in the backend server."}
        return status, headers, body

    def answer(received: Received) -> tuple[int, dict[str, str]]:
        status, headers = webhook_answer(received)
        if status < 300:
            hook_accepted.append(received.headers.get("idempotency-key", ""))
            killer.accepted()
        return status, headers

    async def handle_data(server: Any, session: Any, envelope: Any) -> str:
        if state.pop("smtp_451", False):
            return "451 4.3.0 Try again later"
        reply = await smtp_data(server, session, envelope)
        if reply.startswith("250"):
            killer.accepted()
        return reply

    line.handle = handle  # type: ignore[method-assign]
    webhook.answer = answer  # type: ignore[method-assign]
    smtp.handler.handle_DATA = handle_data  # type: ignore[method-assign]
    return hook_accepted


def dispatcher(env: dict[str, str], at: datetime, concurrency: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tracker.cli.main", "remind", "--as-of", at.isoformat(),
                             "--concurrency", str(concurrency)], env=env, cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def run_trial(seed: int, engine: Engine, db_url: str, folder: Path) -> TrialResult:
    rng = random.Random(seed)
    result = TrialResult(seed, rng.choice((1, 2)), rng.choice(("random", "in-window")),
                         tuple(f for f in FAULTS if rng.random() < 0.3))
    with (FakeLineServer(LINE_TOKEN, latency_seconds=0.1) as line, SmtpServer(delay=0.1) as smtp,
          FakeWebhookServer() as hook):
        prepare(engine, configuration(folder, hook.url()))
        killer = Killer(rng.randint(1, 4), None if result.kill == "in-window" else rng.uniform(0.0, 0.15))
        hook_accepted = wire_faults(line, smtp, hook, result.faults, killer)
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SMTP_URL", "TRACKER_OUTBOX_DIR")}
        env |= notifier_env(line=line, smtp=smtp) | {"DATABASE_URL": db_url, "TRACKER_DATA_DIR": str(folder)}
        procs = [dispatcher(env, AS_OF, rng.choice((1, 2, 4))) for _ in range(result.dispatchers)]
        doomed = procs if rng.random() < 0.5 else [rng.choice(procs)]
        killer.targets, killer.others = doomed, [p for p in procs if p not in doomed]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            if proc.returncode == -signal.SIGKILL:
                result.killed += 1
            elif proc.returncode != 0:
                result.errors.append(f"dispatcher exited {proc.returncode}: {err.strip()[-500:]}")
        for delay in RESTARTS:
            if _unfinished(engine) == 0:
                break
            restarted = dispatcher(env, AS_OF + delay, 2)
            _, err = restarted.communicate(timeout=120)
            if restarted.returncode != 0:
                result.errors.append(f"restart exited {restarted.returncode}: {err.strip()[-500:]}")
        _tally(result, engine, line, smtp, hook_accepted)
    return result


def _unfinished(engine: Engine) -> int:
    with session_scope(engine) as session:
        return sum(1 for s in session.scalars(select(OutboxRow.status)) if s not in FINAL)


def _tally(result: TrialResult, engine: Engine, line: FakeLineServer, smtp: SmtpServer,
           hook_accepted: list[str]) -> None:
    with session_scope(engine) as session:
        rows = list(session.execute(select(OutboxRow.status, OutboxRow.destination, OutboxRow.key,
                                           OutboxRow.bundle_key)))
    result.rows = Counter(status for status, *_ in rows)
    bundles: dict[str, set[str]] = {"line": set(), "mailto": set(), "https": set()}
    for _, destination, key, bundle_key in rows:
        channel = destination.split(":", 1)[0]
        channel = "https" if channel in ("http", "https") else channel
        bundles[channel].add(bundle_key or key)
    result.expected = Counter({channel: len(keys) for channel, keys in bundles.items()})

    # LINE: the retry keys the fake accepted (it delivers a key once; a repeat gets 409). A bundle that
    # arrived under a key no final bundle has was sent twice under two keys.
    accepted, wanted = set(line.accepted_keys), {idempotency_key(k) for k in bundles["line"]}
    result.arrived["line"], result.doubled["line"] = len(accepted & wanted), len(accepted - wanted)

    mail_ids = Counter(str(m.message["Message-ID"]) for m in smtp.received)
    wanted_mail = {message_id(k) for k in bundles["mailto"]}
    result.arrived["mailto"] = len(set(mail_ids) & wanted_mail)
    result.doubled["mailto"] = len(set(mail_ids) - wanted_mail)  # a second Message-ID for the same bundle
    result.resent_same_id = sum(n - 1 for n in mail_ids.values())

    hook_keys = Counter(hook_accepted)
    wanted_hook = {idempotency_key(k) for k in bundles["https"]}
    result.arrived["https"] = len(set(hook_keys) & wanted_hook)
    result.doubled["https"] = len(set(hook_keys) - wanted_hook)
    result.resent_same_id += sum(n - 1 for n in hook_keys.values())
