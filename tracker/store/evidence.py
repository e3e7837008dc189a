"""What is known about each evidence link: the latest fetch of every action's URL.

An assessor who finds a dead link fails the item, so a link that stopped answering must be seen on the
obligation's page, in the digest and by the unit. `broken_since` keeps the first failure of a run of
failures, so a unit is told once when a link breaks, not at every check.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from tracker.store.models import ActionRow, ObligationRow, UnitRow
from tracker.store.trail_models import EvidenceCheckRow


@dataclass(frozen=True)
class CheckOutcome:
    ok: bool
    status_code: int | None
    final_url: str
    error: str


@dataclass(frozen=True)
class ToCheck:
    action_id: int
    org_id: int
    url: str


@dataclass(frozen=True)
class BrokenLink:
    action_id: int
    org_id: int
    obligation: str
    title: str
    unit: str
    unit_name: str
    url: str
    since: datetime
    checked_at: datetime
    error: str


def to_check(session: Session, *, recheck_before: datetime | None = None, org_id: int | None = None,
             limit: int = 200) -> list[ToCheck]:
    """Current actions with an evidence link never checked (or whose URL changed), and, when
    `recheck_before` is given, those last checked before it."""
    check = EvidenceCheckRow
    stale = or_(check.action_id.is_(None), check.url != ActionRow.evidence)
    if recheck_before is not None:
        stale = or_(stale, check.checked_at < recheck_before)
    query = (select(ActionRow.id, ActionRow.org_id, ActionRow.evidence)
             .outerjoin(check, check.action_id == ActionRow.id)
             .where(ActionRow.withdrawn_at.is_(None), ActionRow.evidence != "", stale)
             .order_by(check.checked_at.is_not(None), check.checked_at, ActionRow.id).limit(limit))
    if org_id is not None:
        query = query.where(ActionRow.org_id == org_id)
    return [ToCheck(*row) for row in session.execute(query)]


def record_check(session: Session, action_id: int, url: str, outcome: CheckOutcome, now: datetime) -> bool:
    """Keep the outcome of a fetch. Returns True when the link has just become broken."""
    row = session.get(EvidenceCheckRow, action_id)
    was_broken = row is not None and not row.ok and row.url == url
    if row is None:
        row = EvidenceCheckRow(action_id=action_id)
        session.add(row)
    row.url, row.checked_at, row.ok = url, now, outcome.ok
    row.status_code, row.final_url, row.error = outcome.status_code, outcome.final_url, outcome.error
    row.broken_since = None if outcome.ok else (row.broken_since if was_broken else now)
    session.flush()
    return not outcome.ok and not was_broken


def broken_links(session: Session, org_id: int, obligation: str | None = None) -> list[BrokenLink]:
    """The organisation's current actions whose evidence link was broken at its last check."""
    return broken_links_of(session, [org_id], obligation).get(org_id, [])


def broken_links_of(session: Session, org_ids: Sequence[int],
                    obligation: str | None = None) -> dict[int, list[BrokenLink]]:
    """org id → `broken_links` of each organisation, in one query."""
    query = (select(EvidenceCheckRow, ActionRow.org_id, ObligationRow.code, ObligationRow.title,
                    ObligationRow.unit_code, UnitRow.name)
             .join(ActionRow, ActionRow.id == EvidenceCheckRow.action_id)
             .join(ObligationRow, ObligationRow.id == ActionRow.obligation_id)
             .outerjoin(UnitRow, and_(UnitRow.org_id == ObligationRow.org_id, UnitRow.code == ObligationRow.unit_code))
             .where(ActionRow.org_id.in_(list(org_ids)), ActionRow.withdrawn_at.is_(None),
                    EvidenceCheckRow.ok.is_(False), EvidenceCheckRow.url == ActionRow.evidence)
             .order_by(ObligationRow.code, EvidenceCheckRow.action_id))
    if obligation is not None:
        query = query.where(ObligationRow.code == obligation)
    out: dict[int, list[BrokenLink]] = defaultdict(list)
    for c, org, code, title, unit, unit_name in session.execute(query):
        out[org].append(BrokenLink(c.action_id, org, code, title, unit, unit_name or unit, c.url,
                                   c.broken_since or c.checked_at, c.checked_at, c.error))
    return out


def latest_checks(session: Session, action_ids: list[int]) -> dict[int, CheckOutcome]:
    rows = session.scalars(select(EvidenceCheckRow).where(EvidenceCheckRow.action_id.in_(action_ids)))
    return {r.action_id: CheckOutcome(r.ok, r.status_code, r.final_url, r.error) for r in rows}
