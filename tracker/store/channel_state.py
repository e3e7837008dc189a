"""The state of each channel (LINE, e-mail, webhook), read from the attempts recorded in the outbox.

A refused token or login, or a provider that cannot be reached, pauses the whole channel (see
`jobs.channel_pause`): its messages wait, unspent, and the next due one is the probe. That state is not
kept in a table of its own, which could disagree with what happened: it is what the channel's latest
recorded attempts say. A channel whose latest attempt was a channel-wide refusal (outcome `channel`) is
paused since the first refusal of that run of refusals; the first attempt that goes through ends it.
`tracker outbox` and the admin outbox page show it, so an operator sees "LINE paused since 09:02 (HTTP
401 …)" instead of inferring it from a column of errors.

An organisation with its own LINE official account is a channel of its own, `line@<code>`, paused and
resumed by its own token, as the dispatcher does (a wrong token there stops nobody else's LINE).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.store.line_quota import every_own_channel
from tracker.store.models import DeliveryAttemptRow, OutboxRow

CHANNEL_REFUSED = "channel"  # DeliveryAttemptRow.outcome of a channel-wide failure
WINDOW = 20_000  # the most recent attempts read: a paused channel is probed every 10 minutes


@dataclass(frozen=True)
class ChannelState:
    channel: str  # the scheme (line, mailto, https…), or line@<code> for an organisation's own LINE account
    paused: bool
    last_at: datetime  # its latest attempt
    since: datetime | None = None  # paused: the first refusal of the current pause
    reason: str = ""  # paused: the provider's answer (notifiers keep secrets out of it)
    next_try: datetime | None = None  # paused: when its first waiting message is tried again
    waiting: int = 0  # paused: messages kept pending for it


def channel_states(session: Session, org_id: int | None = None) -> list[ChannelState]:
    """Each channel seen in the recent attempts; with `org_id`, those that organisation's messages go by."""
    own = {org: channel.channel for org, channel in every_own_channel(session).items()}
    recent = (select(DeliveryAttemptRow.at, DeliveryAttemptRow.outcome, DeliveryAttemptRow.error,
                     OutboxRow.destination, OutboxRow.org_id)
              .join(OutboxRow, OutboxRow.id == DeliveryAttemptRow.outbox_id)
              .order_by(DeliveryAttemptRow.id.desc()).limit(WINDOW))
    newest: dict[str, tuple[datetime, str]] = {}
    refusals: dict[str, datetime] = {}  # channel -> oldest refusal of the unbroken run since the newest attempt
    settled: set[str] = set()
    for at, outcome, error, destination, org in session.execute(recent):
        channel = channel_of(destination, own.get(org))
        if channel not in newest:
            newest[channel] = (at, error or "")
        if channel in settled:
            continue
        if outcome == CHANNEL_REFUSED:
            refusals[channel] = at
        else:
            settled.add(channel)
    mine = None if org_id is None else {"line@" + own[org_id] if org_id in own else "line"}
    return [_state(session, channel, last, reason, refusals.get(channel), own) for channel, (last, reason) in
            sorted(newest.items()) if mine is None or not channel.startswith("line") or channel in mine]


def channel_of(destination: str, own_code: str | None) -> str:
    """The channel a destination's message goes by (for LINE, the organisation's own account if it has one)."""
    scheme = destination.partition(":")[0]
    return f"line@{own_code}" if scheme == "line" and own_code else scheme


def _state(session: Session, channel: str, last_at: datetime, reason: str, since: datetime | None,
           own: dict[int, str]) -> ChannelState:
    if since is None:
        return ChannelState(channel, False, last_at)
    scheme, _, code = channel.partition("@")
    query = select(func.count(), func.min(OutboxRow.next_attempt_at)).where(
        OutboxRow.status == "pending", OutboxRow.destination.like(f"{scheme}:%"))
    if scheme == "line":  # its own account's organisation, or everyone else (the shared account)
        ids = [i for i, c in own.items() if c == code]
        query = query.where(OutboxRow.org_id.in_(ids) if code else OutboxRow.org_id.not_in(list(own)))
    waiting, next_try = session.execute(query).one()
    return ChannelState(channel, True, last_at, since, reason, next_try, int(waiting))
