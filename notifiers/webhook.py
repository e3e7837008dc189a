"""Generic webhook: `https://hooks.example/path` (and `http://` only to 127.0.0.1/localhost, for tests).

The body is JSON `{"key", "subject", "text", "lang"}`. When the secret named by
`WEBHOOK_SIGNING_SECRET` is set, `X-Tracker-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`
lets the receiver check it; `Idempotency-Key` is the same on every attempt of one notification.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import urlsplit

from config.settings import Secret
from notifiers.base import (
    DeliveryError,
    Notifier,
    OutgoingMessage,
    Receipt,
    idempotency_key,
    mask_destination,
)

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
SIGNATURE_HEADER = "X-Tracker-Signature"


def sign(secret: str, body: bytes) -> str:
    """The signature header value for `body`: `sha256=` + hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """Receiver side: does `header` sign `body` with `secret`? Compared in constant time."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


class WebhookNotifier(Notifier):
    """POST the message as JSON to an HTTPS endpoint."""

    scheme = "https"

    def _secrets(self) -> list[str | Secret | None]:
        return [self.settings.secret(self.settings.webhook_secret_env)]

    def send(self, destination: str, message: OutgoingMessage) -> Receipt:
        parts = urlsplit(destination)
        scheme = parts.scheme.lower()
        if not parts.hostname or scheme not in ("https", "http"):
            raise DeliveryError(f"{mask_destination(destination)} is not an https:// URL", permanent=True)
        if scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
            raise DeliveryError(
                f"{mask_destination(destination)}: webhooks must use https:// "
                "(plain http:// is allowed only to 127.0.0.1 or localhost)",
                permanent=True,
            )
        body = json.dumps(
            {"key": message.key, "subject": message.subject, "text": message.text, "lang": message.lang},
            ensure_ascii=False,
        ).encode("utf-8")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": idempotency_key(message.key),
        }
        secret = self.settings.secret(self.settings.webhook_secret_env)
        if secret:
            headers[SIGNATURE_HEADER] = sign(secret.reveal(), body)
        response = self._request("POST", destination, what="webhook", data=body, headers=headers)
        request_id = response.headers.get("X-Request-Id")
        return Receipt(response.status_code, request_id, detail=f"accepted by {mask_destination(destination)}")
