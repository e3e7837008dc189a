"""Signed action links: the address in every reminder that opens one deadline for its recipient.

A link is not stored: it is a signed claim (itsdangerous, the web app's secret key) naming the
organisation, the occurrence, the contact it was sent to, when it was issued and when it expires. It
opens only that deadline of that organisation. It expires LINK_DAYS_AFTER_DUE days after the deadline,
and never sooner than LINK_MIN_DAYS after it was issued (a late reminder's link still gives a month to
answer). An admin revokes every link a contact holds (a lost phone, someone who left) by recording the
instant: links issued before it are refused; later reminders carry working links again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config.settings import Secret, Settings
from config.web_secret import web_secret_key
from tracker.domain.thaidate import BANGKOK
from tracker.store import audit
from tracker.store.repo import org_row
from tracker.store.web_models import LinkRevocationRow

LINK_DAYS_AFTER_DUE = 90
LINK_MIN_DAYS = 30
SALT = "tracker.action-link.v1"
PATH = "/a/"


class LinkRefused(Exception):
    """The link cannot be honoured. `reason` is "tampered", "expired" or "revoked"."""

    def __init__(self, reason: str, claim: LinkClaim | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.claim = claim


@dataclass(frozen=True)
class LinkClaim:
    org: str
    occurrence_id: int
    contact: str
    issued_at: datetime
    expires_at: datetime


def expiry(due: date, issued_at: datetime) -> datetime:
    """The end of the day LINK_DAYS_AFTER_DUE after `due` (Bangkok), or LINK_MIN_DAYS after issue."""
    after_due = datetime.combine(due + timedelta(days=LINK_DAYS_AFTER_DUE + 1), time(0), BANGKOK)
    return max(after_due, issued_at + timedelta(days=LINK_MIN_DAYS)).astimezone(UTC)


class ActionLinks:
    """Issues and reads action links for one secret key and base URL."""

    def __init__(self, secret: Secret, base_url: str) -> None:
        self._serializer = URLSafeSerializer(secret.reveal(), salt=SALT)
        self.base_url = base_url.rstrip("/")

    @classmethod
    def from_settings(cls, settings: Settings) -> ActionLinks:
        return cls(web_secret_key(settings), settings.base_url)

    def token(self, org: str, occurrence_id: int, contact: str, due: date, issued_at: datetime) -> str:
        expires = expiry(due, issued_at)
        return str(self._serializer.dumps([org, occurrence_id, contact, int(issued_at.timestamp()),
                                           int(expires.timestamp())]))

    def url(self, org: str, occurrence_id: int, contact: str, due: date, issued_at: datetime) -> str:
        return self.base_url + PATH + self.token(org, occurrence_id, contact, due, issued_at)

    def read(self, token: str, now: datetime) -> LinkClaim:
        """The claim of a genuine, unexpired link; raises LinkRefused (revocation is `check_revoked`)."""
        try:
            org, occurrence_id, contact, issued, expires = self._serializer.loads(token)
            claim = LinkClaim(str(org), int(occurrence_id), str(contact), datetime.fromtimestamp(int(issued), UTC),
                              datetime.fromtimestamp(int(expires), UTC))
        except (BadSignature, ValueError, TypeError):
            raise LinkRefused("tampered") from None
        if now >= claim.expires_at:
            raise LinkRefused("expired", claim)
        return claim


def check_revoked(session: Session, claim: LinkClaim) -> None:
    """Raises LinkRefused("revoked") when the contact's links were revoked after this one was issued."""
    row = org_row(session, claim.org)
    latest = session.scalar(select(func.max(LinkRevocationRow.revoked_at)).where(
        LinkRevocationRow.org_id == row.id, LinkRevocationRow.contact == claim.contact))
    if latest is not None and claim.issued_at <= latest.replace(tzinfo=latest.tzinfo or UTC):
        raise LinkRefused("revoked", claim)


def revoke(session: Session, org: str, contact: str, now: datetime, *, actor: str, channel: str) -> None:
    """Refuse every link `contact` of `org` holds now; the audit trail records who did it."""
    row = org_row(session, org)
    session.add(LinkRevocationRow(org_id=row.id, contact=contact, revoked_at=now, revoked_by=actor))
    audit.record(session, row.id, now, actor=actor, channel=channel, entity="action_links", entity_id=contact,
                 change="revoked", detail={"contact": contact})
    session.flush()
