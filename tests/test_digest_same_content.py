"""The national digest got cheaper to queue (issue 9: 7,850 organisations), and no reader may see a
difference: every digest built and rendered the quick way is compared with the way it was built and
rendered before (`reference_digest`, `reference_render` below, and the templates as they were, in
`fixtures/digest_before/`: that code, kept here as the reference),
for Makha over two fiscal years of digest days, in Thai and English, with and without the board's link
and broken evidence, and with actions of every kind (on time, late, early, named periods, after `today`,
without evidence, twice for one deadline).

When the digest's wording or content changes on purpose, change the reference with it."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from config.loader import LoadResult
from tracker.domain.digest import (
    BUCKETS,
    NEXT_DAYS,
    BrokenEvidence,
    Digest,
    DigestItem,
    UnitSummary,
    build_digest,
    month_bounds,
)
from tracker.domain.model import Action, Organisation
from tracker.domain.rules import Occurrence
from tracker.domain.status import OccurrenceStatus, Status, attribute_actions
from tracker.domain.thaidate import (
    MONTHS_EN,
    MONTHS_FULL,
    ce_to_be,
    fiscal_year,
    fiscal_year_bounds,
    format_date,
    period_fiscal_year,
    period_label,
    title_for_year,
    to_thai_digits,
)
from tracker.domain.workdays import THAI_GOVERNMENT
from tracker.messages import digest as messages
from tracker.messages.digest import RenderedDigest, render_digest

BOARD = "https://tracker.example.go.th/o/makha"


# ------------------------------------------------------------ the reference: the digest as it was built


def occurrence_status(occurrence: Occurrence, actions: Sequence[Action], today: date,
                      due_soon_days: int = 7) -> OccurrenceStatus:
    done = [a.done_on for a in actions if a.done_on <= today]
    days_to_due = (occurrence.due - today).days
    if done:
        first = min(done)
        if first <= occurrence.due:
            return OccurrenceStatus(occurrence, Status.DONE, first, days_to_due=days_to_due)
        return OccurrenceStatus(
            occurrence, Status.LATE, first, days_late=(first - occurrence.due).days, days_to_due=days_to_due
        )
    if today > occurrence.due:
        return OccurrenceStatus(
            occurrence, Status.OVERDUE, days_overdue=(today - occurrence.due).days, days_to_due=days_to_due
        )
    if today < occurrence.window_start:
        return OccurrenceStatus(occurrence, Status.UPCOMING, days_to_due=days_to_due)
    if days_to_due <= due_soon_days:
        return OccurrenceStatus(occurrence, Status.DUE_SOON, days_to_due=days_to_due)
    return OccurrenceStatus(occurrence, Status.OPEN, days_to_due=days_to_due)


def statuses(occurrences: Sequence[Occurrence], actions: Sequence[Action], today: date,
             due_soon_days: dict[str, int]) -> list[OccurrenceStatus]:
    out = [occurrence_status(occ, acts, today, due_soon_days.get(occ.obligation, 7))
           for occ, acts in attribute_actions(occurrences, actions).items()]
    out.sort(key=lambda s: (s.occurrence.due, s.occurrence.obligation))
    return out


def completion_rate(items: Sequence[OccurrenceStatus]) -> float | None:
    finished = judged = 0
    for item in items:
        if item.is_finished:
            finished += 1
            judged += 1
        elif item.status is Status.OVERDUE:
            judged += 1
    return None if judged == 0 else finished / judged


def _bucket(item: OccurrenceStatus, first: date, last: date) -> str:
    if item.status is Status.DONE:
        return "done"
    if item.status is Status.LATE:
        return "late"
    if item.status is Status.OVERDUE:
        return "overdue"
    return "due_this_month" if first <= item.occurrence.due <= last else "upcoming"


def _unit_summaries(org: Organisation, items: Sequence[OccurrenceStatus], first: date,
                    last: date) -> tuple[UnitSummary, ...]:
    counts: dict[str, dict[str, int]] = {u.code: {} for u in org.units}
    for item in items:
        unit = org.obligation(item.occurrence.obligation).unit
        bucket = counts.setdefault(unit, {})
        key = _bucket(item, first, last)
        bucket[key] = bucket.get(key, 0) + 1
    names = {u.code: u.name for u in org.units}
    return tuple(UnitSummary(code, names.get(code, code), **c) for code, c in counts.items())


def _grouped(items: Sequence[DigestItem]) -> tuple[DigestItem, ...]:
    groups: dict[str, list[DigestItem]] = {}
    for item in items:
        groups.setdefault(item.obligation, []).append(item)
    out = []
    for members in groups.values():  # items come worst first, so the first member is the worst
        periods = tuple(m.period for m in sorted(members, key=lambda m: m.due))
        out.append(replace(members[0], periods=periods) if len(members) > 1 else members[0])
    return tuple(out)


def reference_digest(org: Organisation, occurrences: Sequence[Occurrence], actions: Sequence[Action],
                     year: int, month: int, today: date) -> Digest:
    soon = {ob.code: ob.policy.due_soon_days for ob in org.obligations()}
    now_items = statuses(occurrences, actions, today, soon)
    first, last = month_bounds(year, month)
    previous_end = first - timedelta(days=1)
    fy = fiscal_year(today)
    fy_range = fiscal_year_bounds(fy)
    in_fy = [s for s in now_items if s.occurrence.due in fy_range]
    previous_items = statuses([s.occurrence for s in in_fy], actions, previous_end, soon)
    evidence = {occ: tuple(a.evidence for a in acts if a.evidence)
                for occ, acts in attribute_actions(occurrences, [a for a in actions if a.done_on <= today]).items()}
    obligations = {ob.code: ob for ob in org.obligations()}
    units = {u.code: u.name for u in org.units}

    def line(item: OccurrenceStatus) -> DigestItem:
        ob = obligations[item.occurrence.obligation]
        return DigestItem(
            measure=ob.measure, obligation=ob.code,
            title=title_for_year(ob.title, org.fiscal_year, period_fiscal_year(item.occurrence.period)),
            unit=ob.unit, unit_name=units.get(ob.unit, ob.unit), period=item.occurrence.period,
            due=item.occurrence.due, days_overdue=item.days_overdue, days_to_due=item.days_to_due,
            done_on=item.done_on, evidence=evidence.get(item.occurrence, ()))

    overdue = sorted((s for s in now_items if s.status is Status.OVERDUE),
                     key=lambda s: (-(s.days_overdue or 0), s.occurrence.obligation))
    completed = [s for s in now_items if s.done_on is not None
                 and month_bounds(previous_end.year, previous_end.month)[0] <= s.done_on <= previous_end]
    return Digest(
        org=org.code, org_name=org.name, district=org.district, province=org.province,
        year=year, month=month, today=today, fiscal_year=fy,
        units=_unit_summaries(org, in_fy, first, last),
        rate=completion_rate(in_fy), previous_rate=completion_rate(previous_items),
        overdue=_grouped([line(s) for s in overdue if s.occurrence.due in fy_range]),
        carried_over=_grouped([line(s) for s in overdue if s.occurrence.due < fy_range.start]),
        completed_last_month=tuple(line(s) for s in sorted(completed, key=lambda s: (s.done_on, s.occurrence))),
        due_next=tuple(line(s) for s in now_items if not s.is_finished
                       and today <= s.occurrence.due <= today + timedelta(days=NEXT_DAYS)),
    )


class ReferenceFormat:
    """`f` in the templates, as it was: nothing remembered, a fresh one for every rendering."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def n(self, value: int | str) -> str:
        return to_thai_digits(str(value)) if self.lang == "th" else str(value)

    def date(self, day: date) -> str:
        return format_date(day, self.lang)

    def month(self, year: int, month: int) -> str:
        if self.lang == "th":
            return to_thai_digits(f"{MONTHS_FULL[month - 1]} {ce_to_be(year)}")
        return f"{MONTHS_EN[month - 1]} {year}"

    def _one_decimal(self, value: float) -> str:
        return self.n(f"{value:.1f}".removesuffix(".0"))

    def pct(self, rate: float | None) -> str:
        return "-" if rate is None else self._one_decimal(rate * 100) + "%"

    def change(self, delta: float | None) -> str:
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
        return ", ".join(period_label(code, self.lang) for code in codes)

    def place(self, district: str, province: str) -> str:
        return f"อำเภอ{district} จังหวัด{province}" if self.lang == "th" else f"{district}, {province}"


