"""Admin pages of one organisation: contacts and delivery health, the outbox (retry), API tokens and
calendar feeds, the progress report download. Views parse and authorise; the same functions as the CLI
do the work (`retry_message` is `tracker outbox retry`, the report is `tracker report`)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from notifiers.registry import mask_destination
from tracker.domain.errors import NotFoundError, TrackerError
from tracker.domain.thaidate import BANGKOK, fiscal_year
from tracker.reports.progress import build_progress
from tracker.reports.render import FORMATS, render
from tracker.store.channel_state import channel_states
from tracker.store.outbox_admin import RETRYABLE, contact_health, org_messages, retry_message
from tracker.store.repo import list_actions, load_organisation, org_row
from tracker.store.secrets_store import create_api_token, create_feed, list_api_tokens, list_feeds, revoke_api_token
from tracker.store.secrets_store import revoke_feed as revoke_feed_row
from tracker.web import appctx
from tracker.web.permits import require_admin

bp = Blueprint("admin", __name__, url_prefix="/admin/<org>")
OUTBOX_VIEWS = ("pending", "failed", "dead", "sent", "skipped", "cancelled")
# Every POST here is checked by the app's CSRFProtect (a missing or wrong token is a 400 page).
MIME = {"tsv": "text/tab-separated-values", "html": "text/html",
        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


@bp.get("/")
def home(org: str) -> str:
    require_admin(org)
    with appctx.session() as session:
        organisation = load_organisation(session, org)
    return render_template("admin/home.html", org=organisation, formats=FORMATS,
                           fy=fiscal_year(appctx.now().astimezone(BANGKOK).date()))


@bp.get("/contacts")
def contacts(org: str) -> str:
    require_admin(org)
    with appctx.session() as session:
        organisation = load_organisation(session, org)
        health = contact_health(session, org_row(session, org).id)
    rows = [(h, mask_destination(h.destination)) for h in health]
    return render_template("admin/contacts.html", org=organisation, rows=rows)


@bp.get("/outbox")
def outbox(org: str) -> str:
    require_admin(org)
    status = request.args.get("status", "pending")
    if status not in OUTBOX_VIEWS:
        abort(400)
    with appctx.session() as session:
        organisation = load_organisation(session, org)
        org_id = org_row(session, org).id
        rows = [(m, mask_destination(m.destination)) for m in org_messages(session, org_id, status)]
        paused = [c for c in channel_states(session, org_id) if c.paused]
    return render_template("admin/outbox.html", org=organisation, rows=rows, status=status, views=OUTBOX_VIEWS,
                           retryable=RETRYABLE, done=request.args.get("done"), paused=paused)


@bp.post("/outbox/<int:message_id>/retry")
def retry(org: str, message_id: int) -> BaseResponse:
    require_admin(org)
    try:
        with appctx.session() as session:
            status = retry_message(session, message_id, org_row(session, org).id).status
    except NotFoundError:
        abort(404)
    except TrackerError:
        abort(409)
    return redirect(url_for("admin.outbox", org=org, status=status, done=message_id))


@bp.get("/report")
def report(org: str) -> Response:
    require_admin(org)
    today = appctx.now().astimezone(BANGKOK).date()
    fy_text = request.args.get("fy") or str(fiscal_year(today))
    round_, fmt = request.args.get("round", "6m"), request.args.get("format", "docx")
    if not fy_text.isdigit() or round_ not in ("6m", "12m") or fmt not in FORMATS:
        abort(400)
    with appctx.session() as session:
        organisation = load_organisation(session, org)
        actions = [s.action for s in list_actions(session, org)]
    progress = build_progress(organisation, actions, int(fy_text), round_, today)
    content = render(progress, fmt)
    response = Response(content, mimetype=MIME[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{org}-{fy_text}-{round_}.{fmt}"'
    return response


@bp.get("/access")
def access(org: str) -> str:
    require_admin(org)
    with appctx.session() as session:
        organisation = load_organisation(session, org)
        tokens = list_api_tokens(session, org)
        feeds = list_feeds(session, org)
    return render_template("admin/access.html", org=organisation, tokens=tokens, feeds=feeds, new_secret=None)


@bp.post("/tokens")
def new_token(org: str) -> str:
    person = require_admin(org)
    with appctx.session() as session:
        _, secret = create_api_token(session, org, request.form.get("name", "").strip(), appctx.now(),
                                     actor=person.name, channel="web")
    return _shown_once(org, ("token", secret))


@bp.post("/feeds")
def new_feed(org: str) -> str:
    person = require_admin(org)
    try:
        with appctx.session() as session:
            _, secret = create_feed(session, org, request.form.get("unit") or None, appctx.now(), actor=person.name,
                                    channel="web")
    except TrackerError:
        abort(400)
    return _shown_once(org, ("feed", url_for("feeds.feed", token=secret, _external=True)))


def _shown_once(org: str, secret: tuple[str, str]) -> str:
    """The access page with a new secret shown once (never stored in plain, never shown again)."""
    with appctx.session() as session:
        organisation = load_organisation(session, org)
        tokens, feeds = list_api_tokens(session, org), list_feeds(session, org)
    return render_template("admin/access.html", org=organisation, tokens=tokens, feeds=feeds, new_secret=secret)


@bp.post("/tokens/<int:token_id>/revoke")
def revoke_token(org: str, token_id: int) -> BaseResponse:
    person = require_admin(org)
    try:
        with appctx.session() as session:
            revoke_api_token(session, org, token_id, appctx.now(), actor=person.name, channel="web")
    except NotFoundError:
        abort(404)
    return redirect(url_for("admin.access", org=org))


@bp.post("/feeds/<int:feed_id>/revoke")
def revoke_feed(org: str, feed_id: int) -> BaseResponse:
    person = require_admin(org)
    try:
        with appctx.session() as session:
            revoke_feed_row(session, org, feed_id, appctx.now(), actor=person.name, channel="web")
    except NotFoundError:
        abort(404)
    return redirect(url_for("admin.access", org=org))
