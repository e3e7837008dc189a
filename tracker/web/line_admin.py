"""LINE on the web: the organisation's LINE page for its admins (who is connected, masked; the channel's
monthly quota) and one-time connect codes, issued from the admin pages for any `line:connect` contact and
from an officer's signed page for their own contact. Codes come from `jobs.line_connect.connect_code`, the
function `tracker line-connect` calls; views only parse, authorise and show."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, render_template, request
from werkzeug.wrappers import Response

from jobs.line_connect import ConnectCode, connect_code
from notifiers.registry import mask_destination
from tracker.store.line_links import NotConnectable, list_bindings
from tracker.store.line_quota import usage_of_org
from tracker.store.links import LinkRefused
from tracker.store.repo import load_organisation
from tracker.web import appctx
from tracker.web.i18n import moment
from tracker.web.officer import _claim, _refused
from tracker.web.permits import require_admin

bp = Blueprint("line_admin", __name__)
bp.register_error_handler(LinkRefused, _refused)  # a tampered or revoked link: the officer page's answer


@bp.app_template_filter("bangkok")
def bangkok(value: datetime) -> str:
    """A stored instant as Bangkok wall time, as the other admin pages write it (stored naive values are UTC)."""
    return moment(value if value.tzinfo is not None else value.replace(tzinfo=UTC))


@bp.app_template_global()
def line_status(org: str, contact: str) -> str | None:
    """`connected`, `disabled` or `not connected` for a `line:connect` contact; None for anyone else."""
    with appctx.session() as session:
        return next((b.status for b in list_bindings(session, org) if b.contact == contact), None)


def _page(org: str, issued: tuple[str, ConnectCode] | None = None, status: int = 200) -> tuple[str, int]:
    with appctx.session() as session:
        organisation = load_organisation(session, org)
        found = list_bindings(session, org)
        channel, quota = usage_of_org(session, org)
    rows = [(b, mask_destination(f"line://{b.chat_id}") if b.chat_id else "") for b in found]
    return render_template("line/admin.html", org=organisation, rows=rows, issued=issued, channel=channel,
                           quota=quota), status


@bp.get("/admin/<org>/line")
def bindings(org: str) -> tuple[str, int]:
    require_admin(org)
    return _page(org)


@bp.post("/admin/<org>/line/connect")
def admin_code(org: str) -> tuple[str, int]:
    person = require_admin(org)
    contact = request.form.get("contact", "")
    try:
        issued = connect_code(appctx.engine(), appctx.settings(), org, contact, appctx.now(), actor=person.name,
                              via="web")
    except NotConnectable:
        abort(400)
    return _page(org, (contact, issued))


@bp.post("/a/<token>/line")
def officer_code(token: str) -> Response | str:
    """The holder of a reminder's signed link asks a code for their own contact (and no one else's)."""
    claim = _claim(token)
    try:
        issued = connect_code(appctx.engine(), appctx.settings(), claim.org, claim.contact, appctx.now(),
                              actor=claim.contact, via="web")
    except NotConnectable:
        abort(400)
    return render_template("line/code.html", contact=claim.contact, issued=issued, back=token)
