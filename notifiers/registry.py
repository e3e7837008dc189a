"""The explicit list of channels, keyed by destination URL scheme (no directory scanning).

Adding a channel is one module (a `Notifier` that says which destinations it accepts, how to mask one
and whether its credentials are present) and one line in `NOTIFIERS`: the configuration check
(`destination_error`), masking (`mask_destination`) and routing (`route_to_outbox`) ask the channel.
"""

from __future__ import annotations

import re
from types import TracebackType
from typing import TYPE_CHECKING, Self
from urllib.parse import quote

from config.settings import Settings
from notifiers.base import Notifier, OutgoingMessage, Receipt
from notifiers.email import EmailNotifier
from notifiers.line import LineNotifier
from notifiers.line_notify import LineNotifyNotifier
from notifiers.masking import MASK, mask_url
from notifiers.outbox import OutboxNotifier
from notifiers.webhook import WebhookNotifier
from tracker.domain.errors import TrackerError

if TYPE_CHECKING:
    import requests  # imported when a session is made: see notifiers.base

NOTIFIERS: dict[str, type[Notifier]] = {
    "line": LineNotifier,
    "line-notify": LineNotifyNotifier,
    "mailto": EmailNotifier,
    "https": WebhookNotifier,
    "http": WebhookNotifier,
    "outbox": OutboxNotifier,
}
SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


def mask_destination(url: str) -> str:
    """A destination URL safe to print, masked by its channel (IDs shortened, tokens, paths and query
    strings hidden); an unknown scheme gets the generic URL masking."""
    scheme, colon, _ = url.partition(":")
    if not colon:
        return MASK
    channel = NOTIFIERS.get(scheme.lower())
    return channel.mask(url) if channel is not None else mask_url(url)


def destination_error(url: str) -> str | None:
    """Why `url` cannot be a destination, or None: checked the same way in the admins' files
    (`tracker check`) and on the command line (`tracker send-test`). Never repeats the URL."""
    scheme = url.partition(":")[0]
    channel = NOTIFIERS.get(scheme)
    if channel is None:
        return (f"destination '{scheme[:20]}:…' has an unknown scheme: use one of "
                + ", ".join(f"{s}:" for s in NOTIFIERS))
    return channel.destination_error(url)


def destination_warning(url: str) -> str | None:
    """Something worth telling an admin about a valid destination (e.g. a channel that has ended), or None."""
    channel = NOTIFIERS.get(url.partition(":")[0])
    return channel.destination_warning(url) if channel is not None else None


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
    channel = NOTIFIERS.get(scheme_of(url))
    missing = channel is not None and not channel.has_credentials(settings)
    return f"outbox:?for={quote(mask_destination(url), safe=':/@*')}" if missing else url


class Notifiers:
    """One notifier per scheme, created on first use and closed together.

    `with Notifiers(settings) as notifiers: notifiers.send(destination, message)`. A session passed
    in is shared by every notifier and stays the caller's; otherwise this object owns one and closes it.
    """

    def __init__(self, settings: Settings, session: requests.Session | None = None) -> None:
        self.settings = settings
        self._owns_session = session is None
        if session is None:
            import requests

            session = requests.Session()
        self.session = session
        self._instances: dict[str, Notifier] = {}

    def for_url(self, url: str) -> Notifier:
        scheme = scheme_of(url)
        if scheme not in self._instances:
            self._instances[scheme] = notifier_for(url, self.settings, self.session)
        return self._instances[scheme]

    def send(self, destination: str, message: OutgoingMessage) -> Receipt:
        return self.for_url(destination).send(destination, message)

    def line_quota(self, token_env: str) -> tuple[int | None, int]:
        """The monthly quota (None: no limit) and this month's consumption of the LINE channel whose
        token `token_env` names; raises DeliveryError when LINE cannot say."""
        from notifiers.line_api import LineApi

        return LineApi(self.settings, session=self.session, token_env=token_env).quota()

    def line_members(self, token_env: str, chat: str) -> int:
        """How many people a push to LINE chat `chat` reaches (what it costs of the monthly quota);
        raises DeliveryError when LINE cannot say."""
        from notifiers.line_api import LineApi

        return LineApi(self.settings, session=self.session, token_env=token_env).members(chat)

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
