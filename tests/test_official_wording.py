"""What officials read says what they would write (issue 12): reminders and the status board.

Each test quotes the Thai a reader is shown, and the phrase that misled them before.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest

from config.settings import Settings
from notifiers.email import EmailNotifier
from tests.fakes.plugin import notifier_env
from tests.fakes.smtp_server import SmtpServer
from tests.test_cli_status import Cli, cli  # noqa: F401  (the fixture)
from tracker.domain.thaidate import BANGKOK, period_label
from tracker.messages.render import ReminderContent, render_reminder

SIX_MONTH = ReminderContent(
    org_code="makha", org_name="เทศบาลตำบลมะค่า", measure_title="แผนดำเนินงานประจำปี",
    obligation_code="O10-2", obligation_title="รายงานผลการดำเนินงานรอบ ๖ เดือน", unit_name="สำนักปลัด",
    done_when="", period="2566", due=date(2023, 4, 30), day=date(2023, 4, 28), stage="due",
)
STAGES = [("before-7", date(2023, 4, 21)), ("due", date(2023, 4, 28)), ("overdue-1", date(2023, 5, 2)),
          ("escalation-head", date(2023, 5, 15))]


# ---------------------------------------------------------------- reminders

def test_due_reminder_sent_early_says_the_sunday_is_a_day_off_and_today_the_last_working_day() -> None:
    message = render_reminder(SIX_MONTH)  # due Sunday 30 April 2566, sent Friday the 28th
    assert "[ครบกำหนดวันนี้]" not in message.subject
    assert message.subject == "[วันทำการสุดท้ายก่อนครบกำหนด] O10-2 ครบกำหนดวันอาทิตย์ที่ ๓๐ เมษายน ๒๕๖๖"
    assert ("ครบกำหนดในวันอาทิตย์ที่ ๓๐ เมษายน ๒๕๖๖ ซึ่งเป็นวันหยุดราชการ "
            "วันนี้จึงเป็นวันทำการสุดท้ายก่อนครบกำหนด") in message.text
    assert "(วันทำการสุดท้ายก่อนกำหนด)" not in message.text


def test_due_reminder_on_the_day_itself_says_today() -> None:
    message = render_reminder(replace(SIX_MONTH, due=date(2023, 4, 28)))
    assert message.subject == "[ครบกำหนดวันนี้] O10-2 วันศุกร์ที่ ๒๘ เมษายน ๒๕๖๖"
    assert "ครบกำหนดในวันนี้ (วันศุกร์ที่ ๒๘ เมษายน ๒๕๖๖)" in message.text


@pytest.mark.parametrize("stage, day", STAGES[:3])
def test_officer_reminders_open_with_rian_and_close_as_an_official_letter(stage: str, day: date) -> None:
    message = render_reminder(replace(SIX_MONTH, stage=stage, day=day))
    for text in (message.text, message.line_text):
        assert text.startswith("เรียน เจ้าหน้าที่ผู้รับผิดชอบ สำนักปลัด\n")
        assert "จึงเรียนมาเพื่อโปรดทราบและดำเนินการ" in text
        assert "ส่งงาน" not in text  # colloquial
    assert "\nรายการ: O10-2 รายงานผลการดำเนินงานรอบ ๖ เดือน\n" in message.text
    assert "\nงาน:" not in message.text  # a bare label
    assert "<p>เรียน เจ้าหน้าที่ผู้รับผิดชอบ สำนักปลัด</p>" in message.html


def test_escalation_greets_the_head_by_name_and_asks_to_follow_up() -> None:
    message = render_reminder(replace(SIX_MONTH, stage="escalation-head", day=date(2023, 5, 15),
                                      recipient="หัวหน้าสำนักปลัด"))
    assert message.text.startswith("เรียน หัวหน้าสำนักปลัด\n")
    assert "ขณะนี้เกินกำหนดมาแล้ว ๑๕ วัน" in message.text
    assert "จึงเรียนมาเพื่อโปรดทราบและกำกับติดตาม" in message.text


@pytest.mark.parametrize("lang", ["th", "en"])
@pytest.mark.parametrize("stage, day", STAGES)
def test_no_reminder_shows_a_command_line(stage: str, day: date, lang: str) -> None:
    message = render_reminder(replace(SIX_MONTH, stage=stage, day=day, period="2566-M07"), lang)
    for text in (message.text, message.html, message.line_text):
        assert "tracker " not in text and "--" not in text and "<วันที่ดำเนินการ>" not in text


def test_a_signed_link_when_given_is_where_the_result_is_recorded() -> None:
    url = "https://ita.example/a/t0k3n"
    message = render_reminder(SIX_MONTH, action_url=url)
    assert f"บันทึกผลการดำเนินการ: {url}" in message.text
    assert f"บันทึกผลการดำเนินการ: {url}" in message.line_text
    assert f'<a href="{url}">' in message.html
    assert "https://" not in render_reminder(SIX_MONTH).text  # None leaves the line out


def test_monthly_reminder_names_april_as_officials_write_it_not_m07() -> None:
    message = render_reminder(replace(SIX_MONTH, period="2566-M07", stage="before-7", day=date(2023, 4, 21)))
    assert "รอบ: เม.ย. ๖๖" in message.text and "M07" not in message.text


def test_email_from_has_a_thai_name_and_date_is_when_it_was_handed_over(smtp_server: SmtpServer) -> None:
    notifier = EmailNotifier(Settings.from_env(notifier_env(smtp=smtp_server)))
    before = datetime.now(BANGKOK).replace(microsecond=0)
    notifier.send("mailto:palad@makha.example", render_reminder(SIX_MONTH).outgoing("k-1", "th"))
    (received,) = smtp_server.received
    assert received.message["From"] == "ระบบแจ้งเตือน ITA <ita-tracker@makha.example>"
    sent = parsedate_to_datetime(received.message["Date"])
    assert sent.utcoffset() == timedelta(hours=7)  # Bangkok time, as the reader lives it
    assert before <= sent <= datetime.now(BANGKOK) + timedelta(seconds=1)


# ---------------------------------------------------------------- status board

@pytest.mark.parametrize("code, th, en", [
    ("2566-M07", "เม.ย. ๖๖", "Apr 2023"), ("2566-M01", "ต.ค. ๖๕", "Oct 2022"), ("2566-M03", "ธ.ค. ๖๕", "Dec 2022"),
    ("2566-Q1", "ไตรมาส ๑/๒๕๖๖", "Q1 FY 2566"), ("2566-H1", "ครึ่งปีแรก ๒๕๖๖", "first half FY 2566"),
    ("2566-H2", "ครึ่งปีหลัง ๒๕๖๖", "second half FY 2566"), ("2566", "ปีงบ ๒๕๖๖", "FY 2566"),
])
def test_period_codes_read_as_officials_write_them(code: str, th: str, en: str) -> None:
    assert period_label(code, "th") == th and period_label(code, "en") == en


def board_lines(run: Cli, *argv: str) -> list[str]:
    code, out = run("status", "--org", "makha", "--as-of", "2023-04-30", "--format", "table", *argv)
    assert code == 0, out
    return out.splitlines()


def test_board_shows_april_as_mey_66_not_2566_m07(cli: Cli) -> None:  # noqa: F811
    lines = board_lines(cli)
    april = [line for line in lines if "M04-1" in line and "๓๐ เม.ย. ๖๖" in line]
    assert len(april) == 1 and " เม.ย. ๖๖ " in april[0]
    assert not any("2566-" in line for line in lines)
    assert any("ไตรมาส ๒/๒๕๖๖" in line for line in lines)
    assert any("ปีงบ ๒๕๖๖" in line for line in lines)
    json_periods = {o["period"] for o in cli.json("status", "--org", "makha", "--as-of", "2023-04-30")["occurrences"]}
    assert "2566-M07" in json_periods  # the codes stay in JSON


def test_board_never_claims_work_under_way_when_nothing_is_logged(cli: Cli) -> None:  # noqa: F811
    lines = board_lines(cli)
    assert not any("อยู่ระหว่างดำเนินการ" in line for line in lines)
    [m06] = [line for line in lines if "M06-1" in line]
    assert "ยังไม่ครบกำหนด" in m06
    assert lines[1].split()[:2] == ["มาตรการ", "รายการ"]  # not "ภาระงาน"


def test_board_on_the_due_date_says_due_today_not_zero_days_left(cli: Cli) -> None:  # noqa: F811
    [o10_2] = [line for line in board_lines(cli) if "O10-2" in line]
    assert "ครบกำหนดวันนี้" in o10_2
    assert "ใกล้ครบกำหนด" not in o10_2 and "เหลือ ๐ วัน" not in o10_2


def test_without_a_link_the_reminder_says_who_records_the_result_and_when_reminders_stop() -> None:
    message = render_reminder(SIX_MONTH)  # no web link: the result is recorded by an admin
    sentence = ("เมื่อดำเนินการแล้ว โปรดแจ้งผลการดำเนินการพร้อมลิงก์หลักฐานแก่ผู้ดูแลระบบเพื่อบันทึก"
                " เมื่อบันทึกแล้วระบบจะหยุดแจ้งเตือนรายการนี้")
    assert sentence in message.text and sentence in message.html
    assert "แจ้งบันทึกผล" not in message.text + message.html  # "notify record the result" reads garbled
