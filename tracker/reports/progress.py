"""The progress report of a round as data: the report form's five columns for every measure, with what
was done and, beyond the paper form, each obligation's status, so the report tells the truth.

Pure: built from the organisation, its actions and the day to judge on (`as_of`); the renderers in
`reports/` only lay it out (tsv, html, docx).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from tracker.domain.model import Action, Obligation, Organisation
from tracker.domain.rules import RecurringRule
from tracker.domain.status import DUE_TODAY_TH, OccurrenceStatus, Status, is_due_today, organisation_statuses
from tracker.domain.thaidate import (
    MONTHS_FULL,
    Period,
    fiscal_year_bounds,
    format_thai_date,
    half_bounds,
    normalise_digits,
    to_thai_digits,
)
from tracker.reports.parse import COLUMN_NAMES, NO_ACTION_TEXT, OBLIGATION_REF_MARK, STATUS_MARK

REPORT_TITLE = "รายงานการดำเนินการตามมาตรการส่งเสริมคุณธรรมและความโปร่งใสภายในหน่วยงาน"
ROUNDS = {"6m": "รอบ ๖ เดือน", "12m": "รอบ ๑๒ เดือน"}


@dataclass(frozen=True)
class ObligationLine:
    """One obligation of column 4 with its status sentence. `state` is one word for styling:
    done, late, overdue, open, upcoming, no_deadline."""

    number: int
    code: str
    text: str
    status: str
    state: str


@dataclass(frozen=True)
class ActionLine:
    """One action of column 5, written the way the report writes it."""

    obligation_number: int
    unit_name: str
    text: str
    done_on: date

    @property
    def sentence(self) -> str:
        """"สำนักปลัด จัดทำแผน… ดำเนินการเมื่อวันที่ ๕ เดือน เมษายน พ.ศ. ๒๕๖๖"."""
        done = f"ดำเนินการเมื่อ{format_thai_date(self.done_on, style='report')}"
        who = "" if self.text.startswith(self.unit_name) else f"{self.unit_name} "
        return f"{who}{self.text} {done}"

    @property
    def reference(self) -> str:
        """"[ตามข้อ ๑]": which obligation of column 4 it serves (read back by the importer)."""
        return f"[{OBLIGATION_REF_MARK} {to_thai_digits(str(self.obligation_number))}]"


@dataclass(frozen=True)
class MeasureRow:
    code: str
    title: str
    unit_name: str
    steps: tuple[str, ...]
    obligations: tuple[ObligationLine, ...]
    actions: tuple[ActionLine, ...]


@dataclass(frozen=True)
class ProgressReport:
    org_name: str
    district: str
    province: str
    fiscal_year: int
    round: str
    as_of: date
    rows: tuple[MeasureRow, ...]

    @property
    def period(self) -> Period:
        return round_bounds(self.fiscal_year, self.round)

    @property
    def title_lines(self) -> tuple[str, ...]:
        """The title block as the seed writes it: form title, year and round, organisation, place, date."""
        period = self.period
        start, end = period.start, period.end
        span = to_thai_digits(f"(เดือน{MONTHS_FULL[start.month - 1]} {start.year + 543} -"
                              f" {MONTHS_FULL[end.month - 1]} {end.year + 543})")
        return (
            REPORT_TITLE,
            f"ประจำปีงบประมาณ พ.ศ. {to_thai_digits(str(self.fiscal_year))} {ROUNDS[self.round]} {span}",
            self.org_name,
            f"อำเภอ{self.district} จังหวัด{self.province}",
            f"ข้อมูล ณ วันที่ {format_thai_date(self.as_of)}",
        )

    @property
    def headers(self) -> tuple[str, ...]:
        return COLUMN_NAMES


def round_bounds(fy: int, round_: str) -> Period:
    """"6m": October–March of the fiscal year; "12m": the whole fiscal year."""
    if round_ == "6m":
        return half_bounds(fy, 1)
    if round_ == "12m":
        return fiscal_year_bounds(fy)
    raise ValueError(f"round {round_!r} must be 6m or 12m")


def build_progress(org: Organisation, actions: Sequence[Action], fy: int, round_: str, as_of: date) -> ProgressReport:
    """The report of round `round_` ("6m"/"12m") of fiscal year `fy`, as of `as_of`.

    A report as of a date knows nothing after it: actions dated later are neither listed nor counted.
    Those dated earlier are all listed (also outside the fiscal year, as written). Statuses come from
    `organisation_statuses`, the board's computation, so the report and the board agree for one instant.
    """
    period = round_bounds(fy, round_)
    units = {u.code: u.name for u in org.units}
    known = [a for a in actions if a.done_on <= as_of]
    by_obligation: dict[str, list[OccurrenceStatus]] = defaultdict(list)
    for item in organisation_statuses(org, known, as_of, fy):
        by_obligation[item.occurrence.obligation].append(item)
    rows = []
    for measure in org.measures:
        lines, action_lines = [], []
        for number, ob in enumerate(measure.obligations, start=1):
            done = sorted((a for a in known if a.obligation == ob.code), key=lambda a: a.done_on)
            status, state = obligation_status(ob, by_obligation[ob.code], bool(done), period)
            title = org.title_in(ob.code, fy)  # the years a title names move to the report's year
            lines.append(ObligationLine(number, ob.code, normalise_digits(title), status, state))
            action_lines += [ActionLine(number, units.get(a.unit or ob.unit, a.unit or ob.unit), a.note or title,
                                        a.done_on) for a in done]
        rows.append(MeasureRow(measure.code, normalise_digits(measure.title), units.get(measure.unit, measure.unit),
                               tuple(normalise_digits(step) for step in measure.steps),
                               tuple(lines), tuple(action_lines)))
    return ProgressReport(org.name, org.district, org.province, fy, round_, as_of, tuple(rows))


_DONE_TH = "ดำเนินการแล้ว"


def obligation_status(ob: Obligation, items: Sequence[OccurrenceStatus], any_action: bool,
                      period: Period) -> tuple[str, str]:
    """(the status sentence in Thai with Thai digits, the state word) of one obligation, from its
    occurrences' statuses; a recurring obligation counts the periods the round has opened."""
    if ob.rule is None or not items:
        text = f"ไม่มีกำหนดเวลา · {_DONE_TH if any_action else NO_ACTION_TEXT}"
        return to_thai_digits(text), "no_deadline"
    if isinstance(ob.rule, RecurringRule):
        items = [i for i in items if i.occurrence.window_start <= period.end] or list(items)
    if len(items) == 1:
        return _single(items[0], any_action)
    return _recurring(ob.rule.describe("th"), items, any_action)


