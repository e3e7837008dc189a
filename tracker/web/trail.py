"""The integrity pages: an obligation's full history (actions, withdrawn ones too, and the reminders
sent), withdrawing or correcting an action, the organisation's audit trail, and hand-overs for leave.

Withdraw and correct are open to the action's author, the head of its unit and the admins; a hand-over
to the head of the unit concerned and the admins; the audit trail to the admins.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from notifiers.registry import mask_destination
from tracker.domain.errors import DateParseError, NotFoundError, Problem, TrackerError
from tracker.domain.model import Action, Organisation
from tracker.domain.thaidate import parse_date
from tracker.store import audit
from tracker.store.actions import InvalidAction, correct_action, withdraw_action
from tracker.store.evidence import broken_links, latest_checks
from tracker.store.handovers import create_handover, list_handovers, revoke_handover
from tracker.store.outbox_admin import obligation_messages
from tracker.store.repo import StoredAction, list_actions, load_organisation, org_row
from tracker.web import appctx
from tracker.web.access import require_person
from tracker.web.people import Person
from tracker.web.permits import may_correct, may_hand_over, require_admin

bp = Blueprint("trail", __name__, url_prefix="/trail/<org>")


def _obligation_unit(org: Organisation, code: str) -> str:
    try:
        return org.obligation(code).unit
    except KeyError:
        abort(404)


def _may_read(person: Person, org: Organisation, unit: str) -> bool:
    return person.reads_unit(org.code, org.province, unit)


@bp.get("/obligations/<code>")
def history(org: str, code: str) -> str:
    person = require_person()
    with appctx.session() as session:
        organisation = load_organisation(session, org)
        unit = _obligation_unit(organisation, code)
        if not _may_read(person, organisation, unit):
            abort(403)
        actions = list_actions(session, org, code, include_withdrawn=True)
        checks = latest_checks(session, [a.id for a in actions])
        sent = obligation_messages(session, org_row(session, org).id, code)
        broken = broken_links(session, org_row(session, org).id, code)
    reminders = [(m.stage, m.recipient, mask_destination(m.destination), m.status, m.sent_at or m.send_after,
                  m.period) for m in sent]
    editable = {a.id for a in actions if a.withdrawn is None and may_correct(person, org, unit, a.action.recorded_by)}
    return render_template("trail/history.html", org=organisation, obligation=organisation.obligation(code),
                           actions=actions, checks=checks, reminders=reminders, broken=broken, editable=editable,
                           done=request.args.get("done"))


def _editable_action(org: str, action_id: int) -> tuple[Person, StoredAction]:
    person = require_person()
    with appctx.session() as session:
        organisation = load_organisation(session, org)
        found = [a for a in list_actions(session, org) if a.id == action_id]
    if not found:
        abort(404)
    stored = found[0]
    unit = stored.action.unit or _obligation_unit(organisation, stored.action.obligation)
    if not may_correct(person, org, unit, stored.action.recorded_by):
        abort(403)
    return person, stored


@bp.post("/actions/<int:action_id>/withdraw")
def withdraw(org: str, action_id: int) -> BaseResponse | tuple[str, int]:
    person, stored = _editable_action(org, action_id)
    try:
        with appctx.session() as session:
            withdraw_action(session, org, action_id, appctx.now(), actor=person.name, channel="web",
                            reason=request.form.get("reason", ""))
    except InvalidAction as exc:
        return _refused(org, stored, exc)
    except (NotFoundError, TrackerError):
        abort(409)
    return redirect(url_for("trail.history", org=org, code=stored.action.obligation, done="withdrawn"))


@bp.post("/actions/<int:action_id>/correct")
def correct(org: str, action_id: int) -> BaseResponse | tuple[str, int]:
    person, stored = _editable_action(org, action_id)
    form, a = request.form, stored.action
    try:
        done_on = parse_date(form["done_on"]) if form.get("done_on") else a.done_on
    except DateParseError as exc:
        return _refused(org, stored, InvalidAction([Problem("done_on", str(exc))]))
    evidence = form.get("evidence", a.evidence).strip()
    corrected = Action(a.obligation, done_on, evidence, form.get("note") or a.note, a.recorded_by, None, a.period,
                       a.unit)
    try:
        with appctx.session() as session:
            correct_action(session, org, action_id, corrected, appctx.now(), actor=person.name, channel="web",
                           reason=form.get("reason", ""), prefix="")
    except InvalidAction as exc:
        return _refused(org, stored, exc)
    except (NotFoundError, TrackerError):
        abort(409)
    return redirect(url_for("trail.history", org=org, code=a.obligation, done="corrected"))


def _refused(org: str, stored: StoredAction, exc: InvalidAction) -> tuple[str, int]:
    with appctx.session() as session:
        organisation = load_organisation(session, org)
    return render_template("trail/refused.html", org=organisation, action=stored, problems=exc.problems), 422


@bp.get("/audit")
def audit_page(org: str) -> str:
    require_admin(org)
    before = request.args.get("before", type=int)
    entity = request.args.get("entity") or None
    with appctx.session() as session:
        organisation = load_organisation(session, org)
        entries = audit.entries(session, org_row(session, org).id, entity=entity, before_id=before, limit=100)
    return render_template("trail/audit.html", org=organisation, entries=entries, entity=entity,
                           older=entries[-1].id if len(entries) == 100 else None)


def _handover_choices(org: Organisation, person: Person) -> tuple[list[str], list[str]]:
    """Whose reminders this person may hand over (their units' people; everyone for an admin), and to whom."""
    mine = [c.name for u in org.units for c in u.contacts if may_hand_over(person, org.code, {u.code})]
    everyone = [c.name for u in org.units for c in u.contacts] + [c.name for c in org.executives]
    return list(dict.fromkeys(mine)), list(dict.fromkeys(everyone))


def _units_of(org: Organisation, name: str) -> set[str]:
    return {u.code for u in org.units for c in u.contacts if c.name == name}


@bp.route("/handovers", methods=["GET", "POST"])
def handovers(org: str) -> tuple[str, int]:
    person = require_person()
    with appctx.session() as session:
        organisation = load_organisation(session, org)
    if not may_hand_over(person, org, {u.code for u in organisation.units}):
        abort(403)
    givers, takers = _handover_choices(organisation, person)
    problems = None
    if request.method == "POST":
        name = request.form.get("from_name", "")
        if not may_hand_over(person, org, _units_of(organisation, name)):
            abort(403)
        try:
            starts_on = parse_date(request.form.get("starts_on", ""))
            ends_on = parse_date(request.form.get("ends_on", ""))
            with appctx.session() as session:
                create_handover(session, org, name, request.form.get("to_name", ""), starts_on, ends_on, appctx.now(),
                                actor=person.name, channel="web")
        except DateParseError as exc:
            problems = [Problem("dates", str(exc))]
        except InvalidAction as exc:
            problems = exc.problems
    with appctx.session() as session:
        existing = list_handovers(session, org)
    return render_template("trail/handovers.html", org=organisation, givers=givers, takers=takers,
                           handovers=existing, problems=problems), 422 if problems else 200


@bp.post("/handovers/<int:handover_id>/revoke")
def revoke(org: str, handover_id: int) -> BaseResponse:
    person = require_person()
    with appctx.session() as session:
        organisation = load_organisation(session, org)
        found = [h for h in list_handovers(session, org) if h.id == handover_id]
    if not found:
        abort(404)
    if not may_hand_over(person, org, _units_of(organisation, found[0].from_name)):
        abort(403)
    with appctx.session() as session:
        revoke_handover(session, org, handover_id, appctx.now(), actor=person.name, channel="web")
    return redirect(url_for("trail.handovers", org=org))
