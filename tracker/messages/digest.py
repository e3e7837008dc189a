"""Rendering a `Digest` for people: an HTML mail part, a plain-text part and a short LINE message.

Thai by default, with B.E. dates and Thai digits as officials write them; English on request.
The HTML chart is made of table cells with `width` and `bgcolor` attributes and inline styles only:
Gmail strips <style> blocks and Outlook renders with Word, which ignores flexbox, CSS width on divs
and SVG, but both honour table widths and cell colours.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import escape

from tracker.domain.digest import BUCKETS, Digest, UnitSummary
from tracker.domain.thaidate import MONTHS_EN, MONTHS_FULL, ce_to_be, format_date, period_label, to_thai_digits

TEMPLATES = Path(__file__).resolve().parent / "templates"
LINE_LIMIT = 5000  # LINE's text message limit, in UTF-16 code units
LINE_ITEMS = 5
OVERDUE_SHOWN = 10  # then "และอีก N รายการ" and the board's link: a mail is read, not scrolled for 8,000 px

COLOURS = {"done": "#2e7d32", "late": "#f9a825", "overdue": "#c62828", "due_this_month": "#ef6c00",
           "upcoming": "#bdbdbd"}
LABELS = {
    "th": {"done": "ทันกำหนด", "late": "ล่าช้า", "overdue": "เกินกำหนด", "due_this_month": "ครบกำหนดเดือนนี้",
           "upcoming": "ยังไม่ถึงกำหนด"},
    "en": {"done": "on time", "late": "done late", "overdue": "overdue", "due_this_month": "due this month",
           "upcoming": "upcoming"},
}


# The templates are shared by both languages; only these phrases differ.
TEXTS = {
    "th": {
        "title": "สรุปสถานะการดำเนินการตามมาตรการส่งเสริมคุณธรรมและความโปร่งใส (ITA)",
        "month": "ประจำเดือน", "as_of": "ข้อมูล ณ วันที่", "fy": "ปีงบประมาณ พ.ศ.",
        "rate": "อัตราการดำเนินการแล้วเสร็จ", "change": "เทียบกับสิ้นเดือนก่อน",
        "rate_note": "ร้อยละของรายการที่ครบกำหนดแล้วซึ่งดำเนินการเสร็จ",
        "by_unit": "สถานะรายหน่วยงาน (ตั้งแต่ต้นปีงบประมาณ)", "unit": "หน่วยงาน", "total": "รวม",
        "overdue": "รายการที่เกินกำหนด (เรียงจากเกินนานที่สุด)", "days_overdue": "เกินกำหนด",
        "days": "วัน", "due": "กำหนด", "none": "ไม่มี",
        "completed": "ดำเนินการแล้วเสร็จในเดือนที่ผ่านมา", "done_on": "ดำเนินการเมื่อ", "evidence": "หลักฐาน",
        "late_by": "ล่าช้า",
        "next": "ครบกำหนดภายใน ๓๐ วันข้างหน้า", "days_left": "เหลือ",
        "more": "และอีก", "more_items": "รายการ", "see_all": "ดูทั้งหมดได้ที่",
        "greeting": "เรียน ผู้บริหาร", "closing": "จึงเรียนมาเพื่อโปรดทราบ",
        "sender": "ระบบติดตามมาตรการส่งเสริมคุณธรรมและความโปร่งใส",
        "scope": "นับเฉพาะรายการของปีงบประมาณ พ.ศ.", "carried": "ค้างจากปีก่อน", "periods": "งวด",
        "first_due": "งวดแรกกำหนด",
        "broken": "ลิงก์หลักฐานที่เปิดไม่ได้ (ผู้ประเมินจะไม่ให้คะแนนรายการที่ลิงก์เสีย)", "broken_since": "เปิดไม่ได้ตั้งแต่",
        "footer": "ข้อความนี้ส่งโดยระบบติดตามมาตรการ ITA โดยอัตโนมัติ ในวันทำการแรกของทุกเดือน",
    },
    "en": {
        "title": "ITA integrity and transparency measures: monthly status",
        # "month" runs straight into the month's name, as Thai writes "ประจำเดือนพฤษภาคม": the space is here.
        "month": "for ", "as_of": "as of", "fy": "fiscal year (B.E.)",
        "rate": "Completion rate", "change": "change since the end of last month",
        "rate_note": "share of the deadlines already due that were met or done late",
        "by_unit": "Status by unit (fiscal year to date)", "unit": "Unit", "total": "Total",
        "overdue": "Overdue (longest first)", "days_overdue": "overdue",
        "days": "days", "due": "due", "none": "none",
        "completed": "Completed last month", "done_on": "done on", "evidence": "evidence",
        "late_by": "late by",
        "next": "Due in the next 30 days", "days_left": "left",
        "more": "and", "more_items": "more", "see_all": "see them all at",
        "greeting": "Dear executives of", "closing": "For your information.",
        "sender": "ITA measures tracker",
        "scope": "counting the deadlines of fiscal year (B.E.)", "carried": "carried over from earlier years:",
        "periods": "periods", "first_due": "the first due",
        "broken": "Evidence links that no longer open (an assessor fails an item whose link is dead)",
        "broken_since": "broken since",
        "footer": "Sent automatically by the ITA tracker on the first working day of every month.",
    },
}


@dataclass(frozen=True)
class RenderedDigest:
    subject: str
    text: str
    html: str
    line_text: str


def _environment(lang: str) -> Environment:
    """One environment per language: its filters `n` (a number), `day` (a date) and `periods` write in
    that language. A filter is a direct call in the compiled template, where `f.n(…)` went through
    Jinja's generic call (a third of the rendering, ~200 calls per digest)."""
    env = Environment(
        loader=_PhrasesWritten(lang),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # compiled once: asking the file system again for every digest cost ~0.2 ms each
    )
    f = _FORMATS[lang]
    env.filters.update(n=f.n, day=f.date, periods=f.periods)
    return env