def _single(item: OccurrenceStatus, any_action: bool) -> tuple[str, str]:
    due = f"(กำหนด {format_thai_date(item.occurrence.due, style='short')})"
    if item.status is Status.DONE:
        text, state = f"{_DONE_TH} ทันกำหนด {due}", "done"
    elif item.status is Status.LATE:
        text, state = f"{_DONE_TH} ล่าช้า {item.days_late} วัน {due}", "late"
    elif item.status is Status.OVERDUE:
        text, state = f"{NO_ACTION_TEXT} เกินกำหนด {item.days_overdue} วัน {due}", "overdue"
    elif item.status is Status.UPCOMING:
        text, state = f"ยังไม่ถึงกำหนด {due}", "upcoming"
    elif is_due_today(item):
        text, state = f"{NO_ACTION_TEXT} {DUE_TODAY_TH} {due}", "open"
    else:
        text, state = f"{NO_ACTION_TEXT} ยังอยู่ในกำหนด {due}", "open"
    if not any_action and item.status is Status.UPCOMING:
        text += f" · {NO_ACTION_TEXT}"
    return to_thai_digits(text), state


def _recurring(label: str, items: Sequence[OccurrenceStatus], any_action: bool) -> tuple[str, str]:
    # A period due on the day judged is counted as the board says it, "ครบกำหนดวันนี้", not "ใกล้ครบกำหนด".
    counts = Counter("due_today" if is_due_today(i) else i.status for i in items)
    parts = [(Status.DONE, "ทันกำหนด"), (Status.LATE, "ล่าช้า"), (Status.OVERDUE, "เกินกำหนด"),
             ("due_today", DUE_TODAY_TH), (Status.OPEN, "อยู่ในกำหนด"), (Status.DUE_SOON, "ใกล้ครบกำหนด"),
             (Status.UPCOMING, "ยังไม่ถึงกำหนด")]
    text = f"{label}: " + " · ".join(f"{name} {counts[s]} งวด" for s, name in parts if counts[s])
    if not any_action:
        text += f" · {NO_ACTION_TEXT}"
    for status, state in ((Status.OVERDUE, "overdue"), (Status.LATE, "late"), (Status.OPEN, "open"),
                          ("due_today", "open"), (Status.DUE_SOON, "open"), (Status.DONE, "done")):
        if counts[status]:
            return to_thai_digits(text), state
    return to_thai_digits(text), "upcoming"


def status_mark(line: ObligationLine) -> str:
    """"[สถานะ: …]": how text renderings append the status to an obligation (the importer strips it)."""
    return f"[{STATUS_MARK}: {line.status}]"
