"""The explicit list of channels, keyed by destination URL scheme (no directory scanning)."""

from __future__ import annotations

import re
from types import TracebackType
from typing import Self
from urllib.parse import quote

import requests

from config.settings import Settings
from notifiers.base import Notifier, OutgoingMessage, Receipt, mask_destination
from notifiers.email import EmailNotifier
from notifiers.line import LineNotifier
from notifiers.line_notify import LineNotifyNotifier
from notifiers.outbox import OutboxNotifier
from notifiers.webhook import WebhookNotifier
from tracker.domain.errors import TrackerError

NOTIFIERS: dict[str, type[Notifier]] = {
    "line": LineNotifier,
    "line-notify": LineNotifyNotifier,
    "mailto": EmailNotifier,
    "https": WebhookNotifier,
    "http": WebhookNotifier,
    "outbox": OutboxNotifier,
}
SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


class UnknownDestinationError(TrackerError, ValueError):
    """A destination URL names no channel this service can send to."""


def _unknown(url: str, why: str) -> UnknownDestinationError:
    schemes = ", ".join(f"{s}:" for s in NOTIFIERS)
    return UnknownDestinationError(
        f"destination {mask_destination(url)!r} {why}; use one of: {schemes} "
        "(e.g. line://U…, mailto:name@example.org, https://hooks.example/…, outbox:)"
    )


def scheme_of(url: str) -> str:
    """The lower-cased scheme of a destination URL (`line`, `mailto`…); raises if there is none."""
    match = SCHEME.match(url.strip())
    if not match:
        raise _unknown(url, "has no scheme")
    return match.group(1).lower()


def notifier_for(url: str, settings: Settings, session: requests.Session | None = None) -> Notifier:
    """A new notifier for the channel of `url`; the caller closes it."""
    scheme = scheme_of(url)
    try:
        cls = NOTIFIERS[scheme]
    except KeyError:
        raise _unknown(url, f"has the unknown scheme {scheme!r}") from None
    return cls(settings, session)


def route_to_outbox(url: str, settings: Settings) -> str:
    """`outbox:?for=<masked url>` when the channel of `url` has no credentials on this machine
    (no LINE token for line://, no SMTP_URL for mailto:), so a demo writes what would have been
    sent; otherwise `url` unchanged."""
    scheme = scheme_of(url)
    missing = (scheme == "line" and not settings.line_token) or (scheme == "mailto" and not settings.smtp_url)
    return f"outbox:?for={quote(mask_destination(url), safe=':/@*')}" if missing else url


class Notifiers:
    """One notifier per scheme, created on first use and closed together.

    `with Notifiers(settings) as notifiers: notifiers.send(destination, message)`. A session passed
    in is shared by every notifier and stays the caller's; otherwise this object owns one and closes it.
    """

    def __init__(self, settings: Settings, session: requests.Session | None = None) -> None:
        self.settings = settings
        self._owns_session = session is None
        self.session = session if session is not None else requests.Session()
        self._instances: dict[str, Notifier] = {}

    def for_url(self, url: str) -> Notifier:
        scheme = scheme_of(url)
        if scheme not in self._instances:
            self._instances[scheme] = notifier_for(url, self.settings, self.session)
        return self._instances[scheme]

    def send(self, destination: str, message: OutgoingMessage) -> Receipt:
        return self.for_url(destination).send(destination, message)

    def close(self) -> None:
        for notifier in self._instances.values():
            notifier.close()
        self._instances.clear()
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
