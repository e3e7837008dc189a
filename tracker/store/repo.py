"""Reading and writing the domain through the database: configuration sync, actions, occurrences."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config.model import OrgConfig
from tracker.domain.errors import NotFoundError
from tracker.domain.model import (
    Action,
    Contact,
    LineChannel,
    Measure,
    Obligation,
    Organisation,
    ReminderPolicy,
    Unit,
)
from tracker.domain.rules import Occurrence, rule_from_dict
from tracker.domain.status import attribute_actions
from tracker.store import audit
from tracker.store.models import (
    ActionRow,
    ContactAddressRow,
    ContactRow,
    MeasureRow,
    ObligationRow,
    OccurrenceRow,
    OrganisationRow,
    UnitRow,
    address_key,
)

# ---------------------------------------------------------------- policy codec


def policy_to_json(policy: ReminderPolicy) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(policy):
        value = getattr(policy, f.name)
        out[f.name] = value.strftime("%H:%M") if isinstance(value, time) else (
            list(value) if isinstance(value, tuple) else value
        )
    return out


def policy_from_json(data: dict[str, Any]) -> ReminderPolicy:
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("send_from", "send_until"):
            hour, minute = str(value).split(":")
            values[key] = time(int(hour), int(minute))
        elif isinstance(value, list):
            values[key] = tuple(value)
        else:
            values[key] = value
    return ReminderPolicy().merged(values)


# ---------------------------------------------------------------- sync


@dataclass
class SyncReport:
    organisation: str
    created: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    updated: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    deactivated: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    kept_actions: int = 0

    def summary(self) -> str:
        def fmt(counts: dict[str, int]) -> str:
            return ", ".join(f"{v} {k}" for k, v in sorted(counts.items()) if v) or "nothing"
        return (f"{self.organisation}: created {fmt(self.created)}; updated {fmt(self.updated)};"
                f" deactivated {fmt(self.deactivated)}")


def config_hash(cfg: OrgConfig) -> str:
    payload = json.dumps([asdict(cfg.organisation), [asdict(a) for a in cfg.actions]], default=str,
                         sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def sync_organisation(session: Session, cfg: OrgConfig, now: datetime, through_fy: int | None = None) -> SyncReport:
    """Load one organisation's configuration into the database, idempotently, keyed by codes.

    What changed is updated; what vanished is marked inactive; logged actions are never deleted.
    Occurrences are materialised from the configured fiscal year through `through_fy`.
    """
    org = cfg.organisation
    report = SyncReport(org.code)
    row = session.scalar(select(OrganisationRow).where(OrganisationRow.code == org.code))
    values = dict(name=org.name, district=org.district, province=org.province, fiscal_year=org.fiscal_year,
                  language=org.language, policy=policy_to_json(org.policy),
                  closures=[[d.isoformat(), name] for d, name in org.closures], source=str(cfg.source),
                  config_hash=config_hash(cfg),
                  line_channel=None if org.line is None else {"token_env": org.line.token_env,
                                                              "secret_env": org.line.secret_env,
                                                              "basic_id": org.line.basic_id})
    if row is None:
        row = OrganisationRow(code=org.code, updated_at=now, **values)
        session.add(row)
        session.flush()
        report.created["organisation"] += 1
    elif _assign(row, values):
        row.updated_at = now
        report.updated["organisation"] += 1
    _sync_units(session, row, org, report)
    _sync_contacts(session, row, org)
    obligation_ids = _sync_measures(session, row, org, report)
    _sync_config_actions(session, row, cfg.actions, obligation_ids, now, report)
    session.flush()
    last_fy = max(org.fiscal_year, through_fy or org.fiscal_year)
    for fy in range(org.fiscal_year, last_fy + 1):
        ensure_occurrences(session, row.id, org, fy, report)
    refresh_done(session, row.id)
    return report


def _assign(row: Any, values: dict[str, Any]) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    return changed


def _sync_units(session: Session, org_row: OrganisationRow, org: Organisation, report: SyncReport) -> None:
    existing = {u.code: u for u in session.scalars(select(UnitRow).where(UnitRow.org_id == org_row.id))}
    for position, unit in enumerate(org.units):
        values = dict(name=unit.name, position=position, active=True)
        if unit.code not in existing:
            session.add(UnitRow(org_id=org_row.id, code=unit.code, **values))
            report.created["units"] += 1
        elif _assign(existing[unit.code], values):
            report.updated["units"] += 1
    for code, row in existing.items():
        if code not in {u.code for u in org.units} and row.active:
            row.active = False
            report.deactivated["units"] += 1


def _sync_contacts(session: Session, org_row: OrganisationRow, org: Organisation) -> None:
    wanted: list[tuple[str, str | None, Contact]] = [("unit", u.code, c) for u in org.units for c in u.contacts]
    wanted += [("executive", None, c) for c in org.executives] + [("admin", None, c) for c in org.admins]
    org_row.recipients_cached = False  # the planner works out their recipients again (jobs.plan_recipients)
    org_row.contacts = [
        ContactRow(org_id=org_row.id, kind=kind, unit_code=unit, name=c.name, role=c.role, title=c.title,
                   destinations=list(c.destinations), position=i,
                   addresses=[ContactAddressRow(address=a) for a in dict.fromkeys(map(address_key, c.destinations))])
        for i, (kind, unit, c) in enumerate(wanted)
    ]


def _sync_measures(session: Session, org_row: OrganisationRow, org: Organisation,
                   report: SyncReport) -> dict[str, int]:
    measures = {m.code: m for m in session.scalars(select(MeasureRow).where(MeasureRow.org_id == org_row.id))}
    obligations = {o.code: o for o in session.scalars(
        select(ObligationRow).where(ObligationRow.org_id == org_row.id))}
    seen_m, seen_o = set(), set()
    for mpos, measure in enumerate(org.measures):
        seen_m.add(measure.code)
        mvalues = dict(title=measure.title, unit_code=measure.unit, oit=measure.oit, steps=list(measure.steps),
                       position=mpos, active=True)
        mrow = measures.get(measure.code)
        if mrow is None:
            mrow = MeasureRow(org_id=org_row.id, code=measure.code, **mvalues)
            session.add(mrow)
            session.flush()
            report.created["measures"] += 1
        elif _assign(mrow, mvalues):
            report.updated["measures"] += 1
        for opos, ob in enumerate(measure.obligations):
            seen_o.add(ob.code)
            ovalues = dict(measure_id=mrow.id, title=ob.title, unit_code=ob.unit,
                           rule=ob.rule.to_dict() if ob.rule else None, policy=policy_to_json(ob.policy),
                           done_when=ob.done_when, evidence_required=ob.evidence_required, position=opos,
                           active=True)
            orow = obligations.get(ob.code)
            if orow is None:
                orow = ObligationRow(org_id=org_row.id, code=ob.code, **ovalues)
                session.add(orow)
                obligations[ob.code] = orow
                report.created["obligations"] += 1
            elif _assign(orow, ovalues):
                report.updated["obligations"] += 1
    for code, mrow in measures.items():
        if code not in seen_m and mrow.active:
            mrow.active = False
            report.deactivated["measures"] += 1
    for code, orow in obligations.items():
        if code not in seen_o and orow.active:
            orow.active = False
            report.deactivated["obligations"] += 1
    session.flush()
    return {code: row.id for code, row in obligations.items()}


def _sync_config_actions(session: Session, org_row: OrganisationRow, actions: Sequence[Action],
                         obligation_ids: dict[str, int], now: datetime, report: SyncReport) -> None:
    """Actions written in the configuration file are keyed by (obligation, n-th of that obligation), so
    that correcting a date in the file corrects the row instead of adding a second one."""
    existing = {a.source_key: a for a in session.scalars(
        select(ActionRow).where(ActionRow.org_id == org_row.id, ActionRow.source == "config"))}
    ordinal: dict[str, int] = defaultdict(int)
    seen = set()
    for action in actions:
        ordinal[action.obligation] += 1
        key = f"config:{action.obligation}:{ordinal[action.obligation]}"
        seen.add(key)
        values = dict(obligation_id=obligation_ids[action.obligation], done_on=action.done_on,
                      evidence=action.evidence, note=action.note, recorded_by=action.recorded_by or "config",
                      period=action.period, unit_code=action.unit)
        row = existing.get(key)
        if row is None:
            session.add(ActionRow(org_id=org_row.id, source="config", source_key=key, recorded_at=now, **values))
            report.created["actions"] += 1
        elif _assign(row, values):
            report.updated["actions"] += 1
    report.kept_actions = len(set(existing) - seen)


# ---------------------------------------------------------------- occurrences


def ensure_occurrences(session: Session, org_id: int, org: Organisation, fy: int,
                       report: SyncReport | None = None) -> int:
    """Materialise fiscal year `fy`'s occurrences of every active obligation. Returns how many were new."""
    rows = {r.code: r for r in session.scalars(
        select(ObligationRow).where(ObligationRow.org_id == org_id))}
    existing = {(o.obligation_id, o.period): o for o in session.scalars(
        select(OccurrenceRow).where(OccurrenceRow.org_id == org_id, OccurrenceRow.fiscal_year == fy))}
    calendar = org.calendar
    wanted: set[tuple[int, str]] = set()
    created = 0
    for ob in org.obligations():
        ob_id = rows[ob.code].id
        for occ in ob.occurrences(fy, calendar):
            wanted.add((ob_id, occ.period))
            row = existing.get((ob_id, occ.period))
            if row is None:
                session.add(OccurrenceRow(org_id=org_id, obligation_id=ob_id, fiscal_year=fy, period=occ.period,
                                          window_start=occ.window_start, due=occ.due, active=True))
                created += 1
            else:
                changed = _assign(row, dict(window_start=occ.window_start, due=occ.due, active=True))
                if changed and report is not None:
                    report.updated["occurrences"] += 1
    for key, row in existing.items():
        if key not in wanted and row.active:
            row.active = False
            if report is not None:
                report.deactivated["occurrences"] += 1
    if report is not None:
        report.created["occurrences"] += created
    session.flush()
    return created


