"""`line:connect` destinations become the chat their contact is bound to, right before sending.

Resolved at dispatch rather than at planning, so that a reminder planned before the person connected
still reaches them once they have, and one planned before they blocked the account does not. A message
whose contact is not connected (or was disabled) is set aside as `skipped` with the reason, visible in
`tracker outbox`; the contact's other destinations carry on.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session

from tracker.domain.line_webhook import CONNECT_DESTINATION
from tracker.store.line_links import active_chats
from tracker.store.outbox_claims import Claimed, set_aside

NOT_CONNECTED = ("LINE not connected: {contact} has not sent a connect code yet, or blocked the account"
                 " (`tracker line-connect` gives a code; `tracker line-bindings` shows who is connected)")


def resolve_connected(session: Session, claimed: list[Claimed], owner: str) -> list[Claimed]:
    """`claimed` with `line:connect` replaced by `line://<chat ID>`; messages to contacts without an
    active binding are marked skipped and left out."""
    orgs = {c.org_id for c in claimed if c.destination == CONNECT_DESTINATION}
    if not orgs:
        return claimed
    chats = {org_id: active_chats(session, org_id) for org_id in orgs}
    out = []
    for c in claimed:
        if c.destination != CONNECT_DESTINATION:
            out.append(c)
            continue
        chat = chats[c.org_id].get(c.recipient)
        if chat is not None:
            out.append(replace(c, destination=f"line://{chat}"))
            continue
        set_aside(session, c.id, owner, NOT_CONNECTED.format(contact=c.recipient))
    return out
