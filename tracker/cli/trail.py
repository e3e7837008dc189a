"""Integrity commands: API tokens, calendar feeds, withdrawing and correcting actions, hand-overs, the
audit trail. Every change they make is audited with channel `cli`."""

from __future__ import annotations

import argparse
from typing import Any

from tracker.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    Context,
    add_format,
    bangkok_time,
    date_arg,
    now_utc,
    render_table,
)
from tracker.domain.model import Action
from tracker.store import audit
from tracker.store.actions import InvalidAction, correct_action, withdraw_action
from tracker.store.db import migrate, session_scope
from tracker.store.handovers import create_handover, list_handovers, revoke_handover
from tracker.store.repo import list_actions, org_row
from tracker.store.secrets_store import (
    create_api_token,
    create_feed,
    list_api_tokens,
    list_feeds,
    revoke_api_token,
    revoke_feed,
)

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def register(sub: Any) -> None:
    p = sub.add_parser("api-token", help="bearer tokens for the JSON API: create, list, revoke")
    p.add_argument("action", choices=("create", "list", "revoke"))
    p.add_argument("id", nargs="?", type=int, help="the token to revoke")
    p.add_argument("--org", required=True)
    p.add_argument("--name", default="", help="what the token is for (shown in listings)")
    p.add_argument("--by", default="", help="who asks (recorded in the audit trail)")
    p.set_defaults(func=cmd_api_token)

    p = sub.add_parser("feed", help="secret calendar (iCalendar) URLs per organisation or unit")
    p.add_argument("action", choices=("create", "list", "revoke"))
    p.add_argument("id", nargs="?", type=int, help="the feed to revoke")
    p.add_argument("--org", required=True)
    p.add_argument("--unit", help="one unit's deadlines only")
    p.add_argument("--by", default="")
    p.set_defaults(func=cmd_feed)

    p = sub.add_parser("withdraw", help="withdraw an action logged by mistake (it stays in the history)")
    p.add_argument("id", type=int, help="the action (see `tracker actions`)")
    p.add_argument("--org", required=True)
    p.add_argument("--reason", required=True)
    p.add_argument("--by", default="")
    p.set_defaults(func=cmd_withdraw)

    p = sub.add_parser("correct", help="correct an action: the old one is withdrawn, the new one names it")
    p.add_argument("id", type=int)
    p.add_argument("--org", required=True)
    p.add_argument("--date", type=date_arg, help="the corrected day done (default: unchanged)")
    p.add_argument("--evidence", help="the corrected evidence link (default: unchanged)")
    p.add_argument("--note", help="(default: unchanged)")
    p.add_argument("--period", help="(default: unchanged)")
    p.add_argument("--reason", required=True)
    p.add_argument("--by", default="")
    p.set_defaults(func=cmd_correct)

    p = sub.add_parser("handover", help="hand a person's reminders to a colleague while on leave")
    p.add_argument("action", choices=("create", "list", "revoke"))
    p.add_argument("id", nargs="?", type=int, help="the hand-over to revoke")
    p.add_argument("--org", required=True)
    p.add_argument("--from", dest="from_name", help="the contact on leave (name as in the configuration)")
    p.add_argument("--to", dest="to_name", help="the colleague who covers")
    p.add_argument("--start", type=date_arg, help="first day of the leave")
    p.add_argument("--end", type=date_arg, help="last day of the leave")
    p.add_argument("--by", default="")
    p.set_defaults(func=cmd_handover)

    p = sub.add_parser("audit", help="the audit trail of an organisation, newest first")
    p.add_argument("--org", required=True)
    p.add_argument("--limit", type=int, default=100)
    add_format(p, "json")
    p.set_defaults(func=cmd_audit)


def _base_url(ctx: Context) -> str:
    return ctx.settings.env.get("TRACKER_BASE_URL", DEFAULT_BASE_URL).rstrip("/")


def _need_id(ctx: Context, args: argparse.Namespace, what: str) -> bool:
    if args.id is None:
        ctx.print(f"error: give the id to revoke: tracker {what} revoke ID --org {args.org}"
                  f" (see `tracker {what} list --org {args.org}`)")
        return False
    return True


def cmd_api_token(args: argparse.Namespace, ctx: Context) -> int:
    migrate(ctx.engine())
    now = now_utc()
    with session_scope(ctx.engine()) as session:
        if args.action == "create":
            info, token = create_api_token(session, args.org, args.name, now, actor=args.by)
            ctx.print(f"API token {info.id} for {info.org} (shown once, keep it secret):\n{token}")
        elif args.action == "revoke":
            if not _need_id(ctx, args, "api-token"):
                return EXIT_INVALID
            info = revoke_api_token(session, args.org, args.id, now, actor=args.by)
            ctx.print(f"revoked API token {info.id} ({info.prefix}…)")
        else:
            rows = [[str(t.id), t.prefix + "…", t.name, bangkok_time(t.created_at),
                     bangkok_time(t.revoked_at), bangkok_time(t.last_used_at)]
                    for t in list_api_tokens(session, args.org)]
            ctx.print(render_table(["id", "token", "name", "created", "revoked", "last used"], rows))
    return EXIT_OK


