"""The evidence sweep: fetch every newly logged evidence link, and every link again after each report
round closes (31 March for the six-month report, 30 September for the year), when offices write their
reports and assessors start to look.

Fetching happens outside any transaction (a slow site must not hold database locks); each outcome is
then recorded in its own short transaction. When a link breaks, the unit responsible is told once
(an alert in the outbox, keyed by the action and the day it broke).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from jobs.evidence_fetch import EvidenceFetcher
from tracker.domain.thaidate import BANGKOK
from tracker.messages.evidence import render_broken_evidence
from tracker.store.db import session_scope
from tracker.store.evidence import BrokenLink, broken_links, record_check, to_check
from tracker.store.models import ContactRow, OrganisationRow
from tracker.store.outbox import NewMessage, destination_hash, enqueue, natural_key
from tracker.store.repo import org_row

RECHECK_DAYS = 30  # after a round closes, links are fetched again during this many days


@dataclass
class EvidenceResult:
    checked: int = 0
    broken: int = 0
    newly_broken: int = 0
    alerts: int = 0


def round_close(today: date) -> date | None:
    """The report round that closed within the last RECHECK_DAYS days (31 March, 30 September), if any."""
    for close in (date(today.year, 3, 31), date(today.year, 9, 30)):
        if close < today <= close + timedelta(days=RECHECK_DAYS):
            return close
    return None


def run_once(engine: Engine, now: datetime, fetcher: EvidenceFetcher, org: str | None = None, *,
             recheck_all: bool = False, limit: int = 200) -> EvidenceResult:
    """Fetch the links due for a check at `now`; `recheck_all` fetches every current link again."""
    today = now.astimezone(BANGKOK).date()
    close = round_close(today)
    recheck_before = now if recheck_all else (
        datetime.combine(close + timedelta(days=1), time(0), BANGKOK) if close else None)
    with session_scope(engine) as session:
        org_id = org_row(session, org).id if org else None
        pending = to_check(session, recheck_before=recheck_before, org_id=org_id, limit=limit)
    result = EvidenceResult()
    for item in pending:
        outcome = fetcher.check(item.url)
        result.checked += 1
        result.broken += not outcome.ok
        with session_scope(engine) as session:
            if record_check(session, item.action_id, item.url, outcome, now):
                result.newly_broken += 1
                [link] = [b for b in broken_links(session, item.org_id) if b.action_id == item.action_id]
                result.alerts += enqueue(session, alert_unit(session, link, now), now)
    return result


def alert_unit(session: Session, link: BrokenLink, now: datetime) -> list[NewMessage]:
    """One alert per destination of the unit's contacts (officers and head)."""
    org_name, lang = session.execute(select(OrganisationRow.name, OrganisationRow.language)
                                     .where(OrganisationRow.id == link.org_id)).one()
    rendered = render_broken_evidence(org_name, link.obligation, link.title, link.url, link.error, lang)
    contacts = session.execute(select(ContactRow.name, ContactRow.destinations).where(
        ContactRow.org_id == link.org_id, ContactRow.kind == "unit", ContactRow.unit_code == link.unit))
    day = link.since.astimezone(BANGKOK).date().isoformat()
    return [NewMessage(key=natural_key("evidence", str(link.action_id), day, destination_hash(dest)), kind="alert",
                       org_id=link.org_id, recipient=name, destination=dest, subject=rendered.subject,
                       text=rendered.text, html=rendered.html, line_text=rendered.line_text, send_after=now,
                       lang=lang, stage="evidence")
            for name, destinations in contacts for dest in destinations]
