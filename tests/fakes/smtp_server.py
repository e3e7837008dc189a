"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for the email notifier's tests.

`SmtpServer(password="…")` requires AUTH LOGIN/PLAIN with that password (over plain SMTP, as a test
server may); `fail_rcpt = 451` or `550` refuses recipients, `fail_data` refuses the message body;
`delay` seconds before accepting a body make a slow server (connections are still served concurrently).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

REPLIES = {451: "451 4.3.0 Try again later", 550: "550 5.1.1 Mailbox unavailable"}


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes


@dataclass
class RecordingHandler:
    received: list[Received] = field(default_factory=list)
    fail_rcpt: int | None = None
    fail_data: int | None = None
    delay: float = 0.0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.fail_rcpt:
            return REPLIES.get(self.fail_rcpt, f"{self.fail_rcpt} refused")
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_data:
            return REPLIES.get(self.fail_data, f"{self.fail_data} refused")
        raw = bytes(envelope.original_content or envelope.content)
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed, raw))
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """aiosmtpd's Controller, able to listen on port 0: it learns the real port before its self-test."""

    def _trigger_server(self) -> None:
        if self.port == 0 and self.server is not None:
            self.port = self.server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class SmtpServer:
    """`with SmtpServer() as smtp:` then set `SMTP_URL=smtp.url`; messages land in `smtp.messages`."""

    def __init__(self, *, username: str = "tracker", password: str | None = None, delay: float = 0.0) -> None:
        self.username = username
        self.password = password
        self.handler = RecordingHandler(delay=delay)
        kwargs: dict[str, Any] = {}
        if password is not None:
            kwargs = {"authenticator": self._authenticate, "auth_require_tls": False}
        self.controller = _Controller(self.handler, hostname="127.0.0.1", port=0, **kwargs)
        self.auth_attempts: list[tuple[str, bool]] = []

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == self.username
            and data.password.decode() == self.password
        )
        self.auth_attempts.append((mechanism, ok))
        return AuthResult(success=ok, handled=False, auth_data=data)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self.controller.port)

    @property
    def url(self) -> str:
        user = f"{self.username}@" if self.password is not None else ""
        return f"smtp://{user}127.0.0.1:{self.port}"

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    @property
    def messages(self) -> list[EmailMessage]:
        return [r.message for r in self.handler.received]

    def fail(self, *, rcpt: int | None = None, data: int | None = None) -> None:
        """Refuse recipients (`rcpt`) or message bodies (`data`) with 451 or 550 from now on."""
        self.handler.fail_rcpt, self.handler.fail_data = rcpt, data
