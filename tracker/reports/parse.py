"""Read the ITA progress report (รายงานการดำเนินการตามมาตรการส่งเสริมคุณธรรมและความโปร่งใส) into measures,
obligations with due rules, and actions. Pure: it takes the title lines and the table rows that
`reports.reader` got out of a file, and never reads a file or the clock itself.

What "row" means in a warning: the n-th row of the table in file order, counting from 1, header rows
(repeated on every page) not counted. Columns are 1–5 as in the report. Warnings about the title block
have no row (None).

Nothing is fixed or dropped silently: every doubt becomes a `ReportWarning` naming row, column and text.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from tracker.domain.errors import DateParseError, RuleError, TrackerError
from tracker.domain.rules import DateRule, DueRule, FiscalYearRule, Frequency, MonthRule, RecurringRule
from tracker.domain.thaidate import (
    MONTHS_ABBR,
    MONTHS_FULL,
    be_to_ce,
    fiscal_year_bounds,
    format_thai_date,
    make_date,
    month_in_fiscal_year,
    normalise_digits,
    normalize_be_year,
    to_arabic_digits,
    to_thai_digits,
)
from tracker.domain.workdays import WorkCalendar

COLUMNS = 5
COLUMN_NAMES: tuple[str, ...] = (
    "ประเด็นที่ต้องปรับปรุงแก้ไข/ประเด็นที่ต้องพัฒนา",
    "ผู้รับผิดชอบ",
    "ขั้นตอนหรือวิธีการ/มาตรการ",
    "การรายงานผลและการกำกับติดตาม กำหนดเวลาแล้วเสร็จ",
    "การดำเนินการ",
)
# Marks the generated report adds and the parser takes away again, so that a generated report imports
# back to the same measures: "[สถานะ: …]" after an obligation, "[ตามข้อ ๒]" after an action.
STATUS_MARK = "สถานะ"
OBLIGATION_REF_MARK = "ตามข้อ"
NO_ACTION_TEXT = "ยังไม่มีการดำเนินการ"


class ReportFormatError(TrackerError):
    """The file is not a progress report: empty, binary, no header row, or not five columns. The message
    is English; `th`, when given, says the same in Thai (what `tracker import-report` shows by default)."""

    def __init__(self, message: str, th: str = "") -> None:
        super().__init__(message)
        self.th = th

    def describe(self, lang: str = "th") -> str:
        return str(self) if lang == "en" or not self.th else self.th


# ---------------------------------------------------------------- value objects


@dataclass(frozen=True)
class SourceRow:
    """One table row as the reader found it; `where` locates it in the file ("line 18")."""

    cells: tuple[str, ...]
    where: str = ""


@dataclass(frozen=True)
class ReportSource:
    """What a reader hands the parser: the lines above the table and the table's rows."""

    title_lines: tuple[str, ...]
    rows: tuple[SourceRow, ...]
    name: str = "report"


class Note(str):
    """A warning's English text (the str itself, which tests and logs match) carrying its Thai (`th`),
    the language the officials who run the import read."""

    th: str

    def __new__(cls, en: str, th: str) -> Note:
        made = super().__new__(cls, en)
        made.th = th
        return made


def _n(value: object) -> str:
    return to_thai_digits(str(value))


def _where_th(where: str) -> str:
    """"line 13" → "บรรทัดที่ ๑๓", "table 1, row 4" → "ตารางที่ ๑ แถวที่ ๔" (the readers' locations)."""
    where = re.sub(r"line (\d+)", r"บรรทัดที่ \1", where)
    where = re.sub(r"table (\d+), row (\d+)", r"ตารางที่ \1 แถวที่ \2", where)
    return to_thai_digits(re.sub(r"row (\d+)", r"แถวที่ \1", where))


@dataclass(frozen=True)
class ReportWarning:
    """Something the parser could not read or found implausible. `row`/`column` are 1-based.
    `message` is English, `message_th` Thai; `describe(lang)` is what a person is shown."""

    row: int | None
    column: int | None
    text: str
    message: str
    message_th: str = ""

    def describe(self, lang: str = "th") -> str:
        shown = self.text if len(self.text) <= 90 else self.text[:87] + "…"
        if lang == "en":
            where = "title" if self.row is None else f"row {self.row}" + (
                f", column {self.column}" if self.column else "")
            return f"{where}: {self.message}" + (f' — "{shown}"' if shown else "")
        where = "ส่วนหัวรายงาน" if self.row is None else f"แถวที่ {_n(self.row)}" + (
            f" คอลัมน์ที่ {_n(self.column)}" if self.column else "")
        return f"{where}: {self.message_th or self.message}" + (f" — “{shown}”" if shown else "")

    def __str__(self) -> str:
        return self.describe("en")


@dataclass(frozen=True)
class ParsedObligation:
    text: str
    rule: DueRule | None
    due: dt.date | None  # the first due date of the rule in the report's fiscal year
    # The 1-based item of column 4 it was written in; None: its own position. Items that name two months
    # ("ภายในเดือนเมษายนและตุลาคม") give two obligations of one item, which an action numbered with that
    # item may serve.
    item: int | None = None


@dataclass(frozen=True)
class ParsedAction:
    date: dt.date | None
    unit_name: str
    text: str
    obligation: int | None = None  # 1-based position among the measure's obligations it is taken to serve


@dataclass(frozen=True)
class ParsedMeasure:
    code: str
    title: str
    unit_name: str
    oit: str | None
    steps: tuple[str, ...]
    obligations: tuple[ParsedObligation, ...]
    actions: tuple[ParsedAction, ...]
    row: int = 0


@dataclass(frozen=True)
class ParsedReport:
    org_name: str
    district: str
    province: str
    fiscal_year: int
    round: str | None  # "6m", "12m" or None
    measures: tuple[ParsedMeasure, ...]
    warnings: tuple[ReportWarning, ...] = field(default=())


# ---------------------------------------------------------------- shared patterns (on Arabic digits)

_ABBR_PATTERNS = [re.escape(a).replace(r"\.", r"\.\s?").removesuffix(r"\s?") + "?" for a in MONTHS_ABBR]
MONTH_RE = "|".join(sorted([re.escape(m) for m in MONTHS_FULL], key=len, reverse=True) + _ABBR_PATTERNS)
_BE = r"(?:พ\.?\s?ศ\.?\s*)"
_YEAR = rf"(?:\s*{_BE}?\s*(\d{{4}}|\d{{2}})(?!\d))"
_MONTH_KEYS = {re.sub(r"[\s.]", "", name): i for i, name in enumerate(MONTHS_FULL, 1)}
_MONTH_KEYS.update({re.sub(r"[\s.]", "", name): i for i, name in enumerate(MONTHS_ABBR, 1)})


def month_number(name: str) -> int:
    """1–12 for a Thai month name as matched by MONTH_RE ("ตุลาคม", "ต.ค.", "ต. ค", "ตค")."""
    return _MONTH_KEYS[re.sub(r"[\s.]", "", name)]


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# ---------------------------------------------------------------- numbered items

# "๑. …", "๑) …", "(๑) …"; also glued to the previous item's last word or year ("…ตุลาคม๒. …",
# "…๒๕๖๕๒. …"), which otherwise merges two obligations into one.
_ITEM = re.compile(r"(?:^|(?<=\s)|(?<=[\u0e01-\u0e4f])|(?<=25\d\d))(?:\((\d{1,2})\)|(\d{1,2})\s?[.)])(?!\d)\s*")