def cmd_feed(args: argparse.Namespace, ctx: Context) -> int:
    migrate(ctx.engine())
    now = now_utc()
    with session_scope(ctx.engine()) as session:
        if args.action == "create":
            info, token = create_feed(session, args.org, args.unit, now, actor=args.by)
            ctx.print(f"calendar feed {info.id} for {info.org}{'/' + info.unit if info.unit else ''}"
                      f" (subscribe in Google Calendar or Outlook; anyone with the URL can read it):")
            ctx.print(f"{_base_url(ctx)}/feeds/{token}.ics")
        elif args.action == "revoke":
            if not _need_id(ctx, args, "feed"):
                return EXIT_INVALID
            feed = revoke_feed(session, args.org, args.id, now, actor=args.by)
            ctx.print(f"revoked calendar feed {feed.id} ({feed.prefix}…)")
        else:
            rows = [[str(f.id), f.prefix + "…", f.unit or "*", bangkok_time(f.created_at, "%Y-%m-%d"),
                     bangkok_time(f.revoked_at, "%Y-%m-%d")]
                    for f in list_feeds(session, args.org)]
            ctx.print(render_table(["id", "token", "unit", "created", "revoked"], rows))
    return EXIT_OK


def _print_invalid(ctx: Context, exc: InvalidAction) -> int:
    for problem in exc.problems:
        ctx.print(str(problem))
    return EXIT_INVALID


def cmd_withdraw(args: argparse.Namespace, ctx: Context) -> int:
    migrate(ctx.engine())
    try:
        with session_scope(ctx.engine()) as session:
            stored = withdraw_action(session, args.org, args.id, now_utc(), actor=args.by, channel="cli",
                                     reason=args.reason)
    except InvalidAction as exc:
        return _print_invalid(ctx, exc)
    ctx.print(f"withdrawn: action {stored.id} ({stored.action.obligation}, {stored.action.done_on.isoformat()})")
    return EXIT_OK


def cmd_correct(args: argparse.Namespace, ctx: Context) -> int:
    migrate(ctx.engine())
    try:
        with session_scope(ctx.engine()) as session:
            old = next((s for s in list_actions(session, args.org) if s.id == args.id), None)
            if old is None:
                ctx.print(f"error: no current action {args.id} in {args.org}: see `tracker actions --org {args.org}`")
                return EXIT_INVALID
            a = old.action
            corrected = Action(a.obligation, args.date or a.done_on,
                               a.evidence if args.evidence is None else args.evidence,
                               a.note if args.note is None else args.note, args.by or a.recorded_by, None,
                               args.period or a.period, a.unit)
            new_id = correct_action(session, args.org, args.id, corrected, now_utc(), actor=args.by, channel="cli",
                                    reason=args.reason)
    except InvalidAction as exc:
        return _print_invalid(ctx, exc)
    ctx.print(f"corrected: action {args.id} withdrawn, action {new_id} recorded in its place")
    return EXIT_OK


def cmd_handover(args: argparse.Namespace, ctx: Context) -> int:
    migrate(ctx.engine())
    now = now_utc()
    try:
        with session_scope(ctx.engine()) as session:
            if args.action == "create":
                missing = [f"--{n}" for n, v in (("from", args.from_name), ("to", args.to_name),
                                                 ("start", args.start), ("end", args.end)) if v is None]
                if missing:
                    ctx.print(f"error: a hand-over needs {', '.join(missing)}")
                    return EXIT_INVALID
                h = create_handover(session, args.org, args.from_name, args.to_name, args.start, args.end, now,
                                    actor=args.by, channel="cli")
                ctx.print(f"hand-over {h.id}: {h.from_name} → {h.to_name}, {h.starts_on} – {h.ends_on}")
            elif args.action == "revoke":
                if not _need_id(ctx, args, "handover"):
                    return EXIT_INVALID
                h = revoke_handover(session, args.org, args.id, now, actor=args.by, channel="cli")
                ctx.print(f"revoked hand-over {h.id}")
            else:
                rows = [[str(h.id), h.from_name, h.to_name, h.starts_on.isoformat(), h.ends_on.isoformat(),
                         "revoked" if h.revoked_at else ""] for h in list_handovers(session, args.org)]
                ctx.print(render_table(["id", "from", "to", "start", "end", ""], rows))
    except InvalidAction as exc:
        return _print_invalid(ctx, exc)
    return EXIT_OK


def cmd_audit(args: argparse.Namespace, ctx: Context) -> int:
    with session_scope(ctx.engine()) as session:
        found = audit.entries(session, org_row(session, args.org).id, limit=args.limit)
    if args.format == "json":
        ctx.print_json({"org": args.org, "entries": [
            {"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "channel": e.channel, "entity": e.entity,
             "entity_id": e.entity_id, "change": e.change, "detail": e.detail} for e in found]})
        return EXIT_OK
    rows = [[bangkok_time(e.at), e.channel, e.actor or "-",
             f"{e.entity} {e.entity_id}", e.change] for e in found]
    ctx.print(render_table(["when (Bangkok)", "channel", "who", "what", "change"], rows))
    return EXIT_OK
