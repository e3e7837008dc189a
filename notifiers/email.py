"""Email over SMTP: `mailto:officer@example.org`.

The server comes from `SMTP_URL`: `smtp://host:port` (plain), `smtp+starttls://user@host:587`
or `smtps://user@host:465`; the password from `SMTP_PASSWORD` (or `SMTP_PASSWORD_FILE`).
`build_email` is the one place a message becomes an `EmailMessage`; the outbox writes the same one.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import unquote, urlsplit

from config.settings import Secret, Settings
from notifiers.base import (
    CHANNEL,
    KEY_NAMESPACE,
    DeliveryError,
    Notifier,
    OutgoingMessage,
    Receipt,
    mask_secrets,
)
from notifiers.masking import mask_address, mask_url
from tracker.domain.thaidate import BANGKOK

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
# The name a reader sees in the From: column when SMTP_FROM gives an address alone. Short on purpose: a
# longer Thai name is folded into several encoded words, and some readers show a space between them.
SENDER_NAMES = {"th": "ระบบแจ้งเตือน ITA", "en": "ITA Tracker"}


def sender(from_addr: str, lang: str) -> Address | str:
    """`from_addr` with a display name in the reader's language, unless it names itself
    ("เทศบาลตำบลมะค่า <ita@makha.go.th>" is kept as it is)."""
    name, addr = parseaddr(from_addr)
    if name or "@" not in addr:
        return from_addr
    username, _, domain = addr.rpartition("@")
    return Address(display_name=SENDER_NAMES.get(lang, SENDER_NAMES["th"]), username=username, domain=domain)


def message_id(key: str) -> str:
    """A Message-ID derived from the notification key, the same on every attempt."""
    return f"<{uuid.uuid5(KEY_NAMESPACE, key)}@ita-tracker>"


def build_email(message: OutgoingMessage, *, from_addr: str, to_addr: str | None, now: datetime) -> EmailMessage:
    """The email for `message`: plain text, plus an HTML alternative when the message has one. `now` is
    the instant it is handed to the server (the `Date:` a reader sees), not when it was planned."""
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = sender(from_addr, message.lang)
    if to_addr:
        mail["To"] = to_addr
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = message_id(message.key)
    mail.set_content(message.text)
    if message.html is not None:
        mail.add_alternative(message.html, subtype="html")
    mail["Content-Language"] = message.lang  # after set_content, which drops Content-* headers
    return mail


@dataclass(frozen=True)
class SmtpEndpoint:
    mode: str
    host: str
    port: int
    username: str | None

    @classmethod
    def parse(cls, url: str | None) -> SmtpEndpoint:
        if not url:
            raise DeliveryError(
                "email is not configured: set SMTP_URL (e.g. smtp+starttls://user@mail.example.org:587)",
                permanent=True,
                scope=CHANNEL,
            )
        parts = urlsplit(url)
        mode = parts.scheme.lower()
        if mode not in DEFAULT_PORTS or not parts.hostname:
            raise DeliveryError(
                f"SMTP_URL {mask_url(url)} must look like smtp://host:port, "
                "smtp+starttls://user@host:587 or smtps://user@host:465",
                permanent=True,
                scope=CHANNEL,
            )
        username = unquote(parts.username) if parts.username else None
        return cls(mode, parts.hostname, parts.port or DEFAULT_PORTS[mode], username)


class EmailNotifier(Notifier):
    """Send one email per message through the SMTP server of `SMTP_URL`."""

    scheme = "mailto"

    @classmethod
    def destination_error(cls, url: str) -> str | None:
        addresses = url.partition(":")[2].partition("?")[0].split(",")
        if all(re.fullmatch(r"[^@\s]+@[^@\s]+", a.strip()) for a in addresses):
            return None
        return "a mail destination is mailto:name@example.go.th"

    @classmethod
    def mask(cls, url: str) -> str:
        addresses = url.partition(":")[2].partition("?")[0]
        return "mailto:" + ",".join(mask_address(a) for a in addresses.split(",") if a.strip())

    @classmethod
    def has_credentials(cls, settings: Settings) -> bool:
        return bool(settings.smtp_url)

    def _secrets(self) -> list[str | Secret | None]:
        return [self.settings.smtp_password]

    def send(self, destination: str, message: OutgoingMessage) -> Receipt:
        to_addr = unquote(destination.removeprefix("mailto:").partition("?")[0]).strip()
        if "@" not in to_addr or any(c in to_addr for c in " ,;<>\r\n"):
            raise DeliveryError(
                f"{self.mask(destination)} is not one email address (mailto:name@example.org)",
                permanent=True,
            )
        endpoint = SmtpEndpoint.parse(self.settings.smtp_url)
        # Date: the moment it is handed over (not when it was planned), in Bangkok time.
        mail = build_email(message, from_addr=self.settings.smtp_from, to_addr=to_addr, now=datetime.now(BANGKOK))
        where = f"SMTP {endpoint.host}:{endpoint.port}"
        try:
            with self._connect(endpoint) as smtp:
                refused = smtp.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"{where} refused the login of {endpoint.username!r} ({exc.smtp_code}): check SMTP_PASSWORD",
                permanent=True,
                provider_status=exc.smtp_code,
                scope=CHANNEL,  # one server, one login: every mailbox is out of reach alike
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise self._coded_error(where, "refused the recipient", code, text) from None
        except smtplib.SMTPResponseException as exc:
            raise self._coded_error(where, "refused the message", exc.smtp_code, exc.smtp_error) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(f"{where}: {exc}", permanent=True) from None
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(
                f"{where}: TLS certificate not trusted ({exc.verify_message})", permanent=True
            ) from None
        except (ConnectionRefusedError, socket.gaierror) as exc:  # the server itself is out of reach
            raise DeliveryError(f"{where}: could not connect ({type(exc).__name__})", permanent=False,
                                scope=CHANNEL) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"{where}: could not deliver ({type(exc).__name__})", permanent=False) from None
        if refused:
            code, text = next(iter(refused.values()))
            raise self._coded_error(where, "refused the recipient", code, text)
        return Receipt(250, message_id(message.key), detail=f"accepted by {where}")

    def _connect(self, endpoint: SmtpEndpoint) -> smtplib.SMTP:
        timeout = self.settings.http_timeout_seconds
        smtp: smtplib.SMTP
        if endpoint.mode == "smtps":
            smtp = smtplib.SMTP_SSL(endpoint.host, endpoint.port, timeout=timeout, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(endpoint.host, endpoint.port, timeout=timeout)
        try:
            if endpoint.mode == "smtp+starttls":
                smtp.starttls(context=ssl.create_default_context())
            password = self.settings.smtp_password
            if endpoint.username:
                smtp.login(endpoint.username, password.reveal() if password else "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _coded_error(self, where: str, what: str, code: int, text: bytes | str) -> DeliveryError:
        detail = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        detail = mask_secrets(detail, self._secrets())[:200]
        return DeliveryError(f"{where} {what} ({code} {detail})", permanent=not 400 <= code < 500, provider_status=code)
