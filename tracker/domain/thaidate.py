"""The Thai calendar as officials write it: B.E. years, Thai digits, Thai month names, the fiscal year.

Pure functions; nothing here reads the clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from pythainlp.util import arabic_digit_to_thai_digit, thai_digit_to_arabic_digit

from tracker.domain.errors import DateParseError

TIMEZONE = "Asia/Bangkok"
BANGKOK = ZoneInfo(TIMEZONE)  # the one definition: UTC+7, no daylight saving; store UTC, show this

BE_OFFSET = 543

MONTHS_FULL: tuple[str, ...] = (
    "มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน",
    "กรกฎาคม", "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม",
)
MONTHS_ABBR: tuple[str, ...] = (
    "ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.",
    "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค.",
)
MONTHS_EN: tuple[str, ...] = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
WEEKDAYS_TH: tuple[str, ...] = ("จันทร์", "อังคาร", "พุธ", "พฤหัสบดี", "ศุกร์", "เสาร์", "อาทิตย์")
WEEKDAYS_EN: tuple[str, ...] = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# ---------------------------------------------------------------- digits and years

def to_thai_digits(text: str) -> str:
    """Replace every Arabic digit with its Thai digit (๐–๙); everything else is kept."""
    return str(arabic_digit_to_thai_digit(text))


def to_arabic_digits(text: str) -> str:
    """Replace every Thai digit with its Arabic digit; mixed text such as "0๑๑" becomes "011"."""
    return str(thai_digit_to_arabic_digit(text))


_MIXED_NUMBER = re.compile(r"[0-9๐-๙]*(?:[0-9][๐-๙]|[๐-๙][0-9])[0-9๐-๙]*")


def normalise_digits(text: str) -> str:
    """A number written with both digit sets, as the seed's "0๑๑" (an Arabic zero among Thai digits), is
    written in Thai digits throughout ("๐๑๑"); numbers in one digit set are kept as written."""
    return _MIXED_NUMBER.sub(lambda m: to_thai_digits(m.group()), text)


def be_to_ce(year_be: int) -> int:
    return year_be - BE_OFFSET


def ce_to_be(year_ce: int) -> int:
    return year_ce + BE_OFFSET


def normalize_be_year(year: int) -> int:
    """A B.E. year as officials write it: two digits (65) mean 2565; four digits are kept.

    Raises DateParseError for anything that is not a plausible B.E. year (a C.E. year such as 2023
    is refused rather than guessed at: it would be 543 years off).
    """
    if 0 <= year <= 99:
        return 2500 + year
    if 2400 <= year <= 2700:
        return year
    raise DateParseError(f"{year} is not a B.E. year: write it as 2566 or 66")


# ---------------------------------------------------------------- months

_MONTH_LOOKUP: dict[str, int] = {}
for _i, (_full, _abbr, _en) in enumerate(zip(MONTHS_FULL, MONTHS_ABBR, MONTHS_EN, strict=True), start=1):
    _MONTH_LOOKUP[_full] = _i
    _MONTH_LOOKUP[_abbr] = _i
    _MONTH_LOOKUP[_abbr.replace(".", "")] = _i
    _MONTH_LOOKUP[_abbr.replace(" ", "")] = _i
    _MONTH_LOOKUP[_en.lower()] = _i
    _MONTH_LOOKUP[_en[:3].lower()] = _i

# Longest names first so that "มีนาคม" wins over a shorter prefix in a regex alternation.
MONTH_PATTERN = "|".join(
    re.escape(name) for name in sorted(_MONTH_LOOKUP, key=len, reverse=True) if not name.isascii()
)


def parse_month(name: str) -> int:
    """The month number (1–12) of a Thai month name, full ("เมษายน") or abbreviated ("เม.ย.", "เมย"),
    or an English one ("April", "apr")."""
    key = name.strip().replace(" ", "")
    month = _MONTH_LOOKUP.get(key) or _MONTH_LOOKUP.get(key.lower())
    if month is None:
        raise DateParseError(f"'{name}' is not a month name: write it as เมษายน or เม.ย.")
    return month


# ---------------------------------------------------------------- formatting

def format_thai_date(day: date, *, style: str = "long", thai_digits: bool = True) -> str:
    """A date as Thai officials write it.

    styles: "long" → "๕ เมษายน ๒๕๖๖"; "short" → "๕ เม.ย. ๖๖"; "report" → "วันที่ ๕ เดือน เมษายน พ.ศ. ๒๕๖๖";
    "weekday" → "วันพุธที่ ๕ เมษายน ๒๕๖๖".
    """
    year_be = ce_to_be(day.year)
    month_full = MONTHS_FULL[day.month - 1]
    if style == "long":
        text = f"{day.day} {month_full} {year_be}"
    elif style == "short":
        text = f"{day.day} {MONTHS_ABBR[day.month - 1]} {year_be % 100:02d}"
    elif style == "report":
        text = f"วันที่ {day.day} เดือน {month_full} พ.ศ. {year_be}"
    elif style == "weekday":
        text = f"วัน{WEEKDAYS_TH[day.weekday()]}ที่ {day.day} {month_full} {year_be}"
    else:
        raise ValueError(f"unknown date style {style!r}")
    return to_thai_digits(text) if thai_digits else text


def format_english_date(day: date, *, weekday: bool = False) -> str:
    """"5 April 2023" (C.E.), optionally "Wednesday 5 April 2023"."""
    text = f"{day.day} {MONTHS_EN[day.month - 1]} {day.year}"
    return f"{WEEKDAYS_EN[day.weekday()]} {text}" if weekday else text


def format_date(day: date, lang: str, *, style: str = "long") -> str:
    """A date for a reader of `lang` ("th": B.E. with Thai digits; "en": C.E.)."""
    if lang == "en":
        return format_english_date(day, weekday=style == "weekday")
    return format_thai_date(day, style=style)


# ---------------------------------------------------------------- parsing

_ISO = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*$")
_SLASHED = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})\s*$")
_WORDS = re.compile(
    rf"^\s*(?:วันที่\s*)?(\d{{1,2}})\s*(?:เดือน\s*)?({MONTH_PATTERN}|[A-Za-z]+\.?)\s*(?:พ\.?\s?ศ\.?\s*)?(\d{{2}}|\d{{4}})\s*$"
)


def make_date(year_ce: int, month: int, day: int) -> date:
    """A date, or a DateParseError that says which part is impossible (31 April, 29 Feb of a common year)."""
    if not 1 <= month <= 12:
        raise DateParseError(f"month {month} does not exist")
    try:
        return date(year_ce, month, day)
    except ValueError:
        raise DateParseError(
            f"{day} {MONTHS_FULL[month - 1]} {ce_to_be(year_ce)} does not exist"
        ) from None


# The years a date typed for ITA work can be in (B.E. 2500–2700). Anything outside is a typing slip that
# would otherwise be stored as written: 0001-01-01, or a B.E. year 543 years off.
FIRST_PLAUSIBLE_CE, LAST_PLAUSIBLE_CE = 1957, 2157


def check_ce_year(year: int, month: int, day: int) -> int:
    """The year of an ISO (C.E.) date; a B.E. year typed in ISO form (2566-04-05) is refused with the
    C.E. date to write instead, rather than stored 543 years in the future."""
    if year >= 2400:
        raise DateParseError(f"'{year}-{month:02d}-{day:02d}' has the B.E. year {year} in an ISO (C.E.) date:"
                             f" write {year - BE_OFFSET}-{month:02d}-{day:02d}, or the Thai form {day}/{month}/{year}")
    return year


def plausible(day: date, text: str) -> date:
    """`day`, unless its year is outside B.E. 2500–2700 (C.E. 1957–2157)."""
    if not FIRST_PLAUSIBLE_CE <= day.year <= LAST_PLAUSIBLE_CE:
        raise DateParseError(f"'{text.strip()}' is in {day.year} C.E. (B.E. {ce_to_be(day.year)}), outside the"
                             f" years ITA Tracker handles (B.E. {ce_to_be(FIRST_PLAUSIBLE_CE)}–"
                             f"{ce_to_be(LAST_PLAUSIBLE_CE)}): check the year")
    return day


def parse_date(text: str) -> date:
    """A date typed by a person: ISO C.E. ("2023-04-05"), Thai day/month/B.E. year ("5/4/2566", "5/4/66"),
    or words ("๕ เม.ย. ๒๕๖๖", "5 เมษายน 2566", "วันที่ ๕ เดือน เมษายน พ.ศ. ๒๕๖๖").

    Slashed and worded dates are read as B.E.: that is how Thai officials write them.
    """
    raw = to_arabic_digits(text)
    if m := _ISO.match(raw):
        return plausible(make_date(check_ce_year(int(m[1]), int(m[2]), int(m[3])), int(m[2]), int(m[3])), text)
    if m := _SLASHED.match(raw):
        return plausible(make_date(be_to_ce(normalize_be_year(int(m[3]))), int(m[2]), int(m[1])), text)
    if m := _WORDS.match(raw):
        return plausible(make_date(be_to_ce(normalize_be_year(int(m[3]))), parse_month(m[2]), int(m[1])), text)
    raise DateParseError(
        f"'{text}' is not a date: write 2023-04-05, 5/4/2566 or ๕ เม.ย. ๒๕๖๖"
    )


# ---------------------------------------------------------------- the fiscal year

FISCAL_YEAR_START_MONTH = 10


def fiscal_year(day: date) -> int:
    """The B.E. fiscal year (ปีงบประมาณ) of a date: 1 Oct 2022 – 30 Sep 2023 is FY 2566."""
    year_ce = day.year + 1 if day.month >= FISCAL_YEAR_START_MONTH else day.year
    return ce_to_be(year_ce)


@dataclass(frozen=True, order=True)
class Period:
    """A closed range of days [start, end]."""

    start: date
    end: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


def fiscal_year_bounds(fy_be: int) -> Period:
    """1 October of the previous C.E. year to 30 September: FY 2566 is 2022-10-01 – 2023-09-30."""
    end_ce = be_to_ce(fy_be)
    return Period(date(end_ce - 1, 10, 1), date(end_ce, 9, 30))


def month_in_fiscal_year(fy_be: int, month: int) -> Period:
    """The calendar month `month` as it falls inside FY `fy_be` (October–December in its first C.E. year)."""
    start_ce = be_to_ce(fy_be) - 1 if month >= FISCAL_YEAR_START_MONTH else be_to_ce(fy_be)
    first = date(start_ce, month, 1)
    return Period(first, first + relativedelta(months=1) - timedelta(days=1))


def fiscal_quarter(day: date) -> int:
    """1–4: Q1 Oct–Dec, Q2 Jan–Mar, Q3 Apr–Jun, Q4 Jul–Sep."""
    return ((day.month - FISCAL_YEAR_START_MONTH) % 12) // 3 + 1


def quarter_bounds(fy_be: int, quarter: int) -> Period:
    if not 1 <= quarter <= 4:
        raise ValueError(f"quarter {quarter} does not exist")
    start = fiscal_year_bounds(fy_be).start + relativedelta(months=3 * (quarter - 1))
    return Period(start, start + relativedelta(months=3) - timedelta(days=1))


def half_bounds(fy_be: int, half: int) -> Period:
    """The six-month round (half 1: Oct–Mar) and the second half (Apr–Sep)."""
    if half not in (1, 2):
        raise ValueError(f"half {half} does not exist")
    start = fiscal_year_bounds(fy_be).start + relativedelta(months=6 * (half - 1))
    return Period(start, start + relativedelta(months=6) - timedelta(days=1))


# ---------------------------------------------------------------- the years a database tracks

def tracked_years(first_fy: int, today: date) -> tuple[int, int]:
    """The fiscal years (B.E.) whose dates commands accept: from the year before the first configured one
    (work recorded late) to the year after today's (planning ahead). Further out is a typing slip."""
    return first_fy - 1, max(fiscal_year(today), first_fy) + 1


