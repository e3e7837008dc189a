"""The JSON API under /api/v1: organisations, occurrences, actions (list, create), outbox (list).

A caller presents `Authorization: Bearer <token>` (`tracker api-token create --org …`); a token opens its
own organisation only. Views parse and authorise; the status comes from the same query as `tracker
status`, and an action is recorded by the same function as `tracker log`. Errors are problem details.
CSRF does not apply: nothing here reads a cookie.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, Response, g, jsonify, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from notifiers.registry import mask_destination
from tracker.domain.errors import DateParseError, NotFoundError, Problem
from tracker.domain.model import Action
from tracker.domain.status import Status
from tracker.domain.thaidate import BANGKOK, fiscal_year, parse_date
from tracker.store.actions import InvalidAction, log_action
from tracker.store.models import ActionRow, ObligationRow, OrganisationRow, UnitRow
from tracker.store.outbox_admin import org_messages
from tracker.store.repo import StoredAction, list_actions, org_row, stored_action
from tracker.store.secrets_store import authenticate_api_token
from tracker.store.status_query import org_statuses, status_rows
from tracker.web import appctx, orgcache
from tracker.web.openapi import document
from tracker.web.problems import problem

bp = Blueprint("api", __name__, url_prefix="/api/v1")
View = TypeVar("View", bound=Callable[..., Any])
OUTBOX_STATUSES = ("pending", "leased", "sent", "failed", "dead", "skipped", "cancelled")
ACTION_FIELDS = {"obligation", "date", "evidence", "note", "by", "period", "unit"}


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    return problem(exc.code or 500, exc.description or exc.name)


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(document(request.host_url.rstrip("/") + bp.url_prefix))  # type: ignore[operator]


def token_required(view: View) -> View:
    """Authenticate the bearer token, and refuse an organisation other than the token's own."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return problem(401, "send the header 'Authorization: Bearer <token>' (tracker api-token create --org …)")
        with appctx.session() as session:
            found = authenticate_api_token(session, token.strip(), appctx.now())
        if found is None:
            return problem(401, "this token is unknown or was revoked: ask an admin for a new one")
        g.api_org_id, g.api_org = found
        org = kwargs.get("org")
        if org is not None and org != g.api_org:
            return problem(403, f"this token opens organisation '{g.api_org}' only, not '{org}'")
        return view(*args, **kwargs)
    return cast(View, wrapper)


def _org_json(row: OrganisationRow, units: list[UnitRow]) -> dict[str, Any]:
    return {"code": row.code, "name": row.name, "district": row.district, "province": row.province,
            "fiscal_year": row.fiscal_year, "units": [{"code": u.code, "name": u.name} for u in units]}


def _organisation(code: str) -> dict[str, Any]:
    with appctx.session() as session:
        row = org_row(session, code)
        units = list(session.scalars(select(UnitRow).where(UnitRow.org_id == row.id, UnitRow.active.is_(True))
                                     .order_by(UnitRow.position)))
        return _org_json(row, units)


@bp.get("/organisations")
@token_required
def organisations() -> Response:
    return jsonify({"organisations": [_organisation(g.api_org)]})


@bp.get("/organisations/<org>")
@token_required
def organisation(org: str) -> Response:
    return jsonify(_organisation(org))


def _date_param(name: str, default: date) -> date:
    text = request.args.get(name)
    return default if text is None else parse_date(text)


@bp.get("/organisations/<org>/occurrences")
@token_required
def occurrences(org: str) -> Response:
    try:
        as_of = _date_param("as_of", appctx.now().astimezone(BANGKOK).date())
    except DateParseError as exc:
        return problem(400, str(exc), [Problem("as_of", str(exc))])
    fy_text = request.args.get("fiscal_year", str(fiscal_year(as_of)))
    status = request.args.get("status")
    if not fy_text.isdigit() or not 2400 < int(fy_text) < 2700:
        return problem(400, f"fiscal_year '{fy_text}' is not a B.E. year such as 2566",
                       [Problem("fiscal_year", "a B.E. year, e.g. 2566")])
    if status is not None and status not in {s.value for s in Status}:
        return problem(400, f"unknown status '{status}'",
                       [Problem("status", "one of " + ", ".join(s.value for s in Status))])
    with appctx.session() as session:
        organisation, items = org_statuses(session, org, as_of, int(fy_text))
    unit = request.args.get("unit")
    if unit is not None and unit not in {u.code for u in organisation.units}:
        return problem(400, f"no unit '{unit}' in {org}",
                       [Problem("unit", "one of " + ", ".join(u.code for u in organisation.units))])
    rows = [r for r in status_rows(organisation, items)
            if (unit is None or r["unit"] == unit) and (status is None or r["status"] == status)]
    return jsonify({"org": org, "as_of": as_of.isoformat(), "fiscal_year": int(fy_text), "occurrences": rows})


