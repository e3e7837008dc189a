"""`tracker evidence check|list`: fetch evidence links now, or list the broken ones."""

from __future__ import annotations

import argparse
from typing import Any

from jobs import evidence
from jobs.evidence_fetch import EvidenceFetcher
from tracker.cli.common import EXIT_OK, Context, add_format, datetime_arg, now_utc, render_table
from tracker.domain.thaidate import BANGKOK
from tracker.store.db import migrate, session_scope
from tracker.store.evidence import broken_links
from tracker.store.repo import org_row


def register(sub: Any) -> None:
    p = sub.add_parser("evidence", help="check evidence links (`check`), or list the broken ones (`list`)")
    p.add_argument("action", choices=("check", "list"))
    p.add_argument("--org", help="one organisation (default: all, for check)")
    p.add_argument("--all", action="store_true", help="check every link again, not only new ones")
    p.add_argument("--as-of", type=datetime_arg, help="the instant to record (default now)")
    add_format(p, "json")
    p.set_defaults(func=cmd_evidence)


def cmd_evidence(args: argparse.Namespace, ctx: Context) -> int:
    migrate(ctx.engine())
    if args.action == "check":
        fetcher = EvidenceFetcher(timeout_seconds=ctx.settings.http_timeout_seconds)
        try:
            result = evidence.run_once(ctx.engine(), args.as_of or now_utc(), fetcher, args.org,
                                       recheck_all=args.all, limit=100_000)
        finally:
            fetcher.close()
        if args.format == "json":
            ctx.print_json(vars(result))
        else:
            ctx.print(f"checked {result.checked} link(s): {result.broken} broken ({result.newly_broken} newly,"
                      f" {result.alerts} alert(s) queued to the units)")
        return EXIT_OK
    if not args.org:
        ctx.print("error: give --org for `tracker evidence list`")
        return 2
    with session_scope(ctx.engine()) as session:
        links = broken_links(session, org_row(session, args.org).id)
    if args.format == "json":
        ctx.print_json({"org": args.org, "broken": [
            {"action": b.action_id, "obligation": b.obligation, "unit": b.unit, "url": b.url,
             "since": b.since.isoformat(), "checked_at": b.checked_at.isoformat(), "error": b.error} for b in links]})
        return EXIT_OK
    rows = [[str(b.action_id), b.obligation, b.unit_name, b.url, b.since.astimezone(BANGKOK).strftime("%Y-%m-%d"),
             b.error] for b in links]
    ctx.print(render_table(["action", "obligation", "unit", "link", "broken since", "why"], rows,
                           [8, 10, 16, 50, 12, 50]))
    return EXIT_OK
