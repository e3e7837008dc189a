"""The foundation commands: init, sync, status, log, actions (check is in check.py)."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from jobs import sync_config
from tracker.cli.check import print_problems
from tracker.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    Context,
    add_format,
    add_lang,
    check_tracked,
    date_arg,
    fiscal_year_arg,
    now_utc,
    render_table,
    today_bangkok,
)
from tracker.domain.model import Action, Organisation
from tracker.domain.status import OccurrenceStatus, status_text
from tracker.domain.thaidate import fiscal_year, format_date, period_label, to_thai_digits
from tracker.store import status_query
from tracker.store.actions import InvalidAction, log_action
from tracker.store.db import migrate, safe_url, session_scope
from tracker.store.repo import (
    ensure_occurrences,
    first_fiscal_year,
    list_actions,
    load_organisation,
    org_codes,
    org_row,
    refresh_done,
)
from tracker.store.status_query import status_rows


def register(sub: Any) -> None:
    p = sub.add_parser("init", help="create or migrate the database")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("sync", help="load the configuration into the database (all or nothing)")
    p.add_argument("paths", nargs="*", type=Path)
    p.set_defaults(func=cmd_sync)

    p = sub.add_parser("status", help="the status of every deadline of a fiscal year")
    p.add_argument("--org", help="organisation code (default: every organisation)")
    p.add_argument("--as-of", type=date_arg, help="the day to judge on (default today, Bangkok)")
    p.add_argument("--fy", type=fiscal_year_arg, help="B.E. fiscal year (default: that of --as-of)")
    add_lang(p)
    add_format(p, "json")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("log", help="record an action: work done for an obligation")
    p.add_argument("--org", required=True)
    p.add_argument("--obligation", required=True, help="obligation code, e.g. O10-1")
    p.add_argument("--date", type=date_arg, required=True, help="day done: 2023-04-05, 5/4/2566 or ๕ เม.ย. ๒๕๖๖")
    p.add_argument("--evidence", default="", help="link to the evidence (usually the web page)")
    p.add_argument("--note", default="")
    p.add_argument("--by", default="", help="who records it")
    p.add_argument("--period", help="the occurrence it serves when the date alone would mislead, e.g. 2566-Q2")
    p.add_argument("--unit", help="unit code, when another unit did the work")
    p.set_defaults(func=cmd_log)

    p = sub.add_parser("actions", help="list logged actions")
    p.add_argument("--org", required=True)
    p.add_argument("--obligation")
    add_lang(p)
    add_format(p, "json")
    p.set_defaults(func=cmd_actions)


# ---------------------------------------------------------------- init / check / sync

def cmd_init(args: argparse.Namespace, ctx: Context) -> int:
    before, after = migrate(ctx.engine())
    where = safe_url(ctx.settings.database_url)
    ctx.print(f"database {where}: " + ("up to date" if before == after else f"migrated {before or 'empty'} → {after}"))
    return EXIT_OK


def cmd_sync(args: argparse.Namespace, ctx: Context) -> int:
    migrate(ctx.engine())
    with session_scope(ctx.engine()) as session:
        result = sync_config.run_once(session, args.paths or list(ctx.settings.config_paths), now_utc())
    print_problems(ctx, result.loaded)
    if not result.ok:
        ctx.print(f"{len(result.loaded.errors)} error(s): the database was not changed")
        return EXIT_INVALID
    for report in result.reports:
        ctx.print(report.summary())
    return EXIT_OK


# ---------------------------------------------------------------- status

def org_statuses(ctx: Context, code: str, today: date, fy: int) -> tuple[Organisation, list[OccurrenceStatus]]:
    """`status_query.org_statuses`, after materialising the year's occurrences (the planner needs them)."""
    with session_scope(ctx.engine()) as session:
        org = load_organisation(session, code)
        row = org_row(session, code)
        if ensure_occurrences(session, row.id, org, fy):
            refresh_done(session, row.id)
        return status_query.org_statuses(session, code, today, fy)


def cmd_status(args: argparse.Namespace, ctx: Context) -> int:
    today = args.as_of or today_bangkok()
    fy = args.fy or fiscal_year(today)
    with session_scope(ctx.engine()) as session:
        codes = [args.org] if args.org else org_codes(session)
        first = first_fiscal_year(session, args.org)
    if not codes or first is None:
        ctx.print("no organisation in the database yet: run `tracker sync` (or `tracker run`) first")
        return EXIT_INVALID
    # Checked before anything is materialised: a year far out would write occurrences for it.
    check_tracked(first, today_bangkok(), flag="--as-of", day=args.as_of)
    check_tracked(first, today_bangkok(), flag="--fy", fy=fy)
    rows: list[dict[str, Any]] = []
    boards = []
    for code in codes:
        org, items = org_statuses(ctx, code, today, fy)
        rows.extend(status_rows(org, items))
        boards.append((org, items))
    if args.format == "json":
        ctx.print_json({"as_of": today.isoformat(), "fiscal_year": fy, "occurrences": rows})
        return EXIT_OK
    for org, items in boards:
        ctx.print(board(org, items, today, fy, args.lang))
    return EXIT_OK


