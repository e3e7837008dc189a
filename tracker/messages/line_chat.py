"""What the official account says in the chat (replies to follow, join, codes and commands) and what
admins are told when someone blocks the account or removes it from a group: one phrase table, Thai
first, English for organisations configured with `language = "en"`."""

from __future__ import annotations

from datetime import date

from markupsafe import escape

from tracker.domain.model import Organisation
from tracker.domain.status import OccurrenceStatus, Status, status_text
from tracker.domain.thaidate import format_date, to_thai_digits
from tracker.messages.render import RenderedMessage

OPEN_STATUSES = (Status.OVERDUE, Status.DUE_SOON, Status.OPEN)
MAX_STATUS_LINES = 15  # a chat answer is read on a phone: the rest is on the web board

PHRASES: dict[str, dict[str, str]] = {
    "th": {
        "welcome": ("สวัสดีครับ นี่คือบัญชีแจ้งเตือน ITA ขององค์กรปกครองส่วนท้องถิ่น\n"
                    "โปรดพิมพ์รหัสเชื่อมต่อ (เช่น ITA-ABCD-2345) ที่ได้รับจากผู้ดูแลระบบ เพื่อเริ่มรับการแจ้งเตือน"),
        "welcome_group": ("สวัสดีครับ หากต้องการให้กลุ่มนี้รับการแจ้งเตือน ITA "
                          "โปรดพิมพ์รหัสเชื่อมต่อที่ได้รับจากผู้ดูแลระบบในกลุ่มนี้"),
        "bound": "เชื่อมต่อเรียบร้อยแล้ว: {contact} ({org}) จะได้รับการแจ้งเตือนทาง LINE ที่แชตนี้",
        "bad_code": "รหัสเชื่อมต่อไม่ถูกต้อง ใช้ไปแล้ว หรือหมดอายุ โปรดขอรหัสใหม่จากผู้ดูแลระบบ",
        "help": ("คำสั่งที่ใช้ได้:\n• สถานะ – รายการที่ยังไม่เสร็จของหน่วยงาน\n"
                 "• เข้าสู่ระบบ – ลิงก์เข้าสู่ระบบครั้งเดียว\n• ช่วยเหลือ – คำสั่งทั้งหมด\n"
                 "หากยังไม่ได้เชื่อมต่อ โปรดพิมพ์รหัสเชื่อมต่อที่ได้รับจากผู้ดูแลระบบ"),
        "status_head": "รายการที่ยังไม่เสร็จ: {who}",
        "status_none": "ไม่มีรายการค้างของ {who}",
        "status_more": "และอีก {n} รายการ",
        "signin_link": ("ลิงก์เข้าสู่ระบบติดตามมาตรการ ITA (ใช้ได้ครั้งเดียว ภายใน {minutes} นาที):\n{url}\n"
                        "หากท่านไม่ได้ขอ ไม่ต้องดำเนินการใด ๆ"),
        "signin_private": ("ลิงก์เข้าสู่ระบบส่งให้เฉพาะในแชตส่วนตัวกับบัญชีนี้ (ในกลุ่ม ผู้อื่นอาจกดใช้ก่อน) "
                           "โปรดพิมพ์ \"เข้าสู่ระบบ\" ในแชตส่วนตัวที่เชื่อมต่อไว้แล้ว"),
        "signin_busy": "ขอลิงก์เข้าสู่ระบบครบ {n} ครั้งใน {minutes} นาทีแล้ว โปรดใช้ลิงก์ที่ได้รับ หรือรอสักครู่",
        "not_bound": "แชตนี้ยังไม่ได้เชื่อมต่อกับระบบ โปรดพิมพ์รหัสเชื่อมต่อที่ได้รับจากผู้ดูแลระบบ",
        "disabled_subject": "[LINE ถูกยกเลิก] {contact}",
        "disabled_text": ("{contact} ของ{org} {how} จึงหยุดส่งแจ้งเตือนทาง LINE ถึงแชตนี้แล้ว "
                          "ช่องทางอื่นยังส่งตามปกติ\nหากต้องการเชื่อมต่อใหม่ ให้สั่ง "
                          "`tracker line-connect \"{contact}\" --org {org_code}` แล้วส่งรหัสให้ผู้ใช้\n"),
        "unfollow": "บล็อกหรือเลิกเป็นเพื่อนกับบัญชี LINE",
        "leave": "นำบัญชี LINE ออกจากกลุ่ม",
    },
    "en": {
        "welcome": ("Hello, this is the ITA reminder account of your local government.\n"
                    "Send the connect code (e.g. ITA-ABCD-2345) your administrator gave you"
                    " to start receiving reminders."),
        "welcome_group": ("Hello. To get ITA reminders in this group, send the connect code from your"
                          " administrator here."),
        "bound": "Connected: {contact} ({org}) will receive reminders by LINE in this chat.",
        "bad_code": "This connect code is wrong, already used or expired: ask your administrator for a new one.",
        "help": ("Commands:\n• status – your unit's open items\n• login – a one-time sign-in link\n"
                 "• help – this list\nNot connected yet? Send the connect code from your administrator."),
        "status_head": "Open items: {who}",
        "status_none": "Nothing open for {who}",
        "status_more": "and {n} more",
        "signin_link": "Your ITA Tracker sign-in link (one use, within {minutes} minutes):\n{url}\n"
                       "If you did not ask for it, do nothing.",
        "signin_private": ("Sign-in links are given only in a one-to-one chat with this account (in a group"
                           " someone else could use it first): send \"login\" in your connected chat."),
        "signin_busy": "{n} sign-in links were issued in the last {minutes} minutes: use one of them, or wait.",
        "not_bound": "This chat is not connected yet: send the connect code from your administrator.",
        "disabled_subject": "[LINE disabled] {contact}",
        "disabled_text": ("{contact} of {org} {how}, so LINE reminders to that chat have stopped; other "
                          "destinations carry on.\nTo connect again, run "
                          "`tracker line-connect \"{contact}\" --org {org_code}` and give them the code.\n"),
        "unfollow": "blocked the LINE official account",
        "leave": "removed the LINE official account from the group",
    },
}


