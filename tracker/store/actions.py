"""Logging, withdrawing and correcting actions: the one path every channel takes (CLI, web, API, LINE).

An action logged by mistake is never deleted. Withdrawing marks it (who, when, channel, why) and takes
it out of every status; correcting withdraws it and records the corrected action, which names the one
it replaces. Both stay in the obligation's history and in the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.errors import NotFoundError, Problem, TrackerError
from tracker.domain.model import Action, Organisation
from tracker.domain.thaidate import BANGKOK, fiscal_year, untracked_day
from tracker.store import audit
from tracker.store.models import ActionRow, ObligationRow
from tracker.store.repo import StoredAction, add_action, load_organisation, org_row, refresh_done, stored_action


class InvalidAction(TrackerError):
    """The action cannot be recorded as given; `problems` says every reason, by field."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def check_action(org: Organisation, action: Action, prefix: str = "--", today: date | None = None) -> list[Problem]:
    """Every reason `action` cannot be recorded for `org`. `prefix` names the fields as the caller's
    person knows them (`--obligation` on the command line, `obligation` in the API). Given `today`, a day
    far from the years tracked (2099-01-01, 1/1/2400), or after today, is refused too."""
    problems = []
    if today is not None and (why := untracked_day(action.done_on, org.fiscal_year, today)):
        problems.append(Problem(f"{prefix}date", why))
    elif today is not None and action.done_on > today:
        problems.append(Problem(f"{prefix}date", f"{action.done_on.isoformat()} is after today ({today.isoformat()}):"
                                                 " record an action once it is done, with the day it was done"))
    try:
        ob = org.obligation(action.obligation)
    except KeyError:
        codes = ", ".join(o.code for o in org.obligations())
        return [Problem(f"{prefix}obligation",
                        f"no obligation '{action.obligation}' in {org.code}: use one of {codes}")]
    if action.unit is not None and action.unit not in {u.code for u in org.units}:
        problems.append(Problem(f"{prefix}unit", f"no unit '{action.unit}' in {org.code}"))
    if action.evidence and not action.evidence.startswith(("http://", "https://")):
        problems.append(Problem(f"{prefix}evidence", "the evidence must be a web link starting with https://"))
    if action.period is not None:
        periods = {o.period for fy in (org.fiscal_year, fiscal_year(action.done_on))
                   for o in ob.occurrences(fy, org.calendar)}
        if action.period not in periods:
            problems.append(Problem(f"{prefix}period", f"no period '{action.period}' for {ob.code}: use one of "
                                    + ", ".join(sorted(periods))))
    return problems


def log_action(session: Session, org_code: str, action: Action, *, channel: str, now: datetime,
               prefix: str = "--", org: Organisation | None = None) -> int:
    """Check and record one action (what `tracker log` does); returns its id. Raises InvalidAction.
    `org` is organisation `org_code` as its caller already loaded it (the web caches it), else it is read."""
    if org is None or org.code != org_code:
        org = load_organisation(session, org_code)
    problems = check_action(org, action, prefix, today=now.astimezone(BANGKOK).date())
    if problems:
        raise InvalidAction(problems)
    action_id = add_action(session, org_code, replace(action, recorded_at=action.recorded_at or now), channel,
                           now=now)
    assert action_id is not None  # no source key: never a duplicate
    return action_id


@dataclass(frozen=True)
class Target:
    row: ActionRow
    obligation: str
    org_id: int


def _target(session: Session, org_code: str, action_id: int) -> Target:
    org = org_row(session, org_code)
    found = session.execute(select(ActionRow, ObligationRow.code)
                            .join(ObligationRow, ActionRow.obligation_id == ObligationRow.id)
                            .where(ActionRow.id == action_id, ActionRow.org_id == org.id)).first()
    if found is None:
        raise NotFoundError(f"no action {action_id} in '{org_code}': see `tracker actions --org {org_code}`")
    row, code = found
    if row.withdrawn_at is not None:
        raise TrackerError(f"action {action_id} was already withdrawn on {row.withdrawn_at:%Y-%m-%d %H:%M} UTC"
                           f" by {row.withdrawn_by or 'someone'}: nothing to do")
    return Target(row, code, org.id)


def _withdraw(session: Session, target: Target, now: datetime, actor: str, channel: str, reason: str) -> None:
    row = target.row
    row.withdrawn_at, row.withdrawn_by, row.withdrawn_channel, row.withdrawn_reason = now, actor, channel, reason
    session.flush()


def withdraw_action(session: Session, org_code: str, action_id: int, now: datetime, *, actor: str, channel: str,
                    reason: str) -> StoredAction:
    """Withdraw an action logged by mistake; its deadline is judged again without it."""
    if not reason.strip():
        raise InvalidAction([Problem("reason", "say why the action is withdrawn (the history shows it)")])
    target = _target(session, org_code, action_id)
    _withdraw(session, target, now, actor, channel, reason)
    audit.record(session, target.org_id, now, actor=actor, channel=channel, entity="action", entity_id=action_id,
                 change="withdrawn", detail={"obligation": target.obligation, "reason": reason,
                                             "done_on": target.row.done_on.isoformat()})
    refresh_done(session, target.org_id, [target.row.obligation_id])
    return stored_action(target.row, target.obligation)


def correct_action(session: Session, org_code: str, action_id: int, corrected: Action, now: datetime, *,
                   actor: str, channel: str, reason: str, prefix: str = "--") -> int:
    """Replace an action by a corrected one (same obligation unless the correction names another).
    The old one is withdrawn, the new one names it; returns the new action's id."""
    target = _target(session, org_code, action_id)
    problems = check_action(load_organisation(session, org_code), corrected, prefix,
                            today=now.astimezone(BANGKOK).date())
    if not reason.strip():
        problems.append(Problem("reason", "say what was wrong (the history shows it)"))
    if problems:
        raise InvalidAction(problems)
    _withdraw(session, target, now, actor, channel, f"corrected: {reason}")
    new_id = add_action(session, org_code, replace(corrected, recorded_by=actor or corrected.recorded_by,
                                                   recorded_at=now), channel, now=now, corrects_id=action_id)
    assert new_id is not None
    refresh_done(session, target.org_id, [target.row.obligation_id])
    return new_id
