"""One message a day per person and channel: the reminders claimed together for the same recipient and
destination go out as one bundle, most urgent first.

Planning still writes one outbox row per deadline and stage (its natural key, its history, its
cancellation when the work is logged). Bundling happens at claim time: the claim is widened to every
other due reminder of the same recipient and destination, and the rows get a `bundle_key` in the same
transaction. That key is derived from the members' own keys and is kept: a dispatcher that dies after
sending and is replaced sends the very same bundle with the same provider idempotency key (LINE answers
409), so the never-sent-twice guarantee holds for the bundle. A deadline logged done before the claim is
cancelled and never joins; an empty bundle cannot exist. A lone reminder is sent exactly as before,
under its own key.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy.orm import Session

from jobs.outcomes import Outcome, message_of
from tracker.domain.line_webhook import postback_data
from tracker.domain.model import LineChannel
from tracker.domain.thaidate import to_thai_digits
from tracker.messages.line_chat import item_due, item_headline
from tracker.messages.outgoing import OutgoingMessage, ReminderItem
from tracker.store.outbox_bundles import Facts, bundle_facts, set_bundle_key
from tracker.store.outbox_claims import Claimed, set_aside
from tracker.store.snoozes import snoozed_until

URGENCY = ("escalation", "overdue", "due", "before")  # stage kinds, most urgent first
SEPARATOR = "\n\n— — —\n\n"
KEY_LIMIT = 200  # outbox.key and bundle_key are VARCHAR(200)


@dataclass(frozen=True)
class Bundle:
    """What one send carries: `lead` (the bundle's key, destination, combined texts) for `members`."""

    lead: Claimed
    members: tuple[Claimed, ...]
    items: tuple[ReminderItem, ...] = ()
    line: LineChannel | None = None  # the LINE channel it goes through (LINE destinations only)

    @property
    def message(self) -> OutgoingMessage:
        token_env = self.line.token_env if self.line is not None and self.line.channel else ""
        return replace(message_of(self.lead), items=self.items, line_token_env=token_env)


def urgency(stage: str, due: date | None) -> tuple[int, date]:
    """Sort key: escalations, then overdue, due today, before; earlier deadlines first."""
    kind = stage.split(":")[0].split("-")[0]
    rank = URGENCY.index(kind) if kind in URGENCY else len(URGENCY)
    return rank, due or date.max


def bundles(session: Session, claimed: list[Claimed], owner: str, today: date,
            postback_secret: str | Mapping[int, str | None] | None = None) -> list[Bundle]:
    """Group claimed reminders by recipient and destination (or by the bundle they were already given),
    record each group's bundle key, and build its combined message; LINE bundles get their items (with
    signed postbacks when `postback_secret` is set: one secret, or one per organisation id, since each
    channel verifies its own). Reminders the recipient snoozed from LINE are set
    aside (escalations never are). Other kinds go alone."""
    reminders = [c for c in claimed if c.kind == "reminder"]
    facts = bundle_facts(session, [c.id for c in reminders])
    snoozed = snoozed_until(session, {(f.occurrence_id, c.recipient) for c in reminders
                                      if (f := facts[c.id]).occurrence_id is not None}, today)
    groups: dict[tuple[str, ...], list[Claimed]] = defaultdict(list)
    for c in reminders:
        f = facts[c.id]
        until = snoozed.get((f.occurrence_id or 0, c.recipient))
        if until is not None and not f.stage.startswith("escalation") and not f.bundle_key:
            set_aside(session, c.id, owner, f"snoozed from LINE until {until.isoformat()}")
            continue
        groups[("kept", f.bundle_key) if f.bundle_key else ("new", str(c.org_id), c.recipient, c.destination)].append(c)
    out = [Bundle(c, (c,)) for c in claimed if c.kind != "reminder"]
    for (origin, *_), members in groups.items():
        members.sort(key=lambda c: urgency(facts[c.id].stage, facts[c.id].due))
        key = str(facts[members[0].id].bundle_key) if origin == "kept" else bundle_key(members)
        if origin == "new":
            set_bundle_key(session, [m.id for m in members], key, owner)
        secret = postback_secret.get(members[0].org_id) if isinstance(postback_secret, Mapping) else postback_secret
        items = (tuple(_item(facts[m.id], m, today, secret) for m in members)
                 if members[0].destination.startswith("line") else ())
        out.append(Bundle(combined(members, key), tuple(members), items))
    return out


def _item(f: Facts, claimed: Claimed, today: date, secret: str | None) -> ReminderItem:
    due = f.due or today
    snooze = ack = ""
    if secret and f.occurrence_id is not None:
        ack = postback_data(secret, "ack", f.org, f.occurrence_id, claimed.recipient)
        if not f.stage.startswith("escalation"):  # escalations are never snoozed
            snooze = postback_data(secret, "snooze", f.org, f.occurrence_id, claimed.recipient)
    return ReminderItem(f.obligation, f.title, f.stage, item_headline(f.stage, due, today, claimed.lang),
                        item_due(due, claimed.lang), _url(claimed), snooze, ack)


def _url(claimed: Claimed) -> str:
    """The signed action link the renderer put in the LINE text (the web app's), if any."""
    text = claimed.line_text or ""
    start = text.find("https://") if "https://" in text else text.find("http://")
    return text[start:].split()[0] if start >= 0 else ""


def bundle_key(members: list[Claimed]) -> str:
    """A lone reminder keeps its own key; a bundle's key is derived from its members' keys."""
    if len(members) == 1:
        return members[0].key
    digest = hashlib.sha256("\n".join(sorted(m.key for m in members)).encode()).hexdigest()[:32]
    return f"bundle:{members[0].org_id}:{digest}"


def combined(members: list[Claimed], key: str) -> Claimed:
    """The bundle as one message: every member's text, most urgent first (the order given)."""
    if len(members) == 1:
        return members[0]
    first = members[0]
    english = first.lang == "en"
    count = str(len(members)) if english else to_thai_digits(str(len(members)))
    subject = f"[{count} reminders] {first.subject}" if english else f"[แจ้งเตือน {count} รายการ] {first.subject}"
    html = "<hr>".join(m.html or "" for m in members) if all(m.html for m in members) else None
    line = "\n\n".join(m.line_text if m.line_text is not None else m.text for m in members)
    return replace(first, key=key, subject=subject, text=SEPARATOR.join(m.text for m in members), html=html,
                   line_text=line)


def expand(outcome: Outcome, bundle: Bundle) -> list[Outcome]:
    """The outcome of a bundle's send, recorded on each of its rows."""
    return [replace(outcome, claimed=m) for m in bundle.members]
