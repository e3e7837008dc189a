"""`tracker report --org ORG --fy 2566 --round 6m|12m --format tsv|html|docx`: write the progress
report of a round from what was logged, in the report form's five columns, with each obligation's status.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tracker.cli.common import EXIT_OK, Context, check_tracked, date_arg, fiscal_year_arg, today_bangkok
from tracker.domain.errors import TrackerError
from tracker.reports.progress import build_progress
from tracker.reports.render import FORMATS, render
from tracker.store.db import session_scope
from tracker.store.repo import list_actions, load_organisation


def register(sub: Any) -> None:
    """Add the `report` subcommand."""
    p = sub.add_parser("report", help="write the progress report of a round (tsv, html or docx)")
    p.add_argument("--org", required=True, help="organisation code")
    p.add_argument("--fy", type=fiscal_year_arg, help="B.E. fiscal year (default: the organisation's)")
    p.add_argument("--round", choices=("6m", "12m"), required=True,
                   help="6m: October–March (รอบ ๖ เดือน); 12m: the whole year (รอบ ๑๒ เดือน)")
    p.add_argument("--format", choices=FORMATS, default="tsv", help="output format (default tsv)")
    p.add_argument("--as-of", type=date_arg, help="the day statuses are judged on (default today, Bangkok)")
    p.add_argument("--out", type=Path,
                   help="file to write (default: standard output; for docx <org>-<fy>-<round>.docx)")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace, ctx: Context) -> int:
    with session_scope(ctx.engine()) as session:
        org = load_organisation(session, args.org)
        actions = [stored.action for stored in list_actions(session, args.org)]
    fy = args.fy or org.fiscal_year
    check_tracked(org.fiscal_year, today_bangkok(), flag="--fy", fy=fy)
    check_tracked(org.fiscal_year, today_bangkok(), flag="--as-of", day=args.as_of)
    report = build_progress(org, actions, fy, args.round, args.as_of or today_bangkok())
    content = render(report, args.format)
    out: Path | None = args.out
    if out is None and isinstance(content, bytes):
        out = Path(f"{args.org}-{fy}-{args.round}.{args.format}")
    if out is None:
        assert isinstance(content, str)
        ctx.out.write(content)
        return EXIT_OK
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            out.write_bytes(content)
        else:
            out.write_text(content, encoding="utf-8")
    except OSError as exc:
        raise TrackerError(f"cannot write {out} ({exc.strerror or type(exc).__name__}): give --out a file in a"
                           " folder you can write") from None
    ctx.print(f"wrote {out} ({len(report.rows)} measures)")
    return EXIT_OK