def split_items(text: str) -> list[tuple[int | None, str]]:
    """Split a cell into its numbered items "๑. … ๒. …" (Thai or Arabic digits, with or without a space).

    Only a run 1, 2, 3… counts, so "มากกว่า ๑ ช่องทาง" or a number inside a sentence does not split.
    Text before item 1 is returned as an item numbered None. A cell without numbers is one item.
    """
    plain = to_arabic_digits(text)  # same length: each Thai digit is one character
    cuts: list[tuple[int, int, int]] = []  # (number, start of marker, start of text)
    expected = 1
    for m in _ITEM.finditer(plain):
        if int(m[1] or m[2]) == expected:
            cuts.append((expected, m.start(), m.end()))
            expected += 1
    if not cuts:
        return [(None, _clean(text))] if text.strip() else []
    items: list[tuple[int | None, str]] = []
    head = _clean(text[: cuts[0][1]])
    if head:
        items.append((None, head))
    for i, (number, _, start) in enumerate(cuts):
        end = cuts[i + 1][1] if i + 1 < len(cuts) else len(text)
        items.append((number, _clean(text[start:end])))
    return items


# ---------------------------------------------------------------- deadlines

_RELATIVE = re.compile(r"ภายใน\s*\d+\s*วัน(?!ที่)")
_AFTER_PERIOD_END = re.compile(
    r"ภายใน\s*(\d+)\s*วัน\s*(?:นับ\s*(?:แต่|จาก)\s*)?(?:วัน)?สิ้น\s*(เดือน|ไตรมาส|รอบ\s*6\s*เดือน|ครึ่งปี|ปีงบประมาณ)")
_DATE = re.compile(rf"(?<!\d)(\d{{1,2}})\s*(?:เดือน\s*)?({MONTH_RE}){_YEAR}?")
_MONTHLY_DAY = re.compile(r"(?:ภายใน|ก่อน)\s*วันที่\s*(\d{1,2})\s*(?:ของ)?\s*(ทุกเดือน|เดือนถัดไป)")
_EVERY_DAY_OF_MONTH = re.compile(r"ทุก\s*วันที่\s*(\d{1,2})\s*(?:ของ\s*(?:ทุก\s*)?เดือน|ของทุกเดือน)")
_BEFORE_DATE = re.compile(r"ก่อน\s*วันที่")
_QUARTER_NUMBER = re.compile(r"ภายใน\s*ไตรมาส\s*ที่\s*([1-4])")
_RANGE = re.compile(rf"({MONTH_RE}){_YEAR}?\s*(?:-|–|—|ถึง)\s*(?:เดือน\s*)?({MONTH_RE}){_YEAR}?")
_MONTH = re.compile(rf"(ภายใน\s*|ก่อน\s*|ไม่เกิน\s*)?(?:เดือน\s*)?({MONTH_RE}){_YEAR}?")
_FISCAL_YEAR = re.compile(rf"(?:ภายใน|ตลอด|ใน)\s*ปีงบประมาณ(?:\s*{_BE}?\s*(\d{{4}}|\d{{2}})(?!\d))?")
_ROUND = re.compile(r"รอบ\s*(6|12)\s*เดือน")
_VAGUE = re.compile(r"อย่างสม่ำเสมอ|อย่างต่อเนื่อง|เป็นประจำ|สม่ำเสมอ")
_FREQUENCIES: tuple[tuple[re.Pattern[str], Frequency | None], ...] = (
    (re.compile(r"ทุก\s*(\d+)\s*เดือน"), None),  # the number decides
    (re.compile(r"ทุก\s*(?:สิ้น)?\s*เดือน|รายเดือน|เดือนละ\s*(\d+)\s*ครั้ง"), Frequency.MONTHLY),
    (re.compile(r"ทุก\s*(?:สิ้น)?\s*ไตรมาส|รายไตรมาส|ไตรมาสละ\s*(\d+)\s*ครั้ง"), Frequency.QUARTERLY),
    (re.compile(r"ทุก\s*ครึ่งปี|ครึ่งปีละ\s*(\d+)\s*ครั้ง"), Frequency.HALF_YEARLY),
    (re.compile(r"ปีละ\s*(\d+)\s*ครั้ง|ทุก\s*ปี(?!งบ)|รายปี"), Frequency.YEARLY),
)
_MONTHS_TO_FREQUENCY = {1: Frequency.MONTHLY, 3: Frequency.QUARTERLY, 6: Frequency.HALF_YEARLY,
                        12: Frequency.YEARLY}
_PERIOD_WORDS = {"เดือน": Frequency.MONTHLY, "ไตรมาส": Frequency.QUARTERLY, "ครึ่งปี": Frequency.HALF_YEARLY,
                 "ปีงบประมาณ": Frequency.YEARLY}
_FREQUENCY_TH = {Frequency.MONTHLY: "ทุกเดือน", Frequency.QUARTERLY: "ทุกไตรมาส", Frequency.HALF_YEARLY: "ทุก ๖ เดือน",
                 Frequency.YEARLY: "ปีละครั้ง"}
_STATUS = re.compile(rf"\s*\[\s*{STATUS_MARK}[^\]]*\]")


def strip_generated_marks(text: str) -> str:
    """Remove the "[สถานะ: …]" the generated report adds after an obligation."""
    return _clean(_STATUS.sub("", text))


_YEAR_TEXT = rf"(?:\s*{_BE}?\s*(?:\d{{4}}|\d{{2}})(?!\d))"
_LISTED_MONTH = rf"(?:เดือน\s*)?(?:{MONTH_RE}){_YEAR_TEXT}?"
# Two or more months joined by "และ" (commas or spaces between the earlier ones): "เดือนเมษายนและตุลาคม",
# "เม.ย. และ ต.ค. 65", "มกราคม เมษายน และกรกฎาคม".
_MONTH_LIST = re.compile(rf"{_LISTED_MONTH}(?:\s*,?\s*{_LISTED_MONTH})*\s*,?\s*และ\s*{_LISTED_MONTH}")
_ONE_OF_LIST = re.compile(rf"(เดือน\s*)?(?:{MONTH_RE}){_YEAR_TEXT}?")
# A year, unless the number is the next date's day ("๑๕ มกราคม ๑๕ เมษายน": 15 is a day, not 2515).
_DATE_YEAR = rf"(?:{_YEAR_TEXT}(?!\s*(?:เดือน\s*)?(?:{MONTH_RE})))"
_LISTED_DATE = rf"(?:วันที่\s*)?(?<!\d)\d{{1,2}}\s*(?:เดือน\s*)?(?:{MONTH_RE}){_DATE_YEAR}?"
# Two or more dates joined by "และ": "วันที่ ๓๐ เมษายน และ ๓๑ ตุลาคม", "15 ม.ค. 66 และ 15 ก.ค. 66".
_DATE_LIST = re.compile(rf"{_LISTED_DATE}(?:\s*,?\s*{_LISTED_DATE})*\s*,?\s*และ\s*{_LISTED_DATE}")
_ONE_OF_DATES = re.compile(rf"(วันที่\s*)?(?<!\d)\d{{1,2}}\s*(?:เดือน\s*)?(?:{MONTH_RE}){_DATE_YEAR}?")


