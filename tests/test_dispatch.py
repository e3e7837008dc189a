"""Dispatch against the fake LINE server and a real SMTP server: leases, retries, dead letters, alerts."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from datetime import timedelta
from email.header import decode_header, make_header
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from config.loader import LoadResult
from config.settings import Settings
from jobs import dispatch, plan
from jobs.ratelimit import RateLimiter
from notifiers.base import DeliveryError, idempotency_key
from notifiers.registry import Notifiers
from tests.fakes.line_schema import validator
from tests.fakes.line_server import FakeLineServer
from tests.fakes.plugin import fake_line, notifier_env, smtp_server  # noqa: F401
from tests.fakes.smtp_server import SmtpServer
from tests.fixtures_reminders import AS_OF, RecordingSender, attempts, bkk, outbox, sync_sample
from tracker.cli.common import Context
from tracker.cli.main import main
from tracker.store import outbox_claims
from tracker.store.db import session_scope
from tracker.store.models import DestinationHealthRow, OutboxRow

LINE_USER = "line://U0123456789abcdef0123456789abcdef"


@pytest.fixture
def settings(fake_line: FakeLineServer, smtp_server: SmtpServer, tmp_path: Path) -> Settings:  # noqa: F811
    # The fake compiles the OpenAPI schema on its first request; concurrent first requests would each
    # parse the YAML for seconds and time out, so compile it before the clock matters.
    validator("PushMessageRequest")
    return Settings.from_env(notifier_env(line=fake_line, smtp=smtp_server, outbox_dir=tmp_path / "outbox"))


@pytest.fixture
def notifiers(settings: Settings) -> Iterator[Notifiers]:
    with Notifiers(settings) as n:
        yield n


def planned(engine: Engine, sample: LoadResult) -> list[OutboxRow]:
    sync_sample(engine, sample)
    with session_scope(engine) as session:
        plan.plan(session, AS_OF, "makha")
    return outbox(engine)


def send(engine: Engine, notifiers: dispatch.Sender, at: object = AS_OF, **kw: object) -> dispatch.DispatchResult:
    return dispatch.run_once(engine, at, notifiers, "test-owner", rng=random.Random(7), **kw)  # type: ignore[arg-type]


def test_every_message_is_sent_once_over_line_and_email(engine: Engine, sample: LoadResult, notifiers: Notifiers,
                                                        fake_line: FakeLineServer,  # noqa: F811
                                                        smtp_server: SmtpServer) -> None:  # noqa: F811
    rows = planned(engine, sample)
    line_rows = [r for r in rows if r.destination.startswith("line://")]
    mail_channels = {(r.recipient, r.destination) for r in rows if r.destination.startswith("mailto:")}
    result = send(engine, notifiers)
    assert result.statuses["sent"] == len(rows) == 13
    # one message per person and channel: the officer's six LINE reminders go out as one push
    assert len(line_rows) == 6 and len(fake_line.delivered) == 1
    assert fake_line.validation_failures == []
    sent = outbox(engine)
    bundle = {r.bundle_key for r in sent if r.destination.startswith("line://")}
    assert len(bundle) == 1 and {p.headers["x-line-retry-key"] for p in fake_line.pushes()} == {
        idempotency_key(bundle.pop() or "")}
    assert all(title in fake_line.delivered[0][1] for title in ("O10-1", "M03-1"))
    assert len(smtp_server.messages) == len(mail_channels) < len(rows) - len(line_rows)
    subjects = [str(make_header(decode_header(m["Subject"]))) for m in smtp_server.messages]
    assert all("[เตือนล่วงหน้า]" in s for s in subjects) and any(s.startswith("[แจ้งเตือน ") for s in subjects)
    assert all(r.status == "sent" and r.text and r.sent_at for r in sent)
    assert [a.outcome for a in attempts(engine, sent[0].id)] == ["sent"]
    assert send(engine, notifiers, bkk(2022, 10, 21, 10, 0)).claimed == 0


def test_server_error_is_retried_later_with_the_same_retry_key(sqlite_engine: Engine, sample: LoadResult,
                                                               notifiers: Notifiers,
                                                               fake_line: FakeLineServer) -> None:  # noqa: F811
    planned(sqlite_engine, sample)
    fake_line.fail_next(500)
    first = send(sqlite_engine, notifiers, concurrency=1)
    assert first.statuses["pending"] == 6  # the officer's LINE bundle: six reminders in one push
    pending = outbox(sqlite_engine, status="pending")
    waiting = pending[0]
    assert len({r.bundle_key for r in pending}) == 1
    assert waiting.next_attempt_at > AS_OF and waiting.last_error and "HTTP 500" in waiting.last_error
    assert send(sqlite_engine, notifiers, AS_OF + timedelta(seconds=20)).claimed == 0  # backoff not over yet
    assert send(sqlite_engine, notifiers, bkk(2022, 10, 21, 11, 0)).statuses["sent"] == 6
    retry_keys = [p.headers["x-line-retry-key"] for p in fake_line.pushes() if p.status in (500, 200)]
    assert retry_keys.count(idempotency_key(waiting.bundle_key or "")) == 2
    assert [a.outcome for a in attempts(sqlite_engine, waiting.id)] == ["temporary", "sent"]


def test_rate_limited_push_waits_for_retry_after(sqlite_engine: Engine, sample: LoadResult, notifiers: Notifiers,
                                                 fake_line: FakeLineServer) -> None:  # noqa: F811
    planned(sqlite_engine, sample)
    fake_line.fail_next(429, retry_after=7200)
    send(sqlite_engine, notifiers, concurrency=1)
    waiting = outbox(sqlite_engine, status="pending")[0]
    assert waiting.next_attempt_at >= AS_OF + timedelta(seconds=7200)
    assert attempts(sqlite_engine, waiting.id)[0].provider_status == 429


def test_a_repeat_after_a_lost_record_is_a_409_and_counts_as_delivered(
        sqlite_engine: Engine, sample: LoadResult, notifiers: Notifiers,
        fake_line: FakeLineServer) -> None:  # noqa: F811
    planned(sqlite_engine, sample)
    send(sqlite_engine, notifiers)
    delivered = len(fake_line.delivered)
    with session_scope(sqlite_engine) as session:  # as if the dispatcher had died before recording
        session.execute(update(OutboxRow).values(status="pending"))
    again = send(sqlite_engine, notifiers, bkk(2022, 10, 21, 9, 30))
    assert again.statuses["sent"] == 13
    assert len(fake_line.delivered) == delivered
    assert any(p.status == 409 for p in fake_line.pushes())


def test_an_invalid_line_user_marks_that_destination_broken_and_alerts_the_admins(
        sqlite_engine: Engine, sample: LoadResult, fake_line: FakeLineServer,  # noqa: F811
        smtp_server: SmtpServer, notifiers: Notifiers) -> None:  # noqa: F811
    # A 400 "invalid user" is about this recipient alone (a refused token pauses the whole channel
    # instead: tests/test_dispatch_faults.py).
    planned(sqlite_engine, sample)
    fake_line.fail_next(400, body={"message": "The property, 'to', in the request body is invalid"})
    result = send(sqlite_engine, notifiers)
    assert result.statuses["failed"] == 6  # the officer's LINE account: one bundle of six reminders
    with session_scope(sqlite_engine) as session:
        broken = session.scalars(select(DestinationHealthRow)).all()
    assert [b.url for b in broken] == [LINE_USER] and "400" in broken[0].reason
    alerts = outbox(sqlite_engine, kind="alert")
    assert [a.destination for a in alerts] == ["mailto:admin@makha.example.go.th"]
    assert alerts[0].status == "sent"  # queued and sent in the same run
    assert any("ส่งแจ้งเตือนไม่สำเร็จ" in str(make_header(decode_header(m["Subject"]))) for m in smtp_server.messages)


def test_messages_to_a_broken_destination_are_set_aside(sqlite_engine: Engine, sample: LoadResult) -> None:
    planned(sqlite_engine, sample)
    sender = RecordingSender()
    sender.fail[LINE_USER] = DeliveryError("LINE push: HTTP 403", permanent=True, provider_status=403)
    send(sqlite_engine, sender, concurrency=1, batch=1)
    failed = outbox(sqlite_engine, status="failed")
    assert len(failed) == 6 and len({r.bundle_key for r in failed}) == 1  # one push failed: its bundle
    later = bkk(2022, 10, 28, 9, 0)
    with session_scope(sqlite_engine) as session:
        plan.plan(session, later, "makha")
    send(sqlite_engine, sender, later, concurrency=1)
    skipped = outbox(sqlite_engine, status="skipped")
    assert skipped and all(r.destination == LINE_USER and "destination broken" in (r.skip_reason or "")
                           for r in skipped)
    assert len(outbox(sqlite_engine, status="failed")) == 6  # the destination is known broken: no new try


def test_dead_letter_after_the_last_attempt_then_retry_from_the_cli(sqlite_engine: Engine, sample: LoadResult,
                                                                    tmp_path: Path) -> None:
    planned(sqlite_engine, sample)
    sender = RecordingSender()
    sender.fail[LINE_USER] = DeliveryError("LINE push: no answer", permanent=False)
    send(sqlite_engine, sender, max_attempts=2)
    send(sqlite_engine, sender, bkk(2022, 10, 21, 16, 0), max_attempts=2)
    dead = outbox(sqlite_engine, status="dead")
    assert len(dead) == 6 and all(r.attempts == 2 for r in dead)
    out = io.StringIO()
    ctx = Context(Settings.from_env({"DATABASE_URL": sqlite_engine.url.render_as_string(hide_password=False)}), out=out)
    assert main(["outbox", "retry", str(dead[0].id)], ctx) == 0
    assert main(["outbox", "retry", str(outbox(sqlite_engine, status="sent")[0].id)], ctx) == 2  # never twice
    del sender.fail[LINE_USER]
    assert send(sqlite_engine, sender, bkk(2022, 10, 24 + 1, 9, 0)).statuses["sent"] == 1


def test_nothing_is_sent_outside_sending_hours(sqlite_engine: Engine, sample: LoadResult) -> None:
    planned(sqlite_engine, sample)
    sender = RecordingSender()
    assert send(sqlite_engine, sender, bkk(2022, 10, 21, 16, 45)).claimed == 0
    assert send(sqlite_engine, sender, bkk(2022, 10, 22, 10, 0)).claimed == 0  # Saturday
    assert sender.sent == []


def test_a_live_lease_is_respected_and_an_expired_one_reclaimed(engine: Engine, sample: LoadResult) -> None:
    planned(engine, sample)
    with session_scope(engine) as session:
        assert len(outbox_claims.claim(session, "crashed-owner", AS_OF, 300, 100)) == 13
    sender = RecordingSender()
    assert send(engine, sender, AS_OF + timedelta(seconds=60)).claimed == 0
    assert send(engine, sender, AS_OF + timedelta(seconds=301)).statuses["sent"] == 13
    assert all(r.attempts == 2 for r in outbox(engine))


def test_rate_limiter_spaces_requests() -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(10, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        limiter.acquire()
    assert now[0] == pytest.approx(0.4)  # 5 requests at 10/s: the 5th goes 0.4 s after the 1st


def test_dispatch_honours_a_channel_rate_limit(sqlite_engine: Engine, sample: LoadResult) -> None:
    planned(sqlite_engine, sample)
    sender = RecordingSender()
    import time

    mails = len({(r.recipient, r.destination) for r in outbox(sqlite_engine) if r.destination.startswith("mailto:")})
    started = time.monotonic()
    send(sqlite_engine, sender, rate_limits={"line": 4, "mailto": 4})
    assert mails >= 2 and time.monotonic() - started >= (mails - 1) / 4  # n messages at 4/s take ≥ (n-1)/4 s
    assert len(sender.sent) == mails + 1  # and one LINE bundle


def test_a_stop_request_finishes_the_batch_in_flight_and_claims_no_more(sqlite_engine: Engine,
                                                                         sample: LoadResult) -> None:
    planned(sqlite_engine, sample)
    sender = RecordingSender()
    batches: list[int] = []

    def stop_after_first_batch() -> bool:
        batches.append(len(sender.sent))
        return len(batches) > 1

    result = send(sqlite_engine, sender, batch=2, should_stop=stop_after_first_batch)
    # the batch is widened to whole bundles (a person's reminders for the channel), and no further
    assert result.claimed == result.statuses["sent"] < 13 and len(sender.sent) <= 2
    rows = outbox(sqlite_engine)
    assert sorted(r.status for r in rows).count("pending") == 13 - result.claimed
    assert not any(r.status == "leased" for r in rows)
    assert send(sqlite_engine, sender).statuses["sent"] == 13 - result.claimed  # the rest goes on the next run
