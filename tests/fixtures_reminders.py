"""Helpers for the reminder tests: a synced sample database, outbox queries, a recording sender."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from config.loader import LoadResult
from config.settings import Settings
from notifiers.base import DeliveryError, OutgoingMessage, Receipt
from tracker.domain.thaidate import BANGKOK
from tracker.store.db import session_scope
from tracker.store.models import DeliveryAttemptRow, OutboxRow
from tracker.store.repo import sync_organisation

AS_OF = datetime(2022, 10, 21, 9, 0, tzinfo=BANGKOK)  # Friday: O10-1's 7-days-before stage, moved off 24 Oct
SYNCED_AT = datetime(2022, 10, 1, 1, 0, tzinfo=BANGKOK)


def bkk(*args: int) -> datetime:
    return datetime(*args, tzinfo=BANGKOK)  # type: ignore[misc]


def sync_sample(engine: Engine, sample: LoadResult) -> None:
    with session_scope(engine) as session:
        for cfg in sample.orgs:
            sync_organisation(session, cfg, SYNCED_AT, through_fy=2566)


def outbox(engine: Engine, **where: Any) -> list[OutboxRow]:
    with session_scope(engine) as session:
        query = select(OutboxRow).order_by(OutboxRow.id)
        for name, value in where.items():
            query = query.where(getattr(OutboxRow, name) == value)
        return list(session.scalars(query))


def count_outbox(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(session.scalar(select(func.count()).select_from(OutboxRow)) or 0)


def attempts(engine: Engine, outbox_id: int) -> list[DeliveryAttemptRow]:
    with session_scope(engine) as session:
        return list(session.scalars(select(DeliveryAttemptRow).where(DeliveryAttemptRow.outbox_id == outbox_id)
                                    .order_by(DeliveryAttemptRow.id)))


class RecordingSender:
    """A sender that records messages and fails on demand: `fail[destination] = DeliveryError(...)`."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env({"LINE_CHANNEL_ACCESS_TOKEN": "t", "SMTP_URL": "smtp://x"})
        self.sent: list[tuple[str, OutgoingMessage]] = []
        self.fail: dict[str, DeliveryError] = {}
        self._lock = threading.Lock()

    def send(self, destination: str, message: OutgoingMessage) -> Receipt:
        if destination in self.fail:
            raise self.fail[destination]
        with self._lock:
            self.sent.append((destination, message))
        return Receipt(200, f"id-{len(self.sent)}")