class _PhrasesWritten(FileSystemLoader):
    """The templates, with each phrase they name alone (`{{ t.title }}`) written into their source in the
    language of their environment when they are compiled (escaped for HTML): the same hundred phrases
    were looked up and escaped again in every digest, a quarter of the HTML's rendering. The phrases used
    inside expressions are still read from `t`."""

    NAMED = re.compile(r"\{\{ t\.(\w+) \}\}")

    def __init__(self, lang: str) -> None:
        super().__init__(TEMPLATES)
        self.texts = TEXTS[lang]

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        html = template.endswith(".html.j2")

        def written(found: re.Match[str]) -> str:
            text = self.texts[found[1]]
            # Text that Jinja would read as syntax, or none at all (a block tag after it could then take
            # the line's indentation away), would not render as the phrase did.
            if not text or any(mark in text for mark in ("{{", "{%", "{#")):
                raise ValueError(f"phrase {found[1]!r} cannot be written into {template}: {text!r}")
            return str(escape(text)) if html else text

        return self.NAMED.sub(written, source), filename, uptodate


class _Names(dict[str, str]):
    """A phrase table the templates read as `t.title` (an attribute, without Jinja's failed attribute
    lookup before the item lookup) and as `labels[bucket]`."""

    def __init__(self, names: dict[str, str]) -> None:
        super().__init__(names)
        self.__dict__ = self


