"""SQLAlchemy 2 typed models. Timestamps are stored in UTC (naive in the column, aware in Python).

Rows are keyed by the codes admins write (organisation, unit, measure, obligation codes), so reloading a
configuration updates in place. Nothing that an officer logged (actions) is ever deleted by a reload:
obligations that vanish from the configuration are marked inactive instead.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from tracker.store.outbox_keys import key_digest

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive UTC in the column on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column: pass an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class OrganisationRow(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    district: Mapped[str] = mapped_column(String(255))
    province: Mapped[str] = mapped_column(String(255))
    fiscal_year: Mapped[int] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(8), default="th")
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    closures: Mapped[list[Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(Text, default="")
    config_hash: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime]
    # Its own LINE official account: {"token_env", "secret_env", "basic_id"} (names, never secrets); None
    # for the global channel.
    line_channel: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    # Whether plan_recipients holds this organisation's recipients as its contacts are now (the sync,
    # which replaces the contacts, sets it false; the planner refreshes and sets it true).
    recipients_cached: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    units: Mapped[list[UnitRow]] = relationship(back_populates="organisation", order_by="UnitRow.position")
    contacts: Mapped[list[ContactRow]] = relationship(order_by="ContactRow.position", cascade="all, delete-orphan")


class UnitRow(Base):
    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("org_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    organisation: Mapped[OrganisationRow] = relationship(back_populates="units")


class ContactRow(Base):
    """A unit's contact, an executive or an admin. Replaced wholesale on every reload: nothing refers to
    a contact row; reminders name their recipient and destination by value."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # unit | executive | admin
    unit_code: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(255), default="")
    destinations: Mapped[list[Any]] = mapped_column(JSON)
    position: Mapped[int] = mapped_column(Integer, default=0)

    addresses: Mapped[list[ContactAddressRow]] = relationship(cascade="all, delete-orphan")


def address_key(destination: str) -> str:
    """How a destination is looked up: e-mail addresses without case (`mailto:` is case-insensitive in
    practice), LINE IDs and the rest exactly."""
    return destination.lower() if destination.lower().startswith("mailto:") else destination


class ContactAddressRow(Base):
    """One destination of a contact, as `address_key` normalises it: signing in finds a person's contacts
    by an index lookup instead of reading every contact in the country (the JSON list cannot be indexed
    portably). Written with the contact by `store.repo`, replaced with it."""

    __tablename__ = "contact_addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(512), index=True)


