"""Adding already-rendered messages (digests, alerts) to the outbox, idempotently by natural key.

`INSERT … ON CONFLICT (key) DO NOTHING` on both SQLite and PostgreSQL: two processes enqueuing the same
digest at the same instant create one row, and nobody has to catch an IntegrityError mid-transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tracker.store.models import OutboxRow

KEY_LIMIT = 200  # outbox.key is VARCHAR(200)


@dataclass(frozen=True)
class NewMessage:
    key: str
    kind: str  # digest | alert
    org_id: int
    recipient: str
    destination: str
    subject: str
    text: str
    send_after: datetime
    html: str | None = None
    line_text: str | None = None
    lang: str = "th"
    stage: str = ""


def destination_hash(destination: str) -> str:
    return hashlib.sha256(destination.encode()).hexdigest()[:16]


def natural_key(*parts: str) -> str:
    """`a:b:c`, or, when that would not fit the column, its readable head and a hash of the rest.
    The same parts always give the same key."""
    key = ":".join(parts)
    if len(key) <= KEY_LIMIT:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{key[: KEY_LIMIT - len(digest) - 1]}#{digest}"


def insert_new(session: Session) -> Insert:
    """`INSERT INTO outbox … ON CONFLICT (key) DO NOTHING` for this session's database."""
    return _insert(session)


def _insert(session: Session) -> Insert:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(OutboxRow).on_conflict_do_nothing(index_elements=["key"])
    if dialect == "sqlite":
        return sqlite.insert(OutboxRow).on_conflict_do_nothing(index_elements=["key"])
    raise NotImplementedError(f"the outbox supports SQLite and PostgreSQL, not {dialect}")


def enqueue(session: Session, messages: Sequence[NewMessage], now: datetime | None = None) -> int:
    """Insert the messages that are not in the outbox yet. Returns how many were new."""
    created = 0
    for message in messages:
        values = asdict(message) | {
            "status": "pending", "attempts": 0, "next_attempt_at": message.send_after,
            "created_at": now or message.send_after, "merged_stages": "",
        }
        # Counted from RETURNING: psycopg reports rowcount -1 for this statement on PostgreSQL.
        created += len(session.execute(_insert(session).values(**values).returning(OutboxRow.id)).all())
    return created
