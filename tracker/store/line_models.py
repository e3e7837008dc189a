"""Tables of the LINE connection: which chat each contact is bound to, the one-time codes that bind
them, and the webhook events already handled.

Kept apart from the contacts table on purpose: contacts are replaced wholesale on every configuration
reload, while a binding is something a person did (added the official account and sent a code) and
must survive reloads. A binding names its contact by organisation and contact name, as the
configuration does. Codes are stored as SHA-256 hashes only.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tracker.store.models import Base


class LineBindingRow(Base):
    """A contact's LINE chat (user, group or room ID). `disabled_at` is set when the person blocks the
    official account (`unfollow`) or removes it from the group (`leave`): reminders stop until they
    connect again."""

    __tablename__ = "line_bindings"
    __table_args__ = (UniqueConstraint("org_id", "contact"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    contact: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(64), default="")  # "" = the global channel, else an org code
    chat_kind: Mapped[str] = mapped_column(String(8))  # user | group | room
    chat_id: Mapped[str] = mapped_column(String(33), index=True)
    bound_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str] = mapped_column(Text, default="")


class LineConnectCodeRow(Base):
    """A one-time code that binds the chat it is sent from to a contact. Used once, then kept (used_at)
    as a record of who connected when."""

    __tablename__ = "line_connect_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    contact: Mapped[str] = mapped_column(String(255))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class LineEventRow(Base):
    """A webhook event already handled, by LINE's `webhookEventId`: a redelivery is acknowledged and
    ignored."""

    __tablename__ = "line_webhook_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64), default="")
    type: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime]


class ReminderSnoozeRow(Base):
    """An officer's "snooze" from a LINE reminder: their reminders of one deadline wait until `until`
    (escalations are never snoozed)."""

    __tablename__ = "reminder_snoozes"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    occurrence_id: Mapped[int] = mapped_column(ForeignKey("occurrences.id", ondelete="CASCADE"), index=True)
    recipient: Mapped[str] = mapped_column(String(255))
    until: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime]


class LineQuotaRow(Base):
    """A LINE channel's monthly message quota and consumption as last read from LINE (`checked_at`),
    plus the pushes this service made since; `alerted_month` (YYYY-MM) is the month the admins were
    told it reached 80 %, so that they are told once per channel and month, across runs and restarts."""

    __tablename__ = "line_quota"

    channel: Mapped[str] = mapped_column(String(64), primary_key=True)  # "" = the global channel
    quota: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: LINE sets no limit
    used: Mapped[int] = mapped_column(Integer, default=0)
    checked_at: Mapped[datetime]
    alerted_month: Mapped[str] = mapped_column(String(7), default="")