def board(org: Organisation, items: list[OccurrenceStatus], today: date, fy: int, lang: str) -> str:
    """The status board a person reads: one line per deadline, worst news easy to spot."""
    th = lang != "en"
    units = {u.code: u.name for u in org.units}
    # "รายการ" is what officials call one item of a measure's timetable; periods as they write them
    # ("เม.ย. ๖๖", "ไตรมาส ๑/๒๕๖๖"), the codes stay in the JSON.
    headers = (["มาตรการ", "รายการ", "หน่วยงาน", "รอบ", "กำหนด", "สถานะ", "ดำเนินการเมื่อ", "หมายเหตุ"] if th else
               ["Measure", "Obligation", "Unit", "Period", "Due", "Status", "Done on", "Note"])
    rows = []
    for item in items:
        ob = org.obligation(item.occurrence.obligation)
        note = ""
        if item.days_late is not None:
            note = to_thai_digits(f"ล่าช้า {item.days_late} วัน") if th else f"{item.days_late} days late"
        elif item.days_overdue is not None:
            note = to_thai_digits(f"เกินกำหนด {item.days_overdue} วัน") if th else f"{item.days_overdue} days overdue"
        elif item.days_to_due and item.status.value in ("open", "due_soon"):
            note = to_thai_digits(f"เหลือ {item.days_to_due} วัน") if th else f"{item.days_to_due} days left"
        rows.append([ob.measure, ob.code, units.get(ob.unit, ob.unit), period_label(item.occurrence.period, lang),
                     format_date(item.occurrence.due, lang, style="short" if th else "long"),
                     status_text(item, lang),
                     format_date(item.done_on, lang, style="short" if th else "long") if item.done_on else "-", note])
    title = (f"{org.name} อำเภอ{org.district} จังหวัด{org.province} — ปีงบประมาณ พ.ศ. {to_thai_digits(str(fy))}"
             f" ณ วันที่ {format_date(today, 'th')}" if th else
             f"{org.name} ({org.district}, {org.province}) — fiscal year {fy} as of {format_date(today, 'en')}")
    counts: dict[str, int] = {}
    for item in items:
        label = status_text(item, lang)
        counts[label] = counts.get(label, 0) + 1
    summary = " · ".join(f"{k} {to_thai_digits(str(v)) if th else v}" for k, v in counts.items())
    return f"{title}\n{render_table(headers, rows)}\n{summary}\n"


# ---------------------------------------------------------------- log / actions

def cmd_log(args: argparse.Namespace, ctx: Context) -> int:
    migrate(ctx.engine())
    action = Action(args.obligation, args.date, args.evidence, args.note, args.by, None, args.period, args.unit)
    try:
        with session_scope(ctx.engine()) as session:
            log_action(session, args.org, action, channel="cli", now=now_utc())
    except InvalidAction as exc:
        for p in exc.problems:
            ctx.print(str(p))
        return EXIT_INVALID
    ctx.print(f"recorded: {args.obligation} done on {args.date.isoformat()} ({format_date(args.date, 'th')})")
    return EXIT_OK


def cmd_actions(args: argparse.Namespace, ctx: Context) -> int:
    with session_scope(ctx.engine()) as session:
        stored = list_actions(session, args.org, args.obligation)
    if args.format == "json":
        ctx.print_json({"org": args.org, "actions": [
            {"id": s.id, "obligation": s.action.obligation, "date": s.action.done_on.isoformat(),
             "evidence": s.action.evidence or None, "note": s.action.note, "recorded_by": s.action.recorded_by,
             "recorded_at": s.action.recorded_at.isoformat() if s.action.recorded_at else None,
             "period": s.action.period, "unit": s.action.unit, "source": s.source} for s in stored]})
        return EXIT_OK
    th = args.lang != "en"
    headers = (["#", "ภาระงาน", "วันที่ดำเนินการ", "หน่วยงาน", "รายละเอียด", "หลักฐาน", "บันทึกโดย"] if th else
               ["#", "Obligation", "Done on", "Unit", "Note", "Evidence", "Recorded by"])
    rows = [[str(s.id), s.action.obligation, format_date(s.action.done_on, args.lang), s.action.unit or "",
             s.action.note, s.action.evidence or "-", s.action.recorded_by] for s in stored]
    ctx.print(render_table(headers, rows, [6, 10, 20, 10, 60, 40, 16]))
    return EXIT_OK
