"""Handle one LINE webhook request: verify, record each event once, act, then reply.

The order matters. The signature is checked over the raw bytes before anything is parsed or written,
so a forged request records nothing. All events of a request are handled in one transaction together
with their `webhookEventId`s, so a redelivery (LINE retries when we were slow or failed) finds them
recorded and does nothing twice. Replies go out after the commit: a reply token lives about a minute,
and a failed reply must not undo a binding. The whole thing is quick (a few indexed queries and at most
one reply per event), well inside LINE's one-second expectation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from config.settings import Settings
from jobs.line_channels import CHANNEL_SECRET_ENV, api_for, named, secret_of
from notifiers.base import DeliveryError
from notifiers.line_api import LineApi
from tracker.domain.errors import SettingsError
from tracker.domain.line_webhook import (
    CONNECT_DESTINATION,
    LineEvent,
    WebhookFormatError,
    command_in,
    connect_code_in,
    parse_callback,
    read_postback,
    recipient_tag,
    signature_ok,
)
from tracker.domain.model import LineChannel
from tracker.domain.thaidate import BANGKOK, fiscal_year, to_thai_digits
from tracker.domain.workdays import WorkCalendar
from tracker.messages.line_chat import button_reply, phrase, render_line_disabled, status_reply
from tracker.store import signin
from tracker.store.db import session_scope
from tracker.store.line_links import Bound, bind_with_code, bindings_of_chat, disable_chat, first_delivery
from tracker.store.models import ContactRow, ObligationRow, OccurrenceRow, OrganisationRow
from tracker.store.outbox import NewMessage, destination_hash, enqueue, natural_key
from tracker.store.snoozes import acknowledge, snooze
from tracker.store.status_query import org_statuses

log = logging.getLogger(__name__)


@dataclass
class WebhookResult:
    """What the web view answers: `status` (200, 400, 401, 404), and what was done."""

    status: int
    reason: str = ""
    handled: int = 0
    duplicates: int = 0
    replies: list[tuple[str, str]] = field(default_factory=list)  # (reply token, text)


def channel_secret(session: Session, settings: Settings, channel: str) -> tuple[LineChannel | None, str | None]:
    """The channel a webhook URL names ("" the global one, an organisation's code its own account) and its
    secret (None when that channel is unknown or has no secret set)."""
    found = named(session, settings, channel)
    try:
        return found, (secret_of(settings, found) if found is not None else None)
    except SettingsError as exc:  # its _FILE cannot be read: say which variable, never a value
        log.warning("LINE channel '%s': %s", channel or "default", exc)
        return found, None


def handle_webhook(engine: Engine, settings: Settings, body: bytes, signature: str | None, now: datetime,
                   channel: str = "", *, api: LineApi | None = None) -> WebhookResult:
    """Verify and handle one webhook request, then send the replies. Never raises for bad input."""
    with session_scope(engine) as session:
        line, secret = channel_secret(session, settings, channel)
    if line is None or secret is None:
        where = f"[organisation.line] in the file of '{channel}'" if channel else CHANNEL_SECRET_ENV
        return WebhookResult(404, f"no LINE channel '{channel or 'default'}' with a secret: set {where}")
    if not signature_ok(secret, body, signature):
        return WebhookResult(401, "missing or wrong X-Line-Signature")
    try:
        events = parse_callback(body)
    except WebhookFormatError as exc:
        return WebhookResult(400, str(exc))
    result = WebhookResult(200)
    with session_scope(engine) as session:
        for event in events:
            if not first_delivery(session, event.event_id, channel, event.type, now):
                result.duplicates += 1
                continue
            result.handled += 1
            if event.type == "postback":
                text = _postback(session, event, secret, now)
            else:
                text = _act(session, event, channel, now, settings.base_url)
            if text and event.reply_token:
                result.replies.append((event.reply_token, text))
    _send_replies(settings, line, result.replies, api)
    return result


def _act(session: Session, event: LineEvent, channel: str, now: datetime, base_url: str) -> str | None:
    """Apply one event; the reply text, if any."""
    if event.type == "follow":
        return phrase("welcome")
    if event.type == "join":
        return phrase("welcome_group")
    if event.type in ("unfollow", "leave"):
        for disabled in disable_chat(session, event.chat_id, channel, event.type, now):
            _alert_admins(session, disabled, event.type, now)
        return None
    if event.type != "message" or not event.text:
        return None
    code = connect_code_in(event.text)
    if code is not None:
        bound = bind_with_code(session, code, event.chat_kind, event.chat_id, channel, now)
        if bound is None:
            return phrase("bad_code")
        return phrase("bound", _lang(session, bound.org_id), contact=bound.contact, org=bound.org_code)
    command = command_in(event.text)
    if command is None:
        return None
    bindings = bindings_of_chat(session, event.chat_id)
    if command == "help" or not bindings:
        return phrase("help" if bindings or command == "help" else "not_bound")
    if command == "status":
        return "\n\n".join(_status(session, b, now) for b in bindings)
    return _sign_in(session, event, bindings[0], now, base_url)


def _sign_in(session: Session, event: LineEvent, bound: Bound, now: datetime, base_url: str) -> str:
    """A one-time sign-in link (tracker.store.signin, the web's own) for the LINE user who asked: the web
    recognises `line://<user ID>` as the contact bound to that chat. Never in a group or room: anyone
    there could use it first."""
    lang = _lang(session, bound.org_id)
    if event.chat_kind != "user":
        return phrase("signin_private", lang)
    try:
        token = signin.issue(session, f"line://{event.chat_id}", now)
    except signin.TooManyLinks:
        return phrase("signin_busy", lang, n=_digits(str(signin.SIGNIN_PER_WINDOW), lang),
                      minutes=_digits(str(signin.SIGNIN_MINUTES), lang))
    return phrase("signin_link", lang, url=f"{base_url}/signin/{token}",
                  minutes=_digits(str(signin.SIGNIN_MINUTES), lang))


def _digits(text: str, lang: str) -> str:
    return text if lang == "en" else to_thai_digits(text)


SNOOZE_WORKING_DAYS = 3


def _postback(session: Session, event: LineEvent, secret: str, now: datetime) -> str | None:
    """A reminder's button: snooze (the reader's reminders of that deadline wait three working days) or
    acknowledge; both go into the deadline's history. Data not signed by us, or pressed in a chat not
    bound to the reminder's recipient, does nothing."""
    press = read_postback(secret, event.postback)
    if press is None:
        return None
    bound = next((b for b in bindings_of_chat(session, event.chat_id)
                  if b.org_code == press.org and recipient_tag(b.contact) == press.recipient_hash), None)
    found = session.execute(select(ObligationRow.code, OrganisationRow.language, OrganisationRow.closures)
                            .join(OccurrenceRow, OccurrenceRow.obligation_id == ObligationRow.id)
                            .join(OrganisationRow, OrganisationRow.id == OccurrenceRow.org_id)
                            .where(OccurrenceRow.id == press.occurrence_id,
                                   OrganisationRow.code == press.org)).first()
    if bound is None or found is None:
        return phrase("not_bound")
    code, lang, closures = found
    if press.action == "ack":
        acknowledge(session, bound.org_id, press.occurrence_id, bound.contact, now)
        return button_reply("acknowledged", code, lang)
    calendar = WorkCalendar.with_closures((date.fromisoformat(d), name) for d, name in closures or [])
    until = calendar.add_working_days(now.astimezone(BANGKOK).date(), SNOOZE_WORKING_DAYS)
    snooze(session, bound.org_id, press.occurrence_id, bound.contact, until, now)
    return button_reply("snoozed", code, lang, until)


def _lang(session: Session, org_id: int) -> str:
    return session.scalar(select(OrganisationRow.language).where(OrganisationRow.id == org_id)) or "th"


def _status(session: Session, bound: Bound, now: datetime) -> str:
    today = now.astimezone(BANGKOK).date()
    org, items = org_statuses(session, bound.org_code, today, fiscal_year(today))
    unit = session.scalar(select(ContactRow.unit_code).where(ContactRow.org_id == bound.org_id,
                                                            ContactRow.name == bound.contact))
    units = {unit} if unit else None  # executives and admins see every unit
    return status_reply(org, items, units, bound.contact if unit is None else org.unit(unit).name, org.language)


def _alert_admins(session: Session, bound: Bound, event: str, now: datetime) -> None:
    """Tell the organisation's admins, once per disabling, on every admin destination."""
    name, lang = session.execute(select(OrganisationRow.name, OrganisationRow.language)
                                 .where(OrganisationRow.id == bound.org_id)).one()
    rendered = render_line_disabled(name, bound.org_code, bound.contact, event, lang)
    admins = session.execute(select(ContactRow.name, ContactRow.destinations).where(
        ContactRow.org_id == bound.org_id, ContactRow.kind == "admin")).all()
    enqueue(session, [
        NewMessage(natural_key("alert", "line-disabled", destination_hash(bound.contact), now.isoformat(),
                               destination_hash(f"{admin}|{dest}")),
                   "alert", bound.org_id, admin, dest, rendered.subject, rendered.text, now, rendered.html,
                   rendered.line_text, lang, "alert")
        for admin, dests in admins for dest in dests
        if not (admin == bound.contact and dest == CONNECT_DESTINATION)
    ], now)


def _send_replies(settings: Settings, line: LineChannel, replies: list[tuple[str, str]],
                  api: LineApi | None) -> None:
    """Reply through the channel the events came from (a reply token is only good with its own channel)."""
    if not replies:
        return
    client = api or api_for(settings, line)
    try:
        for token, text in replies:
            try:
                client.reply(token, [text])
            except DeliveryError as exc:  # the binding stands; the person can ask again
                log.warning("LINE reply failed: %s", exc.reason)
    finally:
        if api is None:
            client.close()
