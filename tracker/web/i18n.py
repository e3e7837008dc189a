"""Thai by default, English when asked (`?lang=en`, then remembered in a cookie).

Templates say both languages in place with `t("ไทย", "English")`: the pages are few, and a translator
reads each sentence next to its translation.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import date, datetime
from functools import lru_cache

from flask import Flask, Response, request

from tracker.domain.status import OccurrenceStatus, Status
from tracker.domain.status import status_label as _status_label
from tracker.domain.status import status_text as _status_text
from tracker.domain.thaidate import BANGKOK, format_date, period_label, to_thai_digits

LANGS = ("th", "en")
COOKIE = "lang"


# The request's language, read once per request: a long board asks for it a thousand times, and
# `flask.g` / `request` are proxies that cost a lookup each.
_LANG: ContextVar[str | None] = ContextVar("tracker_lang", default=None)


def current_lang() -> str:
    lang = _LANG.get()
    if lang is None:
        asked = request.args.get("lang") or request.cookies.get(COOKIE) or "th"
        lang = asked if asked in LANGS else "th"
        _LANG.set(lang)
    return lang


def _forget(_exc: BaseException | None = None) -> None:
    _LANG.set(None)


def t(th: str, en: str) -> str:
    return en if current_lang() == "en" else th


# A board shows a few hundred numbers and dates, most of them the same few dozen: each is converted once
# per process (pythainlp's digit conversion costs ~10 µs a call).
_thai_digits = lru_cache(maxsize=4096)(to_thai_digits)
_format_date = lru_cache(maxsize=4096)(format_date)


def digits(value: object) -> str:
    """Thai digits on Thai pages."""
    text = str(value)
    return text if current_lang() == "en" else _thai_digits(text)


def day(value: date | None, style: str = "long") -> str:
    """A date as officials write it: B.E. and Thai digits (C.E. in English)."""
    if value is None:
        return "-"
    lang = current_lang()
    return _format_date(value, lang, style=style if lang == "th" else "long")


def clock(value: datetime) -> str:
    """An instant as a Bangkok time of day: "14:05 น." in Thai digits, "14:05" in English."""
    text = value.astimezone(BANGKOK).strftime("%H:%M")
    return text if current_lang() == "en" else to_thai_digits(text) + " น."


def moment(value: datetime | None) -> str:
    """A stored instant as Bangkok wall time: "๒๑ ตุลาคม ๒๕๖๕ เวลา ๐๙:๐๒ น." (English: "21 October 2022 09:02")."""
    if value is None:
        return "-"
    local = value.astimezone(BANGKOK)
    if current_lang() == "en":
        return f"{format_date(local.date(), 'en')} {local:%H:%M}"
    return f"{format_date(local.date(), 'th')} เวลา {to_thai_digits(f'{local:%H:%M}')} น."


def status_label(status: Status) -> str:
    return _status_label(status, current_lang())


def status_text(item: OccurrenceStatus) -> str:
    """A deadline's status in the words `tracker status` prints ("ครบกำหนดวันนี้" on the due date)."""
    return _status_text(item, current_lang())


def period(code: str) -> str:
    """A period as officials write it ("เม.ย. ๖๖", "ไตรมาส ๑/๒๕๖๖"), as `tracker status` prints it."""
    return period_label(code, current_lang())


SOURCES_TH = {"config": "ไฟล์ตั้งค่า", "cli": "คำสั่ง", "import": "นำเข้ารายงาน", "web": "เว็บ", "line": "LINE",
              "api": "API", "simulate": "จำลอง"}
CHANNELS_TH = {"line": "LINE", "mailto": "อีเมล", "https": "เว็บฮุก", "outbox": "โฟลเดอร์ outbox"}


def source_label(source: str) -> str:
    """How an action came in (web, LINE, CLI, import…), in the reader's language."""
    return source if current_lang() == "en" else SOURCES_TH.get(source, source)


