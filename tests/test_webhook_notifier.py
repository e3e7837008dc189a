"""Webhooks: signed JSON with an idempotency key, https (plain http only to loopback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from config.settings import Settings
from notifiers.base import DeliveryError, OutgoingMessage, idempotency_key
from notifiers.webhook import SIGNATURE_HEADER, WebhookNotifier, sign, verify
from tests.fakes.plugin import WEBHOOK_SECRET, notifier_env
from tests.fakes.webhook_server import FakeWebhookServer

MESSAGE = OutgoingMessage(key="makha/2566/O21/monthly/2023-04", subject="สรุปผลจัดซื้อจัดจ้าง", text="ครบกำหนด")


def test_body_is_signed_and_the_signature_verifies(webhook_server: FakeWebhookServer) -> None:
    receipt = WebhookNotifier(Settings.from_env(notifier_env())).send(webhook_server.url(), MESSAGE)

    (received,) = webhook_server.received
    assert json.loads(received.body) == {
        "key": MESSAGE.key,
        "subject": MESSAGE.subject,
        "text": "ครบกำหนด",
        "lang": "th",
    }
    signature = received.headers[SIGNATURE_HEADER.lower()]
    assert verify(WEBHOOK_SECRET, received.body, signature)
    assert not verify("another secret", received.body, signature)
    assert not verify(WEBHOOK_SECRET, received.body + b" ", signature)
    assert received.headers["idempotency-key"] == idempotency_key(MESSAGE.key)
    assert received.headers["content-type"].startswith("application/json")
    assert receipt.provider_status == 200 and receipt.provider_message_id == "req-1"


def test_retries_carry_the_same_idempotency_key_and_body(webhook_server: FakeWebhookServer) -> None:
    notifier = WebhookNotifier(Settings.from_env(notifier_env()))
    webhook_server.fail_next(502)
    with pytest.raises(DeliveryError):
        notifier.send(webhook_server.url(), MESSAGE)
    notifier.send(webhook_server.url(), MESSAGE)
    first, second = webhook_server.received
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert first.body == second.body


def test_without_a_secret_the_body_is_sent_unsigned(webhook_server: FakeWebhookServer) -> None:
    env = notifier_env()
    del env["WEBHOOK_SIGNING_SECRET"]
    WebhookNotifier(Settings.from_env(env)).send(webhook_server.url(), MESSAGE)
    assert SIGNATURE_HEADER.lower() not in webhook_server.received[0].headers


def test_retry_after_is_surfaced(webhook_server: FakeWebhookServer) -> None:
    webhook_server.fail_next(429, {"Retry-After": "12"})
    with pytest.raises(DeliveryError) as caught:
        WebhookNotifier(Settings.from_env(notifier_env())).send(webhook_server.url(), MESSAGE)
    assert (caught.value.permanent, caught.value.retry_after) == (False, 12.0)


@pytest.mark.parametrize("url", ["http://hooks.example/x", "http://10.0.0.5/x", "ftp://hooks.example/x", "https:///x"])
def test_plain_http_only_to_loopback(url: str) -> None:
    with pytest.raises(DeliveryError) as caught:
        WebhookNotifier(Settings()).send(url, MESSAGE)
    assert caught.value.permanent


def test_https_with_a_trusted_certificate(
    https_webhook_server: FakeWebhookServer,
    tls_cert: tuple[Path, Path],
) -> None:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(tls_cert[0])
    with WebhookNotifier(Settings.from_env(notifier_env()), session) as notifier:
        notifier.send(https_webhook_server.url(), MESSAGE)
    assert len(https_webhook_server.received) == 1
    session.close()


def test_an_untrusted_certificate_is_not_accepted(https_webhook_server: FakeWebhookServer) -> None:
    session = requests.Session()
    session.trust_env = False
    with WebhookNotifier(Settings.from_env(notifier_env()), session) as notifier, pytest.raises(DeliveryError):
        notifier.send(https_webhook_server.url(), MESSAGE)
    assert https_webhook_server.received == []
    session.close()


def test_sign_matches_a_known_vector() -> None:
    # HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), a published test vector
    expected = "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    assert sign("key", b"The quick brown fox jumps over the lazy dog") == f"sha256={expected}"
