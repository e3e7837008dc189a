"""The audit trail: one append-only row per change that matters for integrity.

Whoever changes an action, a LINE binding, an API token, a calendar feed, a hand-over or the
configuration calls `record` in the same transaction as the change, so the trail can never disagree
with what happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.store.trail_models import AuditRow

CHANNELS = ("web", "line", "cli", "import", "api", "config")


def record(session: Session, org_id: int, at: datetime, *, actor: str, channel: str, entity: str,
           entity_id: object, change: str, detail: dict[str, Any] | None = None) -> None:
    """Append one audit row. `channel` is how the change came in (one of CHANNELS)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}: use one of {', '.join(CHANNELS)}")
    session.add(AuditRow(org_id=org_id, at=at, actor=actor, channel=channel, entity=entity,
                         entity_id=str(entity_id), change=change, detail=detail or {}))


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    channel: str
    entity: str
    entity_id: str
    change: str
    detail: dict[str, Any]


def entries(session: Session, org_id: int, *, entity: str | None = None, limit: int = 200,
            before_id: int | None = None) -> list[AuditEntry]:
    """The organisation's trail, newest first; `before_id` pages backwards."""
    query = select(AuditRow).where(AuditRow.org_id == org_id).order_by(AuditRow.id.desc()).limit(limit)
    if entity is not None:
        query = query.where(AuditRow.entity == entity)
    if before_id is not None:
        query = query.where(AuditRow.id < before_id)
    return [AuditEntry(r.id, r.at, r.actor, r.channel, r.entity, r.entity_id, r.change, dict(r.detail))
            for r in session.scalars(query)]