def split_months(text: str) -> list[str]:
    """One deadline text per month when an item names several months joined by "และ": "รายงานผล
    ภายในเดือนเมษายนและตุลาคม" → ["รายงานผล ภายในเดือนเมษายน", "รายงานผล ภายในเดือนตุลาคม"]. A due rule
    is one deadline a year, so each month becomes an obligation of its own. Each month keeps the year
    written with it (Thai or Arabic digits, full or abbreviated names); text without such a list is
    returned alone."""
    return _split_list(text, _MONTH_LIST, _ONE_OF_LIST, "เดือน")


def split_dates(text: str) -> list[str]:
    """The same for dates: "ภายในวันที่ ๓๐ เมษายน และ ๓๑ ตุลาคม" → ["ภายในวันที่ ๓๐ เมษายน",
    "ภายในวันที่ ๓๑ ตุลาคม"]."""
    return _split_list(text, _DATE_LIST, _ONE_OF_DATES, "วันที่ ")


def split_deadlines(text: str) -> tuple[list[str], str]:
    """The item's deadlines, one text each (months or dates joined by "และ"), and what was listed."""
    for kind, split in (("months", split_months), ("dates", split_dates)):
        texts = split(text)
        if len(texts) > 1:
            return texts, kind
    return [text], ""


def _split_list(text: str, listed: re.Pattern[str], one: re.Pattern[str], word: str) -> list[str]:
    """Each element of the first `listed` run in `text`, in the text around it. An element written
    without its lead word (`word`: "เดือน", "วันที่") gets it when the first had it."""
    plain = to_arabic_digits(text)  # same length: spans carry over to the officer's own digits
    m = listed.search(plain)
    if m is None:
        return [text]
    elements = list(one.finditer(plain, m.start(), m.end()))
    lead = word if elements[0][1] else ""
    out = []
    for element in elements:
        written = text[element.start():element.end()].strip()
        alone = written if element[1] else lead + written
        out.append(_clean(f"{text[:m.start()]}{alone} {text[m.end():]}"))
    return out


def _year_warning(what: str, month: int, year_text: str | None, fy: int) -> Note | None:
    """A warning when a written year puts `month` outside fiscal year `fy`."""
    if year_text is None:
        return None
    what_th = {"the deadline": "กำหนดเวลา", "the period's end": "ปลายช่วงเวลา",
               "the period's start": "ต้นช่วงเวลา"}.get(what, what)
    try:
        year_ce = be_to_ce(normalize_be_year(int(year_text)))
    except DateParseError as exc:
        return Note(f"{exc}; the month is read as {MONTHS_FULL[month - 1]} of fiscal year {fy}",
                    f"ปี {_n(year_text)} ไม่ใช่ปีพุทธศักราช{_ce_hint(year_text)} จึงอ่านเป็นเดือน"
                    f"{MONTHS_FULL[month - 1]}ของปีงบประมาณ {_n(fy)}")
    expected = month_in_fiscal_year(fy, month).start.year
    if year_ce == expected:
        return None
    bounds = fiscal_year_bounds(fy)
    return Note(f"{what} is dated {MONTHS_FULL[month - 1]} {year_ce + 543}, outside fiscal year {fy}"
                f" ({format_thai_date(bounds.start)} – {format_thai_date(bounds.end)}): it is read as"
                f" {MONTHS_FULL[month - 1]} {expected + 543}; check the year",
                f"{what_th}ระบุเดือน{MONTHS_FULL[month - 1]} {_n(year_ce + 543)} ซึ่งอยู่นอกปีงบประมาณ {_n(fy)}"
                f" ({format_thai_date(bounds.start)} – {format_thai_date(bounds.end)}) จึงอ่านเป็นเดือน"
                f"{MONTHS_FULL[month - 1]} {_n(expected + 543)} โปรดตรวจสอบปี")


def _ce_hint(year_text: str) -> str:
    """" (ดูเหมือนปีคริสต์ศักราช: พ.ศ. ๒๕๖๘)" for a C.E. year such as 2025."""
    year = int(year_text)
    return f" (ดูเหมือนปีคริสต์ศักราช ตรงกับ พ.ศ. {_n(year + 543)})" if 1900 <= year <= 2200 else ""


def parse_deadline(text: str, fy: int) -> tuple[DueRule | None, list[str]]:
    """The due rule a deadline phrase gives, for a report of fiscal year `fy` (B.E.), and warnings
    (each a `Note`: English, with its Thai as `.th`).

    Reads months with or without a year ("ภายในเดือนตุลาคม ๒๕๖๕", "ภายใน ต.ค. 65", "ภายในเดือนเมษายน"),
    dates ("ภายในวันที่ ๓๑ ตุลาคม ๒๕๖๕"), the fiscal year ("ภายในปีงบประมาณ", "ตลอดปีงบประมาณ",
    "ต.ค. 65 – ก.ย. 66"), frequencies ("ทุกเดือน", "ทุกสิ้นเดือน", "ไตรมาสละ ๑ ครั้ง", "ทุก ๖ เดือน",
    "ปีละ ๒ ครั้ง" = half-yearly), a day of the month ("ทุกวันที่ ๕ ของเดือน", "ไตรมาสละ ๑ ครั้ง ภายในวันที่
    ๑๕ ของเดือนถัดไป"), days after a period ("ภายใน ๑๕ วันนับจากสิ้นไตรมาส"), a quarter ("ภายในไตรมาสที่ ๒")
    and rounds ("รอบ ๖ เดือน"). An explicit deadline wins over the period reported on ("รายงานผลรอบ ๖ เดือน
    (ต.ค. ๖๗ – มี.ค. ๖๘) ภายในเดือนเมษายน ๒๕๖๘" is due in April). Returns (None, [why]) for a deadline
    counted from an event ("ภายใน 30 วัน นับแต่…"), for "อย่างสม่ำเสมอ" and for text with no deadline.
    A second deadline of another kind ("ภายในเดือนธันวาคม … และรายงานผลทุกเดือน") is warned about.
    """
    plain = _clean(to_arabic_digits(strip_generated_marks(text)))
    after = _read_after_period_end(plain, fy)
    if after is not None:
        return after
    if _RELATIVE.search(plain):
        return None, [Note("the deadline counts days from an event (\"ภายใน … วัน นับแต่…\"), so it has no fixed"
                           " date: set 'due' by hand if it should be reminded",
                           "กำหนดเวลานับจำนวนวันจากเหตุการณ์ (\"ภายใน … วัน นับแต่…\") จึงไม่มีวันครบกำหนดที่แน่นอน"
                           " หากต้องการให้แจ้งเตือน โปรดกำหนด 'due' เอง")]
    for reader in (_read_date, _read_every_day_of_month, _read_monthly_day, _read_quarter_number,
                   _read_explicit_month, _read_partial_range, _read_month, _read_frequency, _read_fiscal_year,
                   _read_round):
        found = reader(plain, fy)
        if found is not None:
            rule, notes = found
            return rule, notes + _second_kind(plain, rule)
    if m := _VAGUE.search(plain):
        return None, [Note(f"\"{m[0]}\" (regularly, continuously) gives no definite deadline: set 'due' by hand,"
                           " for example { kind = \"recurring\", every = \"monthly\" }",
                           f"\"{m[0]}\" ไม่ได้ระบุกำหนดเวลาที่แน่นอน โปรดกำหนด 'due' เอง"
                           " เช่น { kind = \"recurring\", every = \"monthly\" }")]
    return None, [Note("no recognisable deadline: set 'due' by hand (e.g. { kind = \"month\", month = 10 })"
                       " or leave it without one",
                       "ไม่พบกำหนดเวลาที่อ่านได้ โปรดกำหนด 'due' เอง (เช่น { kind = \"month\", month = 10 })"
                       " หรือปล่อยไว้โดยไม่มีกำหนด")]


