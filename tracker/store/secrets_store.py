"""Long-lived secrets handed out to machines and calendars: API bearer tokens and calendar feed URLs.

The plain token is shown once, when it is created; the database keeps its SHA-256 only, so a copy of
the database does not open the API or the feeds. A revoked token stops working at once. Every creation
and revocation is audited.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.errors import NotFoundError, TrackerError
from tracker.store import audit
from tracker.store.models import OrganisationRow, UnitRow
from tracker.store.repo import org_row
from tracker.store.trail_models import ApiTokenRow, CalendarFeedRow

API_PREFIX = "itk_"
FEED_PREFIX = "cal_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


# ---------------------------------------------------------------- API tokens


@dataclass(frozen=True)
class TokenInfo:
    id: int
    org: str
    name: str
    prefix: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    last_used_at: datetime | None


def create_api_token(session: Session, org_code: str, name: str, now: datetime, *, actor: str,
                     channel: str = "cli") -> tuple[TokenInfo, str]:
    """A new token for `org_code`. Returns its description and the plain token (shown once)."""
    org = org_row(session, org_code)
    token = _new_token(API_PREFIX)
    row = ApiTokenRow(org_id=org.id, name=name, token_hash=hash_token(token), prefix=token[:10], created_at=now,
                      created_by=actor)
    session.add(row)
    session.flush()
    audit.record(session, org.id, now, actor=actor, channel=channel, entity="api_token", entity_id=row.id,
                 change="created", detail={"name": name, "prefix": row.prefix})
    return _token_info(row, org.code), token


def _token_info(row: ApiTokenRow, org_code: str) -> TokenInfo:
    return TokenInfo(row.id, org_code, row.name, row.prefix, row.created_at, row.created_by, row.revoked_at,
                     row.last_used_at)


def list_api_tokens(session: Session, org_code: str) -> list[TokenInfo]:
    org = org_row(session, org_code)
    rows = session.scalars(select(ApiTokenRow).where(ApiTokenRow.org_id == org.id).order_by(ApiTokenRow.id))
    return [_token_info(r, org.code) for r in rows]


def revoke_api_token(session: Session, org_code: str, token_id: int, now: datetime, *, actor: str,
                     channel: str = "cli") -> TokenInfo:
    org = org_row(session, org_code)
    row = session.scalar(select(ApiTokenRow).where(ApiTokenRow.id == token_id, ApiTokenRow.org_id == org.id))
    if row is None:
        raise NotFoundError(f"no API token {token_id} in '{org_code}': see `tracker api-token list --org {org_code}`")
    if row.revoked_at is None:
        row.revoked_at = now
        audit.record(session, org.id, now, actor=actor, channel=channel, entity="api_token", entity_id=row.id,
                     change="revoked", detail={"name": row.name, "prefix": row.prefix})
    return _token_info(row, org.code)


def authenticate_api_token(session: Session, token: str, now: datetime) -> tuple[int, str] | None:
    """(organisation id, code) of a live token, or None. Marks the token used."""
    found = session.execute(
        select(ApiTokenRow, OrganisationRow.code).join(OrganisationRow, ApiTokenRow.org_id == OrganisationRow.id)
        .where(ApiTokenRow.token_hash == hash_token(token), ApiTokenRow.revoked_at.is_(None))).first()
    if found is None:
        return None
    row, code = found
    # Written at most once a minute: the API must not turn every read into a write.
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        row.last_used_at = now
    return row.org_id, code


# ---------------------------------------------------------------- calendar feeds


@dataclass(frozen=True)
class FeedInfo:
    id: int
    org: str
    unit: str | None
    prefix: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


def _feed_info(row: CalendarFeedRow, org_code: str) -> FeedInfo:
    return FeedInfo(row.id, org_code, row.unit_code, row.prefix, row.created_at, row.created_by, row.revoked_at)


def create_feed(session: Session, org_code: str, unit: str | None, now: datetime, *, actor: str,
                channel: str = "cli") -> tuple[FeedInfo, str]:
    """A new secret feed for the organisation (unit None) or one unit. Returns it and its plain token."""
    org = org_row(session, org_code)
    if unit is not None and session.scalar(select(UnitRow.id).where(
            UnitRow.org_id == org.id, UnitRow.code == unit, UnitRow.active.is_(True))) is None:
        raise TrackerError(f"no unit '{unit}' in '{org_code}': see the [[units]] of its configuration")
    token = _new_token(FEED_PREFIX)
    row = CalendarFeedRow(org_id=org.id, unit_code=unit, token_hash=hash_token(token), prefix=token[:10],
                          created_at=now, created_by=actor)
    session.add(row)
    session.flush()
    audit.record(session, org.id, now, actor=actor, channel=channel, entity="feed", entity_id=row.id,
                 change="created", detail={"unit": unit, "prefix": row.prefix})
    return _feed_info(row, org.code), token


def list_feeds(session: Session, org_code: str) -> list[FeedInfo]:
    org = org_row(session, org_code)
    rows = session.scalars(select(CalendarFeedRow).where(CalendarFeedRow.org_id == org.id)
                           .order_by(CalendarFeedRow.id))
    return [_feed_info(r, org.code) for r in rows]


def revoke_feed(session: Session, org_code: str, feed_id: int, now: datetime, *, actor: str,
                channel: str = "cli") -> FeedInfo:
    org = org_row(session, org_code)
    row = session.scalar(select(CalendarFeedRow).where(CalendarFeedRow.id == feed_id,
                                                       CalendarFeedRow.org_id == org.id))
    if row is None:
        raise NotFoundError(f"no calendar feed {feed_id} in '{org_code}': see `tracker feed list --org {org_code}`")
    if row.revoked_at is None:
        row.revoked_at = now
        audit.record(session, org.id, now, actor=actor, channel=channel, entity="feed", entity_id=row.id,
                     change="revoked", detail={"unit": row.unit_code, "prefix": row.prefix})
    return _feed_info(row, org.code)


def resolve_feed(session: Session, token: str) -> FeedInfo | None:
    """The live feed a token opens, or None (unknown or revoked)."""
    found = session.execute(
        select(CalendarFeedRow, OrganisationRow.code)
        .join(OrganisationRow, CalendarFeedRow.org_id == OrganisationRow.id)
        .where(CalendarFeedRow.token_hash == hash_token(token), CalendarFeedRow.revoked_at.is_(None))).first()
    return None if found is None else _feed_info(found[0], found[1])
