"""Thai by default, English when asked (`?lang=en`, then remembered in a cookie).

Templates say both languages in place with `t("ไทย", "English")`: the pages are few, and a translator
reads each sentence next to its translation.
"""

from __future__ import annotations

from datetime import date

from flask import Flask, Response, g, request

from tracker.domain.status import Status
from tracker.domain.status import status_label as _status_label
from tracker.domain.thaidate import format_date, to_thai_digits

LANGS = ("th", "en")
COOKIE = "lang"


def current_lang() -> str:
    if "lang" not in g:
        asked = request.args.get("lang") or request.cookies.get(COOKIE) or "th"
        g.lang = asked if asked in LANGS else "th"
    lang: str = g.lang
    return lang


def t(th: str, en: str) -> str:
    return en if current_lang() == "en" else th


def digits(value: object) -> str:
    """Thai digits on Thai pages."""
    text = str(value)
    return text if current_lang() == "en" else to_thai_digits(text)


def day(value: date | None, style: str = "long") -> str:
    """A date as officials write it: B.E. and Thai digits (C.E. in English)."""
    if value is None:
        return "-"
    lang = current_lang()
    return format_date(value, lang, style=style if lang == "th" else "long")


def status_label(status: Status) -> str:
    return _status_label(status, current_lang())


SOURCES_TH = {"config": "ไฟล์ตั้งค่า", "cli": "คำสั่ง", "import": "นำเข้ารายงาน", "web": "เว็บ", "line": "LINE",
              "api": "API", "simulate": "จำลอง"}
CHANNELS_TH = {"line": "LINE", "mailto": "อีเมล", "https": "เว็บฮุก", "outbox": "โฟลเดอร์ outbox"}


def source_label(source: str) -> str:
    """How an action came in (web, LINE, CLI, import…), in the reader's language."""
    return source if current_lang() == "en" else SOURCES_TH.get(source, source)


def channel_label(scheme: str) -> str:
    return scheme if current_lang() == "en" else CHANNELS_TH.get(scheme, scheme)


def _remember(response: Response) -> Response:
    asked = request.args.get("lang")
    if asked in LANGS:
        response.set_cookie(COOKIE, asked, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(t=t, lang=current_lang, status_label=status_label, source_label=source_label,
                              channel_label=channel_label)
    app.jinja_env.filters.update(digits=digits, day=day)
    app.after_request(_remember)