_Found = tuple[DueRule | None, list[str]]


def _second_kind(plain: str, rule: DueRule | None) -> list[str]:
    """A frequency beside a fixed month or date ("ภายในเดือนธันวาคม ๒๕๖๖ และรายงานผลทุกเดือน"): one
    obligation tracks one deadline, so the second is named for the admin to split off."""
    if not isinstance(rule, (MonthRule, DateRule)):
        return []
    frequency = _read_frequency(plain, 0)
    if frequency is None or not isinstance(frequency[0], RecurringRule):
        return []
    every = frequency[0].frequency
    return [Note(f"the text also says {every.value} (\"{_FREQUENCY_TH[every]}\"): only the fixed deadline is"
                 " tracked; split the obligation in two to track both",
                 f"ข้อความระบุทั้งกำหนดเวลาและความถี่ \"{_FREQUENCY_TH[every]}\" ระบบติดตามได้เพียงกำหนดเวลาเดียว"
                 " จึงใช้กำหนดเวลา โปรดแยกเป็นสองรายการหากต้องติดตามทั้งสองอย่าง")]


def _several(kind: str, matches: Sequence[str]) -> list[str]:
    distinct = list(dict.fromkeys(_clean(m) for m in matches))
    if len(distinct) < 2:
        return []
    kind_th = {"date": "วันที่", "month": "เดือน"}.get(kind, kind)
    return [Note(f"several {kind}s ({'; '.join(distinct)}): the first is used; split the obligation if each counts",
                 f"ระบุ{kind_th}ไว้หลายค่า ({to_thai_digits('; '.join(distinct))}) จึงใช้ค่าแรก"
                 " หากแต่ละค่าเป็นกำหนดแยกกัน โปรดแยกเป็นหลายรายการ")]


def _read_after_period_end(plain: str, fy: int) -> _Found | None:
    m = _AFTER_PERIOD_END.search(plain)
    if m is None:
        return None
    days, period = int(m[1]), re.sub(r"\s", "", m[2])
    frequency = Frequency.HALF_YEARLY if period.startswith("รอบ") else _PERIOD_WORDS[period]
    try:
        return RecurringRule(frequency, grace_days=days), []
    except RuleError as exc:
        return None, [Note(f"{exc}: set 'due' by hand", f"จำนวนวัน {_n(days)} มากเกินไป โปรดกำหนด 'due' เอง")]


def _read_date(plain: str, fy: int) -> _Found | None:
    matches = list(_DATE.finditer(plain))
    if not matches:
        return None
    m = matches[0]
    day, month = int(m[1]), month_number(m[2])
    warnings = _several("date", [x[0] for x in matches])
    try:
        if m[3] is not None:
            make_date(be_to_ce(normalize_be_year(int(m[3]))), month, day)
        rule: DueRule = DateRule(month, day)
    except (DateParseError, RuleError) as exc:
        hint = _ce_hint(m[3]) if m[3] else ""
        return None, [Note(f"the deadline's date does not exist ({exc}): correct it in the report or set 'due' by"
                           " hand", f"วันที่ของกำหนดเวลาไม่มีอยู่จริง{hint} โปรดแก้ไขในรายงานหรือกำหนด 'due' เอง")]
    if _BEFORE_DATE.search(plain):
        warnings.append(Note(f"\"ก่อนวันที่ {day} …\" (before the date) is read as due by {day}"
                             f" {MONTHS_FULL[month - 1]}: if that day itself is too late, move 'due' a day earlier",
                             f"\"ก่อนวันที่ {_n(day)} …\" อ่านเป็นครบกำหนดภายในวันที่ {_n(day)} {MONTHS_FULL[month - 1]}"
                             " หากวันนั้นถือว่าเลยกำหนดแล้ว โปรดเลื่อน 'due' ให้เร็วขึ้นหนึ่งวัน"))
    if note := _year_warning("the deadline", month, m[3], fy):
        warnings.append(note)
    return rule, warnings


def _no_such_day(day: int) -> _Found:
    """A day of the month beyond 1–31: no rule, and a note asking for the deadline by hand."""
    return None, [Note(f"day {day} of the month does not exist: set 'due' by hand",
                       f"ไม่มีวันที่ {_n(day)} ในเดือน โปรดกำหนด 'due' เอง")]


def _read_every_day_of_month(plain: str, fy: int) -> _Found | None:
    m = _EVERY_DAY_OF_MONTH.search(plain)
    if m is None:
        return None
    day = int(m[1])
    if not 1 <= day <= 31:
        return _no_such_day(day)
    return RecurringRule(Frequency.MONTHLY, grace_days=day), [
        Note(f"read as: each month's work is due by day {day} of the following month",
             f"อ่านเป็น: งานของแต่ละเดือนครบกำหนดภายในวันที่ {_n(day)} ของเดือนถัดไป")]


def _read_monthly_day(plain: str, fy: int) -> _Found | None:
    m = _MONTHLY_DAY.search(plain)
    if m is None:
        return None
    day = int(m[1])
    if not 1 <= day <= 31:
        return _no_such_day(day)
    # "ไตรมาสละ ๑ ครั้ง ภายในวันที่ ๑๕ ของเดือนถัดไป": the frequency said beside it decides the period.
    named = _read_frequency(plain, fy)
    frequency = named[0].frequency if named and isinstance(named[0], RecurringRule) else Frequency.MONTHLY
    notes: list[str] = []
    if m[2] == "ทุกเดือน":
        notes.append(Note(f"read as: each month's work is due by day {day} of the following month",
                          f"อ่านเป็น: งานของแต่ละเดือนครบกำหนดภายในวันที่ {_n(day)} ของเดือนถัดไป"))
    return RecurringRule(frequency, grace_days=day), notes


def _read_quarter_number(plain: str, fy: int) -> _Found | None:
    m = _QUARTER_NUMBER.search(plain)
    if m is None:
        return None
    end_month = (9 + 3 * int(m[1]) - 1) % 12 + 1  # quarter 1 ends in December, 2 in March, …
    return MonthRule(end_month), []


def _read_explicit_month(plain: str, fy: int) -> _Found | None:
    """"ภายในเดือนเมษายน ๒๕๖๘" after a period reported on ("รอบ ๖ เดือน (ต.ค. ๖๗ – มี.ค. ๖๘)"): the
    deadline, not the period's end. A month that starts a range is not a deadline."""
    ranges = [r.span() for r in _RANGE.finditer(plain)]
    if not ranges:
        return None
    for m in _MONTH.finditer(plain):
        if m[1] and m[1].startswith("ภายใน") and not any(a <= m.start(2) < b for a, b in ranges):
            month = month_number(m[2])
            note = _year_warning("the deadline", month, m[3], fy)
            return MonthRule(month), [note] if note else []
    return None


