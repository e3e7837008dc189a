"""Connecting contacts to LINE chats: one-time codes, bindings, and webhook events seen once.

A contact whose destinations include `line:connect` gets LINE once it is bound: an admin (or the web)
issues a one-time code, the person sends it to the official account (or in a group the account was
invited to), and the webhook binds that chat. Codes are random, shown once, stored hashed, valid for
a week and used once. Every binding and disabling is audited (channel `line` or `cli`).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tracker.domain.errors import TrackerError
from tracker.domain.line_webhook import CODE_ALPHABET, CONNECT_DESTINATION
from tracker.store import audit
from tracker.store.line_models import LineBindingRow, LineConnectCodeRow, LineEventRow
from tracker.store.models import ContactRow, OrganisationRow
from tracker.store.repo import org_row

CODE_VALID_DAYS = 7


class NotConnectable(TrackerError):
    """The contact named has no `line:connect` destination (or does not exist)."""


@dataclass(frozen=True)
class Bound:
    org_id: int
    org_code: str
    contact: str
    chat_kind: str


@dataclass(frozen=True)
class BindingInfo:
    """A contact that should get LINE and where it stands: `connected`, `disabled` or `not connected`."""

    contact: str
    kind: str  # unit | executive | admin
    unit: str | None
    status: str
    chat_kind: str = ""
    chat_id: str = ""
    since: datetime | None = None
    reason: str = ""


def hash_code(code: str) -> str:
    return hashlib.sha256(code.upper().encode()).hexdigest()


def new_code() -> str:
    return "ITA-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


def _connectable(session: Session, org_id: int) -> list[ContactRow]:
    rows = session.scalars(select(ContactRow).where(ContactRow.org_id == org_id).order_by(ContactRow.position))
    return [c for c in rows if CONNECT_DESTINATION in (c.destinations or [])]


def issue_code(session: Session, org_code: str, contact: str, now: datetime, *, actor: str = "",
               channel: str = "cli") -> tuple[str, datetime]:
    """A new one-time code for `contact` of `org_code` and when it expires. The code is returned once;
    the database keeps its hash. Earlier unused codes of the contact stay valid until they expire."""
    org = org_row(session, org_code)
    names = [c.name for c in _connectable(session, org.id)]
    if contact not in names:
        known = ", ".join(names) or "none: add \"line:connect\" to a contact's destinations, then `tracker sync`"
        raise NotConnectable(f"'{contact}' of {org_code} has no \"line:connect\" destination (contacts that have"
                             f" one: {known})")
    code = new_code()
    expires = now + timedelta(days=CODE_VALID_DAYS)
    session.add(LineConnectCodeRow(org_id=org.id, contact=contact, code_hash=hash_code(code), created_at=now,
                                   expires_at=expires))
    audit.record(session, org.id, now, actor=actor, channel=channel, entity="line_binding", entity_id=contact,
                 change="code_issued", detail={"expires_at": expires.isoformat()})
    return code, expires


def bind_with_code(session: Session, code: str, chat_kind: str, chat_id: str, channel: str,
                   now: datetime) -> Bound | None:
    """Bind the chat to the contact the code was issued for; None when the code is unknown, used or
    expired. The code is used up; a contact already bound is re-bound to the new chat."""
    row = session.scalar(select(LineConnectCodeRow).where(LineConnectCodeRow.code_hash == hash_code(code)))
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    if channel != channel_of_org(session, row.org_id):  # a user ID is only good with the channel that saw it
        return None
    row.used_at = now
    binding = session.scalar(select(LineBindingRow).where(LineBindingRow.org_id == row.org_id,
                                                          LineBindingRow.contact == row.contact))
    if binding is None:
        binding = LineBindingRow(org_id=row.org_id, contact=row.contact)
        session.add(binding)
    binding.channel, binding.chat_kind, binding.chat_id = channel, chat_kind, chat_id
    binding.bound_at, binding.disabled_at, binding.disabled_reason = now, None, ""
    org_code = session.scalar(select(OrganisationRow.code).where(OrganisationRow.id == row.org_id)) or ""
    audit.record(session, row.org_id, now, actor=row.contact, channel="line", entity="line_binding",
                 entity_id=row.contact, change="bound", detail={"chat_kind": chat_kind})
    session.flush()
    return Bound(row.org_id, org_code, row.contact, chat_kind)


def disable_chat(session: Session, chat_id: str, channel: str, reason: str, now: datetime) -> list[Bound]:
    """Disable every active binding to `chat_id` on `channel`; returns those disabled now (a second
    unfollow of the same chat disables nothing more, so admins hear of it once)."""
    rows = session.scalars(select(LineBindingRow).where(LineBindingRow.chat_id == chat_id,
                                                        LineBindingRow.channel == channel,
                                                        LineBindingRow.disabled_at.is_(None))).all()
    out = []
    for row in rows:
        row.disabled_at, row.disabled_reason = now, reason
        audit.record(session, row.org_id, now, actor=row.contact, channel="line", entity="line_binding",
                     entity_id=row.contact, change="disabled", detail={"reason": reason})
        org_code = session.scalar(select(OrganisationRow.code).where(OrganisationRow.id == row.org_id)) or ""
        out.append(Bound(row.org_id, org_code, row.contact, row.chat_kind))
    session.flush()
    return out


def active_chats(session: Session, org_id: int) -> dict[str, str]:
    """Contact name → bound chat ID, for the organisation's active bindings on its current channel (LINE
    gives each official account its own user IDs: a chat bound through another channel cannot be pushed to)."""
    rows = session.execute(select(LineBindingRow.contact, LineBindingRow.chat_id).where(
        LineBindingRow.org_id == org_id, LineBindingRow.disabled_at.is_(None),
        LineBindingRow.channel == channel_of_org(session, org_id)))
    return {contact: chat for contact, chat in rows}


def bindings_of_chat(session: Session, chat_id: str) -> list[Bound]:
    """The active bindings to a chat (a person may be bound for several contacts or organisations)."""
    rows = session.execute(select(LineBindingRow.org_id, OrganisationRow.code, LineBindingRow.contact,
                                  LineBindingRow.chat_kind)
                           .join(OrganisationRow, OrganisationRow.id == LineBindingRow.org_id)
                           .where(LineBindingRow.chat_id == chat_id, LineBindingRow.disabled_at.is_(None)))
    return [Bound(*row) for row in rows]


def contacts_bound_to(session: Session, destination: str) -> set[tuple[int, str]]:
    """(organisation id, contact name) of the contacts whose `line:connect` is actively bound to the chat
    `line://<ID>` names (empty for any other destination): the web signs such a person in by that ID."""
    if not destination.startswith("line://"):
        return set()
    rows = session.execute(select(LineBindingRow.org_id, LineBindingRow.contact).where(
        LineBindingRow.chat_id == destination.removeprefix("line://"), LineBindingRow.disabled_at.is_(None)))
    return {(org_id, contact) for org_id, contact in rows}


def list_bindings(session: Session, org_code: str) -> list[BindingInfo]:
    """Every contact with `line:connect` in the configuration and its binding, in configuration order."""
    org = org_row(session, org_code)
    bindings = {b.contact: b for b in session.scalars(select(LineBindingRow).where(LineBindingRow.org_id == org.id))}
    out = []
    for c in _connectable(session, org.id):
        b = bindings.get(c.name)
        if b is None:
            out.append(BindingInfo(c.name, c.kind, c.unit_code, "not connected"))
        else:
            status = "disabled" if b.disabled_at else "connected"
            out.append(BindingInfo(c.name, c.kind, c.unit_code, status, b.chat_kind, b.chat_id,
                                   b.disabled_at or b.bound_at, b.disabled_reason))
    return out


def channel_of_org(session: Session, org_id: int) -> str:
    """The channel an organisation's chats are bound through: its code when it has its own official
    account, else "" (the global channel)."""
    code, own = session.execute(select(OrganisationRow.code, OrganisationRow.line_channel)
                                .where(OrganisationRow.id == org_id)).one()
    return str(code) if own else ""


def first_delivery(session: Session, event_id: str, channel: str, kind: str, now: datetime) -> bool:
    """Record a webhook event as handled; False when it was handled before (a redelivery)."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(LineEventRow).values(event_id=event_id, channel=channel, type=kind, received_at=now)
    # RETURNING rather than rowcount: psycopg reports -1 for an ORM-entity INSERT … ON CONFLICT.
    inserted = session.execute(stmt.on_conflict_do_nothing(index_elements=["event_id"])
                               .returning(LineEventRow.event_id)).first()
    return inserted is not None
