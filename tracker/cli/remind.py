"""Reminder commands: remind (plan and dispatch, or a dry run), outbox (list, retry), send-test."""

from __future__ import annotations

import argparse
import math
import os
import re
import secrets
import socket
import uuid
from datetime import datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from config.settings import Secret
from config.web_secret import SECRET_ENV, key_file
from jobs import dispatch
from jobs.plan import PlanResult, plan
from jobs.preview import preview
from notifiers.base import DeliveryError, OutgoingMessage
from notifiers.registry import NOTIFIERS, Notifiers, destination_error, mask_destination, route_to_outbox
from tracker.cli.common import (
    EXIT_FAILURE,
    EXIT_INVALID,
    EXIT_OK,
    Context,
    add_format,
    bangkok_time,
    check_tracked,
    datetime_arg,
    now_utc,
    positive_int,
    render_table,
    today_bangkok,
)
from tracker.domain.errors import TrackerError
from tracker.domain.thaidate import BANGKOK
from tracker.store.channel_state import channel_states
from tracker.store.db import migrate, session_scope
from tracker.store.line_quota import all_usage, describe, usage_of_org
from tracker.store.links import PATH as LINK_PATH
from tracker.store.links import ActionLinks
from tracker.store.outbox import QueuedReminder, list_messages
from tracker.store.outbox_admin import retry_message
from tracker.store.repo import first_fiscal_year, org_row

CRASH_HOOK_ENV = "TRACKER_TEST_CRASH_AFTER_SEND"  # tests only: die between a send and its record


def register(sub: Any) -> None:
    p = sub.add_parser("remind", help="plan and send the reminders due now (or at --as-of)")
    p.add_argument("--org", help="organisation code (default: every organisation)")
    p.add_argument("--as-of", type=datetime_arg, help="the instant to act at (default now; Bangkok time if no offset)")
    p.add_argument("--dry-run", action="store_true", help="show what is due without writing or sending")
    p.add_argument("--concurrency", type=positive_int, default=16, help="messages sent at once (default 16)")
    p.add_argument("--rate", action="append", type=rate_arg, default=[], metavar="SCHEME=N",
                   help="at most N messages per second on a channel, e.g. line=100 (repeatable)")
    add_format(p, "json")
    p.set_defaults(func=cmd_remind)

    p = sub.add_parser("outbox", help="list outbox messages, or `outbox retry ID` to send one again")
    p.add_argument("action", nargs="?", choices=("list", "retry"), default="list")
    p.add_argument("id", nargs="?", type=int, help="the message to retry")
    p.add_argument("--status", help="only messages in this state (pending, sent, failed, dead, skipped…)")
    p.add_argument("--org")
    p.add_argument("--limit", type=positive_int, default=200)
    add_format(p, "json")
    p.set_defaults(func=cmd_outbox)

    p = sub.add_parser("send-test", help="send a test message to a destination URL (line://…, mailto:…)")
    p.add_argument("destination")
    p.add_argument("--lang", choices=("th", "en"), default="th")
    p.set_defaults(func=cmd_send_test)


# ---------------------------------------------------------------- remind

def dry_run_item(r: QueuedReminder, links: ActionLinks) -> dict[str, Any]:
    found = re.search(re.escape(links.base_url + LINK_PATH) + r"[A-Za-z0-9_.-]+", r.text or "")
    return {"org": r.org, "measure": r.measure, "obligation": r.obligation, "due": r.due.isoformat(),
            "stage": r.kind, "days_to_due": r.days_to_due, "recipient": r.recipient,
            "destination": mask_destination(r.destination), "subject": r.subject, "text": r.text,
            "link": found.group(0) if found else None}


def dry_run_links(ctx: Context) -> tuple[ActionLinks, str]:
    """The links the real run would put in the messages, and a note when they cannot be those: without
    TRACKER_SECRET_KEY and before the first real run there is no key yet, and a dry run creates none."""
    if ctx.settings.secret(SECRET_ENV) or key_file(ctx.settings).exists():
        return ActionLinks.from_settings(ctx.settings), ""
    note = (f"no signing key yet ({key_file(ctx.settings)} is created by the first real run, or set {SECRET_ENV}):"
            " these links show the form only and will not open")
    return ActionLinks(Secret(secrets.token_urlsafe(32)), ctx.settings.base_url), note


