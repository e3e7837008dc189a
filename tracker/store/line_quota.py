"""Storage of LINE channels: which organisation has its own official account, and each channel's monthly
quota and consumption as last read from LINE (the `line_quota` table), with the month its admins were told
it reached 80 %. Deciding when to read LINE again, and what to do when the quota is spent, is
`jobs.line_quota`'s; this module only stores."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tracker.domain.model import LineChannel
from tracker.store.line_models import LineQuotaRow
from tracker.store.models import OrganisationRow, OutboxRow
from tracker.store.outbox_keys import of_occurrences
from tracker.store.repo import line_channel_from, line_channel_of


@dataclass(frozen=True)
class Usage:
    """A channel's month as last known: `quota` None means LINE sets no limit."""

    channel: str
    quota: int | None
    used: int
    checked_at: datetime
    alerted_month: str = ""

    @property
    def percent(self) -> float | None:
        return None if not self.quota else 100.0 * self.used / self.quota

    @property
    def exhausted(self) -> bool:
        return self.quota is not None and self.used >= self.quota


def own_channels(session: Session, org_ids: Iterable[int]) -> dict[int, LineChannel | None]:
    """Organisation id → its own LINE channel, or None for those on the global channel."""
    rows = session.scalars(select(OrganisationRow).where(OrganisationRow.id.in_(list(set(org_ids)))))
    return {row.id: line_channel_of(row) for row in rows}


def every_own_channel(session: Session) -> dict[int, LineChannel]:
    """Organisation id → its own LINE account, for every organisation that has one."""
    rows = session.execute(select(OrganisationRow.id, OrganisationRow.code, OrganisationRow.line_channel)
                           .where(OrganisationRow.line_channel.is_not(None)))  # tuples: a JSON null is not NULL
    return {org: channel for org, code, line in rows if (channel := line_channel_from(code, line)) is not None}


def own_channel(session: Session, code: str) -> LineChannel | None:
    """The channel named `code` (an organisation's code) when that organisation has its own account."""
    row = session.scalar(select(OrganisationRow).where(OrganisationRow.code == code))
    return line_channel_of(row) if row is not None else None


def usage(session: Session, channel: str) -> Usage | None:
    row = session.get(LineQuotaRow, channel)
    return None if row is None else Usage(row.channel, row.quota, row.used, row.checked_at, row.alerted_month)


def all_usage(session: Session) -> list[Usage]:
    return [Usage(r.channel, r.quota, r.used, r.checked_at, r.alerted_month)
            for r in session.scalars(select(LineQuotaRow).order_by(LineQuotaRow.channel))]


def usage_of_org(session: Session, code: str) -> tuple[str, Usage | None]:
    """The channel an organisation's LINE messages take (its code, or "" for the global one) and that
    channel's last reading."""
    channel = code if own_channel(session, code) is not None else ""
    return channel, usage(session, channel)


def describe(channel: str, found: Usage | None) -> str:
    """One line for people: `LINE quota (global channel): 410 / 500 (82%), read 2022-10-21 02:00 UTC`."""
    name = f"channel '{channel}'" if channel else "global channel"
    if found is None:
        return f"LINE quota ({name}): not read yet (read before the next LINE push)"
    at = found.checked_at.strftime("%Y-%m-%d %H:%M")
    if found.quota is None:
        return f"LINE quota ({name}): {found.used:,} sent this month, no monthly limit set (read {at} UTC)"
    spent = ", SPENT: LINE messages go by other destinations or wait" if found.exhausted else ""
    return f"LINE quota ({name}): {found.used:,} / {found.quota:,} ({found.percent:.0f}%){spent} (read {at} UTC)"


def store_reading(session: Session, channel: str, quota: int | None, used: int, at: datetime) -> Usage:
    """Keep what LINE just said about the channel's month."""
    row = session.get(LineQuotaRow, channel)
    if row is None:
        row = LineQuotaRow(channel=channel, alerted_month="")
        session.add(row)
    row.quota, row.used, row.checked_at = quota, used, at
    session.flush()
    return Usage(channel, quota, used, at, row.alerted_month)


def add_used(session: Session, channel: str, pushes: int) -> None:
    """Count pushes made since the last reading (LINE's next reading replaces the count)."""
    if pushes:
        session.execute(update(LineQuotaRow).where(LineQuotaRow.channel == channel)
                        .values(used=LineQuotaRow.used + pushes))


def mark_spent(session: Session, channel: str, at: datetime) -> None:
    """LINE refused a push for the monthly limit: the channel counts as spent until the next reading."""
    row = session.get(LineQuotaRow, channel)
    if row is None:
        session.add(LineQuotaRow(channel=channel, quota=0, used=0, checked_at=at, alerted_month=""))
    else:
        row.quota = row.used if row.quota is None else row.quota
        row.used = max(row.used, row.quota)
    session.flush()


def claim_alert(session: Session, channel: str, month: str) -> bool:
    """Record that the admins are told about `month` now; False when they were told already (a
    conditional UPDATE: two dispatchers cannot both win)."""
    done = session.execute(update(LineQuotaRow).where(LineQuotaRow.channel == channel,
                                                      LineQuotaRow.alerted_month != month)
                           .values(alerted_month=month).execution_options(synchronize_session=False))
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def carried_elsewhere(session: Session, outbox_id: int) -> str | None:
    """Another destination (not LINE) of the same recipient that carries the same reminder — its own row
    for the same deadline and stage, pending, in flight or sent — or None."""
    row = session.get(OutboxRow, outbox_id)
    if row is None or row.kind != "reminder" or row.occurrence_id is None:
        return None
    return session.scalar(select(OutboxRow.destination).where(
        OutboxRow.org_id == row.org_id, OutboxRow.recipient == row.recipient, OutboxRow.kind == "reminder",
        of_occurrences(OutboxRow.key_digest, OutboxRow.occurrence_id, [row.occurrence_id]),
        OutboxRow.stage == row.stage, OutboxRow.id != row.id,
        OutboxRow.destination.not_like("line%"), OutboxRow.status.in_(("pending", "leased", "sent")))
        .order_by(OutboxRow.id).limit(1))
