"""LINE Messaging API push (and the LINE Notify protocol) against the fake LINE server on loopback."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from config.settings import Settings
from notifiers.base import DeliveryError, OutgoingMessage, idempotency_key
from notifiers.line import LineNotifier, truncate_utf16, utf16_len
from notifiers.line_notify import LINE_NOTIFY_SUNSET_WARNING, LineNotifyNotifier
from tests.fakes.line_server import FakeLineServer
from tests.fakes.plugin import LINE_TOKEN, NOTIFY_TOKEN, notifier_env

USER = "U" + "0123456789abcdef" * 2
GROUP = "C" + "fedcba9876543210" * 2
MESSAGE = OutgoingMessage(
    key="makha/2566/O12/six-month-report/reminder-2",
    subject="รายงานผลการดำเนินงานรอบ 6 เดือน",
    text="ข้อความยาวสำหรับอีเมล",
    line_text="⏰ รายงานรอบ 6 เดือน ครบกำหนดภายในเดือนเมษายน 2566",
)


@pytest.fixture
def line(fake_line: FakeLineServer) -> Iterator[LineNotifier]:
    with LineNotifier(Settings.from_env(notifier_env(line=fake_line))) as notifier:
        yield notifier


def test_push_sends_the_short_text_with_token_and_retry_key(line: LineNotifier, fake_line: FakeLineServer) -> None:
    receipt = line.send(f"line://{USER}", MESSAGE)

    assert fake_line.delivered == [(USER, MESSAGE.line_text)]
    (push,) = fake_line.pushes()
    assert push.validation_errors == []
    assert push.headers["authorization"] == f"Bearer {LINE_TOKEN}"
    assert push.headers["x-line-retry-key"] == idempotency_key(MESSAGE.key)
    assert push.json == {
        "to": USER,
        "messages": [{"type": "text", "text": MESSAGE.line_text}],
        "notificationDisabled": False,
    }
    assert receipt.provider_status == 200
    assert receipt.provider_message_id  # the x-line-request-id header


def test_text_is_used_when_there_is_no_line_text(line: LineNotifier, fake_line: FakeLineServer) -> None:
    line.send(f"line://{GROUP}", OutgoingMessage(key="k", subject="s", text="ข้อความ"))
    assert fake_line.delivered == [(GROUP, "ข้อความ")]


def test_retry_after_500_reuses_the_key_and_409_means_already_delivered(
    line: LineNotifier,
    fake_line: FakeLineServer,
) -> None:
    fake_line.fail_next(500)
    with pytest.raises(DeliveryError) as caught:
        line.send(f"line://{USER}", MESSAGE)
    assert (caught.value.permanent, caught.value.provider_status) == (False, 500)

    first = line.send(f"line://{USER}", MESSAGE)
    again = line.send(f"line://{USER}", MESSAGE)  # e.g. the dispatcher crashed before recording success

    keys = {push.headers["x-line-retry-key"] for push in fake_line.pushes()}
    assert keys == {idempotency_key(MESSAGE.key)}
    assert [p.status for p in fake_line.pushes()] == [500, 200, 409]
    assert again.provider_status == 409
    assert again.provider_message_id == first.provider_message_id
    assert len(fake_line.delivered) == 1
    assert fake_line.validation_failures == []


def test_a_retry_key_is_forgotten_after_24_hours(fake_line: FakeLineServer) -> None:
    now = [1_000_000.0]
    fake_line.clock = lambda: now[0]
    notifier = LineNotifier(Settings.from_env(notifier_env(line=fake_line)))
    notifier.send(f"line://{USER}", MESSAGE)
    now[0] += 24 * 3600 - 1
    assert notifier.send(f"line://{USER}", MESSAGE).provider_status == 409
    now[0] += 2
    assert notifier.send(f"line://{USER}", MESSAGE).provider_status == 200
    assert len(fake_line.delivered) == 2
    notifier.close()


@pytest.mark.parametrize("retry_after", ["30", "date"])
def test_429_is_temporary_and_surfaces_retry_after(
    line: LineNotifier,
    fake_line: FakeLineServer,
    retry_after: str,
) -> None:
    header = retry_after
    if retry_after == "date":
        header = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    fake_line.fail_next(429, retry_after=header)
    with pytest.raises(DeliveryError) as caught:
        line.send(f"line://{USER}", MESSAGE)
    error = caught.value
    assert (error.permanent, error.provider_status) == (False, 429)
    assert error.retry_after is not None and 27 <= error.retry_after <= 30
    assert "monthly limit" in error.reason
    assert fake_line.delivered == []


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_permanent(line: LineNotifier, fake_line: FakeLineServer, status: int) -> None:
    fake_line.fail_next(status)
    with pytest.raises(DeliveryError) as caught:
        line.send(f"line://{USER}", MESSAGE)
    assert (caught.value.permanent, caught.value.provider_status) == (True, status)


def test_a_wrong_token_is_permanent_and_not_printed(fake_line: FakeLineServer) -> None:
    settings = Settings.from_env(notifier_env(line=fake_line, LINE_CHANNEL_ACCESS_TOKEN="wrong-token-123"))
    with LineNotifier(settings) as notifier, pytest.raises(DeliveryError) as caught:
        notifier.send(f"line://{USER}", MESSAGE)
    assert caught.value.permanent and caught.value.provider_status == 401
    assert "wrong-token-123" not in str(caught.value)


def test_timeouts_and_refused_connections_are_temporary(fake_line: FakeLineServer) -> None:
    fake_line.latency_seconds = 0.5
    slow = Settings.from_env(notifier_env(line=fake_line, TRACKER_HTTP_TIMEOUT="0.1"))
    with LineNotifier(slow) as notifier, pytest.raises(DeliveryError) as caught:
        notifier.send(f"line://{USER}", MESSAGE)
    assert caught.value.permanent is False and "no answer" in caught.value.reason

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    down = Settings.from_env(notifier_env(LINE_API_BASE=f"http://127.0.0.1:{closed_port}"))
    with LineNotifier(down) as notifier, pytest.raises(DeliveryError) as caught:
        notifier.send(f"line://{USER}", MESSAGE)
    assert caught.value.permanent is False and "could not reach" in caught.value.reason


def test_missing_token_is_permanent_and_names_the_variable(fake_line: FakeLineServer) -> None:
    env = notifier_env(line=fake_line)
    del env["LINE_CHANNEL_ACCESS_TOKEN"]
    with LineNotifier(Settings.from_env(env)) as notifier, pytest.raises(DeliveryError) as caught:
        notifier.send(f"line://{USER}", MESSAGE)
    assert caught.value.permanent and "LINE_CHANNEL_ACCESS_TOKEN" in caught.value.reason
    assert fake_line.requests == []


@pytest.mark.parametrize("bad", ["line://", "line://U123", f"line://X{'0' * 32}", f"line://{USER.upper()}"])
def test_malformed_ids_are_permanent_without_a_request(
    line: LineNotifier,
    fake_line: FakeLineServer,
    bad: str,
) -> None:
    with pytest.raises(DeliveryError) as caught:
        line.send(bad, MESSAGE)
    assert caught.value.permanent and "32" in caught.value.reason
    assert fake_line.requests == []


def test_long_text_is_cut_to_5000_utf16_units(line: LineNotifier, fake_line: FakeLineServer) -> None:
    emoji = "📅" * 2600  # 5,200 UTF-16 units but only 2,600 Python characters
    thai = "แจ้งเตือนกำหนดส่งรายงาน" * 300  # 6,900 BMP characters
    for text in (emoji, thai, "ก" + emoji):
        line.send(f"line://{USER}", OutgoingMessage(key=f"long-{len(text)}", subject="s", text=text))

    assert fake_line.validation_failures == []
    for (_, sent), original in zip(fake_line.delivered, (emoji, thai, "ก" + emoji), strict=True):
        assert utf16_len(sent) <= 5000 and sent.endswith("…")
        assert original.startswith(sent[:-1])
    assert utf16_len(fake_line.delivered[0][1]) == 4999  # an emoji is never split in half


def test_truncation_keeps_text_that_fits() -> None:
    assert truncate_utf16("ก" * 5000) == "ก" * 5000
    assert truncate_utf16("📅" * 2500) == "📅" * 2500
    assert truncate_utf16("📅" * 2501) == "📅" * 2499 + "…"


def test_fake_rejects_bodies_the_openapi_description_forbids(fake_line: FakeLineServer) -> None:
    headers = {"Authorization": f"Bearer {LINE_TOKEN}"}
    url = f"{fake_line.base_url}/v2/bot/message/push"
    bad = requests.post(url, json={"to": USER, "messages": [{"type": "text"}]}, headers=headers, timeout=5)
    assert bad.status_code == 400 and bad.json()["details"]
    wrong_key = requests.post(
        url,
        json={"to": USER, "messages": [{"type": "text", "text": "x"}]},
        headers={**headers, "X-Line-Retry-Key": "not-a-uuid"},
        timeout=5,
    )
    assert wrong_key.status_code == 400
    assert len(fake_line.validation_failures) == 2 and fake_line.delivered == []


def test_fake_serves_quota_and_consumption(line: LineNotifier, fake_line: FakeLineServer) -> None:
    line.send(f"line://{USER}", MESSAGE)
    headers = {"Authorization": f"Bearer {LINE_TOKEN}"}
    quota = requests.get(f"{fake_line.base_url}/v2/bot/message/quota", headers=headers, timeout=5)
    used = requests.get(f"{fake_line.base_url}/v2/bot/message/quota/consumption", headers=headers, timeout=5)
    assert quota.json() == {"type": "none"} and used.json() == {"totalUsage": 1}


# -- LINE Notify protocol (LINE's own service ended on 31 March 2025) ----------------------------------


def test_line_notify_posts_the_form_to_a_gateway(fake_line: FakeLineServer) -> None:
    with LineNotifyNotifier(Settings.from_env(notifier_env(line=fake_line))) as notifier:
        receipt = notifier.send("line-notify://NOTIFY_TOKEN_FINANCE", MESSAGE)
    assert receipt.provider_status == 200
    assert fake_line.notify_delivered == [MESSAGE.line_text]
    (request,) = fake_line.requests
    assert request.headers["authorization"] == f"Bearer {NOTIFY_TOKEN}"


def test_line_notify_without_its_token_names_the_variable(fake_line: FakeLineServer) -> None:
    with LineNotifyNotifier(Settings.from_env(notifier_env(line=fake_line))) as notifier:
        with pytest.raises(DeliveryError) as caught:
            notifier.send("line-notify://NOTIFY_TOKEN_MISSING", MESSAGE)
        assert caught.value.permanent and "NOTIFY_TOKEN_MISSING" in caught.value.reason
        with pytest.raises(DeliveryError) as caught:
            notifier.send("line-notify://not a name", MESSAGE)
        assert caught.value.permanent


def test_line_notify_sunset_warning_points_to_line_scheme() -> None:
    assert "line://" in LINE_NOTIFY_SUNSET_WARNING
    assert "31 March 2025" in LINE_NOTIFY_SUNSET_WARNING and "มีนาคม" in LINE_NOTIFY_SUNSET_WARNING
    assert json.dumps(LINE_NOTIFY_SUNSET_WARNING)  # plain text, printable by `tracker check`
