"""Tables of the integrity trail and of the doors into the service that are not people's sessions.

Kept apart from `models.py` because they describe who did what (audit, hand-overs) and the long-lived
secrets handed out (API tokens, calendar feed URLs); the reminder pipeline never reads them, except the
hand-overs, which decide who hears a reminder. Secrets are stored as SHA-256 hashes only.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tracker.store.models import Base


class AuditRow(Base):
    """One change to something that matters for integrity: actions, LINE bindings, API tokens, feeds,
    hand-overs, configuration. Append-only."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_org_at", "org_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(255), default="")
    channel: Mapped[str] = mapped_column(String(16))  # web | line | cli | import | api | config
    entity: Mapped[str] = mapped_column(String(32))  # action | line_binding | api_token | feed | handover | config
    entity_id: Mapped[str] = mapped_column(String(64), default="")
    change: Mapped[str] = mapped_column(String(32))  # created | withdrawn | corrected | revoked | applied …
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ApiTokenRow(Base):
    """A bearer token for the JSON API, scoped to one organisation. Only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # shown in listings so a person can tell tokens apart
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(255), default="")
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class CalendarFeedRow(Base):
    """A secret iCalendar URL for an organisation (unit_code NULL) or one of its units."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    unit_code: Mapped[str | None] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(255), default="")
    revoked_at: Mapped[datetime | None]


class HandoverRow(Base):
    """While `from_name` is on leave (starts_on..ends_on, Bangkok days, inclusive) their reminders go to
    `to_name`, a colleague of the same organisation."""

    __tablename__ = "handovers"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    from_name: Mapped[str] = mapped_column(String(255))
    to_name: Mapped[str] = mapped_column(String(255))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(255), default="")
    revoked_at: Mapped[datetime | None]


class EvidenceCheckRow(Base):
    """The latest fetch of an action's evidence URL (one row per action, updated in place)."""

    __tablename__ = "evidence_checks"

    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    checked_at: Mapped[datetime]
    ok: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(Integer)
    final_url: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
    broken_since: Mapped[datetime | None]
