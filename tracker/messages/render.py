"""Render reminders (and delivery alerts) into subject, plain text, HTML and a short LINE text.

Each stage kind (before, due, overdue, escalation) has a template per language under `templates/<lang>/`
defining `subject`, `greeting`, `headline` and `closing`; the three layouts (`message.txt.j2`, `message.html.j2`,
`message.line.j2`) put them between a greeting ("เรียน …") and a closing ("จึงเรียนมาเพื่อโปรดทราบและ
ดำเนินการ"), the register of an official letter. No person is shown a command line: where the web app gives
a signed link (`action_url`), the message carries it; otherwise it asks for the result to be recorded.
Only `.html.j2` templates autoescape: the other formats are plain text, where escaping would show "&amp;".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import escape

from tracker.domain.thaidate import format_date, period_label, to_thai_digits
from tracker.messages.outgoing import OutgoingMessage

LANGS = ("th", "en")
STAGE_KINDS = ("before", "due", "overdue", "escalation")


@dataclass(frozen=True)
class ReminderContent:
    """The facts a reminder states. `day` is the day it is sent (days left are counted from it)."""

    org_code: str
    org_name: str
    measure_title: str
    obligation_code: str
    obligation_title: str
    unit_name: str
    done_when: str
    period: str
    due: date
    day: date
    stage: str
    recipient: str = ""
    replaced: tuple[date, ...] = ()  # days of reminders not sent while the service was down (catch-up)

    @property
    def kind(self) -> str:
        return self.stage.split("-", 1)[0]


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str
    line_text: str

    def outgoing(self, key: str, lang: str) -> OutgoingMessage:
        return OutgoingMessage(key, self.subject, self.text, self.html, self.line_text, lang)


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("tracker.messages", "templates"),
        autoescape=lambda name: name is not None and name.endswith(".html.j2"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
    )


def _context(content: ReminderContent, lang: str, action_url: str | None) -> dict[str, Any]:
    days_left = (content.due - content.day).days
    recurring = "-" in content.period  # a recurring obligation: name the round, a date alone may mislead
    return {
        **{name: getattr(content, name) for name in content.__dataclass_fields__},
        "lang": lang,
        "days_left": days_left,
        "days": abs(days_left),
        "days_th": to_thai_digits(str(abs(days_left))),
        "due_text": format_date(content.due, lang, style="weekday"),
        "period_text": period_label(content.period, lang) if recurring else "",
        "action_url": action_url,
        "sender": content.org_name,
        "replaced_text": replaced_text(content.replaced, lang),
    }


def replaced_text(days: tuple[date, ...], lang: str) -> str:
    """The sentence a catch-up message adds: which reminders it replaces, so nothing is dropped silently."""
    if not days:
        return ""
    joiner, separator = (" and ", ", ") if lang == "en" else (" และ", " ")  # Thai lists with spaces, not commas
    named = [format_date(day, lang, style="weekday") for day in days]
    listed = joiner.join([separator.join(named[:-1]), named[-1]] if len(named) > 1 else named)
    if lang == "en":
        return (f"The reminder{'s' if len(days) > 1 else ''} of {listed} "
                f"{'were' if len(days) > 1 else 'was'} not sent while the service was down; this message replaces "
                f"{'them' if len(days) > 1 else 'it'}.")
    return f"ทั้งนี้ ระบบไม่ได้ส่งการแจ้งเตือนเมื่อ{listed} เนื่องจากระบบหยุดทำงาน ฉบับนี้จึงแจ้งแทน"


def render_reminder(content: ReminderContent, lang: str = "th", *, action_url: str | None = None) -> RenderedMessage:
    """The reminder in `lang` ("th" or "en"; anything else falls back to Thai). `action_url`, when given,
    is the link where the officer records the result (the web app's signed link); None leaves it out."""
    lang = lang if lang in LANGS else "th"
    if content.kind not in STAGE_KINDS:
        raise ValueError(f"stage {content.stage!r} is not a reminder stage ({', '.join(STAGE_KINDS)})")
    env = environment()
    m = _context(content, lang, action_url)
    stage_template = f"{lang}/{content.kind}.j2"
    stage = env.get_template(stage_template).module
    subject = str(stage.subject(m)).strip()  # type: ignore[attr-defined]

    def layout(fmt: str) -> str:
        return env.get_template(f"{lang}/message.{fmt}.j2").render(m=m, stage_template=stage_template).strip()

    return RenderedMessage(subject, layout("txt") + "\n", layout("html") + "\n", layout("line"))


def render_alert(org_name: str, destination: str, recipient: str, reason: str, lang: str = "th") -> RenderedMessage:
    """The message to an organisation's admins when a destination failed permanently.
    `destination` must already be masked; `reason` never holds a secret (notifiers guarantee it)."""
    if lang == "en":
        subject = f"[Delivery failed] {recipient}: {destination}"
        text = (f"Reminders of {org_name} can no longer reach {recipient} at {destination}.\n"
                f"Reason: {reason}\n\nFix the destination in the configuration (then `tracker sync`), "
                "and retry the message with `tracker outbox retry ID`.\n")
    else:
        subject = f"[ส่งแจ้งเตือนไม่สำเร็จ] {recipient}: {destination}"
        text = (f"ระบบไม่สามารถส่งแจ้งเตือนของ{org_name} ถึง {recipient} ทาง {destination} ได้\n"
                f"สาเหตุ: {reason}\n\nโปรดแก้ไขช่องทางในไฟล์ตั้งค่า (แล้วสั่ง `tracker sync`) "
                "และส่งข้อความซ้ำด้วย `tracker outbox retry ID`\n")
    html = f"<p><strong>{escape(subject)}</strong></p><pre>{escape(text)}</pre>\n"
    return RenderedMessage(subject, text, html, text.strip())


def render_channel_alert(org_name: str, channel: str, reason: str, lang: str = "th") -> RenderedMessage:
    """The message to an organisation's admins when a whole channel (LINE, e-mail) refuses: its
    messages wait and go out by themselves once it works again. `reason` never holds a secret."""
    if lang == "en":
        subject = f"[Channel paused] {channel}: every recipient"
        text = (f"Reminders of {org_name} cannot go out over {channel} for now.\nReason: {reason}\n\n"
                "They are kept and sent by themselves as soon as the channel works again: check its token or "
                "password in the server's settings.\n")
    else:
        subject = f"[ช่องทางส่งแจ้งเตือนหยุดชั่วคราว] {channel}: ผู้รับทุกคน"
        text = (f"ระบบยังไม่สามารถส่งแจ้งเตือนของ{org_name} ทาง {channel} ได้\nสาเหตุ: {reason}\n\n"
                "ข้อความทั้งหมดยังเก็บไว้และจะส่งเองเมื่อช่องทางกลับมาใช้ได้ โปรดตรวจสอบโทเคนหรือรหัสผ่านในการตั้งค่าเซิร์ฟเวอร์\n")
    html = f"<p><strong>{escape(subject)}</strong></p><pre>{escape(text)}</pre>\n"
    return RenderedMessage(subject, text, html, text.strip())