def refresh_done(session: Session, org_id: int, obligation_ids: Iterable[int] | None = None) -> None:
    """Recompute each occurrence's `done_on` (first attributed action) from the actions."""
    occ_query = select(OccurrenceRow).where(OccurrenceRow.org_id == org_id, OccurrenceRow.active.is_(True))
    act_query = select(ActionRow).where(ActionRow.org_id == org_id, ActionRow.withdrawn_at.is_(None))
    if obligation_ids is not None:
        ids = list(obligation_ids)
        occ_query = occ_query.where(OccurrenceRow.obligation_id.in_(ids))
        act_query = act_query.where(ActionRow.obligation_id.in_(ids))
    occ_rows = list(session.scalars(occ_query))
    by_key = {Occurrence(str(r.obligation_id), r.period, r.window_start, r.due): r for r in occ_rows}
    actions = [Action(str(a.obligation_id), a.done_on, period=a.period) for a in session.scalars(act_query)]
    for occ, acts in attribute_actions(by_key, actions).items():
        first = min((a.done_on for a in acts), default=None)
        if by_key[occ].done_on != first:
            by_key[occ].done_on = first


# ---------------------------------------------------------------- reading


def org_row(session: Session, code: str) -> OrganisationRow:
    row = session.scalar(select(OrganisationRow).where(OrganisationRow.code == code))
    if row is None:
        known = ", ".join(org_codes(session)) or "none yet: run `tracker sync`"
        raise NotFoundError(f"no organisation '{code}' in the database (known: {known})")
    return row