class _Format:
    """Numbers, dates and months for one language; its filters `n`, `day` and `periods` in the templates.

    One per language for the process (`_FORMATS`), each remembering what it wrote: the digests of the
    whole country name the same few hundred dates, periods and numbers, and writing each in Thai (B.E.
    year, Thai digits) again for every organisation was a fifth of the rendering."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._numbers: dict[int | str, str] = {}
        self._dates: dict[date, str] = {}
        self._periods: dict[tuple[str, ...], str] = {}

    def n(self, value: int | str) -> str:
        found = self._numbers.get(value)
        if found is None:
            found = to_thai_digits(str(value)) if self.lang == "th" else str(value)
            if len(self._numbers) < _REMEMBERED:
                self._numbers[value] = found
        return found

    def date(self, day: date) -> str:
        found = self._dates.get(day)
        if found is None:
            found = format_date(day, self.lang)
            if len(self._dates) < _REMEMBERED:
                self._dates[day] = found
        return found

    def month(self, year: int, month: int) -> str:
        if self.lang == "th":
            return to_thai_digits(f"{MONTHS_FULL[month - 1]} {ce_to_be(year)}")
        return f"{MONTHS_EN[month - 1]} {year}"

    def _one_decimal(self, value: float) -> str:
        # Whole numbers stay whole ("๕๐"); others keep one decimal ("๕.๖"), as a rounded "๖%" beside a
        # change of "−๔ จุด" would not add up for the reader.
        text = f"{value:.1f}".removesuffix(".0")
        return self.n(text)

    def pct(self, rate: float | None) -> str:
        return "-" if rate is None else self._one_decimal(rate * 100) + "%"

    def change(self, delta: float | None) -> str:
        """"เพิ่มขึ้น ๒ จุด", "ลดลง ๓.๕ จุด", "เท่าเดิม" (percentage points since the end of last month)."""
        if delta is None:
            return "-"
        points = round(delta * 100, 1)
        if points == 0:
            return "เท่าเดิม" if self.lang == "th" else "unchanged"
        size = self._one_decimal(abs(points))
        if self.lang == "th":
            return f"{'เพิ่มขึ้น' if points > 0 else 'ลดลง'} {size} จุด"
        return f"{'up' if points > 0 else 'down'} {size} pts"

    def periods(self, codes: tuple[str, ...]) -> str:
        """"ต.ค. ๖๗, พ.ย. ๖๗, ธ.ค. ๖๗": the periods of a grouped line."""
        found = self._periods.get(codes)
        if found is None:
            found = ", ".join(period_label(code, self.lang) for code in codes)
            if len(self._periods) < _REMEMBERED:
                self._periods[codes] = found
        return found

    def place(self, district: str, province: str) -> str:
        """"อำเภอโนนสูง จังหวัดนครราชสีมา", as an address is written; "(Non Sung, …)" in English."""
        return f"อำเภอ{district} จังหวัด{province}" if self.lang == "th" else f"{district}, {province}"


_REMEMBERED = 20_000  # per table and language: bounded, whatever a long-running service renders
_FORMATS = {lang: _Format(lang) for lang in ("th", "en")}
_TEXTS = {lang: _Names(texts) for lang, texts in TEXTS.items()}
_LABELS = {lang: _Names(labels) for lang, labels in LABELS.items()}


@dataclass(frozen=True, slots=True)
class BarSegment:
    """One bucket's part of a unit's bar. Attributes, as the template reads them: Jinja reads `s.width`
    of a dict by failing the attribute first (an exception each, six per segment)."""

    bucket: str
    count: int
    width: int  # whole percent
    colour: str


def bar_segments(unit: UnitSummary) -> list[BarSegment]:
    """The unit's buckets as whole-percent widths that add up to exactly 100 (largest remainder),
    so that the table never overflows its width in Outlook. Empty buckets are left out."""
    total = unit.total
    if total == 0:
        return []
    counts = {b: getattr(unit, b) for b in BUCKETS}
    exact = {b: counts[b] * 100 / total for b in BUCKETS}
    widths = {b: int(exact[b]) for b in BUCKETS}
    short = 100 - sum(widths.values())
    for b in sorted(BUCKETS, key=lambda b: exact[b] - widths[b], reverse=True)[:short]:
        widths[b] += 1
    return [BarSegment(b, counts[b], widths[b], COLOURS[b]) for b in BUCKETS if counts[b] and widths[b]]


def _context(digest: Digest, lang: str, board_url: str | None) -> dict[str, Any]:
    f = _FORMATS[lang]
    return {
        "d": digest, "labels": _LABELS[lang], "buckets": BUCKETS, "colours": COLOURS,
        "bars": {u.code: bar_segments(u) for u in digest.units}, "line_items": LINE_ITEMS,
        "overdue_shown": OVERDUE_SHOWN, "t": _TEXTS[lang], "lang": lang, "board_url": board_url,
        # Written once for the three templates (each called them through Jinja's generic call).
        "month": f.month(digest.year, digest.month), "place": f.place(digest.district, digest.province),
        "rate": f.pct(digest.rate), "change": f.change(digest.rate_change),
    }


def subject(digest: Digest, lang: str) -> str:
    f = _FORMATS["th" if lang == "th" else "en"]
    if lang == "th":
        return (f"สรุปสถานะมาตรการ ITA {digest.org_name} ประจำเดือน{f.month(digest.year, digest.month)}"
                f" (เกินกำหนด {f.n(digest.overdue_count)} รายการ)")
    return (f"ITA measures digest, {digest.org_name}, {f.month(digest.year, digest.month)}"
            f" ({digest.overdue_count} overdue)")


def _fit_line(text: str) -> str:
    # LINE counts UTF-16 code units; Thai is all in the BMP, but be exact anyway.
    if len(text.encode("utf-16-le")) // 2 <= LINE_LIMIT:
        return text
    out = text
    while len(out.encode("utf-16-le")) // 2 > LINE_LIMIT - 1:
        out = out[: len(out) - 100]
    return out + "…"


def render_digest(digest: Digest, lang: str = "th", *, board_url: str | None = None) -> RenderedDigest:
    """The digest in `lang`. `board_url`, when given, is where the whole board can be seen (the web app's
    link): the overdue list, cut after OVERDUE_SHOWN lines, points there. None leaves it out."""
    lang = "en" if lang == "en" else "th"
    context = _context(digest, lang, board_url)
    text, html, line = _TEMPLATES[lang]
    return RenderedDigest(
        subject=subject(digest, lang),
        text=text.render(context),
        html=html.render(context),
        line_text=_fit_line(line.render(context).strip()),
    )


_TEMPLATES = {lang: tuple(_environment(lang).get_template(name)
                          for name in ("digest.txt.j2", "digest.html.j2", "digest_line.txt.j2"))
              for lang in ("th", "en")}
