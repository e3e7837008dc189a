"""The state of each channel (LINE, e-mail, webhook), read from the attempts recorded in the outbox.

A refused token or login, or a provider that cannot be reached, pauses the whole channel (see
`jobs.channel_pause`): its messages wait, unspent, and the next due one is the probe. That state is not
kept in a table of its own, which could disagree with what happened: it is what the channel's latest
recorded attempts say. A channel whose latest attempt was a channel-wide refusal (outcome `channel`) is
paused since the first refusal of that run of refusals; the first attempt that goes through ends it.
`tracker outbox` and the admin outbox page show it, so an operator sees "LINE paused since 09:02 (HTTP
401 …)" instead of inferring it from a column of errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.store.models import DeliveryAttemptRow, OutboxRow

CHANNEL_REFUSED = "channel"  # DeliveryAttemptRow.outcome of a channel-wide failure
WINDOW = 20_000  # the most recent attempts read: a paused channel is probed every 10 minutes


@dataclass(frozen=True)
class ChannelState:
    scheme: str  # line, mailto, https…
    paused: bool
    last_at: datetime  # its latest attempt
    since: datetime | None = None  # paused: the first refusal of the current pause
    reason: str = ""  # paused: the provider's answer (notifiers keep secrets out of it)
    next_try: datetime | None = None  # paused: when its first waiting message is tried again
    waiting: int = 0  # paused: messages kept pending for it


def channel_states(session: Session) -> list[ChannelState]:
    """Each channel seen in the recent attempts, by scheme name."""
    recent = (select(DeliveryAttemptRow.at, DeliveryAttemptRow.outcome, DeliveryAttemptRow.error,
                     OutboxRow.destination)
              .join(OutboxRow, OutboxRow.id == DeliveryAttemptRow.outbox_id)
              .order_by(DeliveryAttemptRow.id.desc()).limit(WINDOW))
    newest: dict[str, tuple[datetime, str]] = {}
    refusals: dict[str, datetime] = {}  # scheme -> oldest refusal of the unbroken run since the newest attempt
    settled: set[str] = set()
    for at, outcome, error, destination in session.execute(recent):
        scheme = destination.partition(":")[0]
        if scheme not in newest:
            newest[scheme] = (at, error or "")
        if scheme in settled:
            continue
        if outcome == CHANNEL_REFUSED:
            refusals[scheme] = at
        else:
            settled.add(scheme)
    return [_state(session, scheme, last, reason, refusals.get(scheme)) for scheme, (last, reason) in
            sorted(newest.items())]


def _state(session: Session, scheme: str, last_at: datetime, reason: str, since: datetime | None) -> ChannelState:
    if since is None:
        return ChannelState(scheme, False, last_at)
    waiting, next_try = session.execute(
        select(func.count(), func.min(OutboxRow.next_attempt_at))
        .where(OutboxRow.status == "pending", OutboxRow.destination.like(f"{scheme}:%"))).one()
    return ChannelState(scheme, True, last_at, since, reason, next_try, int(waiting))