def cmd_dry_run(args: argparse.Namespace, ctx: Context, now: datetime) -> int:
    """The real planner at `now`, rolled back: the reminders it would queue (skipped ones are counted),
    each with the signed action link its message would carry."""
    links, note = dry_run_links(ctx)
    shown = preview(ctx.engine(), now, args.org, links=links)
    pending = sorted((r for r in shown.reminders if r.status == "pending"),
                     key=lambda r: (r.send_after, r.org, r.obligation, r.period, r.stage, r.recipient, r.destination))
    items = [dry_run_item(r, links) for r in pending]
    skipped = len(shown.reminders) - len(pending)
    if args.format == "json":
        ctx.print_json({"as_of": now.astimezone(BANGKOK).isoformat(), "reminders": items, "skipped": skipped,
                        **({"links_note": note} if note else {})})
        return EXIT_OK
    rows = [[i["org"], i["obligation"], i["due"], i["stage"], str(i["days_to_due"]), i["recipient"],
             i["destination"]] for i in items]
    ctx.print(render_table(["org", "obligation", "due", "stage", "days", "recipient", "destination"], rows))
    for number, i in enumerate(items, start=1):  # too long for the table: one line each, in its order
        ctx.print(f"{number}. {i['obligation']} → {i['recipient']}: {i['link'] or '(no link)'}")
    if note:
        ctx.print(f"note: {note}")
    ctx.print(f"{len(items)} reminder(s) due at {now.astimezone(BANGKOK).isoformat()}"
              f"{f', {skipped} recorded as skipped' if skipped else ''} (dry run: nothing written or sent)")
    return EXIT_OK


def rate_arg(text: str) -> tuple[str, float]:
    """argparse type for --rate: SCHEME=N, N messages per second above 0 on a known channel. Checked while
    parsing, so that nothing is planned or written before a typo is refused."""
    scheme, _, number = text.partition("=")
    scheme = scheme.strip().lower()
    try:
        rate = float(number)
    except ValueError:
        rate = math.nan
    if scheme not in NOTIFIERS or not math.isfinite(rate) or rate <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: write SCHEME=N with N messages per second above 0 and SCHEME"
                                         f" one of {', '.join(NOTIFIERS)}, e.g. line=100")
    return scheme, rate


def parse_rates(values: list[tuple[str, float]]) -> dict[str, float]:
    return dict(values)