def phrase(key: str, lang: str = "th", **values: str) -> str:
    return PHRASES.get(lang, PHRASES["th"])[key].format(**values)


def render_line_disabled(org_name: str, org_code: str, contact: str, event: str, lang: str = "th") -> RenderedMessage:
    """The admins' alert when a contact's LINE chat stopped (`event` is `unfollow` or `leave`)."""
    how = phrase(event, lang)
    subject = phrase("disabled_subject", lang, contact=contact)
    text = phrase("disabled_text", lang, contact=contact, org=org_name, how=how, org_code=org_code)
    html = f"<p><strong>{escape(subject)}</strong></p><pre>{escape(text)}</pre>\n"
    return RenderedMessage(subject, text, html, text.strip())


def status_reply(org: Organisation, items: list[OccurrenceStatus], units: set[str] | None, who: str,
                 lang: str = "th") -> str:
    """The answer to `สถานะ`: the open deadlines of `units` (None: every unit), most urgent first."""
    shown = [i for i in items if i.status in OPEN_STATUSES
             and (units is None or org.obligation(i.occurrence.obligation).unit in units)]
    shown.sort(key=lambda i: (OPEN_STATUSES.index(i.status), i.occurrence.due))
    if not shown:
        return phrase("status_none", lang, who=who)
    lines = [phrase("status_head", lang, who=who)]
    for item in shown[:MAX_STATUS_LINES]:
        lines.append(f"• {item.occurrence.obligation} {org.occurrence_title(item.occurrence)}"
                     f" – {format_date(item.occurrence.due, lang, style='short')} ({status_text(item, lang)})")
    if len(shown) > MAX_STATUS_LINES:
        lines.append(phrase("status_more", lang, n=_digits(len(shown) - MAX_STATUS_LINES, lang)))
    return "\n".join(lines)


