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
    """The file is not a progress report: empty, binary, no header row, or not five columns."""


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


@dataclass(frozen=True)
class ReportWarning:
    """Something the parser could not read or found implausible. `row`/`column` are 1-based."""

    row: int | None
    column: int | None
    text: str
    message: str

    def __str__(self) -> str:
        where = "title" if self.row is None else f"row {self.row}" + (
            f", column {self.column}" if self.column else "")
        shown = self.text if len(self.text) <= 90 else self.text[:87] + "…"
        return f"{where}: {self.message}" + (f' — "{shown}"' if shown else "")


@dataclass(frozen=True)
class ParsedObligation:
    text: str
    rule: DueRule | None
    due: dt.date | None  # the first due date of the rule in the report's fiscal year


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

_ITEM = re.compile(r"(?:^|(?<=\s))(\d{1,2})\s?\.(?!\d)\s*")


def split_items(text: str) -> list[tuple[int | None, str]]:
    """Split a cell into its numbered items "๑. … ๒. …" (Thai or Arabic digits, with or without a space).

    Only a run 1, 2, 3… counts, so "มากกว่า ๑ ช่องทาง" or a number inside a sentence does not split.
    Text before item 1 is returned as an item numbered None. A cell without numbers is one item.
    """
    plain = to_arabic_digits(text)  # same length: each Thai digit is one character
    cuts: list[tuple[int, int, int]] = []  # (number, start of marker, start of text)
    expected = 1
    for m in _ITEM.finditer(plain):
        if int(m[1]) == expected:
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
_DATE = re.compile(rf"(?<!\d)(\d{{1,2}})\s*(?:เดือน\s*)?({MONTH_RE}){_YEAR}?")
_MONTHLY_DAY = re.compile(r"(?:ภายใน|ก่อน)\s*วันที่\s*(\d{1,2})\s*(?:ของ)?\s*(ทุกเดือน|เดือนถัดไป)")
_RANGE = re.compile(rf"({MONTH_RE}){_YEAR}?\s*(?:-|–|—|ถึง)\s*(?:เดือน\s*)?({MONTH_RE}){_YEAR}?")
_MONTH = re.compile(rf"(ภายใน\s*|ก่อน\s*|ไม่เกิน\s*)?(?:เดือน\s*)?({MONTH_RE}){_YEAR}?")
_FISCAL_YEAR = re.compile(rf"(?:ภายใน|ตลอด|ใน)\s*ปีงบประมาณ(?:\s*{_BE}?\s*(\d{{4}}|\d{{2}})(?!\d))?")
_ROUND = re.compile(r"รอบ\s*(6|12)\s*เดือน")
_VAGUE = re.compile(r"อย่างสม่ำเสมอ|อย่างต่อเนื่อง|เป็นประจำ|สม่ำเสมอ")
_FREQUENCIES: tuple[tuple[re.Pattern[str], Frequency | None], ...] = (
    (re.compile(r"ทุก\s*(\d+)\s*เดือน"), None),  # the number decides
    (re.compile(r"ทุก\s*เดือน|รายเดือน|เดือนละ\s*(\d+)\s*ครั้ง"), Frequency.MONTHLY),
    (re.compile(r"ทุก\s*ไตรมาส|รายไตรมาส|ไตรมาสละ\s*(\d+)\s*ครั้ง"), Frequency.QUARTERLY),
    (re.compile(r"ทุก\s*ครึ่งปี|ครึ่งปีละ\s*(\d+)\s*ครั้ง"), Frequency.HALF_YEARLY),
    (re.compile(r"ปีละ\s*(\d+)\s*ครั้ง|ทุก\s*ปี(?!งบ)|รายปี"), Frequency.YEARLY),
)
_MONTHS_TO_FREQUENCY = {1: Frequency.MONTHLY, 3: Frequency.QUARTERLY, 6: Frequency.HALF_YEARLY,
                        12: Frequency.YEARLY}
_STATUS = re.compile(rf"\s*\[\s*{STATUS_MARK}[^\]]*\]")


def strip_generated_marks(text: str) -> str:
    """Remove the "[สถานะ: …]" the generated report adds after an obligation."""
    return _clean(_STATUS.sub("", text))


