"""What every command shares: the context (settings, engine, output), time and date arguments, tables."""

from __future__ import annotations

import argparse
import json
import math
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from config.settings import Settings
from tracker.domain.errors import DateParseError, TrackerError
from tracker.domain.thaidate import (
    BANGKOK,
    FIRST_PLAUSIBLE_CE,
    LAST_PLAUSIBLE_CE,
    ce_to_be,
    check_ce_year,
    parse_date,
    plausible,
    untracked_day,
    untracked_year,
)

if TYPE_CHECKING:  # SQLAlchemy is imported when a command first needs the database, not for --help
    from sqlalchemy import Engine

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_INVALID = 2
EXIT_BROKEN_PIPE = 141  # as a shell tool killed by SIGPIPE (128 + 13): the reader stopped reading


@dataclass
class Context:
    """Owned by `main`: it creates the engine on first use and disposes of it at the end."""

    settings: Settings
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    _engine: Engine | None = None

    def engine(self) -> Engine:
        if self._engine is None:
            from tracker.store.db import open_engine

            self._engine = open_engine(self.settings.database_url, self.settings.db_lock_timeout_seconds)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def print(self, text: str = "") -> None:
        print(text, file=self.out)

    def print_json(self, data: Any) -> None:
        json.dump(data, self.out, ensure_ascii=False, indent=2, default=str)
        self.out.write("\n")


def now_utc() -> datetime:
    """The one place the CLI reads the clock."""
    return datetime.now(UTC)


def bangkok_time(at: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC instant as Bangkok wall time for a table cell; "-" when there is none."""
    return at.astimezone(BANGKOK).strftime(fmt) if at is not None else "-"


def today_bangkok(now: datetime | None = None) -> date:
    return (now or now_utc()).astimezone(BANGKOK).date()


def date_arg(text: str) -> date:
    """argparse type: ISO C.E. or Thai dates (5/4/2566, ๕ เม.ย. ๒๕๖๖)."""
    try:
        return parse_date(text)
    except DateParseError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def datetime_arg(text: str) -> datetime:
    """argparse type: an ISO datetime (with offset, or Bangkok time when none), or a date (its 09:00 Bangkok).
    Years are checked as dates' are: a B.E. year in ISO form, or one outside B.E. 2500–2700, is refused."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        try:
            day = parse_date(text)
        except DateParseError as exc:
            if any(word in str(exc) for word in ("B.E.", "outside")):
                raise argparse.ArgumentTypeError(str(exc)) from None
            raise argparse.ArgumentTypeError(
                f"'{text}' is not a date or time: write 2022-10-21T09:00:00+07:00 or 2022-10-21"
            ) from None
        return datetime(day.year, day.month, day.day, 9, 0, tzinfo=BANGKOK)
    try:
        plausible(date(check_ce_year(parsed.year, parsed.month, parsed.day), parsed.month, parsed.day), text)
    except DateParseError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=BANGKOK)


def fiscal_year_arg(text: str) -> int:
    """argparse type: a B.E. fiscal year such as 2566 (a C.E. year is refused with the B.E. one to write)."""
    try:
        year = int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a fiscal year: write the B.E. year, e.g. 2566") from None
    if 1900 <= year <= 2200:
        raise argparse.ArgumentTypeError(f"{year} looks like a C.E. year: write the B.E. fiscal year {year + 543}")
    if not ce_to_be(FIRST_PLAUSIBLE_CE) <= year <= ce_to_be(LAST_PLAUSIBLE_CE):
        raise argparse.ArgumentTypeError(f"{year} is not a B.E. fiscal year such as 2566")
    return year


def check_tracked(first_fy: int, today: date, *, flag: str, fy: int | None = None, day: date | None = None) -> None:
    """Refuse (TrackerError naming `flag`) a fiscal year or day far from the years tracked; see
    `tracker.domain.thaidate.tracked_years`."""
    why = (untracked_year(fy, first_fy, today) if fy is not None else None) or (
        untracked_day(day, first_fy, today) if day is not None else None)
    if why:
        raise TrackerError(f"{flag} {why}")


def positive_int(text: str) -> int:
    """argparse type: a whole number above 0."""
    value = whole_number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0")
    return value


def whole_number(text: str) -> int:
    """argparse type: a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number, 0 or more")
    return value


def positive_seconds(text: str) -> float:
    """argparse type: a number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


class Parser(argparse.ArgumentParser):
    """argparse with a two-line error: what is wrong, and where to read the usage (not the whole usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n(see `{self.prog} --help`)\n")


def add_lang(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lang", choices=("th", "en"), default="th", help="language of the output (default th)")


def add_format(parser: argparse.ArgumentParser, *choices: str) -> None:
    options = ("table", *choices)
    parser.add_argument("--format", choices=options, default="table", help="output format (default table)")


def display_width(text: str) -> int:
    """Columns a text takes in a terminal: Thai vowel and tone marks (category Mn) take none."""
    width = 0
    for ch in text:
        if unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def _fit(text: str, width: int) -> str:
    if display_width(text) <= width:
        return text + " " * (width - display_width(text))
    out = ""
    for ch in text:
        if display_width(out + ch) > width - 1:
            break
        out += ch
    return out + "…" + " " * (width - 1 - display_width(out))


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]], max_widths: Sequence[int] | None = None) -> str:
    """A plain-text table whose columns line up with Thai text."""
    widths = [display_width(h) for h in headers]
    for row in rows:
        widths = [max(w, display_width(c)) for w, c in zip(widths, row, strict=True)]
    if max_widths:
        widths = [min(w, m) for w, m in zip(widths, max_widths, strict=True)]
    lines = ["  ".join(_fit(h, w) for h, w in zip(headers, widths, strict=True)).rstrip(),
             "  ".join("─" * w for w in widths)]
    lines += ["  ".join(_fit(c, w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)
