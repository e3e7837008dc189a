"""One suite for every channel in the registry: success, temporary failure, permanent failure, and no
secret in exceptions, reprs or logs. Adding a scheme to NOTIFIERS without a case here fails."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
import requests

from config.settings import Settings
from notifiers.base import (
    DeliveryError,
    Notifier,
    OutgoingMessage,
    idempotency_key,
    mask_secrets,
    parse_retry_after,
)
from notifiers.registry import NOTIFIERS, mask_destination, notifier_for
from tests.fakes.line_server import FakeLineServer
from tests.fakes.plugin import LINE_TOKEN, NOTIFY_TOKEN, SMTP_PASSWORD, WEBHOOK_SECRET, notifier_env
from tests.fakes.smtp_server import SmtpServer
from tests.fakes.webhook_server import FakeWebhookServer

SECRETS = (LINE_TOKEN, NOTIFY_TOKEN, SMTP_PASSWORD, WEBHOOK_SECRET)
USER = "U" + "4f1e2d3c" * 4
MESSAGE = OutgoingMessage(
    key="makha/2566/O11/plan/reminder-1",
    subject="แจ้งเตือน: แผนดำเนินงานประจำปี ครบกำหนด 31 ต.ค. 2565",
    text="เรียน ผู้อำนวยการกองคลัง\nแผนดำเนินงานประจำปี 2566 ครบกำหนดภายในเดือนตุลาคม 2565",
    html="<p>แผนดำเนินงานประจำปี 2566 <b>ครบกำหนด</b></p>",
    line_text="⏰ แผนดำเนินงานประจำปี 2566 ครบกำหนด 31 ต.ค. 65",
)


@dataclass
class World:
    line: FakeLineServer
    smtp: SmtpServer
    webhook: FakeWebhookServer
    https_webhook: FakeWebhookServer
    cert: Path
    tmp_path: Path
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def settings(self) -> Settings:
        env = notifier_env(line=self.line, smtp=self.smtp, outbox_dir=self.tmp_path / "outbox")
        return Settings.from_env(env)


@dataclass(frozen=True)
class Case:
    """How to reach one channel: its destination, and how to make it fail (each returns the
    destination to use)."""

    destination: Callable[[World], str]
    fail_temporarily: Callable[[World], str]
    fail_permanently: Callable[[World], str]
    deliveries: Callable[[World], int]


def _line_fail(
    status: int, body: dict[str, str] | None = None, destination: str = f"line://{USER}"
) -> Callable[[World], str]:
    def arrange(w: World) -> str:
        w.line.fail_next(status, body=body)
        return destination

    return arrange


def _hook_fail(status: int, *, tls: bool) -> Callable[[World], str]:
    def arrange(w: World) -> str:
        hook = w.https_webhook if tls else w.webhook
        hook.fail_next(status)
        return hook.url()

    return arrange


def _smtp_fail(code: int) -> Callable[[World], str]:
    def arrange(w: World) -> str:
        w.smtp.fail(rcpt=code)
        return "mailto:finance@makha.example"

    return arrange


def _outbox_unwritable(w: World) -> str:
    (w.tmp_path / "outbox").mkdir(exist_ok=True)
    (w.tmp_path / "outbox" / "blocked").write_text("a file where the folder should be")
    return "outbox:blocked"


CASES: dict[str, Case] = {
    "line": Case(
        destination=lambda w: f"line://{USER}",
        fail_temporarily=_line_fail(500),
        # A provider that echoes the token back must not get it into our error text.
        fail_permanently=_line_fail(401, {"message": f"Authentication failed for Bearer {LINE_TOKEN}"}),
        deliveries=lambda w: len(w.line.delivered),
    ),
    "line-notify": Case(
        destination=lambda w: "line-notify://NOTIFY_TOKEN_FINANCE",
        fail_temporarily=_line_fail(503, destination="line-notify://NOTIFY_TOKEN_FINANCE"),
        fail_permanently=_line_fail(401, destination="line-notify://NOTIFY_TOKEN_FINANCE"),
        deliveries=lambda w: len(w.line.notify_delivered),
    ),
    "mailto": Case(
        destination=lambda w: "mailto:finance@makha.example",
        fail_temporarily=_smtp_fail(451),
        fail_permanently=_smtp_fail(550),
        deliveries=lambda w: len(w.smtp.messages),
    ),
    "https": Case(
        destination=lambda w: w.https_webhook.url(),
        fail_temporarily=_hook_fail(503, tls=True),
        fail_permanently=_hook_fail(404, tls=True),
        deliveries=lambda w: len(w.https_webhook.received),
    ),
    "http": Case(
        destination=lambda w: w.webhook.url(),
        fail_temporarily=_hook_fail(429, tls=False),
        fail_permanently=_hook_fail(410, tls=False),
        deliveries=lambda w: len(w.webhook.received),
    ),
    "outbox": Case(
        destination=lambda w: "outbox:demo",
        fail_temporarily=_outbox_unwritable,
        fail_permanently=lambda w: "outbox:../outside",
        deliveries=lambda w: len(list((w.tmp_path / "outbox").glob("**/*.eml"))),
    ),
}


@pytest.fixture
def world(
    fake_line: FakeLineServer,
    smtp_server_auth: SmtpServer,
    webhook_server: FakeWebhookServer,
    https_webhook_server: FakeWebhookServer,
    tls_cert: tuple[Path, Path],
    tmp_path: Path,
) -> World:
    w = World(fake_line, smtp_server_auth, webhook_server, https_webhook_server, tls_cert[0], tmp_path)
    w.session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override `verify`
    w.session.verify = str(tls_cert[0])  # trust the test certificate of the https webhook
    return w


@pytest.fixture(params=sorted(NOTIFIERS))
def channel(request: pytest.FixtureRequest, world: World) -> Iterator[tuple[Case, Notifier]]:
    scheme: str = request.param
    assert scheme in CASES, f"scheme {scheme!r} is in NOTIFIERS but has no case in the common suite"
    notifier = notifier_for(f"{scheme}:", world.settings, world.session)
    yield CASES[scheme], notifier
    notifier.close()
    world.session.close()


def test_every_registered_scheme_has_a_case() -> None:
    assert set(CASES) == set(NOTIFIERS)


def test_success_delivers_once_and_returns_a_receipt(channel: tuple[Case, Notifier], world: World) -> None:
    case, notifier = channel
    receipt = notifier.send(case.destination(world), MESSAGE)
    assert case.deliveries(world) == 1
    assert receipt.provider_status in (None, 200, 250)
    assert world.line.validation_failures == []


def test_temporary_failure_is_retryable(channel: tuple[Case, Notifier], world: World) -> None:
    case, notifier = channel
    with pytest.raises(DeliveryError) as caught:
        notifier.send(case.fail_temporarily(world), MESSAGE)
    assert caught.value.permanent is False
    assert caught.value.reason


def test_permanent_failure_disables(channel: tuple[Case, Notifier], world: World) -> None:
    case, notifier = channel
    with pytest.raises(DeliveryError) as caught:
        notifier.send(case.fail_permanently(world), MESSAGE)
    assert caught.value.permanent is True
    assert caught.value.retry_after is None


def test_no_secret_in_errors_reprs_or_logs(
    channel: tuple[Case, Notifier], world: World, caplog: pytest.LogCaptureFixture
) -> None:
    case, notifier = channel
    caplog.set_level(logging.DEBUG)
    seen = [repr(notifier), str(notifier), repr(world.settings)]
    seen.append(repr(notifier.send(case.destination(world), MESSAGE)))
    for arrange in (case.fail_temporarily, case.fail_permanently):
        with pytest.raises(DeliveryError) as caught:
            notifier.send(arrange(world), MESSAGE)
        logging.getLogger("test").exception("delivery failed")  # as a dispatcher would log it
        seen += [str(caught.value), repr(caught.value), caught.value.reason]
    seen.append(caplog.text)
    for secret in SECRETS:
        assert not any(secret in text for text in seen), f"secret leaked into {seen}"


# -- the helpers every channel shares --------------------------------------------------------------


def test_idempotency_key_is_a_stable_uuid_per_notification_key() -> None:
    assert idempotency_key("a") == idempotency_key("a") != idempotency_key("b")
    assert len(idempotency_key("a")) == 36 and idempotency_key("a")[14] == "5"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (f"line://{USER}", "line://U4f1e…2d3c"),
        ("line-notify://NOTIFY_TOKEN_FINANCE", "line-notify://****"),
        ("mailto:somchai@example.org", "mailto:s***@example.org"),
        ("https://hooks.example/services/T000/B000/XXXX?token=abc", "https://hooks.example/****"),
        ("https://user:pw@hooks.example:8443/x", "https://****@hooks.example:8443/****"),
        ("https://hooks.example", "https://hooks.example"),
        ("outbox:?for=line://U4f1e…2d3c", "outbox:?for=line://U4f1e…2d3c"),
        ("no-scheme-here", "****"),
    ],
)
def test_mask_destination_hides_ids_tokens_and_paths(url: str, masked: str) -> None:
    assert mask_destination(url) == masked


def test_mask_secrets_scrubs_every_known_secret() -> None:
    text = f"token {LINE_TOKEN} and {SMTP_PASSWORD}"
    assert mask_secrets(text, [LINE_TOKEN, None, "", SMTP_PASSWORD]) == "token **** and ****"


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2025, 4, 1, 3, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=5), usegmt=True), now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_delivery_error_carries_its_kind() -> None:
    error = DeliveryError("LINE push: HTTP 429", permanent=False, retry_after=3.0, provider_status=429)
    assert (error.permanent, error.retry_after, error.provider_status) == (False, 3.0, 429)
    assert "temporary" in repr(error) and str(error) == "LINE push: HTTP 429"