def action_json(stored: StoredAction) -> dict[str, Any]:
    a, w = stored.action, stored.withdrawn
    return {"id": stored.id, "obligation": a.obligation, "date": a.done_on.isoformat(), "evidence": a.evidence or None,
            "note": a.note, "recorded_by": a.recorded_by,
            "recorded_at": a.recorded_at.isoformat() if a.recorded_at else None, "period": a.period, "unit": a.unit,
            "channel": stored.source, "corrects": stored.corrects_id,
            "withdrawn": None if w is None else {"at": w.at.isoformat(), "by": w.by, "channel": w.channel,
                                                 "reason": w.reason}}


@bp.get("/organisations/<org>/actions")
@token_required
def actions(org: str) -> Response:
    include = request.args.get("include_withdrawn", "false").lower() in ("1", "true", "yes")
    with appctx.session() as session:
        found = list_actions(session, org, request.args.get("obligation"), include_withdrawn=include)
    return jsonify({"org": org, "actions": [action_json(s) for s in found]})


def _action_from(body: dict[str, Any]) -> tuple[Action | None, list[Problem]]:
    problems = [Problem(k, "unknown field: use " + ", ".join(sorted(ACTION_FIELDS))) for k in body
                if k not in ACTION_FIELDS]
    problems += [Problem(k, "must be a string") for k, v in body.items()
                 if k in ACTION_FIELDS and v is not None and not isinstance(v, str)]
    for required in ("obligation", "date"):
        if not body.get(required):
            problems.append(Problem(required, "required"))
    if problems:
        return None, problems
    try:
        done_on = parse_date(body["date"])
    except DateParseError as exc:
        return None, [Problem("date", str(exc))]
    return Action(body["obligation"], done_on, body.get("evidence") or "", body.get("note") or "",
                  body.get("by") or "", None, body.get("period"), body.get("unit")), []


def _stored(session: Session, action_id: int) -> StoredAction:
    """Action `action_id` as the list shows it (read alone: the obligation may have hundreds)."""
    row, code = session.execute(select(ActionRow, ObligationRow.code)
                                .join(ObligationRow, ActionRow.obligation_id == ObligationRow.id)
                                .where(ActionRow.id == action_id)).one()
    return stored_action(row, code)


@bp.post("/organisations/<org>/actions")
@token_required
def create_action(org: str) -> Response | tuple[Response, int, dict[str, str]]:
    body = request.get_json(silent=True)
    if not request.is_json:
        return problem(415, "send the action as JSON (Content-Type: application/json)")
    if not isinstance(body, dict):
        return problem(400, "the body must be a JSON object")
    action, problems = _action_from(body)
    if action is None:
        return problem(422, "the action was not recorded", problems)
    try:
        with appctx.session() as session:
            action_id = log_action(session, org, action, channel="api", now=appctx.now(), prefix="",
                                   org=orgcache.organisation(session, org))
    except InvalidAction as exc:
        return problem(422, "the action was not recorded", exc.problems)
    with appctx.session() as session:  # read after the commit: the write (and SQLite's lock) ends sooner
        stored = _stored(session, action_id)
    location = url_for("api.actions", org=org, obligation=action.obligation)
    return jsonify(action_json(stored)), 201, {"Location": location}


@bp.get("/organisations/<org>/outbox")
@token_required
def outbox(org: str) -> Response:
    status = request.args.get("status")
    if status is not None and status not in OUTBOX_STATUSES:
        return problem(400, f"unknown status '{status}'", [Problem("status", "one of " + ", ".join(OUTBOX_STATUSES))])
    limit_text = request.args.get("limit", "100")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= 1000:
        return problem(400, "limit must be 1–1000", [Problem("limit", "an integer from 1 to 1000")])
    with appctx.session() as session:
        rows = [{"id": m.id, "kind": m.kind, "status": m.status, "stage": m.stage, "obligation": m.obligation,
                 "period": m.period, "recipient": m.recipient, "destination": mask_destination(m.destination),
                 "send_after": m.send_after.isoformat(), "attempts": m.attempts,
                 "sent_at": m.sent_at.isoformat() if m.sent_at else None, "last_error": m.last_error,
                 "skip_reason": m.skip_reason}
                for m in org_messages(session, g.api_org_id, status, int(limit_text))]
    return jsonify({"org": org, "messages": rows})


@bp.errorhandler(NotFoundError)
def _not_found(exc: NotFoundError) -> Response:
    return problem(404, str(exc))
