"""Email through a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest

from config.settings import Settings
from notifiers.base import DeliveryError, OutgoingMessage
from notifiers.email import EmailNotifier, SmtpEndpoint, build_email, message_id
from tests.fakes.plugin import SMTP_PASSWORD, notifier_env
from tests.fakes.smtp_server import SmtpServer

SUBJECT = "แจ้งเตือน: รายงานผลการดำเนินงานรอบ 6 เดือน ปีงบประมาณ พ.ศ. 2566 ครบกำหนดภายในเดือนเมษายน"
MESSAGE = OutgoingMessage(
    key="makha/2566/O12/report/email-1",
    subject=SUBJECT,
    text="เรียน ผู้อำนวยการกองคลัง\n\nรายงานรอบ 6 เดือน ครบกำหนดภายในวันที่ 30 เมษายน 2566",
    html="<p>เรียน ผู้อำนวยการกองคลัง</p><p>รายงานรอบ 6 เดือน <b>ครบกำหนด</b></p>",
)
TO = "mailto:finance@makha.example"


def notifier(smtp: SmtpServer, **env: str) -> EmailNotifier:
    return EmailNotifier(Settings.from_env({**notifier_env(smtp=smtp), **env}))


def test_thai_email_arrives_as_multipart_alternative(smtp_server: SmtpServer) -> None:
    receipt = notifier(smtp_server).send(TO, MESSAGE)

    (received,) = smtp_server.received
    mail = received.message
    assert received.rcpt_tos == ["finance@makha.example"]
    assert mail["Subject"] == SUBJECT  # decoded back from its RFC 2047 encoding
    assert b"=?utf-8?" in received.raw  # and really encoded on the wire
    assert mail["From"] == "ระบบแจ้งเตือน ITA <ita-tracker@makha.example>" and mail["To"] == "finance@makha.example"
    assert mail["Date"] is not None
    assert mail.get_content_type() == "multipart/alternative"
    plain = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert plain is not None and plain.get_content().strip() == MESSAGE.text
    assert html is not None and "<b>ครบกำหนด</b>" in html.get_content()
    assert receipt.provider_message_id == mail["Message-ID"] == message_id(MESSAGE.key)


def test_text_only_message_is_plain(smtp_server: SmtpServer) -> None:
    notifier(smtp_server).send(TO, OutgoingMessage(key="k", subject="ทดสอบ", text="สวัสดี"))
    (mail,) = smtp_server.messages
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content().strip() == "สวัสดี"


def test_message_id_is_the_same_on_every_attempt(smtp_server: SmtpServer) -> None:
    email = notifier(smtp_server)
    email.send(TO, MESSAGE)
    email.send(TO, MESSAGE)
    first, second = smtp_server.messages
    assert first["Message-ID"] == second["Message-ID"]
    assert first["Message-ID"].endswith("@ita-tracker>")
    assert message_id("another key") != first["Message-ID"]


def test_plain_smtp_does_not_require_starttls(smtp_server: SmtpServer) -> None:
    # The fake advertises no STARTTLS: smtp:// must still deliver, smtp+starttls:// must refuse.
    notifier(smtp_server).send(TO, MESSAGE)
    assert len(smtp_server.messages) == 1
    starttls = notifier(smtp_server, SMTP_URL=f"smtp+starttls://127.0.0.1:{smtp_server.port}")
    with pytest.raises(DeliveryError) as caught:
        starttls.send(TO, MESSAGE)
    assert caught.value.permanent and "STARTTLS" in caught.value.reason


def test_login_with_the_password_from_the_environment(smtp_server_auth: SmtpServer) -> None:
    notifier(smtp_server_auth).send(TO, MESSAGE)
    assert len(smtp_server_auth.messages) == 1
    assert smtp_server_auth.auth_attempts[-1][1] is True


def test_a_wrong_password_is_permanent_and_never_printed(smtp_server_auth: SmtpServer) -> None:
    with pytest.raises(DeliveryError) as caught:
        notifier(smtp_server_auth, SMTP_PASSWORD="not-the-password-42").send(TO, MESSAGE)
    assert caught.value.permanent and "SMTP_PASSWORD" in caught.value.reason
    assert "not-the-password-42" not in str(caught.value) and SMTP_PASSWORD not in str(caught.value)
    assert smtp_server_auth.messages == []


@pytest.mark.parametrize(("stage", "code", "permanent"), [("rcpt", 451, False), ("rcpt", 550, True),
                                                          ("data", 451, False), ("data", 550, True)])  # fmt: skip
def test_smtp_4xx_is_temporary_and_5xx_permanent(
    smtp_server: SmtpServer,
    stage: str,
    code: int,
    permanent: bool,
) -> None:
    smtp_server.fail(**{stage: code})
    with pytest.raises(DeliveryError) as caught:
        notifier(smtp_server).send(TO, MESSAGE)
    assert (caught.value.permanent, caught.value.provider_status) == (permanent, code)


def test_an_unreachable_server_is_temporary() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    email = EmailNotifier(Settings.from_env(notifier_env(SMTP_URL=f"smtp://127.0.0.1:{port}")))
    with pytest.raises(DeliveryError) as caught:
        email.send(TO, MESSAGE)
    assert caught.value.permanent is False


def test_without_smtp_url_the_error_says_to_set_it() -> None:
    with pytest.raises(DeliveryError) as caught:
        EmailNotifier(Settings.from_env(notifier_env())).send(TO, MESSAGE)
    assert caught.value.permanent and "SMTP_URL" in caught.value.reason


@pytest.mark.parametrize("bad", ["mailto:", "mailto:no-at-sign", "mailto:a@x.org,b@x.org"])
def test_malformed_addresses_are_permanent(smtp_server: SmtpServer, bad: str) -> None:
    with pytest.raises(DeliveryError) as caught:
        notifier(smtp_server).send(bad, MESSAGE)
    assert caught.value.permanent and smtp_server.received == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example:2525", SmtpEndpoint("smtp", "mail.example", 2525, None)),
        ("smtp+starttls://ita%40makha@mail.example", SmtpEndpoint("smtp+starttls", "mail.example", 587, "ita@makha")),
        ("smtps://ita@mail.example", SmtpEndpoint("smtps", "mail.example", 465, "ita")),
    ],
)
def test_smtp_url_forms(url: str, expected: SmtpEndpoint) -> None:
    assert SmtpEndpoint.parse(url) == expected


def test_an_unknown_smtp_scheme_is_permanent() -> None:
    with pytest.raises(DeliveryError) as caught:
        SmtpEndpoint.parse("imap://mail.example")
    assert caught.value.permanent


def test_build_email_headers_derive_from_the_message_and_the_given_time() -> None:
    now = datetime(2023, 4, 1, 9, 0, tzinfo=UTC)
    one = build_email(MESSAGE, from_addr="a@x.org", to_addr="b@x.org", now=now)
    two = build_email(MESSAGE, from_addr="a@x.org", to_addr="b@x.org", now=now)
    assert list(one.items()) == list(two.items())
    assert one["Date"] == "Sat, 01 Apr 2023 09:00:00 +0000"
    assert one["Content-Language"] == "th"
