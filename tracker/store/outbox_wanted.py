"""Is a claimed message still wanted, right before it is sent? And cancelling one that is not.

A reminder is claimed, then waits for a worker, a rate limit or a slow provider; meanwhile an officer
may log the action (`tracker log`) or an administrator may remove the contact or one of their
destinations from the configuration. The planner's `cancel_done` only sees rows still pending, so
the dispatcher asks again here, per message, at send time: what is no longer wanted is cancelled
with the reason instead of being sent.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tracker.store.models import ContactRow, ObligationRow, OccurrenceRow, OutboxRow

DONE = "done: an action was logged (or the obligation was removed)"
NOT_CONFIGURED = ("no longer configured: {recipient} was removed from the configuration, or this destination"
                  " of theirs was")
# Kinds addressed to a configured contact by name; alerts about a channel or a destination go to the
# admins of the moment and are not re-checked (an alert must not vanish with the contact it is about).
CONTACT_KINDS = ("reminder", "digest")


def unwanted_reason(session: Session, outbox_id: int, today: date) -> str | None:
    """Why message `outbox_id` should no longer be sent at `today`, or None when it still should."""
    row = session.execute(select(OutboxRow.kind, OutboxRow.org_id, OutboxRow.occurrence_id, OutboxRow.recipient,
                                 OutboxRow.destination).where(OutboxRow.id == outbox_id)).first()
    if row is None:
        return None
    kind, org_id, occurrence_id, recipient, destination = row
    if kind == "reminder" and occurrence_id is not None and _finished(session, occurrence_id, today):
        return DONE
    if kind in CONTACT_KINDS and not _configured(session, org_id, recipient, destination):
        return NOT_CONFIGURED.format(recipient=recipient)
    return None


def _finished(session: Session, occurrence_id: int, today: date) -> bool:
    found = session.execute(select(OccurrenceRow.done_on, OccurrenceRow.active, ObligationRow.active)
                            .join(ObligationRow, ObligationRow.id == OccurrenceRow.obligation_id)
                            .where(OccurrenceRow.id == occurrence_id)).first()
    if found is None:  # the occurrence itself is gone
        return True
    done_on, occurrence_active, obligation_active = found
    return (done_on is not None and done_on <= today) or not occurrence_active or not obligation_active


def _configured(session: Session, org_id: int, recipient: str, destination: str) -> bool:
    lists = session.scalars(select(ContactRow.destinations).where(ContactRow.org_id == org_id,
                                                                  ContactRow.name == recipient))
    return any(destination in (dests or []) for dests in lists)


def cancel(session: Session, outbox_id: int, owner: str, reason: str) -> bool:
    """Release `owner`'s claim on a message as `cancelled` for `reason`; False if it was no longer ours."""
    stmt = (update(OutboxRow).where(OutboxRow.id == outbox_id, OutboxRow.lease_owner == owner)
            .values(status="cancelled", lease_owner=None, lease_until=None, skip_reason=reason)
            .execution_options(synchronize_session=False))
    return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]
