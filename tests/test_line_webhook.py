"""The LINE webhook: signatures over the raw body, events recorded once, codes that bind a chat to a
contact, unfollow/leave that disable it and tell the admins once, and the chat commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from config.settings import Settings
from jobs.line_webhook import handle_webhook
from tests.fakes.line_server import FakeLineServer
from tests.fakes.plugin import fake_line  # noqa: F401
from tests.line_support import GROUP_ID, MAYOR, OFFICER, OFFICER_ID, line_settings, load_connect_sample, sync
from tracker.domain.line_webhook import (
    WebhookFormatError,
    command_in,
    connect_code_in,
    parse_callback,
    signature_for,
    signature_ok,
)
from tracker.store.db import session_scope
from tracker.store.line_links import issue_code, list_bindings
from tracker.store.line_models import LineBindingRow, LineEventRow
from tracker.store.models import OutboxRow

NOW = datetime(2022, 10, 20, 3, 0, tzinfo=UTC)


@pytest.fixture
def synced(engine: Engine, tmp_path: Path) -> Engine:
    sync(engine, load_connect_sample(tmp_path / "config"))
    return engine


@pytest.fixture
def settings(fake_line: FakeLineServer, tmp_path: Path) -> Settings:  # noqa: F811
    return line_settings(fake_line, None, tmp_path)


def code_for(engine: Engine, contact: str, now: datetime = NOW) -> str:
    with session_scope(engine) as session:
        return issue_code(session, "makha", contact, now)[0]


def post(engine: Engine, settings: Settings, line: FakeLineServer, *events: dict[str, object],
         now: datetime = NOW, **kw: bool) -> tuple[int, int, int]:
    body, headers = line.webhook_request(*events, **kw)
    result = handle_webhook(engine, settings, body, headers["X-Line-Signature"], now)
    return result.status, result.handled, result.duplicates


def events_recorded(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(session.scalar(select(func.count()).select_from(LineEventRow)) or 0)


def bindings(engine: Engine) -> dict[str, tuple[str, bool]]:
    with session_scope(engine) as session:
        return {b.contact: (b.chat_id, b.disabled_at is None) for b in session.scalars(select(LineBindingRow))}


def test_signature_is_base64_hmac_sha256_of_the_raw_body_checked_in_constant_time() -> None:
    body = b'{"destination":"U' + b"0" * 32 + b'","events":[]}'
    assert signature_ok("secret", body, signature_for("secret", body))
    assert not signature_ok("secret", body + b" ", signature_for("secret", body))
    assert not signature_ok("other", body, signature_for("secret", body))
    assert not signature_ok("secret", body, None) and not signature_ok("secret", body, "")
    assert not signature_ok("", body, signature_for("", body))  # no secret configured: nothing passes
    assert not signature_ok("secret", body, "ไม่ใช่ลายเซ็น")  # non-ASCII header: refused, not an exception


@pytest.mark.parametrize("how", ["tampered", "missing", "wrong secret"])
def test_a_bad_or_missing_signature_is_refused_and_nothing_is_recorded(
        synced: Engine, settings: Settings, fake_line: FakeLineServer, how: str) -> None:  # noqa: F811
    code = code_for(synced, OFFICER)
    events = (fake_line.event("follow", OFFICER_ID), fake_line.event("message", OFFICER_ID, text=code))
    body, headers = fake_line.webhook_request(*events, tamper=how == "tampered",
                                              secret="not-the-secret" if how == "wrong secret" else None)
    signature = None if how == "missing" else headers["X-Line-Signature"]
    result = handle_webhook(synced, settings, body, signature, NOW)
    assert result.status == 401 and result.handled == 0
    assert events_recorded(synced) == 0 and bindings(synced) == {} and fake_line.replies == []


def test_no_channel_secret_configured_refuses_everything(synced: Engine, fake_line: FakeLineServer,  # noqa: F811
                                                         tmp_path: Path) -> None:
    settings = Settings.from_env({"LINE_API_BASE": fake_line.base_url})
    body, headers = fake_line.webhook_request(fake_line.event("follow", OFFICER_ID))
    assert handle_webhook(synced, settings, body, headers["X-Line-Signature"], NOW).status == 404
    assert events_recorded(synced) == 0


def test_follow_then_the_code_binds_the_user_and_a_redelivery_changes_nothing(
        synced: Engine, settings: Settings, fake_line: FakeLineServer) -> None:  # noqa: F811
    code = code_for(synced, OFFICER)
    follow = fake_line.event("follow", OFFICER_ID)
    assert post(synced, settings, fake_line, follow) == (200, 1, 0)
    assert "รหัสเชื่อมต่อ" in fake_line.reply_texts()[0]
    message = fake_line.event("message", OFFICER_ID, text=f"รหัสค่ะ {code.lower().replace('-', ' ')}")
    assert post(synced, settings, fake_line, message) == (200, 1, 0)
    assert bindings(synced) == {OFFICER: (OFFICER_ID, True)}
    assert "เชื่อมต่อเรียบร้อยแล้ว" in fake_line.reply_texts()[1] and OFFICER in fake_line.reply_texts()[1]
    # LINE redelivers both (same webhookEventIds): nothing is done twice, no reply is sent again
    assert post(synced, settings, fake_line, follow, message, redelivery=True) == (200, 0, 2)
    assert len(fake_line.replies) == 2 and events_recorded(synced) == 2
    assert fake_line.validation_failures == []


def test_a_code_works_once_and_not_after_a_week(synced: Engine, settings: Settings,
                                                fake_line: FakeLineServer) -> None:  # noqa: F811
    code = code_for(synced, OFFICER)
    post(synced, settings, fake_line, fake_line.event("message", OFFICER_ID, text=code))
    other = "U" + "e" * 32
    post(synced, settings, fake_line, fake_line.event("message", other, text=code))
    assert bindings(synced) == {OFFICER: (OFFICER_ID, True)}
    assert "ไม่ถูกต้อง" in fake_line.reply_texts()[-1]
    old = code_for(synced, MAYOR, NOW - timedelta(days=8))
    post(synced, settings, fake_line, fake_line.event("message", GROUP_ID, text=old, user=OFFICER_ID))
    assert MAYOR not in bindings(synced)


def test_a_group_is_bound_by_a_code_sent_in_it_and_leave_disables_it_and_tells_the_admins_once(
        synced: Engine, settings: Settings, fake_line: FakeLineServer) -> None:  # noqa: F811
    code = code_for(synced, MAYOR)
    post(synced, settings, fake_line, fake_line.event("join", GROUP_ID))
    post(synced, settings, fake_line, fake_line.event("message", GROUP_ID, text=code, user=OFFICER_ID))
    assert bindings(synced) == {MAYOR: (GROUP_ID, True)}
    with session_scope(synced) as session:
        listed = {b.contact: b for b in list_bindings(session, "makha")}
    assert listed[MAYOR].status == "connected" and listed[MAYOR].chat_kind == "group"
    assert listed[OFFICER].status == "not connected"
    post(synced, settings, fake_line, fake_line.event("leave", GROUP_ID))
    post(synced, settings, fake_line, fake_line.event("leave", GROUP_ID))  # a second event: no second alert
    assert bindings(synced) == {MAYOR: (GROUP_ID, False)}
    with session_scope(synced) as session:
        alerts = list(session.scalars(select(OutboxRow).where(OutboxRow.kind == "alert")))
    assert [(a.destination, a.recipient) for a in alerts] == [("mailto:admin@makha.example.go.th",
                                                               "ผู้ดูแลระบบ เทศบาลตำบลมะค่า")]
    assert MAYOR in (alerts[0].subject or "") and "line-connect" in (alerts[0].text or "")


def test_bindings_survive_a_configuration_reload(synced: Engine, settings: Settings, fake_line: FakeLineServer,  # noqa: F811
                                                 tmp_path: Path) -> None:
    post(synced, settings, fake_line, fake_line.event("message", OFFICER_ID, text=code_for(synced, OFFICER)))
    sync(synced, load_connect_sample(tmp_path / "again"))
    with session_scope(synced) as session:
        listed = {b.contact: b.status for b in list_bindings(session, "makha")}
    assert listed == {OFFICER: "connected", MAYOR: "not connected"}


def test_commands_answer_with_the_reply_token(synced: Engine, settings: Settings,
                                              fake_line: FakeLineServer) -> None:  # noqa: F811
    post(synced, settings, fake_line, fake_line.event("message", OFFICER_ID, text="สถานะ"))
    assert "ยังไม่ได้เชื่อมต่อ" in fake_line.reply_texts()[-1]
    post(synced, settings, fake_line, fake_line.event("message", OFFICER_ID, text=code_for(synced, OFFICER)))
    post(synced, settings, fake_line, fake_line.event("message", OFFICER_ID, text="ช่วยเหลือ"))
    assert "สถานะ" in fake_line.reply_texts()[-1] and "เข้าสู่ระบบ" in fake_line.reply_texts()[-1]
    post(synced, settings, fake_line, fake_line.event("message", OFFICER_ID, text=" สถานะ "))
    status = fake_line.reply_texts()[-1]
    assert status.startswith("รายการที่ยังไม่เสร็จ: สำนักปลัด") and "O10-1" in status and "ต.ค." in status
    assert "กองคลัง" not in status
    post(synced, settings, fake_line, fake_line.event("message", OFFICER_ID, text="เข้าสู่ระบบ"))
    assert f"{settings.base_url}/signin/" in fake_line.reply_texts()[-1]
    tokens = [token for token, _ in fake_line.replies]
    assert len(set(tokens)) == len(tokens)  # each reply used its own event's token
    assert fake_line.validation_failures == []


def test_a_body_that_is_signed_but_malformed_is_a_400_naming_the_field() -> None:
    with pytest.raises(WebhookFormatError, match=r"events\[0\]\.webhookEventId"):
        parse_callback(b'{"destination": "U' + b"0" * 32 + b'", "events": [{"type": "follow", "timestamp": 1}]}')
    assert parse_callback(b'{"destination": "U' + b"0" * 32 + b'", "events": []}') == []  # LINE's verify call


def test_codes_and_commands_are_read_as_people_type_them() -> None:
    assert connect_code_in("ita-abcd-2345") == "ITA-ABCD2345"
    assert connect_code_in("รหัส ITA ABCD 2345 ครับ") == "ITA-ABCD2345"
    assert connect_code_in("ITA-ABCD-0000") is None  # 0 is not in the alphabet (looks like O)
    assert command_in("  สถานะ ") == "status" and command_in("Help") == "help" and command_in("สวัสดี") is None
