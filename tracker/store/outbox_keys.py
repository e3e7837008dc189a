"""The outbox's unique key, kept compact: 16 bytes derived from the natural key.

Every outbox row has a readable natural key (`occ:…:stage:who` for reminders, see
`tracker.domain.reminders.REMINDER_KEY`; `digest:…` and `alert:…` for the others). The UNIQUE constraint is
on `key_digest` rather than on that text: at national scale a planning run adds ~110,000 rows, and the
unique index of 50–200-character texts (with the foreign-key checks) cost more than the rest of the
insert. The digest is the reminder's occurrence id (4 bytes, big-endian; 0 for digests and alerts) and
then the first 12 bytes of the key's SHA-256: one occurrence's reminders sit together in the index, so
the rows a planning run inserts (in occurrence order) land on a few index pages instead of thousands of
random ones, and two keys of the same occurrence would have to share 96 bits of SHA-256 to collide.

The same order makes the index serve as the outbox's index of occurrences: the reminders of one
occurrence are one range of it (`of_occurrences`), and a second index on `occurrence_id`, which every
inserted row paid for (~0.1 s of a national planning run), is not needed.

The text stays in the row (`key`, not indexed) for people and the providers' idempotency keys. The same
value is computed in Python (`key_digest`) and in SQL (`key_digest_sql`: PostgreSQL's own functions; on
SQLite `occurrence_key_digest`, registered on every connection by `tracker.store.db.open_engine`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, false, or_

from tracker.domain.reminders import REMINDER_KEY

HASH_BYTES = 12
SQLITE_FUNCTION = "tracker_key_digest"
# The occurrence id at the head of a reminder's natural key, read from REMINDER_KEY itself.
_OCCURRENCE = re.compile(re.escape(REMINDER_KEY.split("{occurrence}", 1)[0]) + r"([0-9]+)" +
                         re.escape(REMINDER_KEY.split("{occurrence}", 1)[1].split("{", 1)[0]))


def key_occurrence(key: str) -> int:
    """The occurrence a reminder's natural key names; 0 for any other key."""
    found = _OCCURRENCE.match(key)
    return int(found.group(1)) if found else 0


def key_digest(key: str) -> bytes:
    """The unique key of the outbox row whose natural key is `key`."""
    return occurrence_key_digest(key_occurrence(key), key)


def occurrence_key_digest(occurrence: int, key: str) -> bytes:
    """`key_digest(key)` when `occurrence` is the occurrence `key` names (0 for keys that name none)."""
    return occurrence.to_bytes(4, "big") + hashlib.sha256(key.encode()).digest()[:HASH_BYTES]


def digests(keys: Iterable[str]) -> list[bytes]:
    """The digests of natural keys, to look their rows up by the unique index."""
    return [key_digest(key) for key in keys]


def occurrence_digests(occurrence: int) -> tuple[bytes, bytes]:
    """The lowest and the highest `key_digest` a reminder of `occurrence` can have."""
    head = occurrence.to_bytes(4, "big")
    return head + bytes(HASH_BYTES), head + b"\xff" * HASH_BYTES


def of_occurrences(digest: SQLColumnExpression[bytes], occurrence: SQLColumnExpression[int | None],
                   occurrences: Iterable[int]) -> ColumnElement[bool]:
    """The outbox rows of `occurrences` (given the table's `key_digest` and `occurrence_id` columns), read
    as ranges of the unique index."""
    ranges = [and_(digest.between(*occurrence_digests(o)), occurrence == o) for o in sorted(set(occurrences))]
    return or_(*ranges) if ranges else false()


def key_digest_sql(key: str, occurrence: str, dialect: str) -> str:
    """`key_digest` on `dialect` of the SQL expressions `key` (the natural key) and `occurrence` (the
    occurrence id that `key` names, or 0)."""
    if dialect == "postgresql":
        return f"int4send({occurrence}) || substring(sha256(convert_to({key}, 'UTF8')) from 1 for {HASH_BYTES})"
    if dialect == "sqlite":
        return f"{SQLITE_FUNCTION}({occurrence}, {key})"
    raise NotImplementedError(f"the outbox supports SQLite and PostgreSQL, not {dialect}")
