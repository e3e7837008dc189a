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

from tracker.domain.reminders import handover_who, reminder_key
from tracker.domain.thaidate import BANGKOK
from tracker.store.handovers import Handover, active_handovers
from tracker.store.models import ContactRow
from tracker.store.outbox import pending_reminders_to, readdress

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
    targets = _destinations(session, handover.org_id, handover.to_name)
    moved = 0
    for row in pending_reminders_to(session, handover.org_id, handover.from_name):
        day = row.stage_day or row.send_after.astimezone(BANGKOK).date()
        if not handover.covers(day) or not targets or row.occurrence_id is None:
            continue
        # Keyed by occurrence, stage and the colleague's destination: a person with two destinations
        # hands over two rows of one reminder, and the colleague still gets it once per destination.
        copies = [(reminder_key(row.occurrence_id, row.stage, handover_who(handover.id, destination)),
                   handover.to_name, destination) for destination in targets]
        leave = f"{handover.starts_on.isoformat()}–{handover.ends_on.isoformat()}"
        readdress(session, row, copies, f"handed over to {handover.to_name} ({handover.from_name} on leave {leave},"
                                        f" hand-over #{handover.id})", now)
        moved += 1
    return moved
