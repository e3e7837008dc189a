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

A reminder planned after its recipient's message of the day went out by that destination does not make a
second message: it waits for the next working day's send hour and goes in that day's message. Rows are
never added or merged into a bundle already sent, so never-sent-twice is untouched.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.outcomes import Outcome, message_of
from tracker.domain.line_webhook import postback_data
from tracker.domain.model import LineChannel
from tracker.domain.reminders import replaced_days
from tracker.domain.thaidate import BANGKOK, to_thai_digits
from tracker.domain.workdays import WorkCalendar
from tracker.messages.line_chat import item_due, item_headline
from tracker.messages.outgoing import OutgoingMessage, ReminderItem
from tracker.messages.render import replaced_text
from tracker.store.models import OrganisationRow
from tracker.store.outbox_bundles import Facts, bundle_facts, sent_earlier_today, set_bundle_key
from tracker.store.outbox_claims import Claimed, defer, set_aside
from tracker.store.repo import policy_from_json
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
    groups = _one_a_day(session, groups, owner, today)
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


WAIT_REASON = ("waits for the next working day's message: this recipient already had a reminder message"
               " by this destination today (one message a day)")


def _one_a_day(session: Session, groups: dict[tuple[str, ...], list[Claimed]], owner: str,
               today: date) -> dict[tuple[str, ...], list[Claimed]]:
    """The groups that may go today. A new group whose recipient and destination already had their message
    today (planned after it went: a file edited at noon, a hand-over, a catch-up) is not a second message:
    it waits, pending without costing an attempt, until the next working day's send hour, where it joins
    that day's message. A group already given a bundle key (a retry of a message) always goes, and does
    not hold back a new group claimed with it (a message delayed by a failure is not today's message)."""
    new = [c.id for (origin, *_), members in groups.items() if origin == "new" for c in members]
    start = datetime.combine(today, time(0), tzinfo=BANGKOK)
    early = sent_earlier_today(session, new, owner, start, start + timedelta(days=1))
    if not early:
        return groups
    kept: dict[tuple[str, ...], list[Claimed]] = {}
    for key, members in groups.items():
        if key[0] == "new" and any(m.id in early for m in members):
            defer(session, [m.id for m in members], owner, _next_send(session, members[0].org_id, today),
                  WAIT_REASON)
        else:
            kept[key] = members
    return kept


def _next_send(session: Session, org_id: int, today: date) -> datetime:
    """The organisation's next working day after `today`, at its `send_from`."""
    policy, closures = session.execute(select(OrganisationRow.policy, OrganisationRow.closures)
                                       .where(OrganisationRow.id == org_id)).one()
    calendar = WorkCalendar.with_closures((date.fromisoformat(d), name) for d, name in closures or [])
    day = calendar.next_working_day(today + timedelta(days=1))
    return datetime.combine(day, policy_from_json(policy).send_from, tzinfo=BANGKOK)


def _item(f: Facts, claimed: Claimed, today: date, secret: str | None) -> ReminderItem:
    due = f.due or today
    snooze = ack = ""
    if secret and f.occurrence_id is not None:
        ack = postback_data(secret, "ack", f.org, f.occurrence_id, claimed.recipient)
        if not f.stage.startswith("escalation"):  # escalations are never snoozed
            snooze = postback_data(secret, "snooze", f.org, f.occurrence_id, claimed.recipient)
    return ReminderItem(f.obligation, f.title, f.stage, item_headline(f.stage, due, today, claimed.lang),
                        item_due(due, claimed.lang), _url(claimed), snooze, ack,
                        replaced_text(replaced_days(f.merged_stages), claimed.lang))


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
