"""The planner's recipients, kept between runs in `plan_recipients`.

Who hears about a unit's deadlines (officers, head, executives, each destination with its key hash)
depends only on the organisation's contacts. Working it out for 7,850 organisations and copying it into
the database cost the planner more than its own query, every minute, although contacts change only when
the configuration does. The sync marks an organisation's cache stale when it replaces the contacts
(`organisations.recipients_cached`); each planning run refreshes the stale ones first, so the set-based
insert (`jobs.plan_sql`) joins a table that is already there.
"""

from __future__ import annotations

from sqlalchemy import delete, false, insert, true, update
from sqlalchemy.orm import Session

from jobs.plan_context import all_recipients, load_contexts
from tracker.store.models import OrganisationRow, PlanRecipientRow

ANALYZE_AFTER = 100  # organisations refreshed at once (a first run, a sync of many files)


def refresh_recipients(session: Session, org_id: int | None = None) -> int:
    """Recompute the cached recipients of every organisation (or the one) whose contacts changed since;
    returns how many organisations were refreshed.

    The stale organisations are claimed first by the UPDATE that marks them current: a second planner
    running at once waits for that row lock and then finds nothing left to refresh."""
    claim = (update(OrganisationRow).where(OrganisationRow.recipients_cached == false())
             .values(recipients_cached=true()).returning(OrganisationRow.id)
             .execution_options(synchronize_session=False))
    if org_id is not None:
        claim = claim.where(OrganisationRow.id == org_id)
    stale = sorted(session.scalars(claim))
    if not stale:
        return 0
    connection = session.connection()  # Core statements: the ORM's per-row bookkeeping is not needed
    for start in range(0, len(stale), 500):  # bounded IN lists
        ids = stale[start:start + 500]
        connection.execute(delete(PlanRecipientRow).where(PlanRecipientRow.org_id.in_(ids)))
        rows = [{"org_id": ctx.id, "unit_code": unit, "audience": audience, "seq": seq, "name": name,
                 "destination": destination, "who": who}
                for ctx in load_contexts(session, org_ids=ids).values()
                for unit, audience, recipients in all_recipients(ctx)
                for seq, (name, destination, who) in enumerate(recipients)]
        if rows:
            connection.execute(insert(PlanRecipientRow), rows)
    if connection.dialect.name == "postgresql" and len(stale) >= ANALYZE_AFTER:
        # Fresh statistics for the planner's join: without them PostgreSQL takes the table for empty.
        connection.exec_driver_sql("ANALYZE plan_recipients")
    return len(stale)
