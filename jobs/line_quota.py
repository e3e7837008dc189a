"""LINE's monthly message quota, checked before pushing: read per channel, alert at 80 %, and when it is
spent, never push — each message goes by the recipient's other destination or waits, visibly.

LINE counts every push against the channel's monthly quota and refuses beyond it (429 "You have reached
your monthly limit"). So before a run pushes through a channel, the quota and the month's consumption
(`GET /v2/bot/message/quota`, `/quota/consumption`) are read — at most once every QUOTA_CACHE_SECONDS per
channel, the reading kept in the `line_quota` table, with this service's pushes counted on top until
the next reading. A channel at 80 % tells the admins once a month (the month is recorded on the channel,
and the alert's natural key holds channel and month: never again across runs or restarts). A spent
channel sends nothing: a reminder whose recipient has it by another destination too (their e-mail row
for the same deadline and stage) is `skipped` naming it; any other message stays `pending`, not
costing an attempt, with the reason in `last_error`, and is tried again at the next reading. Nothing is
lost, and nothing is sent twice: no row is added or copied.

LINE counts a push to a group or room once per member, so that is what a push costs here: the group's
size is asked of LINE once per run (`GET /v2/bot/group/{id}/members/count`), and a push that would
overrun the month is not tried.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from jobs.bundle import Bundle
from jobs.outcomes import Outcome
from notifiers.base import DeliveryError
from notifiers.line import parse_line_destination, quota_spent
from notifiers.registry import mask_destination
from tracker.domain.errors import SettingsError
from tracker.domain.model import LineChannel
from tracker.domain.thaidate import BANGKOK
from tracker.messages.line_chat import render_quota_alert
from tracker.store import line_quota
from tracker.store.line_quota import Usage
from tracker.store.models import ContactRow, OrganisationRow
from tracker.store.outbox import NewMessage, destination_hash, enqueue, natural_key
from tracker.store.outbox_claims import defer, set_aside

log = logging.getLogger(__name__)
QuotaReader = Callable[[str], tuple[int | None, int]]  # token variable → (monthly quota or None, used)
MembersReader = Callable[[str, str], int]  # (token variable, chat ID) → the people a push to it reaches
QUOTA_CACHE_SECONDS = 600.0  # LINE's quota and consumption are read again after ten minutes
ALERT_SHARE = 0.8


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class QuotaGate:
    """One dispatch run's view of its LINE channels' quotas (used from the run's main thread)."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings, owner: str,
                 reader: QuotaReader | None, members: MembersReader | None = None) -> None:
        """`reader(token_env)` asks LINE for (quota, used); None (a sender that only records) checks nothing.
        `members(token_env, chat)` asks the size of a group (None: every push costs one)."""
        self.factory, self.settings, self.owner, self.reader = factory, settings, owner, reader
        self.members = members
        self.sizes: dict[tuple[str, str], int] = {}  # (channel, chat) → members, asked once per run
        self.known: dict[str, Usage | None] = {}
        self.channels: dict[int, LineChannel] = {}  # organisation id → the channel its LINE messages took

    def admit(self, claimed: list[Bundle], now: datetime) -> tuple[list[Bundle], Counter[str]]:
        """The bundles that may go now; those of a spent channel are set aside (skipped: carried by
        another destination) or held (pending), counted by status."""
        kept: list[Bundle] = []
        statuses: Counter[str] = Counter()
        pushes: Counter[str] = Counter()
        orgs: dict[str, set[int]] = {}
        for b in claimed:
            if self.reader is None or b.line is None or not self._has_token(b.line):
                kept.append(b)
                continue
            self.channels[b.lead.org_id] = b.line
            use = self._usage(b.line, now)
            cost = self._cost(b.line, b.lead.destination) if use is not None and use.quota is not None else 1
            if use is not None and (use.exhausted or (use.quota is not None and use.used + cost > use.quota)):
                statuses.update(self._spent(b, use, now, cost))
                continue
            if use is not None:
                self.known[b.line.channel] = replace(use, used=use.used + cost)
                pushes[b.line.channel] += cost
                orgs.setdefault(b.line.channel, set()).add(b.lead.org_id)
            kept.append(b)
        if pushes:
            with self.factory.begin() as session:
                for channel, count in pushes.items():
                    line_quota.add_used(session, channel, count)
                    self._maybe_alert(session, channel, orgs[channel], now)
        return kept, statuses

    def observe(self, outcomes: list[Outcome], now: datetime) -> None:
        """A push LINE refused for the monthly limit marks its channel spent until the next reading."""
        spent = {self.channels[o.claimed.org_id].channel for o in outcomes
                 if o.error is not None and o.claimed.org_id in self.channels
                 and quota_spent(o.error.provider_status, o.error.reason)}
        if spent:
            with self.factory.begin() as session:
                for channel in spent:
                    line_quota.mark_spent(session, channel, now)
                    self.known[channel] = line_quota.usage(session, channel)

    # ---------------------------------------------------------------- inside

    def _has_token(self, line: LineChannel) -> bool:
        try:
            return bool(self.settings.secret(line.token_env))
        except SettingsError:
            return False  # the send itself reports it (a channel failure naming the variable)

    def _cost(self, line: LineChannel, destination: str) -> int:
        """What a push to `destination` costs: 1 for a user, the members of a group or room (1 when LINE
        cannot say: the push itself will then tell, with LINE's 429, if the month is spent)."""
        try:
            chat = parse_line_destination(destination)
        except DeliveryError:  # malformed: the send refuses it, for good, and LINE counts nothing
            return 1
        if self.members is None or chat[:1] not in ("C", "R"):
            return 1
        key = (line.channel, chat)
        if key not in self.sizes:
            try:
                self.sizes[key] = self.members(line.token_env, chat)
            except DeliveryError as exc:
                log.warning("size of LINE %s not read: %s", mask_destination(destination), exc.reason)
                self.sizes[key] = 1
        return self.sizes[key]

    def _usage(self, line: LineChannel, now: datetime) -> Usage | None:
        """The channel's month: this run's view, else the stored reading while fresh, else LINE's answer
        now (stored). None when LINE cannot say and nothing is stored: the push itself will tell."""
        if line.channel in self.known:
            return self.known[line.channel]
        with self.factory() as session:
            stored = line_quota.usage(session, line.channel)
        if stored is not None and now - _aware(stored.checked_at) < timedelta(seconds=QUOTA_CACHE_SECONDS):
            self.known[line.channel] = stored
            return stored
        assert self.reader is not None
        try:
            quota, used = self.reader(line.token_env)
        except DeliveryError as exc:
            log.warning("LINE quota of channel '%s' not read: %s", line.channel or "default", exc.reason)
            self.known[line.channel] = stored
            return stored
        with self.factory.begin() as session:
            self.known[line.channel] = line_quota.store_reading(session, line.channel, quota, used, now)
        return self.known[line.channel]

    def _spent(self, b: Bundle, use: Usage, now: datetime, cost: int = 1) -> Counter[str]:
        """Set the bundle aside: each member goes by another destination (skipped here) or waits."""
        counts: Counter[str] = Counter()
        spent = f"LINE monthly quota of {_name(use.channel)} used up ({use.used:,} of {use.quota:,})"
        if not use.exhausted:  # some left, but not enough for everyone in this group
            spent = (f"LINE monthly quota of {_name(use.channel)} too low for this group ({use.used:,} of"
                     f" {use.quota:,} used; LINE counts this push {cost:,} times, once per member)")
        with self.factory.begin() as session:
            for m in b.members:
                elsewhere = line_quota.carried_elsewhere(session, m.id)
                if elsewhere is not None:
                    set_aside(session, m.id, self.owner, f"{spent}: sent by {mask_destination(elsewhere)} instead")
                    counts["skipped"] += 1
                else:
                    until = now + timedelta(seconds=QUOTA_CACHE_SECONDS)
                    defer(session, [m.id], self.owner, until, f"held: {spent}; sent when the quota allows"
                          " (checked every 10 minutes); no other destination carries it")
                    counts["pending"] += 1
        return counts

    def _maybe_alert(self, session: Session, channel: str, org_ids: set[int], now: datetime) -> None:
        use = self.known.get(channel)
        if use is None or not use.quota or use.used < ALERT_SHARE * use.quota:
            return
        month = now.astimezone(BANGKOK).strftime("%Y-%m")
        if not line_quota.claim_alert(session, channel, month):
            return
        for org_id in sorted(org_ids):
            _alert_admins(session, org_id, channel, month, use, now)


def _name(channel: str) -> str:
    return f"channel '{channel}'" if channel else "the global channel"


def _alert_admins(session: Session, org_id: int, channel: str, month: str, use: Usage, now: datetime) -> None:
    org_name, lang = session.execute(select(OrganisationRow.name, OrganisationRow.language)
                                     .where(OrganisationRow.id == org_id)).one()
    assert use.quota
    rendered = render_quota_alert(org_name, channel, use.used, use.quota, lang)
    admins = session.execute(select(ContactRow.name, ContactRow.destinations).where(
        ContactRow.org_id == org_id, ContactRow.kind == "admin")).all()
    enqueue(session, [
        NewMessage(natural_key("alert", "line-quota", channel or "-", month, destination_hash(f"{name}|{dest}")),
                   "alert", org_id, name, dest, rendered.subject, rendered.text, now, rendered.html,
                   rendered.line_text, lang, "alert")
        for name, dests in admins for dest in dests
    ], now)


