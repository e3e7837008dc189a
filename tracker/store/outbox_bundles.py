"""The outbox side of bundling (jobs.bundle): widen a claim to whole bundles, read what orders a
bundle, record the bundle key on its rows, and find a sent message's rows by its key."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select, union, union_all, update
from sqlalchemy.orm import Session, aliased

from tracker.domain.thaidate import period_fiscal_year, title_for_year
from tracker.store.models import ObligationRow, OccurrenceRow, OrganisationRow, OutboxRow
from tracker.store.outbox_claims import claimable
from tracker.store.outbox_keys import digests


def claim_companions(session: Session, owner: str, now: datetime, lease_seconds: float,
                     ids: Sequence[int]) -> list[int]:
    """Lease the other due reminders of the recipients and destinations of the claimed `ids` (a batch
    may have cut a person's day in two); returns the ids added.

    A person's due and expired rows are a range of `ix_outbox_person` (organisation, destination, status):
    their rows of that status, not their whole history (~600 reminders a year). On PostgreSQL they are
    looked up apart and locked as they are found (rows another transaction holds are skipped); on SQLite,
    under its single write lock, one person at a time (left to choose for an OR of people, it read every
    due row through the claim index: 80 ms a claim step at national scale). Either way the UPDATE finds
    them by id alone: one that checked their status again read every due row too."""
    pairs = set(session.execute(select(OutboxRow.org_id, OutboxRow.recipient, OutboxRow.destination)
                                .where(OutboxRow.id.in_(list(ids)), OutboxRow.kind == "reminder")))
    if not pairs:
        return []
    others = [OutboxRow.kind == "reminder", OutboxRow.id.not_in(list(ids))]
    if session.get_bind().dialect.name == "postgresql":
        same = or_(*(and_(OutboxRow.org_id == o, OutboxRow.destination == d, OutboxRow.recipient == r)
                     for o, r, d in pairs))

        def locked(name: str, *where: ColumnElement[bool]) -> Select[int]:
            query = select(OutboxRow.id).where(*where, same, *others).with_for_update(skip_locked=True)
            return select(query.cte(name).prefix_with("MATERIALIZED").c.id)

        companions: Any = union_all(locked("due", OutboxRow.status == "pending", OutboxRow.next_attempt_at <= now),
                                    locked("expired", OutboxRow.status == "leased", OutboxRow.lease_until < now))
    else:
        companions = [i for o, r, d in sorted(pairs) for i in session.scalars(select(OutboxRow.id).where(
            OutboxRow.org_id == o, OutboxRow.destination == d, OutboxRow.recipient == r, claimable(now), *others))]
        if not companions:
            return []
    stmt = (update(OutboxRow)
            .where(OutboxRow.id.in_(companions))
            .values(status="leased", lease_owner=owner, lease_until=now + timedelta(seconds=lease_seconds),
                    attempts=OutboxRow.attempts + 1)
            .returning(OutboxRow.id)
            .execution_options(synchronize_session=False))
    return list(session.execute(stmt).scalars())


@dataclass(frozen=True)
class Facts:
    """What orders a reminder in its bundle and what its item shows."""

    bundle_key: str | None
    stage: str
    merged_stages: str  # the stages a catch-up replaces, as `label@day` (tracker.domain.reminders)
    due: date | None
    occurrence_id: int | None
    obligation: str
    title: str  # as it reads in the occurrence's fiscal year (`title_for_year`)
    org: str


def bundle_facts(session: Session, ids: Sequence[int]) -> dict[int, Facts]:
    """id → the facts of reminder rows."""
    query = (select(OutboxRow.id, OutboxRow.bundle_key, OutboxRow.stage, OutboxRow.merged_stages, OccurrenceRow.due,
                    OccurrenceRow.id,
                    ObligationRow.code, ObligationRow.title, OrganisationRow.code, OccurrenceRow.period,
                    OrganisationRow.fiscal_year)
             .outerjoin(OccurrenceRow, OccurrenceRow.id == OutboxRow.occurrence_id)
             .outerjoin(ObligationRow, ObligationRow.id == OccurrenceRow.obligation_id)
             .join(OrganisationRow, OrganisationRow.id == OutboxRow.org_id)
             .where(OutboxRow.id.in_(list(ids))))
    return {row[0]: Facts(row[1], row[2], row[3] or "", row[4], row[5], row[6] or "", _title(row[7], row[9], row[10]),
                          row[8])
            for row in session.execute(query)}


def sent_earlier_today(session: Session, ids: Sequence[int], owner: str, day_start: datetime,
                       day_end: datetime) -> set[int]:
    """Those of the reminder rows `ids` whose recipient and destination already got another reminder
    message between `day_start` and `day_end` (sent, or in flight under another dispatcher's lease).
    Sent and in-flight rows are looked up apart, each a range of `ix_outbox_person` (organisation,
    destination, status, sent_at): that day's, not the person's whole history."""
    if not ids:
        return set()
    other = aliased(OutboxRow)

    def earlier(*where: ColumnElement[bool]) -> Select[int]:
        return (select(OutboxRow.id).join(other, and_(
            other.org_id == OutboxRow.org_id, other.destination == OutboxRow.destination,
            other.recipient == OutboxRow.recipient, other.kind == "reminder", other.id != OutboxRow.id,
            or_(other.bundle_key.is_(None), OutboxRow.bundle_key.is_(None), other.bundle_key != OutboxRow.bundle_key),
            *where)).where(OutboxRow.id.in_(list(ids))))

    sent = earlier(other.status == "sent", other.sent_at >= day_start, other.sent_at < day_end)
    held = earlier(other.status == "leased", other.bundle_key.is_not(None), other.lease_owner != owner)
    return set(session.scalars(union(sent, held)))


def _title(title: str | None, period: str | None, written_for: int) -> str:
    if not title or not period:
        return title or ""
    return title_for_year(title, written_for, period_fiscal_year(period))


def set_bundle_key(session: Session, ids: Sequence[int], key: str, owner: str) -> None:
    session.execute(update(OutboxRow).where(OutboxRow.id.in_(list(ids)), OutboxRow.lease_owner == owner)
                    .values(bundle_key=key))


def rows_by_message(session: Session, keys: Sequence[str]) -> dict[str, list[tuple[Any, ...]]]:
    """message key → its rows as (row, due, obligation code, measure id): one row for a lone message,
    every member for a bundle."""
    query = (select(OutboxRow, OccurrenceRow.due, ObligationRow.code, ObligationRow.measure_id)
             .outerjoin(OccurrenceRow, OutboxRow.occurrence_id == OccurrenceRow.id)
             .outerjoin(ObligationRow, OccurrenceRow.obligation_id == ObligationRow.id)
             .where(or_(OutboxRow.key_digest.in_(digests(keys)), OutboxRow.bundle_key.in_(list(keys)))))
    wanted = set(keys)
    out: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for row, due, ob, measure_id in session.execute(query):
        out[row.key if row.key in wanted else str(row.bundle_key)].append((row, due, ob, measure_id))
    return out