def _year_warning(what: str, month: int, year_text: str | None, fy: int) -> str | None:
    """A warning when a written year puts `month` outside fiscal year `fy`."""
    if year_text is None:
        return None
    try:
        year_ce = be_to_ce(normalize_be_year(int(year_text)))
    except DateParseError as exc:
        return f"{exc}; the month is read as {MONTHS_FULL[month - 1]} of fiscal year {fy}"
    expected = month_in_fiscal_year(fy, month).start.year
    if year_ce == expected:
        return None
    bounds = fiscal_year_bounds(fy)
    return (f"{what} is dated {MONTHS_FULL[month - 1]} {year_ce + 543}, outside fiscal year {fy}"
            f" ({format_thai_date(bounds.start)} – {format_thai_date(bounds.end)}): it is read as"
            f" {MONTHS_FULL[month - 1]} {expected + 543}; check the year")


def parse_deadline(text: str, fy: int) -> tuple[DueRule | None, list[str]]:
    """The due rule a deadline phrase gives, for a report of fiscal year `fy` (B.E.), and warnings.

    Reads months with or without a year ("ภายในเดือนตุลาคม ๒๕๖๕", "ภายใน ต.ค. 65", "ภายในเดือนเมษายน"),
    dates ("ภายในวันที่ ๓๑ ตุลาคม ๒๕๖๕"), the fiscal year ("ภายในปีงบประมาณ", "ตลอดปีงบประมาณ",
    "ต.ค. 65 – ก.ย. 66"), frequencies ("ทุกเดือน", "ไตรมาสละ ๑ ครั้ง", "ทุก ๖ เดือน", "ปีละ ๑ ครั้ง") and
    rounds ("รอบ ๖ เดือน"). Returns (None, [why]) for a relative deadline ("ภายใน 30 วัน นับแต่…"),
    for "อย่างสม่ำเสมอ" and for text with no deadline at all. The more precise phrase wins: a date or a
    month over a frequency, a frequency over the fiscal year.
    """
    plain = _clean(to_arabic_digits(strip_generated_marks(text)))
    if _RELATIVE.search(plain):
        return None, ["the deadline counts days from an event (\"ภายใน … วัน นับแต่…\"), so it has no fixed"
                      " date: set 'due' by hand if it should be reminded"]
    for reader in (_read_date, _read_monthly_day, _read_partial_range, _read_month, _read_frequency,
                   _read_fiscal_year, _read_round):
        found = reader(plain, fy)
        if found is not None:
            return found
    if m := _VAGUE.search(plain):
        return None, [f"\"{m[0]}\" (regularly, continuously) gives no definite deadline: set 'due' by hand, for example"
                      " { kind = \"recurring\", every = \"monthly\" }"]
    return None, ["no recognisable deadline: set 'due' by hand (e.g. { kind = \"month\", month = 10 })"
                  " or leave it without one"]


_Found = tuple[DueRule | None, list[str]]


def _several(kind: str, matches: Sequence[str]) -> list[str]:
    distinct = list(dict.fromkeys(_clean(m) for m in matches))
    if len(distinct) < 2:
        return []
    return [f"several {kind}s ({'; '.join(distinct)}): the first is used; split the obligation if each counts"]


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
        return None, [f"the deadline's date does not exist ({exc}): correct it in the report or set 'due' by hand"]
    if note := _year_warning("the deadline", month, m[3], fy):
        warnings.append(note)
    return rule, warnings


def _read_monthly_day(plain: str, fy: int) -> _Found | None:
    m = _MONTHLY_DAY.search(plain)
    if m is None:
        return None
    day = int(m[1])
    if not 1 <= day <= 31:
        return None, [f"day {day} of the month does not exist: set 'due' by hand"]
    return RecurringRule(Frequency.MONTHLY, grace_days=day), [
        f"read as: each month's work is due by day {day} of the following month"] if m[2] == "ทุกเดือน" else []


def _read_partial_range(plain: str, fy: int) -> _Found | None:
    m = _RANGE.search(plain)
    if m is None:
        return None
    start, end = month_number(m[1]), month_number(m[3])
    if (start, end) == (10, 9):
        # The whole fiscal year: a frequency said beside it ("ทุกไตรมาส (ต.ค. 65 – ก.ย. 66)") is more precise.
        return _read_frequency(plain, fy) or _read_fiscal_year(plain, fy)
    warnings = [f"the period {_clean(m[0])} is read as due by the end of {MONTHS_FULL[end - 1]}"]
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
                return None, [f"\"{m[0]}\": every {months} months is not a period the tracker knows"
                              " (1, 3, 6 or 12 months): set 'due' by hand"]
            return RecurringRule(_MONTHS_TO_FREQUENCY[months]), []
        times = int(m[1]) if m.lastindex and m[1] else 1
        warnings = [f"\"{m[0]}\": {times} times per period is tracked as at least once per period"] if times > 1 else []
        return RecurringRule(frequency), warnings
    return None