def _read_partial_range(plain: str, fy: int) -> _Found | None:
    m = _RANGE.search(plain)
    if m is None:
        return None
    start, end = month_number(m[1]), month_number(m[3])
    if (start, end) == (10, 9):
        # The whole fiscal year: a frequency said beside it ("ทุกไตรมาส (ต.ค. 65 – ก.ย. 66)") is more precise.
        return _read_frequency(plain, fy) or _read_fiscal_year(plain, fy)
    warnings: list[str] = [Note(f"the period {_clean(m[0])} is read as due by the end of {MONTHS_FULL[end - 1]}",
                                f"ช่วงเวลา {to_thai_digits(_clean(m[0]))} อ่านเป็นครบกำหนดภายในสิ้นเดือน"
                                f"{MONTHS_FULL[end - 1]}")]
    if note := _year_warning("the period's end", end, m[4], fy):
        warnings.append(note)
    return MonthRule(end), warnings


def _read_month(plain: str, fy: int) -> _Found | None:
    matches = list(_MONTH.finditer(plain))
    if not matches:
        return None
    m = next((x for x in matches if x[1]), matches[0])  # a month after "ภายใน" first
    month = month_number(m[2])
    warnings = _several("month", [x[2] + (" " + x[3] if x[3] else "") for x in matches])
    if note := _year_warning("the deadline", month, m[3], fy):
        warnings.append(note)
    return MonthRule(month), warnings


def _read_frequency(plain: str, fy: int) -> _Found | None:
    for pattern, frequency in _FREQUENCIES:
        m = pattern.search(plain)
        if m is None:
            continue
        if frequency is None:
            months = int(m[1])
            if months not in _MONTHS_TO_FREQUENCY:
                return None, [Note(f"\"{m[0]}\": every {months} months is not a period the tracker knows"
                                   " (1, 3, 6 or 12 months): set 'due' by hand",
                                   f"\"{to_thai_digits(m[0])}\": ระบบรู้จักเฉพาะรอบ ๑ ๓ ๖ หรือ ๑๒ เดือน"
                                   " โปรดกำหนด 'due' เอง")]
            return RecurringRule(_MONTHS_TO_FREQUENCY[months]), []
        times = int(m[1]) if m.lastindex and m[1] else 1
        if times == 1:
            return RecurringRule(frequency), []
        # "ปีละ ๒ ครั้ง" is half-yearly, "ไตรมาสละ ๓ ครั้ง" monthly: n times a period is a period n times shorter.
        shorter = frequency.months / times
        if shorter in _MONTHS_TO_FREQUENCY:
            return RecurringRule(_MONTHS_TO_FREQUENCY[int(shorter)]), []
        return RecurringRule(frequency), [
            Note(f"\"{m[0]}\": {times} times per period is tracked as at least once per period",
                 f"\"{to_thai_digits(m[0])}\": ติดตามเป็นอย่างน้อยรอบละ ๑ ครั้ง")]
    return None


def _read_fiscal_year(plain: str, fy: int) -> _Found | None:
    m = _FISCAL_YEAR.search(plain)
    if m is not None:
        warnings: list[str] = []
        if m[1] is not None and normalize_be_year(int(m[1])) != fy:
            named = normalize_be_year(int(m[1]))
            warnings.append(Note(f"the text names fiscal year {named} in a report of fiscal"
                                 f" year {fy}: read as fiscal year {fy}; check it",
                                 f"ข้อความระบุปีงบประมาณ {_n(named)} ในรายงานของปีงบประมาณ {_n(fy)}"
                                 f" จึงอ่านเป็นปีงบประมาณ {_n(fy)} โปรดตรวจสอบ"))
        return FiscalYearRule(), warnings
    r = _RANGE.search(plain)
    if r is not None and (month_number(r[1]), month_number(r[3])) == (10, 9):
        found = [w for w in (_year_warning("the period's start", 10, r[2], fy),
                             _year_warning("the period's end", 9, r[4], fy)) if w]
        return FiscalYearRule(), list(found)
    return None


def _read_round(plain: str, fy: int) -> _Found | None:
    m = _ROUND.search(plain)
    if m is None:
        return None
    if m[1] == "6":
        return MonthRule(3), [Note("\"รอบ ๖ เดือน\" names the six-month round (October–March), not a deadline:"
                                   " read as due by 31 March; change 'due' if the report is due later (often April)",
                                   "\"รอบ ๖ เดือน\" เป็นชื่อรอบรายงาน (ตุลาคม–มีนาคม) ไม่ใช่กำหนดเวลา จึงอ่านเป็นครบกำหนด"
                                   " ๓๑ มีนาคม หากกำหนดส่งช้ากว่านั้น (มักเป็นเมษายน) โปรดแก้ 'due'")]
    return FiscalYearRule(), [Note("\"รอบ ๑๒ เดือน\" names the full-year round: read as due by 30 September",
                                   "\"รอบ ๑๒ เดือน\" เป็นชื่อรอบทั้งปี จึงอ่านเป็นครบกำหนด ๓๐ กันยายน")]


def first_due(rule: DueRule | None, fy: int) -> dt.date | None:
    """The first due date of `rule` in fiscal year `fy` (no non-working-day shift), or None."""
    if rule is None:
        return None
    occurrences = rule.occurrences("-", fy, WorkCalendar())
    return occurrences[0].due if occurrences else None


# ---------------------------------------------------------------- title block

_ORG_PREFIXES = ("เทศบาล", "องค์การบริหารส่วน", "อบต.", "อบจ.", "เมืองพัทยา", "กรุงเทพมหานคร")
_TITLE_FY = re.compile(rf"ปีงบประมาณ\s*{_BE}?\s*(\d{{4}})")
_OF_ORG = re.compile(r"ของ\s*((?:เทศบาล|องค์การบริหารส่วน)\S+)")
_DISTRICT = re.compile(r"(?:อำเภอ|เขต)\s*(\S+)")
_PROVINCE = re.compile(r"จังหวัด\s*(\S+)")


@dataclass(frozen=True)
class TitleBlock:
    org_name: str
    district: str
    province: str
    fiscal_year: int | None
    round: str | None


def parse_title(lines: Sequence[str]) -> TitleBlock:
    """Organisation, district, province, fiscal year (B.E.) and round from the lines above the table."""
    org = district = province = ""
    fy: int | None = None
    rnd: str | None = None
    for raw in lines:
        line = _clean(raw)
        plain = to_arabic_digits(line)
        if fy is None and (m := _TITLE_FY.search(plain)):
            fy = int(m[1])
        if rnd is None and (r := _ROUND.search(plain)):
            rnd = "6m" if r[1] == "6" else "12m"
        if not org and line.startswith(_ORG_PREFIXES) and len(line) <= 80:
            org = line.split(" อำเภอ")[0]
        if not district and (d := _DISTRICT.search(line)):
            district = d[1]
        if not province and (p := _PROVINCE.search(line)):
            province = p[1]
    if not org:
        for line in lines:
            if m := _OF_ORG.search(line):
                org = m[1]
                break
    return TitleBlock(org, district, province, fy, rnd)