class PlanRecipientRow(Base):
    """The planner's cache of who hears about a unit's deadlines: per organisation, unit and audience
    (officers, head, executives; executives under unit "*"), each recipient's name, destination and key
    hash, in order (`jobs.plan_context.all_recipients`). Computing them for 7,850 organisations cost the
    planner more than its own query; they change only when the contacts do."""

    __tablename__ = "plan_recipients"

    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    unit_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    audience: Mapped[str] = mapped_column(String(16), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    destination: Mapped[str] = mapped_column(String(512))
    who: Mapped[str] = mapped_column(String(64))


class MeasureRow(Base):
    __tablename__ = "measures"
    __table_args__ = (UniqueConstraint("org_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    unit_code: Mapped[str] = mapped_column(String(64))
    oit: Mapped[str | None] = mapped_column(String(16))
    steps: Mapped[list[Any]] = mapped_column(JSON)
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ObligationRow(Base):
    __tablename__ = "obligations"
    __table_args__ = (UniqueConstraint("org_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    measure_id: Mapped[int] = mapped_column(ForeignKey("measures.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    unit_code: Mapped[str] = mapped_column(String(64))
    rule: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    done_when: Mapped[str] = mapped_column(Text, default="")
    evidence_required: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class OccurrenceRow(Base):
    """One deadline of an obligation, materialised so that reminders can be planned in SQL.

    `done_on` is the date of the first action attributed to it (kept up to date whenever actions or
    occurrences change); `active` is false when a rule edit made the occurrence disappear.
    """

    __tablename__ = "occurrences"
    __table_args__ = (
        UniqueConstraint("obligation_id", "period"),
        Index("ix_occurrences_open_due", "active", "due"),
        Index("ix_occurrences_org_year", "org_id", "fiscal_year"),  # the rollover check (store.rollover)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    obligation_id: Mapped[int] = mapped_column(ForeignKey("obligations.id", ondelete="CASCADE"))
    fiscal_year: Mapped[int] = mapped_column(Integer)
    period: Mapped[str] = mapped_column(String(32))
    window_start: Mapped[date] = mapped_column(Date)
    due: Mapped[date] = mapped_column(Date)
    done_on: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ActionRow(Base):
    """Work an officer logged. Never deleted by a configuration reload."""

    __tablename__ = "actions"
    __table_args__ = (UniqueConstraint("org_id", "source_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    obligation_id: Mapped[int] = mapped_column(ForeignKey("obligations.id", ondelete="RESTRICT"), index=True)
    done_on: Mapped[date] = mapped_column(Date)
    evidence: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(255), default="")
    recorded_at: Mapped[datetime]
    period: Mapped[str | None] = mapped_column(String(32))
    unit_code: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16), default="cli")  # config | cli | import | web | line | api
    source_key: Mapped[str | None] = mapped_column(String(128))
    # A mistaken action is withdrawn, never deleted: the history keeps it with who, when, why and how.
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by: Mapped[str] = mapped_column(String(255), default="")
    withdrawn_channel: Mapped[str] = mapped_column(String(16), default="")
    withdrawn_reason: Mapped[str] = mapped_column(Text, default="")
    # A correction is a new action that names the one it replaces (which is withdrawn at the same time).
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("actions.id", ondelete="RESTRICT"))


# ---------------------------------------------------------------- outbox (reminders, digests, alerts)


def _key_digest_of_row(context: Any) -> bytes:
    """The default `key_digest` of a row inserted without one: its key's (see tracker.store.outbox_keys)."""
    return key_digest(context.get_current_parameters()["key"])


class OutboxRow(Base):
    """One message to one destination. `key` is its natural key, unique through its 16-byte digest
    `key_digest` (UNIQUE, see `tracker.store.outbox_keys`): planning twice, or from two processes at once,
    cannot create it twice. Reminders point at their occurrence; digests and alerts have none. Reminder
    texts are rendered on first claim (planning stays set-based and cheap) and then kept, so that every
    retry sends exactly the same message.

    No foreign keys: checking two parents for each of the ~110,000 rows a national planning run adds cost
    half of the insert. Nothing deletes organisations or occurrences (obligations and occurrences are
    deactivated); a reminder whose occurrence is gone or closed is cancelled by the planner
    (`outbox.cancel_done`) and again at send time (`outbox_wanted`)."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_claim", "status", "next_attempt_at", "id"),  # in claim order: see outbox_claims.claim
        # An organisation's rows (its pages), and a person's rows by status and day: the whole of a person's
        # day joins one claim, and a message already sent them today waits (outbox_bundles), without
        # reading their ~600 reminders a year.
        Index("ix_outbox_person", "org_id", "destination", "status", "sent_at"),
        # No index on occurrence_id: an occurrence's reminders are a range of key_digest's unique index
        # (tracker.store.outbox_keys.of_occurrences), and a second index cost every planned row.
        # Only bundled rows: the ~110,000 a national planning run adds have none yet, and need no entry.
        Index("ix_outbox_bundle_key", "bundle_key", postgresql_where=text("bundle_key IS NOT NULL"),
              sqlite_where=text("bundle_key IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    key_digest: Mapped[bytes] = mapped_column(LargeBinary(16), unique=True, default=_key_digest_of_row)
    kind: Mapped[str] = mapped_column(String(16), default="reminder")  # reminder | digest | alert
    org_id: Mapped[int] = mapped_column(Integer)
    occurrence_id: Mapped[int | None] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(32), default="")
    merged_stages: Mapped[str] = mapped_column(String(200), default="")
    stage_day: Mapped[date | None] = mapped_column(Date)
    recipient: Mapped[str] = mapped_column(String(255))
    destination: Mapped[str] = mapped_column(String(512))
    lang: Mapped[str] = mapped_column(String(8), default="th")
    subject: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    line_text: Mapped[str | None] = mapped_column(Text)
    send_after: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    skip_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # The one message this reminder went out in with the others due for the same person and channel
    # (jobs.bundle); set when first claimed, kept so that a re-send carries the same idempotency key.
    bundle_key: Mapped[str | None] = mapped_column(String(200))


class DeliveryAttemptRow(Base):
    """Every attempt to send an outbox message, successful or not."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16))  # sent | temporary | permanent | channel (a channel-wide refusal)
    provider_status: Mapped[int | None] = mapped_column(Integer)
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)


class DestinationHealthRow(Base):
    """A destination that failed permanently (bad token, blocked account): not sent to until cleared."""

    __tablename__ = "destination_health"
    __table_args__ = (UniqueConstraint("org_id", "url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(512))
    broken_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text, default="")


class PlannerMarkRow(Base):
    """The last day planned, per scope ("*" or an organisation code): what lies between it and today
    fell while the planner was not running, and is caught up (or recorded as skipped)."""

    __tablename__ = "planner_marks"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    through: Mapped[date] = mapped_column(Date)
    updated_at: Mapped[datetime]
