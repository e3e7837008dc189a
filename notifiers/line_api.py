"""The LINE Messaging API calls that are not a push: replies to webhook events, the bot's own
profile (its basic ID makes the add-friend link), the monthly quota and consumption, and a group's size
(what a push to it costs).

Not a channel of the registry (it has no destination scheme): the webhook and the dispatcher use it
directly. Errors are `DeliveryError`s like every channel's, with the token never in a reason.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import requests

from config.settings import Secret, Settings
from notifiers.base import DeliveryError, mask_secrets
from notifiers.line import truncate_utf16

MAX_REPLY_MESSAGES = 5


class LineApi:
    """One channel's API (the token given, else the one `token_env` names, else the global one). The
    caller closes it."""

    def __init__(self, settings: Settings, token: Secret | None = None,
                 session: requests.Session | None = None, *, basic_id: str | None = None,
                 token_env: str | None = None) -> None:
        self.settings = settings
        self.token_env = token_env or settings.line_token_env  # named in errors: the variable to set
        # A channel named by its variable has that token or none: never another channel's.
        self.token = token if token is not None else settings.secret(self.token_env)
        self.basic_id = basic_id
        self._owns_session = session is None
        self.session = session or requests.Session()

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        if not self.token:
            raise DeliveryError(f"{what}: no LINE channel access token: set {self.token_env}",
                                permanent=True)
        headers = {"Authorization": f"Bearer {self.token.reveal()}"}
        try:
            response = self.session.request(method, f"{self.settings.line_api_base}{path}", headers=headers,
                                            timeout=self.settings.http_timeout_seconds, **kwargs)
        except requests.RequestException as exc:
            raise DeliveryError(f"{what}: LINE did not answer ({type(exc).__name__})", permanent=False) from None
        if not 200 <= response.status_code < 300:
            detail = mask_secrets(response.text[:200], [self.token])
            raise DeliveryError(f"{what}: HTTP {response.status_code}: {detail}",
                                permanent=response.status_code < 500 and response.status_code != 429,
                                provider_status=response.status_code)
        return response.json() if response.content else {}

    def reply(self, reply_token: str, texts: list[str]) -> None:
        """Answer a webhook event with up to five text messages (a reply costs no quota)."""
        messages = [{"type": "text", "text": truncate_utf16(t)} for t in texts[:MAX_REPLY_MESSAGES]]
        self._call("POST", "/v2/bot/message/reply", "LINE reply",
                   json={"replyToken": reply_token, "messages": messages})

    def reply_messages(self, reply_token: str, messages: list[dict[str, Any]]) -> None:
        """Answer with ready-made message objects (Flex or text)."""
        self._call("POST", "/v2/bot/message/reply", "LINE reply",
                   json={"replyToken": reply_token, "messages": messages[:MAX_REPLY_MESSAGES]})

    def add_friend_url(self) -> str:
        """`https://line.me/R/ti/p/<basic ID>`: the basic ID given (an organisation's file, or
        `LINE_BOT_BASIC_ID` for the global channel) when set, else asked of LINE."""
        basic_id = self.basic_id or str(
            self._call("GET", "/v2/bot/info", "LINE bot info").get("basicId", ""))
        if not basic_id:
            raise DeliveryError("LINE bot info carries no basicId: set LINE_BOT_BASIC_ID (e.g. @123abcde)",
                                permanent=True)
        return f"https://line.me/R/ti/p/{quote(basic_id, safe='')}"

    def members(self, chat: str) -> int:
        """How many people a group (C…) or room (R…) holds, the account not counted: LINE counts a push
        to it once per member against the monthly quota. A user (U…) is one."""
        kind = {"C": "group", "R": "room"}.get(chat[:1])
        if kind is None:
            return 1
        found = self._call("GET", f"/v2/bot/{kind}/{quote(chat, safe='')}/members/count", f"LINE {kind} size")
        return max(1, int(found.get("count", 1)))

    def quota(self) -> tuple[int | None, int]:
        """(monthly limit, or None when unlimited; messages used this month)."""
        limit = self._call("GET", "/v2/bot/message/quota", "LINE quota")
        used = self._call("GET", "/v2/bot/message/quota/consumption", "LINE quota consumption")
        value = limit.get("value") if limit.get("type") == "limited" else None
        return (int(value) if value is not None else None), int(used.get("totalUsage", 0))