# ---------------------------------------------------------------- the table


def _is_header(cells: Sequence[str]) -> bool:
    joined = "".join(cells).replace(" ", "")
    keys = ("ประเด็นที่ต้อง", "ผู้รับผิดชอบ", "ขั้นตอน", "กำหนดเวลา", "การดำเนินการ")
    return joined.startswith("ประเด็นที่ต้อง") and sum(k in joined for k in keys) >= 4


_OIT = re.compile(r"(?<![\dA-Za-z])[0Oo](\d{2})(?!\d)")
_UNIT_PREFIX = re.compile(r"^((?:สำนัก|กอง|ฝ่าย|งาน|ส่วน|หน่วย|ศูนย์)\S*)")
_ACTION_DATE = re.compile(
    rf"(?:ดำเนินการ\s*(?:ล่าสุด)?\s*)?(?:เมื่อ|ณ)?\s*วันที่\s*(\d{{1,2}})\s*(?:เดือน\s*)?({MONTH_RE}){_YEAR}?")
_OBLIGATION_REF = re.compile(rf"\s*\[\s*{OBLIGATION_REF_MARK}\s*(\d+)\s*\]")
_ACTION_RANGE = re.compile(
    rf"(?:ดำเนินการ\s*)?ระหว่าง\s*วันที่\s*(\d{{1,2}})\s*(?:-|–|ถึง)\s*(?:วันที่\s*)?(\d{{1,2}})\s*(?:เดือน\s*)?"
    rf"({MONTH_RE}){_YEAR}?")
_SLASHED_DATE = re.compile(
    r"(?:ดำเนินการ\s*(?:ล่าสุด)?\s*)?(?:เมื่อ|ณ)?\s*(?:วันที่\s*)?(?<!\d)(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})(?!\d)")
_UNDER_WAY = re.compile(r"อยู่\s*ระหว่าง\s*(?:การ)?\s*ดำเนินการ")


def _has_action_date(text: str) -> bool:
    plain = to_arabic_digits(text)
    return bool(_ACTION_DATE.search(plain) or _SLASHED_DATE.search(plain))


def oit_code(title: str) -> str | None:
    """The OIT code in a measure's title: "๐๑๐" → "O10", "0๑๑" → "O11", "O20" → "O20"; else None."""
    m = _OIT.search(to_arabic_digits(title))
    return f"O{int(m[1]):02d}" if m else None


