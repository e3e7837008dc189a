"""`tracker import-report FILE --org ORG`: start from the progress report the office already wrote.

Writes `<config dir>/<org>.toml` for an admin to review and records the report's actions in the
database (source "import", keyed so that importing the same report twice adds nothing).

An existing `<org>.toml` is never overwritten without `--force`: writing a second file for the same
organisation beside it (`<org>.imported.toml`) would make `tracker check` fail on a duplicate code, so
the import refuses instead and says to use `--out PATH` (review elsewhere) or `--force`.
A file that is not a report, or an existing file without `--force`, writes nothing at all.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from config.loader import load_config
from jobs.config_apply import apply_import
from tracker.cli.common import EXIT_INVALID, EXIT_OK, Context, add_lang, now_utc
from tracker.domain.model import Organisation
from tracker.domain.thaidate import format_date, to_thai_digits
from tracker.reports.parse import ParsedReport, ReportFormatError, parse_report
from tracker.reports.reader import read_report
from tracker.reports.to_config import ImportPlan, obligation_code, plan_import
from tracker.store.db import migrate


def register(sub: Any) -> None:
    """Add the `import-report` subcommand."""
    p = sub.add_parser("import-report", help="import a progress report (.txt tab-separated or .docx)")
    p.add_argument("file", type=Path, help="the report: UTF-8 text with five tab-separated columns, or .docx")
    p.add_argument("--org", required=True, help="organisation code to import into, e.g. makha")
    p.add_argument("--dry-run", action="store_true", help="show what would be created; write nothing")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")
    p.add_argument("--out", type=Path, help="where to write the TOML (default <config dir>/<org>.toml)")
    p.add_argument("--force", action="store_true", help="overwrite an existing configuration file")
    p.add_argument("--fy", type=int, help="B.E. fiscal year, when the report's title does not name it")
    add_lang(p)
    p.set_defaults(func=cmd_import_report)


def cmd_import_report(args: argparse.Namespace, ctx: Context) -> int:
    existing = _existing(ctx, args.org)
    try:
        source = read_report(args.file)
        report = parse_report(source, fiscal_year=args.fy,
                              known_units=[u.name for u in existing.units] if existing else ())
    except ReportFormatError as exc:
        print(f"error: {exc}. Nothing was written." if args.lang == "en" else
              f"ข้อผิดพลาด: {exc.describe('th')} — ยังไม่ได้บันทึกสิ่งใด", file=ctx.err)
        return EXIT_INVALID
    plan = plan_import(report, args.org, existing, args.file.name)
    if args.dry_run:
        _show(ctx, args, report, plan, None)
        return EXIT_OK
    target = args.out or default_target(ctx, args.org)
    if target.exists() and not args.force:
        print(f"error: {target} already exists: nothing was written. Review the import elsewhere with"
              f" --out PATH, or replace the file with --force" if args.lang == "en" else
              f"ข้อผิดพลาด: มีไฟล์ {target} อยู่แล้ว ยังไม่ได้บันทึกสิ่งใด โปรดตรวจทานการนำเข้าในไฟล์อื่นด้วย"
              f" --out PATH หรือเขียนทับด้วย --force", file=ctx.err)
        return EXIT_INVALID
    added = write_import(ctx, plan, target)
    _show(ctx, args, report, plan, {"config": str(target), "actions_added": added,
                                    "actions_already_recorded": len(plan.actions) - added})
    return EXIT_OK


def _existing(ctx: Context, org: str) -> Organisation | None:
    """The organisation's current configuration, if one loads without errors."""
    loaded = load_config(list(ctx.settings.config_paths))
    try:
        return loaded.org(org).organisation
    except KeyError:
        return None


def default_target(ctx: Context, org: str) -> Path:
    """`<org>.toml` in the first configured path (its folder when that path is a file)."""
    first = ctx.settings.config_paths[0]
    folder = first if first.is_dir() or not first.suffix else first.parent
    return folder / f"{org}.toml"


def write_import(ctx: Context, plan: ImportPlan, target: Path) -> int:
    """`config_apply.apply_import` on the CLI's database: returns how many actions were new."""
    migrate(ctx.engine())
    return apply_import(ctx.engine(), plan, target, now_utc(), channel="import")


def report_json(org: str, report: ParsedReport, plan: ImportPlan, lang: str = "th") -> dict[str, Any]:
    """The dry-run JSON: org, fiscal_year (B.E.), measures with obligations and actions, warnings (their
    message in `lang`)."""
    return {
        "org": org,
        "fiscal_year": report.fiscal_year,
        "measures": [{
            "code": m.code,
            "title": m.title,
            "unit": m.unit_name,
            "obligations": [{"text": o.text, "rule": o.rule.to_dict() if o.rule else None,
                             "due": o.due.isoformat() if o.due else None} for o in m.obligations],
            "actions": [{"date": a.date.isoformat() if a.date else None, "unit": a.unit_name, "text": a.text}
                        for a in m.actions],
        } for m in report.measures],
        "warnings": [{"row": w.row, "column": w.column, "text": w.text,
                      "message": w.message if lang == "en" else (w.message_th or w.message)}
                     for w in plan.warnings],
    }


