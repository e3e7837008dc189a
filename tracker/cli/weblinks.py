"""`tracker login-link` (a one-time sign-in link, for bootstrapping) and `tracker links revoke` (refuse
every action link a contact holds: a lost phone, someone who left)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sqlalchemy import select

from config.viewers import ENV, load_viewers
from tracker.cli.common import EXIT_INVALID, EXIT_OK, Context, now_utc
from tracker.store import signin
from tracker.store.db import migrate, session_scope
from tracker.store.links import revoke
from tracker.store.models import ContactRow
from tracker.store.repo import org_row
from tracker.web.people import person_for  # the web's notion of a person decides who may sign in


def register(sub: Any) -> None:
    p = sub.add_parser("login-link", help="print a one-time sign-in link (e-mail, LINE ID or contact name)")
    p.add_argument("who", help="an e-mail address, a destination (mailto:…, line://…) or a contact's name")
    p.set_defaults(func=cmd_login_link)

    p = sub.add_parser("links", help="revoke every action link a contact holds (`links revoke`)")
    p.add_argument("verb", choices=("revoke",))
    p.add_argument("--org", required=True)
    p.add_argument("--contact", required=True, help="the contact's name, as in the configuration")
    p.add_argument("--by", default="", help="who revokes them (the audit trail shows it)")
    p.set_defaults(func=cmd_links)


def _destination(session: Any, who: str) -> str | None:
    """The destination a person signs in with: as given, or the first destination of the contact named."""
    if who.startswith(("mailto:", "line://")):
        return who
    if "@" in who:
        return "mailto:" + who
    for row in session.scalars(select(ContactRow).where(ContactRow.name == who)):
        if row.destinations:
            return str(row.destinations[0])
    return None


def cmd_login_link(args: argparse.Namespace, ctx: Context) -> int:
    migrate(ctx.engine())
    with session_scope(ctx.engine()) as session:
        key = _destination(session, args.who)
        path = ctx.settings.env.get(ENV)
        person = person_for(session, key, load_viewers(Path(path) if path else None)) if key else None
        if person is None:
            ctx.print(f"'{args.who}' is nobody's destination in the configuration: give an e-mail address or LINE"
                      " ID listed under a unit's contacts, the executives, the admins or the viewers")
            return EXIT_INVALID
        try:
            token = signin.issue(session, person.key, now_utc())
        except signin.TooManyLinks:
            ctx.print(f"{signin.SIGNIN_PER_WINDOW} sign-in links were issued for {args.who} in the last"
                      f" {signin.SIGNIN_MINUTES} minutes: use one of them, or wait")
            return EXIT_INVALID
    ctx.print(f"{ctx.settings.base_url}/signin/{token}")
    ctx.print(f"(for {person.name}; one use, within {signin.SIGNIN_MINUTES} minutes)")
    return EXIT_OK


def cmd_links(args: argparse.Namespace, ctx: Context) -> int:
    with session_scope(ctx.engine()) as session:
        org = org_row(session, args.org)
        known = set(session.scalars(select(ContactRow.name).where(ContactRow.org_id == org.id)))
        if args.contact not in known:
            ctx.print(f"no contact '{args.contact}' in {args.org}: use one of " + ", ".join(sorted(known)))
            return EXIT_INVALID
        revoke(session, args.org, args.contact, now_utc(), actor=args.by, channel="cli")
    ctx.print(f"revoked: every action link of {args.contact} ({args.org}) issued until now; new reminders carry"
              " new links")
    return EXIT_OK