def untracked_year(fy: int, first_fy: int, today: date) -> str | None:
    """Why fiscal year `fy` is refused, or None."""
    first, last = tracked_years(first_fy, today)
    if first <= fy <= last:
        return None
    return f"{fy} is outside the fiscal years {first}–{last} (B.E.) tracked: check the year"


def untracked_day(day: date, first_fy: int, today: date) -> str | None:
    """Why `day` is refused (outside the tracked years), or None."""
    first, last = tracked_years(first_fy, today)
    start, end = fiscal_year_bounds(first).start, fiscal_year_bounds(last).end
    if not start <= day <= end:
        return (f"{day.isoformat()} is outside the fiscal years {first}–{last} (B.E.) tracked, {start.isoformat()}"
                f" – {end.isoformat()}: check the year")
    return None


# ---------------------------------------------------------------- period codes as officials write them

_PERIOD_CODE = re.compile(r"^(\d{4})(?:-([MQH])(\d{1,2}))?$")


def period_label(code: str, lang: str = "th") -> str:
    """A period code ("2566-M07", "2566-Q1", "2566-H1", "2566") as officials write it.

    "2566-M07" is the 7th month of FY 2566, April 2023: "เม.ย. ๖๖" (the calendar B.E. year, as on a
    letter), never "M07", which reads as July. Quarters and halves carry the fiscal year: "ไตรมาส ๑/๒๕๖๖",
    "ครึ่งปีแรก ๒๕๖๖"; the whole year "ปีงบ ๒๕๖๖". Codes stay in JSON; an unknown code is shown as it is.
    """
    match = _PERIOD_CODE.match(code)
    if not match:
        return code
    fy, kind, number = int(match[1]), match[2], int(match[3] or 0)
    th = lang != "en"
    if kind == "M" and 1 <= number <= 12:
        first = fiscal_year_bounds(fy).start + relativedelta(months=number - 1)
        if th:
            return to_thai_digits(f"{MONTHS_ABBR[first.month - 1]} {ce_to_be(first.year) % 100:02d}")
        return f"{MONTHS_EN[first.month - 1][:3]} {first.year}"
    if kind == "Q" and 1 <= number <= 4:
        return to_thai_digits(f"ไตรมาส {number}/{fy}") if th else f"Q{number} FY {fy}"
    if kind == "H" and number in (1, 2):
        if th:
            return to_thai_digits(f"{'ครึ่งปีแรก' if number == 1 else 'ครึ่งปีหลัง'} {fy}")
        return f"{'first' if number == 1 else 'second'} half FY {fy}"
    if kind is None:
        return to_thai_digits(f"ปีงบ {fy}") if th else f"FY {fy}"
    return code


