"""LINE commands: issue a one-time connect code for a contact, list who is connected (IDs masked)."""

from __future__ import annotations

import argparse
from typing import Any

from jobs.line_connect import connect_code
from notifiers.registry import mask_destination
from tracker.cli.common import EXIT_OK, Context, add_format, now_utc, render_table
from tracker.domain.thaidate import BANGKOK
from tracker.store.db import migrate, session_scope
from tracker.store.line_links import list_bindings


def register(sub: Any) -> None:
    p = sub.add_parser("line-connect", help="a one-time code that connects a contact's LINE chat (valid 7 days)")
    p.add_argument("contact", help="the contact's name as in the configuration (it must list \"line:connect\")")
    p.add_argument("--org", required=True)
    p.add_argument("--by", default="", help="who asks (recorded in the audit trail)")
    p.set_defaults(func=cmd_connect)

    p = sub.add_parser("line-bindings", help="contacts that should get LINE and whether they are connected")
    p.add_argument("--org", required=True)
    add_format(p, "json")
    p.set_defaults(func=cmd_bindings)


def cmd_connect(args: argparse.Namespace, ctx: Context) -> int:
    engine = ctx.engine()
    migrate(engine)
    issued = connect_code(engine, ctx.settings, args.org, args.contact, now_utc(), actor=args.by)
    until = issued.expires.astimezone(BANGKOK).strftime("%Y-%m-%d %H:%M")
    ctx.print(f"code: {issued.code}")
    ctx.print(f"add the official account: {issued.add_friend_url or f'(unknown: {issued.why_no_link})'}")
    ctx.print(f"then send the code in that chat (or in a group the account was invited to); valid until {until}"
              " (Bangkok), once")
    return EXIT_OK


def cmd_bindings(args: argparse.Namespace, ctx: Context) -> int:
    engine = ctx.engine()
    migrate(engine)
    with session_scope(engine) as session:
        found = list_bindings(session, args.org)
    rows: list[dict[str, Any]] = [
        {"contact": b.contact, "kind": b.kind, "unit": b.unit, "status": b.status, "chat_kind": b.chat_kind,
         "chat": mask_destination(f"line://{b.chat_id}") if b.chat_id else "",
         "since": b.since.isoformat() if b.since else None, "reason": b.reason} for b in found]
    if args.format == "json":
        ctx.print_json(rows)
        return EXIT_OK
    ctx.print(render_table(["contact", "unit", "status", "chat", "since"],
                           [[r["contact"], r["unit"] or r["kind"], r["status"],
                             f"{r['chat_kind']} {r['chat']}".strip(), (r["since"] or "")[:16]] for r in rows]))
    return EXIT_OK