CHANGES_TH = {"created": "บันทึก", "corrected": "แก้ไข", "withdrawn": "ถอน", "bound": "ผูกแล้ว",
              "disabled": "เลิกผูก", "code_issued": "ออกรหัสเชื่อมต่อ", "revoked": "ยกเลิก", "applied": "ใช้ไฟล์ใหม่",
              "imported": "นำเข้า", "acknowledged": "รับทราบ", "snoozed": "เลื่อนการแจ้งเตือน"}


def change_label(change: str) -> str:
    """What an audit row's change was (created, bound, revoked…), in the reader's language."""
    return change.replace("_", " ") if current_lang() == "en" else CHANGES_TH.get(change, change)


def channel_label(channel: str) -> str:
    """A channel by name: a scheme, or `line@<code>` for an organisation's own LINE account."""
    scheme, _, own = channel.partition("@")
    if current_lang() == "en":
        return f"LINE ({own}'s own account)" if own else channel
    return f"LINE (บัญชีทางการของ {own})" if own else CHANNELS_TH.get(scheme, scheme)


OUTBOX_STATUSES = {"pending": ("รอส่ง", "pending"), "leased": ("กำลังส่ง", "being sent"),
                   "sent": ("ส่งแล้ว", "sent"), "failed": ("ส่งไม่สำเร็จ", "failed"),
                   "dead": ("เลิกส่งแล้ว", "dead"), "skipped": ("ข้าม", "skipped"),
                   "cancelled": ("ยกเลิก", "cancelled")}
FIXED_STAGES = {"due": ("แจ้งเตือนวันครบกำหนด", "reminder, due day"),
                "escalation-head": ("แจ้งหัวหน้าหน่วยงาน เมื่อเกินกำหนด", "reminder to the unit's head, overdue"),
                "escalation-exec": ("แจ้งผู้บริหาร เมื่อเกินกำหนด", "reminder to the executives, overdue"),
                "digest": ("สรุปผลการดำเนินงานประจำเดือน", "monthly digest"),
                "evidence": ("แจ้งลิงก์หลักฐานที่เปิดไม่ได้", "alert: an evidence link is broken")}


def outbox_status(status: str) -> str:
    """An outbox row's status (pending, sent, dead…) in the reader's language."""
    th, en = OUTBOX_STATUSES.get(status, (status, status))
    return en if current_lang() == "en" else th


def message_label(kind: str, stage: str) -> str:
    """What an outbox message is, from its kind and stage (`reminder`/`before-7`, `digest`, `alert`…), as
    the outbox and an obligation's history show it: "แจ้งเตือนล่วงหน้า ๗ วัน", "reminder, 7 days before"."""
    english = current_lang() == "en"
    head, _, number = stage.partition("-")
    if stage in FIXED_STAGES:
        th, en = FIXED_STAGES[stage]
    elif head == "before" and number.isdigit():
        th, en = f"แจ้งเตือนล่วงหน้า {number} วัน", f"reminder, {number} days before"
    elif head == "overdue" and number.isdigit():
        th, en = f"แจ้งเตือนเกินกำหนด ครั้งที่ {number}", f"reminder, overdue ({number})"
    elif kind == "alert":
        th, en = "แจ้งผู้ดูแลระบบ", "alert to the admins"
    else:
        return f"{kind} {stage}"
    return en if english else _thai_digits(th)


def _remember(response: Response) -> Response:
    asked = request.args.get("lang")
    if asked in LANGS:
        response.set_cookie(COOKIE, asked, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(t=t, lang=current_lang, status_label=status_label, status_text=status_text,
                                 source_label=source_label, channel_label=channel_label, change_label=change_label,
                                 message_label=message_label, outbox_status=outbox_status)
    app.jinja_env.filters.update(digits=digits, day=day, clock=clock, period=period, moment=moment)
    app.after_request(_remember)
    app.before_request(_forget)
    app.teardown_request(_forget)
