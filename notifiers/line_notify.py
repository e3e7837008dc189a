"""LINE Notify protocol: `line-notify://<ENV_VAR_HOLDING_THE_TOKEN>`.

LINE's own LINE Notify service ended on 31 March 2025: every call to notify-api.line.me fails since
1 April 2025. This channel remains only for gateways that still speak the protocol (point
`LINE_NOTIFY_API_BASE` at one); new destinations should use `line://` (the Messaging API).
The URL names the environment variable that holds the token, never the token itself.
"""

from __future__ import annotations

import re

from config.settings import Secret
from notifiers.base import DeliveryError, Notifier, OutgoingMessage, Receipt
from notifiers.masking import MASK

LINE_NOTIFY_SUNSET_WARNING = (
    "LINE Notify ปิดให้บริการแล้วตั้งแต่วันที่ 31 มีนาคม 2568 โปรดเปลี่ยนปลายทางเป็น line:// (LINE Messaging API) / "
    "LINE Notify ended on 31 March 2025; switch line-notify:// destinations to line:// (LINE Messaging API)."
)
MAX_MESSAGE_CHARS = 1000
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
CONFIG_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")  # what the admins' files may name: upper case, as env vars are
LINE_NOTIFY_ENDED = ("LINE Notify ended on 31 March 2025 (บริการ LINE Notify ยุติแล้ว): use line://<ID> with the"
                     " Messaging API, unless this points at a gateway that still speaks it")


class LineNotifyNotifier(Notifier):
    """POST the message to a LINE Notify compatible gateway."""

    scheme = "line-notify"

    @classmethod
    def destination_error(cls, url: str) -> str | None:
        if CONFIG_ENV_NAME.fullmatch(url.partition(":")[2].removeprefix("//")):
            return None
        return ("line-notify://<NAME> must name the environment variable that holds the token"
                " (e.g. line-notify://MAKHA_NOTIFY_TOKEN), never the token itself")

    @classmethod
    def destination_warning(cls, url: str) -> str | None:
        return LINE_NOTIFY_ENDED

    @classmethod
    def mask(cls, url: str) -> str:
        return f"line-notify://{MASK}"

    def _token(self, destination: str) -> Secret:
        name = destination.removeprefix("line-notify:").removeprefix("//").strip("/")
        if not ENV_NAME.fullmatch(name):
            raise DeliveryError(
                f"{self.mask(destination)} must name an environment variable holding the token, "
                "e.g. line-notify://LINE_NOTIFY_TOKEN_FINANCE",
                permanent=True,
            )
        token = self.settings.secret(name)
        if not token:
            raise DeliveryError(f"no LINE Notify token: set {name} (or {name}_FILE) in the environment", permanent=True)
        return token

    def send(self, destination: str, message: OutgoingMessage) -> Receipt:
        token = self._token(destination)
        text = message.short_text
        if len(text) > MAX_MESSAGE_CHARS:
            text = text[: MAX_MESSAGE_CHARS - 1] + "…"
        response = self._request(
            "POST",
            f"{self.settings.line_notify_api_base}/api/notify",
            what="LINE Notify",
            data={"message": text},
            headers={"Authorization": f"Bearer {token.reveal()}"},
            secrets=[token],
        )
        return Receipt(response.status_code, None, detail="accepted by the LINE Notify gateway")