def period_fiscal_year(code: str) -> int:
    """The fiscal year (B.E.) of a period code: every code starts with it ("2566-M07" → 2566)."""
    return int(code[:4])


_BE_YEAR = re.compile(r"(?<![0-9๐-๙])(25[0-9]{2}|๒๕[๐-๙]{2})(?![0-9๐-๙])")
_SHORT_YEAR = re.compile(r"((?:ม\.ค|ก\.พ|มี\.ค|เม\.ย|พ\.ค|มิ\.ย|ก\.ค|ส\.ค|ก\.ย|ต\.ค|พ\.ย|ธ\.ค)\.?\s*)([0-9๐-๙]{2})"
                         r"(?![0-9๐-๙])")


def title_for_year(title: str, written_for: int, fy: int) -> str:
    """An obligation's title as it reads for fiscal year `fy` when it was written for `written_for`: the
    B.E. years it names move with it ("ภายในเดือนตุลาคม ๒๕๖๕" in FY 2566's plan is "ตุลาคม ๒๕๖๗" for FY
    2568), so a line never says one year in the title and another in its due date."""
    shift = fy - written_for
    if shift == 0:
        return title

    def move(text: str, width: int) -> str:
        moved = str(int(to_arabic_digits(text)) + shift).zfill(width)[-width:]
        return to_thai_digits(moved) if text[0] in "๐๑๒๓๔๕๖๗๘๙" else moved

    title = _BE_YEAR.sub(lambda m: move(m[1], 4), title)
    return _SHORT_YEAR.sub(lambda m: m[1] + move(m[2], 2), title)
