"""The dispatcher's side of the outbox: claim due rows with a lease, renew it, load, record outcomes.

A claim is one conditional `UPDATE … RETURNING`: rows that are pending and due, or leased with an
expired lease (a dispatcher died mid-send), become leased by `owner` until `lease_until`. The dispatcher
widens it, in the same transaction, to the whole day of each person and channel it touched
(`outbox_bundles.claim_companions`), so claims take turns: SQLite serialises writers, and PostgreSQL
takes a transaction-scoped advisory lock first (a claim is two short UPDATEs; waiting costs little,
while two dispatchers picking at once each took part of one person's day). Rows are still selected
`FOR UPDATE SKIP LOCKED`, so rows another transaction holds (a cancel, a record) never block a claim.
Every change after the claim is conditional on `lease_owner = owner`: a dispatcher whose lease
expired (and whose rows another one took) changes nothing. Deciding the next state (retry when, give
up when) is the dispatcher's policy; this module stores it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, or_, select, text, union_all, update
from sqlalchemy.orm import Session

from tracker.store.models import DeliveryAttemptRow, DestinationHealthRow, OutboxRow

# pg_advisory_xact_lock key that makes claims take turns ("ITACLAIM"); db.MIGRATION_LOCK_KEY is another.
CLAIM_LOCK_KEY = 0x495441434C41494D


@dataclass(frozen=True)
class Claimed:
    """A leased message, with its stored texts."""

    id: int
    key: str
    kind: str  # reminder | digest | alert
    org_id: int
    recipient: str
    destination: str
    attempts: int  # including this one
    subject: str
    text: str
    html: str | None
    line_text: str | None
    lang: str


@dataclass(frozen=True)
class Attempt:
    """One recorded attempt and the state it leaves its message in."""

    outbox_id: int
    at: datetime
    duration_ms: int
    outcome: str  # sent | permanent | temporary
    status: str  # the message's new status: sent | failed | dead | pending (retried at next_attempt_at)
    next_attempt_at: datetime
    provider_status: int | None = None
    provider_message_id: str | None = None
    error: str | None = None


def claimable(now: datetime) -> Any:
    return or_(and_(OutboxRow.status == "pending", OutboxRow.next_attempt_at <= now),
               and_(OutboxRow.status == "leased", OutboxRow.lease_until < now))


def any_claimable(session: Session, now: datetime) -> bool:
    return session.scalar(select(OutboxRow.id).where(claimable(now)).limit(1)) is not None


def claim(session: Session, owner: str, now: datetime, lease_seconds: float, batch: int,
          org_ids: Sequence[int] | None = None) -> list[int]:
    """Lease up to `batch` due rows to `owner`, the earliest due first; returns their ids. `org_ids` limits
    the organisations (those inside their sending hours); None means all.

    The rows due and the rows whose lease expired are read apart, each in the order of `ix_outbox_claim`
    (status, next_attempt_at, id) and up to `batch`, then merged: a claim reads about as many rows as it
    takes. Read together (an OR), every due row was read and sorted for each claim; and with the outbox's
    statistics stale after a heavy day's planning, PostgreSQL compared each due row with each picked id
    in the UPDATE: 2.5 s a claim with 109,900 reminders due."""
    postgres = session.get_bind().dialect.name == "postgresql"

    def first(name: str, *where: ColumnElement[bool]) -> Any:
        query = select(OutboxRow.id, OutboxRow.next_attempt_at).where(*where)
        if org_ids is not None:
            query = query.where(OutboxRow.org_id.in_(list(org_ids)))
        query = query.order_by(OutboxRow.next_attempt_at, OutboxRow.id).limit(batch)
        if postgres:
            return query.with_for_update(skip_locked=True).cte(name).prefix_with("MATERIALIZED")
        return query.subquery(name)

    due = first("due", OutboxRow.status == "pending", OutboxRow.next_attempt_at <= now)
    expired = first("expired", OutboxRow.status == "leased", OutboxRow.lease_until < now)
    both = union_all(select(due.c.id, due.c.next_attempt_at), select(expired.c.id, expired.c.next_attempt_at)
                     ).subquery("both")
    pick = select(both.c.id).order_by(both.c.next_attempt_at, both.c.id).limit(batch)
    if postgres:
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK_KEY})
        # A MATERIALIZED CTE runs the pick once: as an IN (subquery), PostgreSQL may rescan it inside a
        # join, and with SKIP LOCKED each rescan finds other rows, so one claim leased more than `batch`.
        # The picked rows are locked, so they are still claimable: the UPDATE finds them by id alone.
        chosen: Any = select(pick.cte("picked").prefix_with("MATERIALIZED").c.id)
    else:
        # Not a CTE on SQLite: Python's sqlite3 opens a transaction only before a statement that starts with
        # INSERT, UPDATE or DELETE, so `WITH … UPDATE` committed on its own, and another dispatcher could
        # claim between it and `claim_companions`, cutting one person's day into two messages. The one
        # statement runs under SQLite's single write lock: the rows it picks are still claimable.
        chosen = pick.scalar_subquery()
    stmt = (update(OutboxRow)
            .where(OutboxRow.id.in_(chosen))
            .values(status="leased", lease_owner=owner, lease_until=now + timedelta(seconds=lease_seconds),
                    attempts=OutboxRow.attempts + 1)
            .returning(OutboxRow.id)
            .execution_options(synchronize_session=False))
    return list(session.execute(stmt).scalars())


def renew(session: Session, owner: str, ids: Sequence[int], now: datetime, lease_seconds: float) -> list[int]:
    """Extend `owner`'s leases on `ids` to `now + lease_seconds` (a heartbeat during a long send);
    returns the ids still leased to `owner` (a lease that expired and was taken by another dispatcher
    is not renewed: its message is no longer ours to record)."""
    if not ids:
        return []
    stmt = (update(OutboxRow)
            .where(OutboxRow.id.in_(list(ids)), OutboxRow.status == "leased", OutboxRow.lease_owner == owner)
            .values(lease_until=now + timedelta(seconds=lease_seconds))
            .returning(OutboxRow.id)
            .execution_options(synchronize_session=False))
    return sorted(session.execute(stmt).scalars())


def held(session: Session, outbox_id: int, owner: str, until: datetime) -> bool:
    """Whether `owner` still holds message `outbox_id` under a lease that lasts at least until `until`:
    the fence a worker checks right before it sends (a read: the heartbeat does the renewing)."""
    return session.scalar(select(OutboxRow.id).where(
        OutboxRow.id == outbox_id, OutboxRow.status == "leased", OutboxRow.lease_owner == owner,
        OutboxRow.lease_until >= until)) is not None


def load(session: Session, ids: Sequence[int], owner: str) -> list[Claimed]:
    rows = session.execute(select(OutboxRow).where(OutboxRow.id.in_(list(ids)), OutboxRow.lease_owner == owner)
                           .order_by(OutboxRow.id)).scalars()
    return [Claimed(r.id, r.key, r.kind, r.org_id, r.recipient, r.destination, r.attempts, r.subject or "",
                    r.text or "", r.html, r.line_text, r.lang) for r in rows]


def skip_broken(session: Session, claimed: list[Claimed], owner: str) -> list[Claimed]:
    """Set aside messages to destinations marked broken; returns the others."""
    pairs = {(c.org_id, c.destination) for c in claimed}
    broken = {(h.org_id, h.url): h for h in session.scalars(select(DestinationHealthRow).where(
        DestinationHealthRow.url.in_({url for _, url in pairs})))}
    keep = []
    for c in claimed:
        health = broken.get((c.org_id, c.destination))
        if health is None:
            keep.append(c)
            continue
        set_aside(session, c.id, owner, f"destination broken since {health.broken_at.isoformat()}: {health.reason}")
    return keep


def set_aside(session: Session, outbox_id: int, owner: str, reason: str) -> None:
    """Release a claimed message unsent, as `skipped` for `reason` (`tracker outbox retry` can queue it again)."""
    session.execute(update(OutboxRow).where(OutboxRow.id == outbox_id, OutboxRow.lease_owner == owner).values(
        status="skipped", lease_owner=None, lease_until=None, skip_reason=reason))


def record(session: Session, attempts: Sequence[Attempt], owner: str) -> dict[int, str]:
    """Record every attempt and release each message in its new state; returns {outbox id → status}."""
    if not attempts:
        return {}
    session.execute(cast(Table, DeliveryAttemptRow.__table__).insert(), [{
        "outbox_id": a.outbox_id, "at": a.at, "duration_ms": a.duration_ms, "outcome": a.outcome,
        "provider_status": a.provider_status, "provider_message_id": a.provider_message_id, "error": a.error,
    } for a in attempts])
    values = [{"b_id": a.outbox_id, "status": a.status, "next_attempt_at": a.next_attempt_at,
               "sent_at": a.at if a.status == "sent" else None, "provider_message_id": a.provider_message_id,
               "last_error": a.error} for a in attempts]
    table = cast(Table, OutboxRow.__table__)
    stmt = (update(table).where(table.c.id == bindparam("b_id"), table.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None))
    session.connection().execute(stmt, values)
    return {a.outbox_id: a.status for a in attempts}


def mark_broken(session: Session, org_id: int, destination: str, at: datetime, reason: str) -> bool:
    """Remember that `destination` refused for good (its messages are skipped until a retry clears
    it); returns False when it was marked already."""
    exists = session.scalar(select(DestinationHealthRow.id).where(
        DestinationHealthRow.org_id == org_id, DestinationHealthRow.url == destination))
    if exists is not None:
        return False
    session.add(DestinationHealthRow(org_id=org_id, url=destination, broken_at=at, reason=reason))
    session.flush()
    return True


def defer(session: Session, ids: Sequence[int], owner: str, until: datetime, reason: str) -> None:
    """Release `owner`'s claims unsent, pending again from `until` (their channel is paused); the claim
    does not count as an attempt."""
    if ids:
        session.execute(update(OutboxRow).where(OutboxRow.id.in_(list(ids)), OutboxRow.lease_owner == owner)
                        .values(status="pending", lease_owner=None, lease_until=None, next_attempt_at=until,
                                last_error=reason, attempts=OutboxRow.attempts - 1)
                        .execution_options(synchronize_session=False))


def refund_attempts(session: Session, ids: Sequence[int]) -> None:
    """Take back the attempt a channel-wide failure cost each of `ids` (recorded, pending again): a
    paused channel must not push its messages towards the dead letters."""
    if ids:
        session.execute(update(OutboxRow).where(OutboxRow.id.in_(list(ids)), OutboxRow.status == "pending",
                                                OutboxRow.attempts > 0)
                        .values(attempts=OutboxRow.attempts - 1).execution_options(synchronize_session=False))
