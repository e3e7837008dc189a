"""`tracker digest`: preview or queue one organisation's monthly executive digest."""

from __future__ import annotations

import argparse
import re
from dataclasses import asdict
from datetime import date
from typing import Any

from jobs import digest as digest_job
from tracker.cli.common import EXIT_OK, Context, now_utc, today_bangkok
from tracker.domain.digest import Digest, digest_day
from tracker.domain.errors import TrackerError
from tracker.store.db import migrate, session_scope
from tracker.store.outbox import enqueue
from tracker.store.repo import load_organisation


def month_arg(text: str) -> tuple[int, int]:
    """argparse type: YYYY-MM (C.E.)."""
    match = re.fullmatch(r"\s*(\d{4})-(\d{1,2})\s*", text)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise argparse.ArgumentTypeError(f"'{text}' is not a month: write it as 2023-01")
    year = int(match.group(1))
    if year > 2400:
        raise argparse.ArgumentTypeError(f"{year} looks like a B.E. year: write the C.E. year ({year - 543})")
    return year, int(match.group(2))


def register(sub: Any) -> None:
    p = sub.add_parser("digest", help="preview or queue the monthly digest to the executives")
    p.add_argument("--org", required=True, help="organisation code")
    p.add_argument("--month", type=month_arg, help="YYYY-MM (default: this month)")
    p.add_argument("--dry-run", action="store_true", help="print it; queue nothing")
    p.add_argument("--format", choices=("text", "html", "json"), default="text")
    p.set_defaults(func=cmd_digest)


def digest_json(digest: Digest, recipients: list[dict[str, str]], subject: str) -> dict[str, Any]:
    data = asdict(digest)
    data.update(month=digest.month_key, rate_change=digest.rate_change, totals=asdict(digest.totals),
                subject=subject, recipients=recipients)
    del data["year"]
    return data


def cmd_digest(args: argparse.Namespace, ctx: Context) -> int:
    now = now_utc()
    migrate(ctx.engine())
    with session_scope(ctx.engine()) as session:
        org = load_organisation(session, args.org)
        year, month = args.month or (today_bangkok(now).year, today_bangkok(now).month)
        # The digest as it stands on its own digest day, whatever day the command runs.
        day: date = digest_day(org.calendar, year, month)
        if not args.dry_run and day > today_bangkok(now):
            raise TrackerError(f"the digest of {year:04d}-{month:02d} goes out on {day.isoformat()}, which has not"
                               " come yet: add --dry-run to preview it")
        composed = digest_job.compose(session, args.org, year, month, day, now, ctx.settings.base_url)
        created = 0 if args.dry_run else enqueue(session, composed.messages, now)
        if args.dry_run:
            session.rollback()  # compose may have materialised occurrences: a dry run writes nothing
    recipients = [{"recipient": m.recipient, "destination": m.destination} for m in composed.messages]
    if args.format == "json":
        ctx.print_json(digest_json(composed.digest, recipients, composed.rendered.subject))
    elif args.format == "html":
        ctx.print(composed.rendered.html)
    else:
        ctx.print(f"{composed.rendered.subject}\n\n{composed.rendered.text}")
    if not args.dry_run:
        print(f"queued {created} digest message(s) for {len(recipients)} destination(s)"
              f" ({len(recipients) - created} already queued); `tracker run` or `tracker remind` sends them",
              file=ctx.err)
    return EXIT_OK
