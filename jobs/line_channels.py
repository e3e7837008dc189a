"""Which LINE channel (official account) serves an organisation, and its credentials.

An organisation whose file has `[organisation.line]` has its own channel, named by its code: pushes use
its token, `/line/webhook/<code>` checks its secret, and its quota is its own. Every other organisation
shares the global channel "" (LINE_CHANNEL_ACCESS_TOKEN, LINE_CHANNEL_SECRET). Only names of environment
variables travel; the secrets are read from the environment (or `_FILE`) where they are used.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from config.settings import Settings
from notifiers.line_api import LineApi
from tracker.domain.model import LineChannel
from tracker.store.line_quota import own_channel

CHANNEL_SECRET_ENV = "LINE_CHANNEL_SECRET"
GLOBAL = ""


def global_channel(settings: Settings) -> LineChannel:
    return LineChannel(GLOBAL, settings.line_token_env, CHANNEL_SECRET_ENV, settings.env.get("LINE_BOT_BASIC_ID", ""))


def channel_of(settings: Settings, own: LineChannel | None) -> LineChannel:
    """The organisation's own channel, else the global one."""
    return own if own is not None else global_channel(settings)


def named(session: Session, settings: Settings, channel: str) -> LineChannel | None:
    """The channel a webhook URL names: "" the global one, an organisation code that organisation's own
    (None when it has none)."""
    return global_channel(settings) if channel == GLOBAL else own_channel(session, channel)


def secret_of(settings: Settings, channel: LineChannel) -> str | None:
    secret = settings.secret(channel.secret_env)
    return secret.reveal() if secret else None


def api_for(settings: Settings, channel: LineChannel) -> LineApi:
    """A LINE API client with the channel's token (the caller closes it)."""
    return LineApi(settings, basic_id=channel.basic_id or None, token_env=channel.token_env)
