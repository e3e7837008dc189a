"""Generic webhook: `https://hooks.example/path` (and `http://` only to 127.0.0.1/localhost, for tests).

The body is JSON `{"key", "subject", "text", "lang"}`. When the secret named by
`WEBHOOK_SIGNING_SECRET` is set, `X-Tracker-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`
lets the receiver check it; `Idempotency-Key` is the same on every attempt of one notification.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from urllib.parse import urlsplit

from config.settings import Secret
from notifiers.base import (
    DeliveryError,
    Notifier,
    OutgoingMessage,
    Receipt,
    idempotency_key,
)

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_SECRET_QUERY = re.compile(r"(token|secret|key|password|sig|signature)=", re.I)
SIGNATURE_HEADER = "X-Tracker-Signature"


def _looks_like_token(segment: str) -> bool:
    """A path segment with a run of 20+ letters and digits mixing upper case, lower case or digits, as
    generated secrets are; words joined by hyphens (`ita-tracker-2566`) are not."""
    return any(len(run) >= 20 and sum(bool(re.search(p, run)) for p in (r"[a-z]", r"[A-Z]", r"\d")) >= 2
               for run in re.split(r"[^A-Za-z0-9]+", segment))


def sign(secret: str, body: bytes) -> str:
    """The signature header value for `body`: `sha256=` + hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """Receiver side: does `header` sign `body` with `secret`? Compared in constant time."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


class WebhookNotifier(Notifier):
    """POST the message as JSON to an HTTPS endpoint."""

    scheme = "https"

    @classmethod
    def destination_error(cls, url: str) -> str | None:
        """Secrets never go in a destination (it is stored and shown): no user and password, no token
        in the query or as a path segment (Slack's `/services/T…/B…/<24 characters>`)."""
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
        except ValueError:
            return "a webhook destination is https://host/path: this URL cannot be read"
        if not parts.hostname:
            return "a webhook destination is https://host/path: the host is missing"
        if parts.username or parts.password:
            return ("a webhook URL must not carry a user name or password (before '@'): the configuration holds no"
                    " secrets; let the receiver check X-Tracker-Signature, signed with WEBHOOK_SIGNING_SECRET")
        if _SECRET_QUERY.search(parts.query):
            return "a webhook URL must not carry a secret in its query: put it in an environment variable"
        for number, segment in enumerate(parts.path.split("/")[1:], start=1):
            if _looks_like_token(segment):
                return (f"path segment {number} of this webhook URL ({len(segment)} characters) looks like a token:"
                        " the configuration must not hold secrets, and a URL that is its own secret (as Slack's"
                        " incoming webhooks are) cannot be used; use a receiver that checks X-Tracker-Signature")
        return None

    def _secrets(self) -> list[str | Secret | None]:
        return [self.settings.secret(self.settings.webhook_secret_env)]

    def send(self, destination: str, message: OutgoingMessage) -> Receipt:
        parts = urlsplit(destination)
        scheme = parts.scheme.lower()
        if not parts.hostname or scheme not in ("https", "http"):
            raise DeliveryError(f"{self.mask(destination)} is not an https:// URL", permanent=True)
        if scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
            raise DeliveryError(
                f"{self.mask(destination)}: webhooks must use https:// "
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
        return Receipt(response.status_code, request_id, detail=f"accepted by {self.mask(destination)}")