def _read_fiscal_year(plain: str, fy: int) -> _Found | None:
    m = _FISCAL_YEAR.search(plain)
    if m is not None:
        warnings = []
        if m[1] is not None and normalize_be_year(int(m[1])) != fy:
            warnings.append(f"the text names fiscal year {normalize_be_year(int(m[1]))} in a report of fiscal"
                            f" year {fy}: read as fiscal year {fy}; check it")
        return FiscalYearRule(), warnings
    r = _RANGE.search(plain)
    if r is not None and (month_number(r[1]), month_number(r[3])) == (10, 9):
        warnings = [w for w in (_year_warning("the period's start", 10, r[2], fy),
                                _year_warning("the period's end", 9, r[4], fy)) if w]
        return FiscalYearRule(), warnings
    return None


def _read_round(plain: str, fy: int) -> _Found | None:
    m = _ROUND.search(plain)
    if m is None:
        return None
    if m[1] == "6":
        return MonthRule(3), ["\"รอบ ๖ เดือน\" names the six-month round (October–March), not a deadline:"
                              " read as due by 31 March; change 'due' if the report is due later (often April)"]
    return FiscalYearRule(), ["\"รอบ ๑๒ เดือน\" names the full-year round: read as due by 30 September"]


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
        self.warnings.append(ReportWarning(row, column, text, message))

    def measure(self, row: int, cells: Sequence[str]) -> ParsedMeasure:
        title, unit, steps_cell, obligations_cell, actions_cell = (_clean(c) for c in cells)
        for column, value in ((1, title), (2, unit), (3, steps_cell), (4, obligations_cell)):
            if not value:
                self.warn(row, column, "", f"the column \"{COLUMN_NAMES[column - 1]}\" is empty")
        oit = oit_code(title)
        code = self.code(row, title, oit)
        obligations = self.obligations(row, obligations_cell)
        actions = self.actions(row, actions_cell, unit, obligations)
        steps = tuple(text for _, text in split_items(steps_cell))
        # "0๑๑" (an Arabic zero among Thai digits) is written "๐๑๑", as the generated report writes it.
        return ParsedMeasure(code, normalise_digits(title) or f"(ไม่ระบุประเด็น แถว {row})", unit, oit, steps, obligations,
                             actions, row)

    def code(self, row: int, title: str, oit: str | None) -> str:
        if oit is not None and oit not in self.used_codes:
            self.used_codes.add(oit)
            return oit
        if oit is not None:
            self.warn(row, 1, title, f"OIT code {oit} was already used by an earlier row: this measure gets"
                      " its own code instead")
        while True:
            self.other_count += 1
            code = f"M{self.other_count:02d}"
            if code not in self.used_codes:
                self.used_codes.add(code)
                return code

    def obligations(self, row: int, cell: str) -> tuple[ParsedObligation, ...]:
        out = []
        for _, raw in split_items(cell):
            text = strip_generated_marks(raw)
            if not text:
                continue
            rule, notes = parse_deadline(text, self.fy)
            for note in notes:
                self.warn(row, 4, text, note)
            out.append(ParsedObligation(text, rule, first_due(rule, self.fy)))
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
            dates, text = self.dates_of(row, raw, rest)
            if not obligations and any(dates):
                self.warn(row, 5, item, "the row has no obligations in column 4, so this action cannot be"
                          " recorded against one: add the obligation and import again")
            for day in dates:
                index = int(ref[1]) if ref and 1 <= int(ref[1]) <= len(obligations) else (
                    match_obligation(text, obligations, number, day, self.fy))
                out.append(ParsedAction(day, unit, text, index))
        return tuple(out)

    def unit_of(self, row: int, item: str, measure_unit: str) -> tuple[str, str]:
        for name in self.known_units:
            if name and item.startswith(name):
                return name, item[len(name):].strip()
        if m := _UNIT_PREFIX.match(item):
            self.warn(row, 5, item, f"the action names the unit \"{m[1]}\", which is not the responsible unit of"
                      " any row: check its name")
            return m[1], item[len(m[1]):].strip()
        self.warn(row, 5, item, f"the action does not start with a unit name: \"{measure_unit}\" (the row's"
                  " responsible unit) is assumed")
        return measure_unit, item

    def dates_of(self, row: int, raw: str, rest: str) -> tuple[list[dt.date | None], str]:
        plain = to_arabic_digits(rest)
        matches = list(_ACTION_DATE.finditer(plain))
        # Cut the date phrases out of the officer's own text, keeping its Thai digits elsewhere.
        text = _clean(_remove_spans(rest, [(m.start(), m.end()) for m in matches]))
        text = re.sub(r"[\s.…]+$", "", text)
        if not matches:
            self.warn(row, 5, _clean(raw), "the action has no date (\"ดำเนินการเมื่อวันที่ …\"): it is listed"
                      " but not recorded as done")
            return [None], text
        return [self.action_date(row, _clean(raw), m) for m in matches], text

    def action_date(self, row: int, raw: str, m: re.Match[str]) -> dt.date | None:
        day, month = int(m[1]), month_number(m[2])
        try:
            if m[3] is None:
                year_ce = month_in_fiscal_year(self.fy, month).start.year
            else:
                year_ce = be_to_ce(normalize_be_year(int(m[3])))
            done = make_date(year_ce, month, day)
        except DateParseError as exc:
            self.warn(row, 5, raw, f"the action's date does not exist ({exc}): it is not recorded")
            return None
        if done not in self.bounds:
            self.warn(row, 5, raw, f"the action is dated {format_thai_date(done)} ({done.isoformat()}), outside"
                      f" fiscal year {self.fy} ({format_thai_date(self.bounds.start)} –"
                      f" {format_thai_date(self.bounds.end)}): check the year; it is kept as written")
        return done


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
    """Which obligation (1-based) an action serves. Reports number actions loosely, so: the obligation
    with the action's own number, unless another one is clearly better, scoring the share of the action's
    wording (character trigrams) found in the obligation, plus a bonus when the action's date falls in
    the obligation's window of at most a quarter. None when the measure has no obligations."""
    if not obligations:
        return None
    words = _trigrams(action_text)

    def score(index: int) -> float:
        ob = obligations[index - 1]
        shared = len(words & _trigrams(ob.text)) / max(len(words), 1)
        return shared + (_IN_WINDOW_BONUS if _in_short_window(ob.rule, day, fy) else 0.0)

    default = number if number is not None and 1 <= number <= len(obligations) else 1
    best = max(range(1, len(obligations) + 1), key=lambda i: (score(i), i == default, -i))
    return best if score(best) >= score(default) + _CLEARLY_BETTER else default


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
            " | …) was found. The table must have the five columns of the report form")
    header = rows[header_at]
    if len(header.cells) != COLUMNS:
        raise ReportFormatError(
            f"{source.name}: the header row ({header.where or 'first table row'}) has {len(header.cells)} columns;"
            f" a progress report has five: {' | '.join(COLUMN_NAMES)}")
    fy = title.fiscal_year or fiscal_year
    if fy is None:
        raise ReportFormatError(f"{source.name}: the title does not name the fiscal year (e.g. \"ประจำปีงบประมาณ"
                                " พ.ศ. ๒๕๖๖\"): add it to the file or give the fiscal year on the command line")
    data = [r for r in rows[header_at + 1:] if not _is_header(r.cells) and any(c.strip() for c in r.cells)]
    units = [*known_units, *(_clean(r.cells[1]) for r in data if len(r.cells) == COLUMNS)]
    reader = _TableReader(fy, units)
    _title_warnings(reader, title, fiscal_year)
    for i, r in enumerate(rows[:header_at]):
        if any(c.strip() for c in r.cells):
            reader.warn(None, None, _clean(" | ".join(r.cells)),
                        f"a table row before the header ({r.where or f'row {i + 1}'}) is ignored")
    measures = []
    for number, r in enumerate(data, start=1):
        if len(r.cells) != COLUMNS:
            where = f" ({r.where})" if r.where else ""
            reader.warn(number, None, _clean(" | ".join(r.cells)),
                        f"this row{where} has {len(r.cells)} column(s) instead of five: it is left out;"
                        " check for a tab or a cell split across lines")
            continue
        measures.append(reader.measure(number, r.cells))
    return ParsedReport(title.org_name, title.district, title.province, fy, title.round, tuple(measures),
                        tuple(reader.warnings))


def _title_warnings(reader: _TableReader, title: TitleBlock, given_fy: int | None) -> None:
    for value, what in ((title.org_name, "organisation's name (เทศบาล…/องค์การบริหารส่วน…)"),
                        (title.district, "district (อำเภอ…)"), (title.province, "province (จังหวัด…)")):
        if not value:
            reader.warn(None, None, "", f"the title block does not give the {what}")
    if title.round is None:
        reader.warn(None, None, "", "the title block does not say which round (รอบ ๖ เดือน / รอบ ๑๒ เดือน)")
    if title.fiscal_year is not None and given_fy is not None and given_fy != title.fiscal_year:
        reader.warn(None, None, str(title.fiscal_year),
                    f"the report is for fiscal year {title.fiscal_year}, not {given_fy} as given: the report's"
                    " year is used")
