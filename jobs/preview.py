"""The dry run: the real planner inside a transaction that is rolled back.

`tracker remind --dry-run` shows exactly the rows `plan` would write at that instant (rollover,
catch-up, merges, skips and hand-overs included), rendered by the dispatcher's own renderer, and then
undoes everything, so that the preview and the real run cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from jobs.plan import PlanResult, plan
from jobs.render_outbox import render_missing
from tracker.store import outbox
from tracker.store.links import ActionLinks
from tracker.store.outbox import QueuedReminder


@dataclass(frozen=True)
class Preview:
    result: PlanResult
    reminders: list[QueuedReminder]  # pending and skipped, in planning order


def preview(engine: Engine, now: datetime, org: str | None = None, grace_days: int = 3,
            links: ActionLinks | None = None) -> Preview:
    """What `plan(session, now, org, grace_days)` would write, without writing it. With `links`, each text
    carries its recipient's signed action link issued at `now`, as the dispatcher renders it."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            since = outbox.last_id(session)
            result = plan(session, now, org, grace_days)
            render_missing(session, outbox.reminder_ids_since(session, since), links, now)
            return Preview(result, outbox.reminders_since(session, since))
        finally:
            session.rollback()
