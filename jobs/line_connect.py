"""One-time LINE connect codes with the add-friend link: the one function `tracker line-connect`, the admin
contacts page and the officer's signed page all call, so every door gives the same code and link."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from config.settings import Settings
from jobs.line_channels import api_for, channel_of
from notifiers.base import DeliveryError
from tracker.store.db import session_scope
from tracker.store.line_links import issue_code
from tracker.store.line_quota import own_channel

NO_LINK = "set LINE_BOT_BASIC_ID to the account's basic ID, e.g. @123abcde"


@dataclass(frozen=True)
class ConnectCode:
    """A code shown once, when it expires, and the official account's add-friend link (or why not)."""

    code: str
    expires: datetime
    add_friend_url: str | None
    why_no_link: str = ""


def connect_code(engine: Engine, settings: Settings, org: str, contact: str, now: datetime, *, actor: str = "",
                 via: str = "cli") -> ConnectCode:
    """Issue a code for `contact` of `org` (raises NotConnectable when the contact has no `line:connect`)
    and find the add-friend link of the organisation's LINE channel (its own official account, else the
    global one). The code is committed before LINE is
    asked for the link, so a slow or failing LINE never loses a code already issued."""
    with session_scope(engine) as session:
        code, expires = issue_code(session, org, contact, now, actor=actor, channel=via)
        line = channel_of(settings, own_channel(session, org))
    try:
        with api_for(settings, line) as api:
            return ConnectCode(code, expires, api.add_friend_url())
    except DeliveryError as exc:
        return ConnectCode(code, expires, None, f"{exc.reason}; {NO_LINK}")