class _TableReader:
    """Turns data rows into measures, collecting warnings."""

    def __init__(self, fy: int, known_units: Sequence[str]) -> None:
        self.fy = fy
        self.bounds = fiscal_year_bounds(fy)
        self.known_units = sorted(set(known_units), key=len, reverse=True)
        self.warnings: list[ReportWarning] = []
        self.used_codes: set[str] = set()
        self.other_count = 0

    def warn(self, row: int | None, column: int | None, text: str, message: str) -> None:
        th = message.th if isinstance(message, Note) else message
        self.warnings.append(ReportWarning(row, column, text, str(message), th))

    def measure(self, row: int, cells: Sequence[str]) -> ParsedMeasure:
        title, unit, steps_cell, obligations_cell, actions_cell = (_clean(c) for c in cells)
        for column, value in ((1, title), (2, unit), (3, steps_cell), (4, obligations_cell)):
            if not value:
                self.warn(row, column, "", Note(f"the column \"{COLUMN_NAMES[column - 1]}\" is empty",
                                                f"คอลัมน์ \"{COLUMN_NAMES[column - 1]}\" ว่าง"))
        oit = oit_code(title)
        code = self.code(row, title, oit)
        obligations = self.obligations(row, obligations_cell)
        actions = self.actions(row, actions_cell, unit, obligations)
        steps = tuple(text for _, text in split_items(steps_cell))
        # "0๑๑" (an Arabic zero among Thai digits) is written "๐๑๑", as the generated report writes it.
        return ParsedMeasure(code, normalise_digits(title) or f"(ไม่ระบุประเด็น แถว {row})", unit, oit, steps,
                             obligations, actions, row)

    def code(self, row: int, title: str, oit: str | None) -> str:
        if oit is not None and oit not in self.used_codes:
            self.used_codes.add(oit)
            return oit
        if oit is not None:
            self.warn(row, 1, title, Note(f"OIT code {oit} was already used by an earlier row: this measure gets"
                                          " its own code instead",
                                          f"รหัส OIT {oit} ถูกใช้ในแถวก่อนหน้าแล้ว มาตรการนี้จึงได้รหัสของตนเอง"))
        while True:
            self.other_count += 1
            code = f"M{self.other_count:02d}"
            if code not in self.used_codes:
                self.used_codes.add(code)
                return code

    def obligations(self, row: int, cell: str) -> tuple[ParsedObligation, ...]:
        out = []
        item = 0
        for _, raw in split_items(cell):
            text = strip_generated_marks(raw)
            if not text:
                continue
            item += 1
            texts, listed = split_deadlines(text)
            if len(texts) > 1:
                self.warn(row, 4, text, _split_note(len(texts), listed))
            for one in texts:
                rule, notes = parse_deadline(one, self.fy)
                for note in notes:
                    self.warn(row, 4, one, note)
                out.append(ParsedObligation(one, rule, first_due(rule, self.fy), item))
        return tuple(out)

    def actions(self, row: int, cell: str, measure_unit: str,
                obligations: Sequence[ParsedObligation]) -> tuple[ParsedAction, ...]:
        out: list[ParsedAction] = []
        for number, raw in split_items(cell):
            ref = _OBLIGATION_REF.search(to_arabic_digits(raw))  # same length as raw: spans carry over
            item = _clean(raw[: ref.start()] + " " + raw[ref.end():] if ref else raw)
            if not item or item == NO_ACTION_TEXT:
                continue
            unit, rest = self.unit_of(row, item, measure_unit)
            if _UNDER_WAY.fullmatch(rest) or (_UNDER_WAY.search(rest) and not _has_action_date(rest)):
                self.warn(row, 5, item, Note("\"อยู่ระหว่างดำเนินการ\" (under way) is a status, not an action:"
                                             " nothing is recorded for it",
                                             "\"อยู่ระหว่างดำเนินการ\" เป็นสถานะ ไม่ใช่การดำเนินการที่แล้วเสร็จ"
                                             " จึงไม่บันทึกเป็นผลการดำเนินการ"))
                continue
            dates, text = self.dates_of(row, raw, rest)
            if not obligations and any(dates):
                self.warn(row, 5, item, Note("the row has no obligations in column 4, so this action cannot be"
                                             " recorded against one: add the obligation and import again",
                                             "แถวนี้ไม่มีรายการในคอลัมน์ที่ ๔ จึงบันทึกการดำเนินการนี้กับรายการใดไม่ได้"
                                             " โปรดเพิ่มรายการแล้วนำเข้าอีกครั้ง"))
            for day in dates:
                index = int(ref[1]) if ref and 1 <= int(ref[1]) <= len(obligations) else (
                    match_obligation(text, obligations, number, day, self.fy))
                out.append(ParsedAction(day, unit, text, index))
        return tuple(out)

    def unit_of(self, row: int, item: str, measure_unit: str) -> tuple[str, str]:
        for name in self.known_units:
            if name and item.startswith(name):
                if measure_unit and name != measure_unit:
                    self.warn(row, 5, item, Note(f"the action names the unit \"{name}\", not the row's responsible"
                                                 f" unit \"{measure_unit}\": it is recorded for \"{name}\"; check it",
                                                 f"การดำเนินการระบุหน่วยงาน \"{name}\" ซึ่งไม่ใช่ผู้รับผิดชอบของแถว"
                                                 f" (\"{measure_unit}\") จึงบันทึกเป็นของ \"{name}\" โปรดตรวจสอบ"))
                return name, item[len(name):].strip()
        if m := _UNIT_PREFIX.match(item):
            self.warn(row, 5, item, Note(f"the action names the unit \"{m[1]}\", which is not the responsible unit"
                                         " of any row: check its name",
                                         f"การดำเนินการระบุหน่วยงาน \"{m[1]}\" ซึ่งไม่ใช่ผู้รับผิดชอบของแถวใด"
                                         " โปรดตรวจสอบชื่อหน่วยงาน"))
            return m[1], item[len(m[1]):].strip()
        self.warn(row, 5, item, Note(f"the action does not start with a unit name: \"{measure_unit}\" (the row's"
                                     " responsible unit) is assumed",
                                     f"การดำเนินการไม่ได้ขึ้นต้นด้วยชื่อหน่วยงาน จึงถือเป็นของ \"{measure_unit}\""
                                     " (ผู้รับผิดชอบของแถว)"))
        return measure_unit, item

    def dates_of(self, row: int, raw: str, rest: str) -> tuple[list[dt.date | None], str]:
        plain = to_arabic_digits(rest)
        found: list[tuple[int, int, dt.date | None]] = []
        for m in _ACTION_RANGE.finditer(plain):
            found.append((m.start(), m.end(), self.range_end(row, _clean(raw), m)))
        for m in _ACTION_DATE.finditer(plain):
            if not any(a <= m.start() < b for a, b, _ in found):
                found.append((m.start(), m.end(), self.action_date(row, _clean(raw), m[1], m[2], m[3])))
        for m in _SLASHED_DATE.finditer(plain):
            if not any(a <= m.start() < b for a, b, _ in found):
                found.append((m.start(), m.end(), self.action_date(row, _clean(raw), m[1], m[2], m[3])))
        found.sort()
        # Cut the date phrases out of the officer's own text, keeping its Thai digits elsewhere.
        text = _clean(_remove_spans(rest, [(a, b) for a, b, _ in found]))
        text = re.sub(r"[\s.…]+$", "", text)
        if not found:
            self.warn(row, 5, _clean(raw), Note("the action has no date (\"ดำเนินการเมื่อวันที่ …\"): it is listed"
                                                " but not recorded as done",
                                                "การดำเนินการไม่มีวันที่ (\"ดำเนินการเมื่อวันที่ …\")"
                                                " จึงแสดงไว้แต่ไม่บันทึกว่าดำเนินการแล้ว"))
            return [None], text
        return [day for _, _, day in found], text

    def range_end(self, row: int, raw: str, m: re.Match[str]) -> dt.date | None:
        """"ระหว่างวันที่ ๑-๓๑ มีนาคม ๒๕๖๗": the work was finished by the last day of the range."""
        done = self.action_date(row, raw, m[2], m[3], m[4])
        if done is not None:
            self.warn(row, 5, raw, Note(f"a range of days ({_clean(m[0])}) is recorded as done on its last day,"
                                        f" {done.isoformat()}",
                                        f"ช่วงวันที่ ({to_thai_digits(_clean(m[0]))}) บันทึกเป็นดำเนินการเมื่อวันสุดท้าย"
                                        f" คือ{format_thai_date(done, style='report')}"))
        return done

    def action_date(self, row: int, raw: str, day_text: str, month_text: str, year_text: str | None) -> dt.date | None:
        day = int(day_text)
        month = int(month_text) if month_text.isdigit() else month_number(month_text)
        try:
            if year_text is None:
                year_ce = month_in_fiscal_year(self.fy, month).start.year
            else:
                year_ce = be_to_ce(normalize_be_year(int(year_text)))
            done = make_date(year_ce, month, day)
        except DateParseError as exc:
            hint = _ce_hint(year_text) if year_text else ""
            hint_en = (f" ({year_text} looks like a C.E. year: in B.E. it is {int(year_text) + 543})"
                       if hint and year_text else "")
            self.warn(row, 5, raw, Note(f"the action's date does not exist ({exc}){hint_en}: it is not recorded",
                                        f"วันที่ของการดำเนินการไม่ถูกต้อง{hint} จึงไม่บันทึก"))
            return None
        if done not in self.bounds:
            self.warn(row, 5, raw, Note(
                f"the action is dated {format_thai_date(done)} ({done.isoformat()}), outside"
                f" fiscal year {self.fy} ({format_thai_date(self.bounds.start)} –"
                f" {format_thai_date(self.bounds.end)}): check the year; it is kept as written",
                f"การดำเนินการลงวันที่ {format_thai_date(done)} ซึ่งอยู่นอกปีงบประมาณ {_n(self.fy)}"
                f" ({format_thai_date(self.bounds.start)} – {format_thai_date(self.bounds.end)})"
                " โปรดตรวจสอบปี (บันทึกตามที่เขียนไว้)"))
        return done


def _split_note(count: int, listed: str) -> Note:
    kind, th = ("months", "เดือน") if listed == "months" else ("dates", "วันที่")
    return Note(f"the item names {count} {kind}, each a deadline of its own: it is split into {count} obligations,"
                f" one per {kind[:-1]}; the codes of the later obligations of this measure move up accordingly",
                f"รายการนี้ระบุกำหนดเวลา {_n(count)} {th} แต่ละ{th}เป็นกำหนดแยกกัน จึงแยกเป็น {_n(count)} รายการ"
                f" รายการละหนึ่ง{th} (รหัสของรายการถัดไปในมาตรการนี้จึงเลื่อนตาม)")


def _remove_spans(text: str, spans: Sequence[tuple[int, int]]) -> str:
    out, last = [], 0
    for start, end in spans:
        out.append(text[last:start])
        last = end
    out.append(text[last:])
    return " ".join(out)


def _trigrams(text: str) -> set[str]:
    squeezed = re.sub(r"\s+", "", text)
    return {squeezed[i:i + 3] for i in range(len(squeezed) - 2)}


_CLEARLY_BETTER = 0.15
_IN_WINDOW_BONUS = 0.2
_SHORT_WINDOW_DAYS = 92