def org_codes(session: Session) -> list[str]:
    return list(session.scalars(select(OrganisationRow.code).order_by(OrganisationRow.code)))


def first_fiscal_year(session: Session, code: str | None = None) -> int | None:
    """The earliest configured fiscal year of organisation `code` (of every one when None); None when
    there is none. Raises NotFoundError for an unknown code."""
    if code is not None:
        return org_row(session, code).fiscal_year
    return session.scalar(select(func.min(OrganisationRow.fiscal_year)))


def load_organisation(session: Session, code: str) -> Organisation:
    """The organisation as last synced, with its active measures and obligations."""
    row = org_row(session, code)
    contacts = list(session.scalars(select(ContactRow).where(ContactRow.org_id == row.id)
                                    .order_by(ContactRow.position)))

    def people(kind: str, unit: str | None = None) -> tuple[Contact, ...]:
        return tuple(Contact(c.name, c.role, tuple(c.destinations), c.title) for c in contacts
                     if c.kind == kind and c.unit_code == unit)

    units = tuple(Unit(u.code, u.name, people("unit", u.code)) for u in session.scalars(
        select(UnitRow).where(UnitRow.org_id == row.id, UnitRow.active.is_(True)).order_by(UnitRow.position)))
    # Every active obligation in one query (not one per measure), grouped by measure in position order.
    by_measure: dict[int, list[ObligationRow]] = {}
    for o in session.scalars(select(ObligationRow).where(ObligationRow.org_id == row.id, ObligationRow.active.is_(True))
                             .order_by(ObligationRow.position, ObligationRow.id)):
        by_measure.setdefault(o.measure_id, []).append(o)
    measures = []
    for m in session.scalars(select(MeasureRow).where(MeasureRow.org_id == row.id, MeasureRow.active.is_(True))
                             .order_by(MeasureRow.position)):
        obs = tuple(
            Obligation(o.code, o.title, m.code, o.unit_code, rule_from_dict(o.rule) if o.rule else None,
                       policy_from_json(o.policy), o.done_when, o.evidence_required)
            for o in by_measure.get(m.id, [])
        )
        measures.append(Measure(m.code, m.title, m.unit_code, m.oit, tuple(m.steps), obs))
    return Organisation(
        code=row.code, name=row.name, district=row.district, province=row.province, fiscal_year=row.fiscal_year,
        units=units, executives=people("executive"), admins=people("admin"), measures=tuple(measures),
        closures=tuple((date.fromisoformat(d), name) for d, name in row.closures),
        policy=policy_from_json(row.policy), language=row.language, line=line_channel_of(row),
    )


