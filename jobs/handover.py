"""The outbox follows a hand-over: pending reminders for a person on leave go to their colleague.

Planning resolves recipients from the configuration; this step runs right after it (and on every sweep)
and re-addresses what is still pending. The original row is kept as `skipped`, saying to whom it was
handed, so `tracker outbox` shows both; the new row's key derives from the original's and the hand-over,
so running this twice, or from two processes, moves nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.enqueue import insert_new
from tracker.domain.reminders import handover_who, reminder_key
from tracker.domain.thaidate import BANGKOK
from tracker.store.handovers import Handover, active_handovers
from tracker.store.models import ContactRow, OutboxRow

HORIZON_DAYS = 400  # pending reminders are never planned further ahead than a year


def _destinations(session: Session, org_id: int, name: str) -> list[str]:
    rows = session.scalars(select(ContactRow.destinations).where(ContactRow.org_id == org_id,
                                                                 ContactRow.name == name))
    seen: list[str] = []
    for destinations in rows:
        seen.extend(d for d in destinations if d not in seen)
    return seen


def run_once(session: Session, now: datetime) -> int:
    """Re-address every pending reminder covered by a live hand-over. Returns how many were moved."""
    today = now.astimezone(BANGKOK).date()
    handovers = active_handovers(session, today - timedelta(days=HORIZON_DAYS), today + timedelta(days=HORIZON_DAYS))
    moved = 0
    for handover in handovers:
        moved += _apply(session, handover, now)
    if moved:
        session.flush()
    return moved


def _apply(session: Session, handover: Handover, now: datetime) -> int:
    pending = session.scalars(select(OutboxRow).where(
        OutboxRow.org_id == handover.org_id, OutboxRow.kind == "reminder", OutboxRow.status == "pending",
        OutboxRow.recipient == handover.from_name))
    targets = _destinations(session, handover.org_id, handover.to_name)
    moved = 0
    for row in pending:
        day = row.stage_day or row.send_after.astimezone(BANGKOK).date()
        if not handover.covers(day) or not targets:
            continue
        for destination in targets:
            # Keyed by occurrence, stage and the colleague's destination: a person with two destinations
            # hands over two rows of one reminder, and the colleague still gets it once per destination.
            assert row.occurrence_id is not None  # a reminder always has its occurrence
            key = reminder_key(row.occurrence_id, row.stage, handover_who(handover.id, destination))
            session.execute(insert_new(session).values(
                key=key, kind="reminder", org_id=row.org_id, occurrence_id=row.occurrence_id, stage=row.stage,
                merged_stages=row.merged_stages, stage_day=row.stage_day, recipient=handover.to_name,
                destination=destination, lang=row.lang, send_after=row.send_after, status="pending", attempts=0,
                next_attempt_at=row.next_attempt_at, created_at=now))
        row.status = "skipped"
        leave = f"{handover.starts_on.isoformat()}–{handover.ends_on.isoformat()}"
        row.skip_reason = (f"handed over to {handover.to_name} ({handover.from_name} on leave {leave},"
                           f" hand-over #{handover.id})")
        moved += 1
    return moved