def match_obligation(action_text: str, obligations: Sequence[ParsedObligation], number: int | None,
                     day: dt.date | None, fy: int) -> int | None:
    """Which obligation (1-based) an action serves. The item number the officer wrote wins whenever
    there is an item with that number: a date heuristic must not overrule what was written (the seed's
    O20 action "๑. … ๒๐ เมษายน ๒๕๖๖" serves O20-1); an item split by month ("ภายในเดือนเมษายนและตุลาคม")
    gives the obligation whose month holds the date, else the one due nearest it. Without a usable
    number: the obligation sharing most of the action's wording (character trigrams), plus a bonus when
    the action's date falls in an obligation's window of at most a quarter; the first on a tie. None
    when there are none."""
    if not obligations:
        return None
    if number is not None:
        of_item = [i for i, ob in enumerate(obligations, start=1) if (ob.item or i) == number]
        if len(of_item) == 1 or (of_item and day is None):
            return of_item[0]
        if of_item and day is not None:
            return _by_date([(i, obligations[i - 1]) for i in of_item], day, fy)
    words = _trigrams(action_text)

    def score(index: int) -> float:
        ob = obligations[index - 1]
        shared = len(words & _trigrams(ob.text)) / max(len(words), 1)
        return shared + (_IN_WINDOW_BONUS if _in_short_window(ob.rule, day, fy) else 0.0)

    best = max(range(1, len(obligations) + 1), key=lambda i: (score(i), -i))
    return best if score(best) >= score(1) + _CLEARLY_BETTER else 1


def _by_date(candidates: Sequence[tuple[int, ParsedObligation]], day: dt.date, fy: int) -> int:
    """Among the obligations of one item, the one whose window holds `day` (the soonest due, when windows
    overlap: a date's window opens with the fiscal year), else the one due nearest it."""
    holding = [(o.due, index) for index, ob in candidates if ob.rule is not None
               for o in ob.rule.occurrences("-", fy, WorkCalendar()) if o.window_start <= day <= o.due]
    if holding:
        return min(holding)[1]
    dated = [(abs((ob.due - day).days), index) for index, ob in candidates if ob.due is not None]
    return min(dated)[1] if dated else candidates[0][0]


def _in_short_window(rule: DueRule | None, day: dt.date | None, fy: int) -> bool:
    if rule is None or day is None:
        return False
    return any(o.window_start <= day <= o.due and (o.due - o.window_start).days <= _SHORT_WINDOW_DAYS
               for o in rule.occurrences("-", fy, WorkCalendar()))


# ---------------------------------------------------------------- entry point


def parse_report(source: ReportSource, *, fiscal_year: int | None = None,
                 known_units: Sequence[str] = ()) -> ParsedReport:
    """Parse a report's title block and table.

    `fiscal_year` (B.E.) is used when the title does not name one; `known_units` are unit names from the
    configuration, recognised at the start of an action besides the units of column 2.
    Raises ReportFormatError when there is no header row or the header does not have five columns.
    """
    title = parse_title(source.title_lines)
    rows = list(source.rows)
    header_at = next((i for i, r in enumerate(rows) if _is_header(r.cells)), None)
    if header_at is None:
        raise ReportFormatError(
            f"{source.name} is not a progress report: no header row (\"{COLUMN_NAMES[0]}\" | \"{COLUMN_NAMES[1]}\""
            " | …) was found. The table must have the five columns of the report form",
            f"{source.name} ไม่ใช่รายงานผลการดำเนินการ: ไม่พบแถวหัวตาราง (\"{COLUMN_NAMES[0]}\" | \"{COLUMN_NAMES[1]}\""
            " | …) ตารางต้องมี ๕ คอลัมน์ตามแบบรายงาน")
    header = rows[header_at]
    if len(header.cells) != COLUMNS:
        raise ReportFormatError(
            f"{source.name}: the header row ({header.where or 'first table row'}) has {len(header.cells)} columns;"
            f" a progress report has five: {' | '.join(COLUMN_NAMES)}",
            f"{source.name}: แถวหัวตาราง ({_where_th(header.where) or 'แถวแรกของตาราง'}) มี"
            f" {_n(len(header.cells))} คอลัมน์ แต่รายงานต้องมี ๕ คอลัมน์: {' | '.join(COLUMN_NAMES)}")
    fy = title.fiscal_year or fiscal_year
    if fy is None:
        raise ReportFormatError(f"{source.name}: the title does not name the fiscal year (e.g. \"ประจำปีงบประมาณ"
                                " พ.ศ. ๒๕๖๖\"): add it to the file or give the fiscal year on the command line",
                                f"{source.name}: ส่วนหัวรายงานไม่ระบุปีงบประมาณ (เช่น \"ประจำปีงบประมาณ พ.ศ. ๒๕๖๖\")"
                                " โปรดเพิ่มในไฟล์ หรือระบุ --fy")
    data = [r for r in rows[header_at + 1:] if not _is_header(r.cells) and any(c.strip() for c in r.cells)]
    units = [*known_units, *(_clean(r.cells[1]) for r in data if len(r.cells) == COLUMNS)]
    reader = _TableReader(fy, units)
    _title_warnings(reader, title, fiscal_year)
    for i, r in enumerate(rows[:header_at]):
        if any(c.strip() for c in r.cells):
            where = r.where or f"row {i + 1}"
            reader.warn(None, None, _clean(" | ".join(r.cells)),
                        Note(f"a table row before the header ({where}) is ignored",
                             f"แถวของตารางก่อนแถวหัวตาราง ({_where_th(where)}) จึงไม่นำเข้า"))
    measures = []
    for number, r in enumerate(data, start=1):
        if len(r.cells) != COLUMNS:
            where = f" ({r.where})" if r.where else ""
            reader.warn(number, None, _clean(" | ".join(r.cells)),
                        Note(f"this row{where} has {len(r.cells)} column(s) instead of five: it is left out;"
                             " check for a tab or a cell split across lines",
                             f"แถวนี้{_where_th(where)} มี {_n(len(r.cells))} คอลัมน์ แทนที่จะเป็น ๕ คอลัมน์"
                             " จึงไม่นำเข้า โปรดตรวจสอบแท็บหรือเซลล์ที่ขึ้นบรรทัดใหม่"))
            continue
        measures.append(reader.measure(number, r.cells))
    return ParsedReport(title.org_name, title.district, title.province, fy, title.round, tuple(measures),
                        tuple(reader.warnings))


def _title_warnings(reader: _TableReader, title: TitleBlock, given_fy: int | None) -> None:
    for value, what, what_th in (
            (title.org_name, "organisation's name (เทศบาล…/องค์การบริหารส่วน…)", "ชื่อหน่วยงาน (เทศบาล…/องค์การบริหารส่วน…)"),
            (title.district, "district (อำเภอ…)", "อำเภอ"), (title.province, "province (จังหวัด…)", "จังหวัด")):
        if not value:
            reader.warn(None, None, "", Note(f"the title block does not give the {what}", f"ส่วนหัวรายงานไม่ระบุ{what_th}"))
    if title.round is None:
        reader.warn(None, None, "", Note("the title block does not say which round (รอบ ๖ เดือน / รอบ ๑๒ เดือน)",
                                         "ส่วนหัวรายงานไม่ระบุรอบ (รอบ ๖ เดือน / รอบ ๑๒ เดือน)"))
    if title.fiscal_year is not None and given_fy is not None and given_fy != title.fiscal_year:
        reader.warn(None, None, str(title.fiscal_year),
                    Note(f"the report is for fiscal year {title.fiscal_year}, not {given_fy} as given: the report's"
                         " year is used", f"รายงานเป็นของปีงบประมาณ {_n(title.fiscal_year)} ไม่ใช่ {_n(given_fy)}"
                         " ตามที่ระบุ จึงใช้ปีของรายงาน"))
