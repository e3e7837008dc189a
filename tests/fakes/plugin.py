"""Pytest fixtures for the fakes at the notifier boundary. Register with
`pytest_plugins = ["tests.fakes.plugin"]` in the root conftest (or import the fixtures by name)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.line_server import FakeLineServer
from tests.fakes.smtp_server import SmtpServer
from tests.fakes.webhook_server import FakeWebhookServer, make_self_signed_cert

LINE_TOKEN = "test-channel-token-7f3a9c"
NOTIFY_TOKEN = "test-notify-token-51be2d"
SMTP_PASSWORD = "smtp-password-c0ffee"
WEBHOOK_SECRET = "webhook-signing-secret-9d1e"


@pytest.fixture
def fake_line() -> Iterator[FakeLineServer]:
    """A started fake LINE Messaging API (and LINE Notify gateway) expecting `LINE_TOKEN`."""
    with FakeLineServer(LINE_TOKEN, notify_token=NOTIFY_TOKEN) as server:
        yield server


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A started SMTP server without AUTH."""
    with SmtpServer() as server:
        yield server


@pytest.fixture
def smtp_server_auth() -> Iterator[SmtpServer]:
    """A started SMTP server that accepts user `tracker` with `SMTP_PASSWORD` only."""
    with SmtpServer(password=SMTP_PASSWORD) as server:
        yield server


@pytest.fixture
def webhook_server() -> Iterator[FakeWebhookServer]:
    """A started plain-HTTP webhook receiver on 127.0.0.1."""
    with FakeWebhookServer() as server:
        yield server


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    made = make_self_signed_cert(tmp_path_factory.mktemp("tls"))
    if made is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    return made


@pytest.fixture
def https_webhook_server(tls_cert: tuple[Path, Path]) -> Iterator[FakeWebhookServer]:
    """A started HTTPS webhook receiver; trust `tls_cert[0]` (e.g. `session.verify = str(cert)`)."""
    with FakeWebhookServer(tls=tls_cert) as server:
        yield server


def notifier_env(
    *,
    line: FakeLineServer | None = None,
    smtp: SmtpServer | None = None,
    outbox_dir: Path | None = None,
    **extra: str,
) -> dict[str, str]:
    """An environment for `Settings.from_env` wired to the given fakes, with every test secret set."""
    env = {
        "LINE_CHANNEL_ACCESS_TOKEN": LINE_TOKEN,
        "NOTIFY_TOKEN_FINANCE": NOTIFY_TOKEN,
        "SMTP_PASSWORD": SMTP_PASSWORD,
        "WEBHOOK_SIGNING_SECRET": WEBHOOK_SECRET,
        "SMTP_FROM": "ita-tracker@makha.example",
        "TRACKER_HTTP_TIMEOUT": "5",
    }
    if line is not None:
        env["LINE_API_BASE"] = line.base_url
        env["LINE_NOTIFY_API_BASE"] = line.base_url
    if smtp is not None:
        env["SMTP_URL"] = smtp.url
    if outbox_dir is not None:
        env["TRACKER_OUTBOX_DIR"] = str(outbox_dir)
    env.update(extra)
    return env
