"""Reminder messages: Thai by default, English, plain text, autoescaped HTML, short LINE text."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from notifiers.line import utf16_len
from tracker.messages.render import ReminderContent, render_alert, render_reminder

CONTENT = ReminderContent(
    org_code="makha", org_name="เทศบาลตำบลมะค่า", measure_title="แผนดำเนินงาน <ประจำปี> & การเผยแพร่",
    obligation_code="O10-1", obligation_title="จัดทำแผนดำเนินงานประจำปีงบประมาณ", unit_name="สำนักปลัด",
    done_when="แผนเผยแพร่บนเว็บไซต์แล้ว (แนบลิงก์)", period="2566", due=date(2022, 10, 31), day=date(2022, 10, 21),
    stage="before-7",
)


def test_thai_before_reminder_states_the_due_date_in_be_with_weekday_and_days_left() -> None:
    message = render_reminder(CONTENT)
    assert "วันจันทร์ที่ ๓๑ ตุลาคม ๒๕๖๕" in message.subject
    assert "อีก ๑๐ วัน" in message.text
    for fact in ("เทศบาลตำบลมะค่า", "สำนักปลัด", "O10-1", "จัดทำแผนดำเนินงาน", "แผนเผยแพร่บนเว็บไซต์แล้ว"):
        assert fact in message.text
    assert "tracker" not in message.text and "--" not in message.text  # no person sees a command line


def test_html_is_autoescaped_and_text_is_not() -> None:
    message = render_reminder(CONTENT)
    assert "&lt;ประจำปี&gt; &amp;" in message.html
    assert "<ประจำปี>" not in message.html
    assert "<ประจำปี> &" in message.text


@pytest.mark.parametrize("stage, words", [
    ("before-7", "10 days"), ("due", "is due"), ("overdue-1", "overdue"), ("escalation-head", "Dear Head"),
])
def test_english_templates_exist_for_every_stage(stage: str, words: str) -> None:
    day = {"before-7": date(2022, 10, 21), "due": date(2022, 10, 31)}.get(stage, date(2022, 11, 10))
    message = render_reminder(replace(CONTENT, stage=stage, day=day, recipient="Head"), "en")
    assert words in message.text
    assert "Monday 31 October 2022" in message.text
    assert "Dear" in message.text and "tracker log" not in message.text


@pytest.mark.parametrize("stage", ["before-1", "due", "overdue-3", "escalation-exec"])
def test_thai_templates_exist_for_every_stage(stage: str) -> None:
    message = render_reminder(replace(CONTENT, stage=stage, day=date(2022, 11, 30)))
    assert message.subject and message.text and message.html and message.line_text


def test_overdue_counts_days_past_the_due_date() -> None:
    message = render_reminder(replace(CONTENT, stage="overdue-1", day=date(2022, 11, 1)))
    assert "เกินกำหนด ๑ วัน" in message.subject


def test_recurring_obligation_names_its_round_as_officials_write_it() -> None:
    message = render_reminder(replace(CONTENT, period="2566-M01"))
    assert "รอบ: ต.ค. ๖๕" in message.text and "2566-M01" not in message.text


def test_line_text_is_short() -> None:
    message = render_reminder(CONTENT)
    assert utf16_len(message.line_text) < 1000
    assert "<html" not in message.line_text


def test_alert_names_the_masked_destination_and_reason() -> None:
    alert = render_alert("เทศบาลตำบลมะค่า", "line://U0123…cdef", "เจ้าหน้าที่", "LINE push: HTTP 401")
    assert "line://U0123…cdef" in alert.text and "HTTP 401" in alert.text
    assert "tracker outbox retry" in alert.text