_REFERENCE = Environment(loader=FileSystemLoader(Path(__file__).parent / "fixtures" / "digest_before"),
                         autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
                         undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def reference_render(digest: Digest, lang: str, board_url: str | None) -> RenderedDigest:
    f = ReferenceFormat(lang)
    context: dict[str, Any] = {
        "d": digest, "f": f, "labels": messages.LABELS[lang], "buckets": BUCKETS,
        "colours": messages.COLOURS, "bars": {u.code: messages.bar_segments(u) for u in digest.units},
        "line_items": messages.LINE_ITEMS, "overdue_shown": messages.OVERDUE_SHOWN, "t": messages.TEXTS[lang],
        "lang": lang, "board_url": board_url,
    }
    if lang == "th":
        subject = (f"สรุปสถานะมาตรการ ITA {digest.org_name} ประจำเดือน{f.month(digest.year, digest.month)}"
                   f" (เกินกำหนด {f.n(digest.overdue_count)} รายการ)")
    else:
        subject = (f"ITA measures digest, {digest.org_name}, {f.month(digest.year, digest.month)}"
                   f" ({digest.overdue_count} overdue)")
    line = _REFERENCE.get_template("digest_line.txt.j2").render(context).strip()
    assert len(line) < messages.LINE_LIMIT  # the cut at LINE's limit is not what is compared here
    return RenderedDigest(subject, _REFERENCE.get_template("digest.txt.j2").render(context),
                          _REFERENCE.get_template("digest.html.j2").render(context), line)


# ------------------------------------------------------------ cases


def logged(org: Organisation, occurrences: Sequence[Occurrence], seed: int) -> list[Action]:
    """Actions of every kind for `occurrences`: on time, late, early (before the window opens), for a
    named period, a second one for the same deadline, none, and some without evidence."""
    rng = random.Random(seed)
    actions = []
    for occ in occurrences:
        kind = rng.randrange(8)
        evidence = "" if rng.random() < 0.3 else f"https://ita.example/{occ.obligation}/{occ.period}"
        if kind == 0:
            continue
        day = {1: occ.due - timedelta(days=rng.randrange(0, 10)), 2: occ.due + timedelta(days=rng.randrange(1, 90)),
               3: occ.window_start - timedelta(days=rng.randrange(1, 20)), 4: occ.due, 5: occ.window_start,
               6: occ.due + timedelta(days=rng.randrange(1, 400)), 7: occ.due - timedelta(days=1)}[kind]
        actions.append(Action(occ.obligation, day, evidence, period=occ.period if kind in (4, 6) else None))
        if kind == 7:  # done again a week later: the first counts, both links are shown
            actions.append(Action(occ.obligation, day + timedelta(days=7), evidence + "/again"))
    actions.sort(key=lambda a: a.done_on)
    return actions


def digest_days() -> Iterator[date]:
    """The first working day of every month of fiscal years 2566 and 2567, and a day in the middle."""
    for year, month in [(2022 + (m + 9) // 12, (m + 9) % 12 + 1) for m in range(24)]:
        yield THAI_GOVERNMENT.first_working_day_of_month(year, month)
    yield date(2023, 6, 15)


@pytest.fixture(scope="module")
def cases(sample: LoadResult) -> list[tuple[Organisation, list[Occurrence], list[Action], date]]:
    cfg = sample.org("makha")
    org = cfg.organisation
    # Every third digest, the first unit is no longer listed while its obligations still name it (the
    # table lists it after the others), or no unit is (listed in the order of their first deadline).
    unlisted = [org, org, replace(org, units=org.units[1:]), org, org, replace(org, units=())]
    occurrences = org.occurrences(2566) + org.occurrences(2567)
    out = []
    for seed, today in enumerate(digest_days()):
        # The sample's own actions, then generated ones; from 2567 on, 2566's deadlines are last year's.
        actions = sorted([*cfg.actions, *logged(org, occurrences, seed)], key=lambda a: a.done_on)
        shown = [o for o in occurrences if fiscal_year(o.due) <= fiscal_year(today)]
        # The order deadlines come in is no one's business but the digest's (some cases get them reversed).
        out.append((unlisted[seed % 6], shown[::-1] if seed % 4 == 1 else shown, actions, today))
    return out


def test_the_digest_is_built_as_before(cases: list[tuple[Organisation, list[Occurrence], list[Action], date]]
                                       ) -> None:
    overdue = carried = completed = with_evidence = 0
    for org, occurrences, actions, today in cases:
        built = build_digest(org, occurrences, actions, today.year, today.month, today)
        assert built == reference_digest(org, occurrences, actions, today.year, today.month, today), today
        overdue += len(built.overdue)
        carried += len(built.carried_over)
        completed += len(built.completed_last_month)
        with_evidence += sum(1 for i in built.completed_last_month if len(i.evidence) > 1)
    assert overdue and carried and completed and with_evidence  # the cases reach every part of the digest


def test_the_digest_is_rendered_as_before(cases: list[tuple[Organisation, list[Occurrence], list[Action], date]]
                                          ) -> None:
    broken = (BrokenEvidence("O10-1", "แผน <ประจำปี> & งบ", "สำนักปลัด", "https://ita.example/x?a=1&b=2",
                             date(2023, 2, 3), "HTTP 404"),)
    for org, occurrences, actions, today in cases:
        digest = build_digest(org, occurrences, actions, today.year, today.month, today)
        for lang in ("th", "en"):
            for board_url in (BOARD, None):
                for shown in (digest, replace(digest, broken_evidence=broken)):
                    assert render_digest(shown, lang, board_url=board_url) == reference_render(shown, lang, board_url)


def test_phrases_written_into_the_templates_read_as_rendered_phrases_would() -> None:
    """The templates' phrases are written into their source when compiled (`_PhrasesWritten`): escaped
    for HTML only, and refused when Jinja would read them as syntax or when empty."""
    env = messages._environment("th")
    loader = messages._PhrasesWritten("th")
    loader.texts = {**loader.texts, "title": "แผน <ประจำปี> & งบ"}
    assert "<title>แผน &lt;ประจำปี&gt; &amp; งบ</title>" in loader.get_source(env, "digest.html.j2")[0]
    assert loader.get_source(env, "digest.txt.j2")[0].startswith("แผน <ประจำปี> & งบ\n")
    for bad in ("{{ d.org }}", "{% if x %}", ""):
        loader.texts = {**loader.texts, "title": bad}
        with pytest.raises(ValueError, match="title"):
            loader.get_source(env, "digest.txt.j2")