def make_notifiers(ctx: Context, pool_size: int) -> Notifiers:
    """Notifiers sharing one HTTP session whose pool fits the dispatcher's threads."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(10, pool_size))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return Notifiers(ctx.settings, session)


DEADLOCK = "40P01"  # PostgreSQL's SQLSTATE for "deadlock detected"


def plan_retrying_deadlocks(engine: Engine, now: datetime, org: str | None, attempts: int = 3) -> PlanResult:
    """Plan in one transaction, run again when PostgreSQL aborts it as one side of a deadlock (two
    dispatchers planning the same organisations at once; seen in the crash suite). PostgreSQL expects the
    aborted side to retry, and planning is idempotent, so running it again is safe."""
    for attempt in range(1, attempts + 1):
        try:
            with session_scope(engine) as session:
                return plan(session, now, org)
        except OperationalError as exc:
            if attempt == attempts or getattr(exc.orig, "sqlstate", None) != DEADLOCK:
                raise
    raise AssertionError("unreachable")


def cmd_remind(args: argparse.Namespace, ctx: Context) -> int:
    now = args.as_of or now_utc()
    if not args.dry_run:
        migrate(ctx.engine())
    if args.as_of is not None:  # before anything is planned: a year off would send real messages early
        with session_scope(ctx.engine()) as session:
            first = first_fiscal_year(session, args.org)
        if first is not None:
            check_tracked(first, today_bangkok(), flag="--as-of", day=now.astimezone(BANGKOK).date())
    if args.dry_run:
        return cmd_dry_run(args, ctx, now)
    engine = ctx.engine()
    planned = plan_retrying_deadlocks(engine, now, args.org)
    crash = ctx.settings.env.get(CRASH_HOOK_ENV)
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    notifiers = make_notifiers(ctx, args.concurrency)
    try:
        sent = dispatch.run_once(engine, now, notifiers, owner, concurrency=args.concurrency,
                                 rate_limits=parse_rates(args.rate), org=args.org,
                                 after_send=(lambda _c: os._exit(137)) if crash else None)
    finally:
        notifiers.session.close()
        notifiers.close()
    if args.format == "json":
        ctx.print_json({"as_of": now.astimezone(BANGKOK).isoformat(),
                        "planned": vars(planned),
                        "dispatched": {s: n for s, n in sent.statuses.items() if n}, "claimed": sent.claimed})
        return EXIT_OK
    outcome = ", ".join(f"{n} {s}" for s, n in sorted(sent.statuses.items()) if n) or "nothing due"
    ctx.print(f"planned {planned.created} new reminder(s) ({planned.skipped} skipped, {planned.cancelled} cancelled);"
              f" dispatched: {outcome}")
    return EXIT_OK


# ---------------------------------------------------------------- outbox

def cmd_outbox(args: argparse.Namespace, ctx: Context) -> int:
    migrate(ctx.engine())
    if args.action == "retry":
        return retry(ctx, args.id)
    with session_scope(ctx.engine()) as session:
        rows = list_messages(session, args.status, args.org, args.limit)
        quotas = [usage_of_org(session, args.org)] if args.org else [(u.channel, u) for u in all_usage(session)]
        org_id = org_row(session, args.org).id if args.org else None
        paused = [c for c in channel_states(session, org_id) if c.paused]
    items = [{"id": r.id, "org": code, "kind": r.kind, "stage": r.stage, "recipient": r.recipient,
              "destination": mask_destination(r.destination), "status": r.status, "attempts": r.attempts,
              "send_after": r.send_after.isoformat(), "next_attempt_at": r.next_attempt_at.isoformat(),
              "sent_at": r.sent_at.isoformat() if r.sent_at else None, "last_error": r.last_error,
              "skip_reason": r.skip_reason, "subject": r.subject} for r, code in rows]
    if args.format == "json":
        ctx.print_json({"messages": items, "line_quota": [
            {"channel": channel, "quota": u.quota if u else None, "used": u.used if u else None,
             "percent": round(u.percent, 1) if u and u.percent is not None else None,
             "read_at": u.checked_at.isoformat() if u else None} for channel, u in quotas], "paused_channels": [
            {"channel": c.channel, "since": c.since.isoformat() if c.since else None, "reason": c.reason,
             "waiting": c.waiting, "next_try": c.next_try.isoformat() if c.next_try else None} for c in paused]})
        return EXIT_OK
    for c in paused:
        ctx.print(f"channel {c.channel}: paused since {bangkok_time(c.since)} (Bangkok): {c.reason}; {c.waiting} "
                  f"message(s) waiting, next try {bangkok_time(c.next_try)}; it resumes by itself once a send "
                  "goes through")
    table = [[str(r.id), code, r.kind, r.stage, r.recipient, mask_destination(r.destination), r.status,
              str(r.attempts), r.last_error or r.skip_reason or ""] for r, code in rows]
    ctx.print(render_table(["id", "org", "kind", "stage", "recipient", "destination", "status", "tries", "note"],
                           table, [8, 12, 8, 16, 24, 40, 10, 5, 60]))
    for channel, found in quotas:
        ctx.print(describe(channel, found))
    return EXIT_OK


def retry(ctx: Context, outbox_id: int | None) -> int:
    """Send a failed, dead, skipped or cancelled message again, and clear its destination's broken mark."""
    if outbox_id is None:
        ctx.print("error: give the message id: tracker outbox retry ID (see `tracker outbox --status dead`)")
        return EXIT_INVALID
    try:
        with session_scope(ctx.engine()) as session:
            retry_message(session, outbox_id)
    except TrackerError as exc:
        ctx.print(f"error: {exc}")
        return EXIT_INVALID
    ctx.print(f"message {outbox_id} queued again; `tracker remind` (or the running service) will send it")
    return EXIT_OK


# ---------------------------------------------------------------- send-test

def cmd_send_test(args: argparse.Namespace, ctx: Context) -> int:
    # The same rules as the configuration files: nothing is sent or written to a destination they refuse.
    if error := destination_error(args.destination):
        raise TrackerError(f"{mask_destination(args.destination)}: {error}")
    when = now_utc().astimezone(BANGKOK).strftime("%Y-%m-%d %H:%M")
    text = (f"Test message from ITA Tracker ({when} Bangkok time)." if args.lang == "en" else
            f"ข้อความทดสอบจากระบบติดตามมาตรการ ITA (เวลา {when} น.)")
    message = OutgoingMessage(f"test:{uuid.uuid4()}", "ITA Tracker test" if args.lang == "en" else "ทดสอบการแจ้งเตือน",
                              text, None, text, args.lang)
    target = route_to_outbox(args.destination, ctx.settings)
    with Notifiers(ctx.settings) as notifiers:
        try:
            receipt = notifiers.send(target, message)
        except (DeliveryError, ValueError) as exc:
            ctx.print(f"failed: {exc}")
            return EXIT_FAILURE
    via = "" if target == args.destination else f" (no credentials: written to {mask_destination(target)})"
    ctx.print(f"sent to {mask_destination(args.destination)}{via}: {receipt.detail or receipt.provider_status or 'ok'}")
    return EXIT_OK
