"""Replaying a period on a copy of the data: what would have been sent, when, to whom.

The copy is a temporary SQLite database built with the real migrations and the real configuration
sync. The replay runs the real planning, dispatch and digest code at each moment of each day that
matters (the sending hours of the policy and the digest hour), with a simulated clock, and sends through
a recording notifier. Logged actions are inserted as the clock reaches their date: an action counts from
its date on, so the replay shows the reminders that stopped when the work was logged.
This is also how an admin previews a policy change: edit the file, simulate, read the timeline.
"""

from __future__ import annotations

import tempfile
import time as _time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from config.loader import OrgConfig, load_config
from config.settings import Settings
from jobs import digest, dispatch, plan
from jobs.bundle import urgency
from notifiers.base import Notifier, OutgoingMessage, Receipt
from notifiers.registry import Notifiers, mask_destination
from tracker.domain.errors import ConfigError, NotFoundError
from tracker.domain.model import Action
from tracker.domain.thaidate import BANGKOK, fiscal_year
from tracker.store.db import migrate, open_engine, session_scope
from tracker.store.models import MeasureRow
from tracker.store.outbox_bundles import rows_by_message
from tracker.store.outbox_claims import any_claimable
from tracker.store.repo import record_action, sync_organisation


@dataclass(frozen=True)
class Event:
    at: datetime  # Bangkok
    kind: str  # reminder | digest | alert
    org: str
    measure: str | None
    obligation: str | None
    due: date | None
    stage: str
    recipient: str
    destination: str  # masked
    items: tuple[tuple[str, str, date], ...] = ()  # (obligation, stage, due) of every reminder in the message

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "kind": self.kind, "org": self.org, "measure": self.measure,
                "obligation": self.obligation, "due": self.due.isoformat() if self.due else None,
                "stage": self.stage, "recipient": self.recipient, "destination": self.destination,
                "items": [{"obligation": o, "stage": s, "due": d.isoformat()} for o, s, d in self.items]}


@dataclass
class Simulation:
    org: str
    start: date
    end: date
    events: list[Event] = field(default_factory=list)
    moments: int = 0
    seconds: float = 0.0


class RecordingNotifier(Notifier):
    """Accepts every message and remembers it. Registered only in the simulation's `Notifiers`."""

    scheme: ClassVar[str] = "record"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.sent: list[tuple[str, str]] = []  # (message key, destination)

    def send(self, destination: str, message: OutgoingMessage) -> Receipt:
        self.sent.append((message.key, destination))
        return Receipt(200, f"sim-{len(self.sent)}")


class RecordingNotifiers(Notifiers):
    """Every destination, whatever its scheme, goes to the one recording notifier."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.recorder = RecordingNotifier(settings)

    def for_url(self, url: str) -> Notifier:
        return self.recorder


def org_config(settings: Settings, code: str) -> OrgConfig:
    loaded = load_config(list(settings.config_paths))
    if not loaded.ok:
        raise ConfigError(loaded.errors)
    try:
        return loaded.org(code)
    except KeyError:
        known = ", ".join(o.organisation.code for o in loaded.orgs)
        raise NotFoundError(f"no organisation '{code}' in the configuration files (known: {known})") from None


def moments(cfg: OrgConfig, day: date, digest_hour: time) -> list[datetime]:
    """The instants of `day` at which something can be sent: every sending-hours start of the policy
    (an obligation may override it) and the digest hour."""
    org = cfg.organisation
    hours = {org.policy.send_from, digest_hour} | {ob.policy.send_from for ob in org.obligations()}
    return [datetime.combine(day, h, BANGKOK) for h in sorted(hours)]


def days(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def simulate(settings: Settings, code: str, start: date, end: date, actions: Sequence[Action] | None = None,
             digest_hour: time = time(9, 0), grace_days: int = 3) -> Simulation:
    """Replay [start, end] for organisation `code` as configured in `settings.config_paths`.

    `actions` are the logged actions to honour (default: those written in the configuration file; the
    CLI passes the database's, which include the ones logged with `tracker log`)."""
    began = _time.perf_counter()
    cfg = org_config(settings, code)
    pending = sorted(cfg.actions if actions is None else actions, key=lambda a: a.done_on)
    result = Simulation(code, start, end)
    with tempfile.TemporaryDirectory(prefix="tracker-sim-") as folder:
        engine = scratch_engine(folder)
        try:
            migrate(engine)
            first = datetime.combine(start, time(0), BANGKOK)
            with session_scope(engine) as session:
                sync_organisation(session, replace(cfg, actions=[]), first, through_fy=fiscal_year(end))
            with RecordingNotifiers(replace(settings, env={})) as notifiers:
                _replay(engine, notifiers, cfg, code, start, end, pending, digest_hour, grace_days, result)
        finally:
            engine.dispose()
    result.seconds = _time.perf_counter() - began
    return result


def _replay(engine: Engine, notifiers: RecordingNotifiers, cfg: OrgConfig, code: str, start: date, end: date,
            pending: list[Action], digest_hour: time, grace_days: int, result: Simulation) -> None:
    logged = 0
    for day in days(start, end):
        for index, now in enumerate(moments(cfg, day, digest_hour)):
            with session_scope(engine) as session:
                if index == 0:
                    # An action counts from its date on: it is logged before the day's first moment.
                    while logged < len(pending) and pending[logged].done_on <= day:
                        record_action(session, code, pending[logged], source="simulation",
                                      source_key=f"sim:{logged}", now=now.astimezone(UTC))
                        logged += 1
                    # Planning is by day: once, at the day's first moment, as the minute sweep would.
                    plan.plan(session, now, org=code, grace_days=grace_days)
                digest.run_once(session, now, org=code, hour=digest_hour, grace_days=grace_days)
                due = any_claimable(session, now)
            # The dispatcher claims nothing when nothing is due; not calling it then only saves time.
            if due:
                dispatch.run_once(engine, now, notifiers, owner="simulation", concurrency=1)
            result.moments += 1
            if notifiers.recorder.sent:
                with session_scope(engine) as session:
                    result.events.extend(_events(session, code, now, notifiers.recorder.sent))
                notifiers.recorder.sent.clear()


def scratch_engine(folder: str) -> Engine:
    """A throwaway SQLite database: durability is pointless, so commits skip fsync."""
    engine = open_engine(f"sqlite:///{Path(folder) / 'simulation.sqlite3'}")

    @event.listens_for(engine, "connect")
    def _fast(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()

    return engine


def _events(session: Session, code: str, now: datetime, sent: list[tuple[str, str]]) -> list[Event]:
    """One event per message sent; a bundle (several reminders in one message) lists its items, most
    urgent first, and is described by the first."""
    rows = rows_by_message(session, [key for key, _ in sent])
    measures = _measure_codes(session)
    events = []
    for key, _destination in sent:
        members = sorted(rows[key], key=lambda m: urgency(m[0].stage, m[1]))
        row, due, ob, measure_id = members[0]
        items = tuple((m[2], m[0].stage, m[1]) for m in members if m[2] is not None and m[1] is not None)
        events.append(Event(at=now.astimezone(BANGKOK), kind=row.kind, org=code,
                            measure=measures.get(measure_id) if measure_id else None, obligation=ob,
                            due=due, stage=row.stage or row.kind, recipient=row.recipient,
                            destination=mask_destination(row.destination), items=items))
    return events


def _measure_codes(session: Session) -> dict[int, str]:
    return {m.id: m.code for m in session.scalars(select(MeasureRow))}
