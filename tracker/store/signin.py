"""One-time sign-in links: issued to a configured destination, valid SIGNIN_MINUTES, used once.

Only the token's SHA-256 is stored. Redeeming is one conditional UPDATE (unused, unexpired), so two
clicks racing each other sign in once. At most SIGNIN_PER_WINDOW links are issued per destination in a
window of SIGNIN_MINUTES: a stranger cannot flood someone's inbox. And at most SIGNIN_PER_CLIENT requests
are taken from one client (its address, kept only as a keyed hash) in that window, whoever they name: one
machine cannot spread requests over many people's inboxes either.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from tracker.store.web_models import SignInRequestRow, SignInTokenRow

SIGNIN_MINUTES = 15
SIGNIN_PER_WINDOW = 3
SIGNIN_PER_CLIENT = 10


class TooManyRequests(Exception):
    """SIGNIN_PER_CLIENT sign-in requests came from this client within SIGNIN_MINUTES."""


class TooManyLinks(Exception):
    """SIGNIN_PER_WINDOW links were already sent to this destination within SIGNIN_MINUTES."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(session: Session, destination: str, now: datetime) -> str:
    """A new sign-in token for `destination` (shown once; only its hash is kept). Raises TooManyLinks."""
    window = now - timedelta(minutes=SIGNIN_MINUTES)
    recent = session.scalar(select(func.count()).select_from(SignInTokenRow).where(
        SignInTokenRow.destination == destination, SignInTokenRow.created_at > window)) or 0
    if recent >= SIGNIN_PER_WINDOW:
        raise TooManyLinks(destination)
    token = secrets.token_urlsafe(32)
    session.add(SignInTokenRow(token_hash=_hash(token), destination=destination, created_at=now,
                               expires_at=now + timedelta(minutes=SIGNIN_MINUTES)))
    session.flush()
    return token


def redeem(session: Session, token: str, now: datetime) -> str | None:
    """The destination the token was issued to, marking it used; None when unknown, used or expired."""
    digest = _hash(token)
    done = session.execute(update(SignInTokenRow).where(
        SignInTokenRow.token_hash == digest, SignInTokenRow.used_at.is_(None), SignInTokenRow.expires_at > now,
    ).values(used_at=now).execution_options(synchronize_session=False))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.scalar(select(SignInTokenRow.destination).where(SignInTokenRow.token_hash == digest))


def is_valid(session: Session, token: str, now: datetime) -> bool:
    """Whether the token would sign in now (reading only: the confirmation page must not spend it)."""
    return session.scalar(select(SignInTokenRow.id).where(
        SignInTokenRow.token_hash == _hash(token), SignInTokenRow.used_at.is_(None),
        SignInTokenRow.expires_at > now)) is not None


def note_request(session: Session, client: str, now: datetime) -> None:
    """Count one sign-in request from `client` (a keyed hash of its address, at most 64 characters).
    Raises TooManyRequests, counting nothing, when SIGNIN_PER_CLIENT were taken within SIGNIN_MINUTES."""
    window = now - timedelta(minutes=SIGNIN_MINUTES)
    session.execute(delete(SignInRequestRow).where(SignInRequestRow.client == client,
                                                   SignInRequestRow.created_at <= window))
    recent = session.scalar(select(func.count()).select_from(SignInRequestRow).where(
        SignInRequestRow.client == client)) or 0
    if recent >= SIGNIN_PER_CLIENT:
        raise TooManyRequests(client)
    session.add(SignInRequestRow(client=client, created_at=now))
