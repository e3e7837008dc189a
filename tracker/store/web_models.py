"""Tables of the web app's doors: revoked action links, one-time sign-in links (and the requests for
them per client), evidence files.

Kept apart from `models.py`: the reminder pipeline reads none of them. Secrets (sign-in tokens) are
stored as SHA-256 hashes only; an action link is not stored at all (it is signed), so revoking a
person's links records the instant before which their links no longer open.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tracker.store.models import Base


class LinkRevocationRow(Base):
    """Every action link issued to `contact` of the organisation before `revoked_at` is refused."""

    __tablename__ = "link_revocations"
    __table_args__ = (Index("ix_link_revocations_org_contact", "org_id", "contact"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    contact: Mapped[str] = mapped_column(String(255))
    revoked_at: Mapped[datetime]
    revoked_by: Mapped[str] = mapped_column(String(255), default="")


class SignInTokenRow(Base):
    """A one-time sign-in link: its hash, the destination it was sent to, when it expires and was used."""

    __tablename__ = "signin_tokens"
    __table_args__ = (Index("ix_signin_tokens_destination_created", "destination", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    destination: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class SignInRequestRow(Base):
    """One request for a sign-in link, by a client (the SHA-256 of its address: the address itself is not
    kept): counted for the per-client limit, whoever the request named."""

    __tablename__ = "signin_requests"
    __table_args__ = (Index("ix_signin_requests_client_created", "client", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class EvidenceFileRow(Base):
    """A file attached to an action through the web form; the bytes live under the data folder."""

    __tablename__ = "evidence_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    ext: Mapped[str] = mapped_column(String(8))
    size: Mapped[int] = mapped_column(Integer)
    original_name: Mapped[str] = mapped_column(String(255), default="")
    uploaded_at: Mapped[datetime]