def _digits(n: int, lang: str) -> str:
    return to_thai_digits(str(n)) if lang == "th" else str(n)


ITEM_HEADLINES = {
    "th": {"before": "อีก {n} วันครบกำหนด", "due": "ครบกำหนดวันนี้", "overdue": "เกินกำหนด {n} วัน",
           "escalation": "เรียนผู้บริหาร: เกินกำหนด {n} วัน", "due_on": "กำหนด {day}",
           "snoozed": "เลื่อนการแจ้งเตือน {item} ถึง{day} แล้ว (การแจ้งผู้บริหารไม่เลื่อน)",
           "acknowledged": "รับทราบ {item} แล้ว บันทึกไว้ในประวัติรายการ"},
    "en": {"before": "Due in {n} days", "due": "Due today", "overdue": "Overdue by {n} days",
           "escalation": "To the executives: overdue by {n} days", "due_on": "Due {day}",
           "snoozed": "Reminders of {item} wait until {day} (escalations are not snoozed)",
           "acknowledged": "{item} acknowledged; noted in its history"},
}


def item_headline(stage: str, due: date, today: date, lang: str = "th") -> str:
    """A Flex bubble's first line: how urgent this deadline is on `today`."""
    table = ITEM_HEADLINES.get(lang, ITEM_HEADLINES["th"])
    kind = stage.split("-")[0]
    days = abs((due - today).days)
    return table.get(kind, table["due"]).format(n=_digits(days, lang))


def item_due(due: date, lang: str = "th") -> str:
    return ITEM_HEADLINES.get(lang, ITEM_HEADLINES["th"])["due_on"].format(day=format_date(due, lang, style="weekday"))


def button_reply(key: str, item: str, lang: str = "th", day: date | None = None) -> str:
    table = ITEM_HEADLINES.get(lang, ITEM_HEADLINES["th"])
    return table[key].format(item=item, day=format_date(day, lang, style="weekday") if day else "")


def render_quota_alert(org_name: str, channel: str, used: int, quota: int, lang: str = "th") -> RenderedMessage:
    """The admins' alert when a LINE channel has used 80 % of its monthly message quota (`channel`: "" for
    the shared account, else the organisation's own)."""
    share = 100 * used // quota
    if lang == "en":
        which = "the shared LINE official account" if not channel else f"the LINE official account of {org_name}"
        subject = f"[LINE quota {share}%] {used:,} of {quota:,} messages this month"
        text = (f"{which} has sent {used:,} of its {quota:,} messages this month ({share}%).\n"
                "When the quota is used up, LINE reminders go by the recipients' other destinations (e-mail) or"
                " wait, listed in `tracker outbox`, until the quota allows. Raise the plan in LINE Official"
                " Account Manager if needed.\n")
    else:
        which = "บัญชี LINE ทางการที่ใช้ร่วมกัน" if not channel else f"บัญชี LINE ทางการของ{org_name}"
        subject = (f"[โควตา LINE ใช้ไปแล้ว {to_thai_digits(str(share))}%] "
                   f"{to_thai_digits(f'{used:,}')} จาก {to_thai_digits(f'{quota:,}')} ข้อความในเดือนนี้")
        text = (f"{which} ส่งข้อความไปแล้ว {to_thai_digits(f'{used:,}')} จากโควตา {to_thai_digits(f'{quota:,}')}"
                f" ข้อความในเดือนนี้ (ร้อยละ {to_thai_digits(str(share))})\n"
                "เมื่อโควตาหมด ระบบจะส่งแจ้งเตือนทางช่องทางอื่นของผู้รับ (อีเมล) หรือเก็บไว้รอจนกว่าโควตาจะพอ"
                " (ดูได้ที่ `tracker outbox`) หากจำเป็นโปรดเพิ่มแพ็กเกจใน LINE Official Account Manager\n")
    html = f"<p><strong>{escape(subject)}</strong></p><pre>{escape(text)}</pre>\n"
    return RenderedMessage(subject, text, html, text.strip())