def _show(ctx: Context, args: argparse.Namespace, report: ParsedReport, plan: ImportPlan,
          written: dict[str, Any] | None) -> None:
    if args.format == "json":
        data = report_json(args.org, report, plan, args.lang)
        if written is not None:
            data["written"] = written
        ctx.print_json(data)
        return
    en = args.lang == "en"
    ctx.print(summary_text(args.org, report, plan, args.lang))
    if written is None:
        ctx.print("dry run: nothing was written" if en else "ทดลองอ่านเท่านั้น: ยังไม่ได้บันทึกสิ่งใด")
    elif en:
        ctx.print(f"wrote {written['config']}; recorded {written['actions_added']} action(s)"
                  f" ({written['actions_already_recorded']} already recorded). Next: review the file, then"
                  " `tracker check`.")
    else:
        ctx.print(f"บันทึกไฟล์ {written['config']} แล้ว บันทึกการดำเนินการ {_n(written['actions_added'])} รายการ"
                  f" (มีอยู่แล้ว {_n(written['actions_already_recorded'])} รายการ) ขั้นต่อไป: ตรวจทานไฟล์"
                  " แล้วสั่ง `tracker check`")


def _n(value: object) -> str:
    return to_thai_digits(str(value))


def summary_text(org: str, report: ParsedReport, plan: ImportPlan, lang: str = "th") -> str:
    """What the import found, for a person: counts, each measure with its deadlines and actions, warnings."""
    if lang == "en":
        return _summary_en(org, report, plan)
    obligations = sum(len(m.obligations) for m in report.measures)
    actions = sum(len(m.actions) for m in report.measures)
    rounds = {"6m": "รอบ ๖ เดือน", "12m": "รอบ ๑๒ เดือน"}
    lines = [f"{report.org_name or org} อำเภอ{report.district} จังหวัด{report.province} — ปีงบประมาณ พ.ศ."
             f" {_n(report.fiscal_year)} {rounds.get(report.round or '', 'ไม่ระบุรอบ')}",
             f"มาตรการ {_n(len(report.measures))} มาตรการ · รายการ {_n(obligations)} รายการ ·"
             f" การดำเนินการ {_n(actions)} รายการ · คำเตือน {_n(len(plan.warnings))} รายการ", ""]
    for m in report.measures:
        lines.append(f"{m.code}  [{m.unit_name}]  {m.title}")
        for i, o in enumerate(m.obligations, start=1):
            due = (f"{o.rule.describe('th')} ครบกำหนดครั้งแรก {format_date(o.due, 'th')}" if o.rule and o.due
                   else "ไม่มีกำหนดเวลา")
            lines.append(f"    {obligation_code(m, i)}: {due} — {o.text}")
        for a in m.actions:
            target = obligation_code(m, a.obligation) if a.obligation else "-"
            done = format_date(a.date, "th") if a.date else "ไม่มีวันที่"
            lines.append(f"    ดำเนินการ {done} → {target} [{a.unit_name}] {a.text}")
    if plan.warnings:
        lines += ["", "คำเตือน:"] + [f"  {w.describe('th')}" for w in plan.warnings]
    return "\n".join(lines)


def _summary_en(org: str, report: ParsedReport, plan: ImportPlan) -> str:
    obligations = sum(len(m.obligations) for m in report.measures)
    actions = sum(len(m.actions) for m in report.measures)
    lines = [f"{report.org_name or org} ({report.district}, {report.province}) — fiscal year"
             f" {report.fiscal_year}, round {report.round or '?'}",
             f"{len(report.measures)} measures, {obligations} obligations, {actions} actions,"
             f" {len(plan.warnings)} warning(s)", ""]
    for m in report.measures:
        lines.append(f"{m.code}  [{m.unit_name}]  {m.title}")
        for i, o in enumerate(m.obligations, start=1):
            due = f"{o.rule.describe('en')}, first due {o.due.isoformat()}" if o.rule and o.due else "no deadline"
            lines.append(f"    {obligation_code(m, i)}: {due} — {o.text}")
        for a in m.actions:
            target = obligation_code(m, a.obligation) if a.obligation else "-"
            done = a.date.isoformat() if a.date else "no date"
            lines.append(f"    action {done} → {target} [{a.unit_name}] {a.text}")
    if plan.warnings:
        lines += ["", "warnings:"] + [f"  {w.describe('en')}" for w in plan.warnings]
    return "\n".join(lines)
