"""LINE Messaging API push: `line://<userId|groupId|roomId>`.

Every attempt of one notification carries the same `X-Line-Retry-Key`, so LINE delivers it at most
once within 24 hours; a repeat of an accepted push answers 409, which means "already delivered".
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from config.settings import Secret, Settings
from notifiers.base import (
    CHANNEL,
    DESTINATION,
    DeliveryError,
    Notifier,
    OutgoingMessage,
    Receipt,
    idempotency_key,
)
from notifiers.line_flex import flex_message
from notifiers.masking import mask_id
from tracker.domain.line_webhook import CONNECT_DESTINATION

if TYPE_CHECKING:
    import requests  # only for annotations: see notifiers.base

MAX_TEXT_UTF16 = 5000
ELLIPSIS = "…"
LINE_ID = re.compile(r"[UCR][0-9a-f]{32}")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as LINE counts: characters beyond the BMP (emoji) count twice."""
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


def truncate_utf16(text: str, limit: int = MAX_TEXT_UTF16) -> str:
    """`text` if it fits in `limit` UTF-16 code units, else its longest prefix that fits with "…"."""
    if utf16_len(text) <= limit:
        return text
    budget = limit - utf16_len(ELLIPSIS)
    used = 0
    for index, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > budget:
            return text[:index] + ELLIPSIS
    return text  # unreachable: the text was longer than the limit


def quota_spent(status: int | None, detail: str) -> bool:
    """LINE's answer when the channel's monthly message quota is used up (429 "You have reached your
    monthly limit."), as opposed to a rate limit (429 "Too many requests")."""
    return status == 429 and "monthly limit" in detail.lower()


def parse_line_destination(destination: str) -> str:
    """The user, group or room ID of a `line://` URL; a malformed one is a permanent error."""
    target = destination.removeprefix("line:").removeprefix("//").strip("/")
    if not LINE_ID.fullmatch(target):
        raise DeliveryError(
            f"LINE destination {LineNotifier.mask(destination)} is not a user, group or room ID: "
            "expected line:// followed by U, C or R and 32 lowercase hex digits "
            "(the ID a follow or join webhook event carries)",
            permanent=True,
        )
    return target


class LineNotifier(Notifier):
    """Push a text message through the LINE Messaging API."""

    scheme = "line"

    def __init__(self, settings: Settings, session: requests.Session | None = None) -> None:
        super().__init__(settings, session)
        self._used: set[Secret] = set()  # every channel's token this notifier sent with: scrubbed from reasons

    @classmethod
    def destination_error(cls, url: str) -> str | None:
        if url == CONNECT_DESTINATION or LINE_ID.fullmatch(url.partition(":")[2].removeprefix("//")):
            return None
        return (f"not a LINE destination: write \"{CONNECT_DESTINATION}\" (the person connects with a code from"
                " `tracker line-connect`), or line://<ID> with a user, group or room ID of U, C or R and 32 hex"
                " digits (lowercase), as LINE's webhook reports it")

    @classmethod
    def mask(cls, url: str) -> str:
        return f"line://{mask_id(url.partition(':')[2].removeprefix('//').strip('/'))}"

    @classmethod
    def has_credentials(cls, settings: Settings) -> bool:
        return bool(settings.line_token)

    def _token(self, name: str = "") -> Secret:
        """The token of the channel named (an organisation's own official account), else the global one."""
        name = name or self.settings.line_token_env
        token = self.settings.secret(name)
        if not token:
            raise DeliveryError(
                f"no LINE channel access token: set {name} (or {name}_FILE) to the channel's token",
                permanent=True,
                scope=CHANNEL,
            )
        return token

    def _secrets(self) -> list[str | Secret | None]:
        return [self.settings.line_token, *self._used]

    def _scope_of(self, status: int | None, detail: str) -> str:
        # One provider, one token: unreachable, 401, or a 403 about the token fails every recipient alike.
        # A 400 (invalid user) or another 403 (this recipient blocked the account) is the destination's.
        # A 429 about the monthly limit is the channel's quota, spent for every recipient alike.
        token_refused = status == 401 or (status == 403 and "access token" in detail.lower())
        return CHANNEL if status is None or token_refused or quota_spent(status, detail) else DESTINATION

    def send(self, destination: str, message: OutgoingMessage) -> Receipt:
        to = parse_line_destination(destination)
        token = self._token(message.line_token_env)
        self._used.add(token)
        body = {
            "to": to,
            "messages": [flex_message(message, message.short_text)
                         or {"type": "text", "text": truncate_utf16(message.short_text)}],
            "notificationDisabled": False,
        }
        response = self._request(
            "POST",
            f"{self.settings.line_api_base}/v2/bot/message/push",
            what="LINE push",
            ok=(409,),
            json=body,
            headers={
                "Authorization": f"Bearer {token.reveal()}",
                "X-Line-Retry-Key": idempotency_key(message.key),
            },
        )
        if response.status_code == 409:
            accepted = response.headers.get("x-line-accepted-request-id")
            return Receipt(409, accepted, detail="already accepted earlier with the same retry key")
        return Receipt(response.status_code, _message_id(response))


def _message_id(response: requests.Response) -> str | None:
    """LINE's request ID header, else the first sent message's ID."""
    if response.headers.get("x-line-request-id"):
        return response.headers["x-line-request-id"]
    try:
        body = response.json()
        sent = (body.get("sentMessages") or []) if isinstance(body, dict) else []
    except ValueError:
        return None
    return str(sent[0]["id"]) if sent and isinstance(sent[0], dict) and "id" in sent[0] else None
