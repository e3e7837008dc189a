"""What every channel shares: the message and receipt value objects, typed delivery failures,
one HTTP helper that maps provider answers onto temporary/permanent errors, and secret masking.

A notifier's contract: `send(destination, message)` returns a `Receipt` or raises `DeliveryError`.
It never returns a bare failure flag and never lets a secret reach an exception, a repr or a log.
"""

from __future__ import annotations

import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from config.settings import Secret, Settings
from notifiers.masking import mask_secrets as mask_secrets  # re-exported
from notifiers.masking import mask_url
from tracker.domain.errors import TrackerError
from tracker.messages.outgoing import OutgoingMessage as OutgoingMessage  # re-exported

if TYPE_CHECKING:  # imported where a request is made: `tracker check` starts without it (test_cli_startup)
    import requests

# Fixed namespace so that the same notification key yields the same provider key in every process.
KEY_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://ita-tracker.invalid/notifications")


@dataclass(frozen=True)
class Receipt:
    """What the provider answered when it accepted a message."""

    provider_status: int | None
    provider_message_id: str | None
    detail: str = ""


DESTINATION, CHANNEL = "destination", "channel"  # DeliveryError.scope


class DeliveryError(TrackerError):
    """A message was not delivered. `permanent` errors disable the destination; temporary ones
    are retried (not before `retry_after` seconds when the provider said so). `scope` says what failed:
    the destination alone, or the whole channel (a refused credential, an unreachable provider), which
    pauses the channel instead of condemning each destination. The reason never contains a secret."""

    def __init__(self, reason: str, *, permanent: bool, retry_after: float | None = None,
                 provider_status: int | None = None, scope: str = DESTINATION) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
        self.provider_status = provider_status
        self.scope = scope

    def __repr__(self) -> str:
        kind = "permanent" if self.permanent else "temporary"
        return f"DeliveryError({self.reason!r}, {kind}, status={self.provider_status})"


def idempotency_key(message_key: str) -> str:
    """A UUID derived deterministically from a notification key (LINE retry key, Idempotency-Key)."""
    return str(uuid.uuid5(KEY_NAMESPACE, message_key))


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """`Retry-After` as seconds from `now`: either delay-seconds or an HTTP-date; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _provider_message(response: requests.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return response.text[:200].strip()
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])[:200]
    return ""


class Notifier(ABC):
    """One channel. Subclasses set `scheme` and implement `send`; HTTP goes through `_request`. What
    the channel knows about its destinations (which it accepts, how to mask one) and its credentials
    are class methods, so that `tracker check` and masking ask the registry, not lists of their own."""

    scheme: ClassVar[str]

    @classmethod
    def destination_error(cls, url: str) -> str | None:
        """Why `url` cannot be a destination of this channel, or None. Never repeats the URL."""
        return None

    @classmethod
    def destination_warning(cls, url: str) -> str | None:
        return None  # something worth telling an admin about a valid destination

    @classmethod
    def mask(cls, url: str) -> str:
        return mask_url(url)  # `url` safe to print

    @classmethod
    def has_credentials(cls, settings: Settings) -> bool:
        return True  # else `route_to_outbox` writes its messages to the outbox folder

    def __init__(self, settings: Settings, session: requests.Session | None = None) -> None:
        self.settings = settings
        self._session = session
        self._owns_session = session is None

    @abstractmethod
    def send(self, destination: str, message: OutgoingMessage) -> Receipt:
        """Deliver `message` to `destination` or raise `DeliveryError`."""

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            import requests

            self._session = requests.Session()
            self._session.headers["User-Agent"] = "ita-tracker/0.1"
        return self._session

    def close(self) -> None:
        """Close the HTTP session if this notifier created it (a caller-provided one is the caller's)."""
        if self._owns_session and self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(scheme={self.scheme!r})"

    def _secrets(self) -> list[str | Secret | None]:
        """Secrets this notifier may hold; scrubbed from any provider text put in a reason."""
        return []

    def _scope_of(self, status: int | None, detail: str) -> str:
        """Whose failure (`status` None: unreachable) it is; single-provider channels override this."""
        return DESTINATION

    def _request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        ok: Iterable[int] = (),
        secrets: Iterable[str | Secret | None] = (),
        **kwargs: Any,
    ) -> requests.Response:
        """Send one HTTP request; return the response if 2xx (or listed in `ok`), else raise
        `DeliveryError`: 429, 5xx, 408, timeouts and connection errors are temporary, other 4xx
        permanent. `what` names the channel in the reason; the URL in a reason is always masked."""
        import requests

        try:
            response = self.session.request(method, url, timeout=self.settings.http_timeout_seconds, **kwargs)
        except requests.Timeout:
            raise DeliveryError(
                f"{what}: no answer from {mask_url(url)} within {self.settings.http_timeout_seconds:g}s",
                permanent=False,
            ) from None
        except requests.RequestException as exc:
            raise DeliveryError(f"{what}: could not reach {mask_url(url)} ({type(exc).__name__})", permanent=False,
                                scope=self._scope_of(None, "")) from None
        status = response.status_code
        if 200 <= status < 300 or status in set(ok):
            return response
        detail = _provider_message(response)
        detail = mask_secrets(detail, [*self._secrets(), *secrets])
        reason = f"{what}: HTTP {status} from {mask_url(url)}" + (f": {detail}" if detail else "")
        temporary = status in (408, 429) or status >= 500
        retry_after = parse_retry_after(response.headers.get("Retry-After"), datetime.now(UTC))
        raise DeliveryError(reason, permanent=not temporary, retry_after=retry_after if temporary else None,
                            provider_status=status, scope=self._scope_of(status, detail))