def line_channel_of(row: OrganisationRow) -> LineChannel | None:
    """The organisation's own LINE channel as its file configured it, or None (the global channel)."""
    return line_channel_from(row.code, row.line_channel)


def line_channel_from(code: str, found: dict[str, Any] | None) -> LineChannel | None:
    """The LINE channel of organisation `code` from its `line_channel` column's value."""
    if not found:
        return None
    return LineChannel(code, str(found["token_env"]), str(found["secret_env"]), str(found.get("basic_id", "")))


@dataclass(frozen=True)
class Withdrawal:
    """Who withdrew an action, when, through which channel, and why."""

    at: datetime
    by: str
    channel: str
    reason: str


@dataclass(frozen=True)
class StoredAction:
    id: int
    action: Action
    source: str
    withdrawn: Withdrawal | None = None
    corrects_id: int | None = None


def stored_action(row: ActionRow, obligation_code: str) -> StoredAction:
    withdrawn = (Withdrawal(row.withdrawn_at, row.withdrawn_by, row.withdrawn_channel, row.withdrawn_reason)
                 if row.withdrawn_at is not None else None)
    return StoredAction(row.id, Action(obligation_code, row.done_on, row.evidence, row.note, row.recorded_by,
                                       row.recorded_at, row.period, row.unit_code), row.source, withdrawn,
                        row.corrects_id)


def list_actions(session: Session, code: str, obligation: str | None = None,
                 include_withdrawn: bool = False) -> list[StoredAction]:
    """The organisation's actions; withdrawn ones only when asked (the history shows them, status never)."""
    row = org_row(session, code)
    query = (select(ActionRow, ObligationRow.code).join(ObligationRow, ActionRow.obligation_id == ObligationRow.id)
             .where(ActionRow.org_id == row.id).order_by(ActionRow.done_on, ActionRow.id))
    if not include_withdrawn:
        query = query.where(ActionRow.withdrawn_at.is_(None))
    if obligation is not None:
        query = query.where(ObligationRow.code == obligation)
    return [stored_action(a, ob_code) for a, ob_code in session.execute(query)]


def record_action(session: Session, code: str, action: Action, source: str = "cli",
                  source_key: str | None = None, now: datetime | None = None) -> bool:
    """Log an action. Returns False (and adds nothing) when `source_key` was already recorded.

    Marks the occurrence it serves as done, which stops its pending reminders.
    """
    return add_action(session, code, action, source, source_key, now) is not None


def add_action(session: Session, code: str, action: Action, source: str = "cli", source_key: str | None = None,
               now: datetime | None = None, corrects_id: int | None = None) -> int | None:
    """`record_action`, returning the new action's id (None when `source_key` was already recorded).
    Every action a person logs (any channel but the configuration file and simulations) is audited."""
    row = org_row(session, code)
    ob = session.scalar(select(ObligationRow).where(ObligationRow.org_id == row.id,
                                                    ObligationRow.code == action.obligation))
    if ob is None:
        raise NotFoundError(f"no obligation '{action.obligation}' in organisation '{code}':"
                            " see `tracker status` for the codes")
    if source_key is not None and session.scalar(select(ActionRow.id).where(
            ActionRow.org_id == row.id, ActionRow.source_key == source_key)) is not None:
        return None
    recorded_at = action.recorded_at or now or datetime.now(UTC)
    added = ActionRow(org_id=row.id, obligation_id=ob.id, done_on=action.done_on, evidence=action.evidence,
                      note=action.note, recorded_by=action.recorded_by, recorded_at=recorded_at,
                      period=action.period, unit_code=action.unit, source=source, source_key=source_key,
                      corrects_id=corrects_id)
    session.add(added)
    session.flush()
    if source in audit.CHANNELS:
        audit.record(session, row.id, recorded_at, actor=action.recorded_by, channel=source, entity="action",
                     entity_id=added.id, change="corrected" if corrects_id else "created",
                     detail={"obligation": action.obligation, "done_on": action.done_on.isoformat(),
                             "evidence": action.evidence, "period": action.period, "corrects": corrects_id})
    refresh_done(session, row.id, [ob.id])
    return added.id


def stored_occurrences(session: Session, code: str, fy: int) -> list[Occurrence]:
    """The active occurrences of fiscal year `fy` as materialised in the database."""
    row = org_row(session, code)
    query = (select(OccurrenceRow, ObligationRow.code)
             .join(ObligationRow, OccurrenceRow.obligation_id == ObligationRow.id)
             .where(OccurrenceRow.org_id == row.id, OccurrenceRow.fiscal_year == fy,
                    OccurrenceRow.active.is_(True), ObligationRow.active.is_(True)))
    return [Occurrence(ob_code, o.period, o.window_start, o.due) for o, ob_code in session.execute(query)]

