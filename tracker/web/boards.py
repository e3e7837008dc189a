"""Boards: the organisation's status board (filters: unit, status, fiscal year, round), a unit's page,
an obligation's page, and the province/national overview.

Every number comes from `organisation_statuses` (what `tracker status` prints; the actions read as plain
rows by `web.statuses`) or, for the overview, from
the occurrences' stored `done_on` (the same attribution, materialised by `refresh_done`), judged on the
same day. Every page checks the signed-in person's scope: a unit's people see their unit's deadlines only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from tracker.domain.errors import NotFoundError
from tracker.domain.model import Obligation, Organisation
from tracker.domain.status import OccurrenceStatus, Status, is_due_today
from tracker.domain.thaidate import fiscal_year
from tracker.store.evidence import broken_links
from tracker.store.models import ActionRow, ObligationRow
from tracker.store.repo import org_row
from tracker.store.web_models import EvidenceFileRow
from tracker.web import appctx, board_rows, deadline, orgcache, overview, statuses
from tracker.web.access import person, require_person
from tracker.web.action_form import ActionForm, submit
from tracker.web.i18n import day, digits, status_label, t
from tracker.web.officer import send_stored
from tracker.web.people import Person

bp = Blueprint("boards", __name__)

ROUNDS = ("6m", "12m")  # 6m: deadlines from October to March (the six-month report); 12m: April to September


@bp.get("/")
def home() -> str | Response:
    who = person()
    if who is not None and len(who.orgs()) == 1 and not who.is_viewer:
        return redirect(url_for("boards.org_board", org=who.orgs()[0]))
    return render_template("boards/home.html", who=who)


@dataclass(frozen=True)
class Filters:
    unit: str | None
    status: str | None
    fy: int
    round: str | None


def _filters(org: Organisation, today: date) -> Filters:
    unit = request.args.get("unit") or None
    status = request.args.get("status") or None
    rnd = request.args.get("round") or None
    try:
        fy = int(request.args.get("fy") or fiscal_year(today))
    except ValueError:
        abort(400)
    bad_fy = fy < org.fiscal_year or fy > max(fiscal_year(today), org.fiscal_year)
    bad_unit = unit is not None and unit not in {u.code for u in org.units}
    bad_status = status is not None and status not in {s.value for s in Status}
    if bad_fy or bad_unit or bad_status or (rnd is not None and rnd not in ROUNDS):
        abort(400)
    return Filters(unit, status, fy, rnd)


def _in_round(item: OccurrenceStatus, rnd: str | None) -> bool:
    if rnd is None:
        return True
    first_half = item.occurrence.due.month in (10, 11, 12, 1, 2, 3)
    return first_half if rnd == "6m" else not first_half


def _loaded(who: Person, org_code: str) -> tuple[orgcache.Loaded, set[str]]:
    """The organisation (with its row's id and cache key) and the units `who` may read in it (404
    unknown, 403 not theirs)."""
    with appctx.session() as session:
        try:
            found = orgcache.loaded(session, org_code)
        except NotFoundError:
            abort(404)
    org = found.org
    if not who.reads_org(org_code, org.province):
        abort(403)
    return found, {u.code for u in org.units if who.reads_unit(org_code, org.province, u.code)}


def _scope(who: Person, org_code: str) -> tuple[Organisation, set[str]]:
    """The organisation and the units `who` may read in it (404 unknown, 403 not theirs)."""
    found, readable = _loaded(who, org_code)
    return found.org, readable


DUE_TODAY = "due_today"  # the summary's own badge for the rows that read "ครบกำหนดวันนี้"


def _board(org_code: str, unit: str | None) -> str:
    who = require_person()
    found, readable = _loaded(who, org_code)
    org = found.org
    if unit is not None and unit not in readable:
        abort(403 if unit in {u.code for u in org.units} else 404)
    today = appctx.today()
    f = _filters(org, today)
    if unit is not None:
        f = Filters(unit, f.status, f.fy, f.round)
    if f.unit is not None and f.unit not in readable:
        abort(403)
    with appctx.session() as session:
        items = statuses.statuses_of(session, found, today, f.fy)
    obligations = {ob.code: ob for ob in org.obligations()}
    mine = [i for i in items if obligations[i.occurrence.obligation].unit in readable]
    counts: dict[str, int] = {}
    for item in mine:  # counted as the rows read: "ครบกำหนดวันนี้" apart from the other soon-due items
        key = DUE_TODAY if is_due_today(item) else item.status.value
        counts[key] = counts.get(key, 0) + 1
    shown = [i for i in mine if (f.unit is None or obligations[i.occurrence.obligation].unit == f.unit)
             and (f.status is None or i.status.value == f.status) and _in_round(i, f.round)]
    units = {u.code: u.name for u in org.units}
    rows = board_rows.rows(org, found.key, f.fy, shown, obligations, units)
    return render_template("boards/org.html", org=org, rows=rows, counts=counts, f=f, units=units,
                           readable=readable, today=today, statuses=list(Status),
                           years=range(org.fiscal_year, max(fiscal_year(today), org.fiscal_year) + 1),
                           unit_page=unit)


@bp.get("/o/<org>")
def org_board(org: str) -> str:
    return _board(org, None)


@bp.get("/o/<org>/u/<unit>")
def unit_page(org: str, unit: str) -> str:
    return _board(org, unit)


@bp.get("/o/<org>/d/<int:occurrence>")
def deadline_page(org: str, occurrence: int) -> str:
    """One deadline: the facts, the status, the history (the obligation page of one round)."""
    who = require_person()
    _, readable = _scope(who, org)
    with appctx.session() as session:
        found = deadline.load(session, org, occurrence, appctx.today())
    if found is None:
        abort(404)
    if found.obligation.unit not in readable:
        abort(403)
    return render_template("boards/deadline.html", d=found,
                           file_url=lambda f: url_for("boards.evidence_file", org=org, file_id=f.id))


@bp.route("/o/<org>/ob/<code>", methods=["GET", "POST"])
def obligation_page(org: str, code: str) -> Response | tuple[str, int]:
    """An obligation: each of its deadlines this fiscal year with its status, broken evidence links, and
    for whoever may write the unit's actions (its officers and head, the admins) the action form: the
    same form and function as the action link's page (and `tracker log`). Anyone else's POST gets 403."""
    who = require_person()
    found, readable = _loaded(who, org)
    organisation = found.org
    try:
        ob = organisation.obligation(code)
    except KeyError:
        abort(404)
    if ob.unit not in readable:
        abort(403)
    writer = who.writes_unit(org, ob.unit)
    if request.method == "POST" and not writer:
        abort(403)
    today = appctx.today()
    f = _filters(organisation, today)
    form = ActionForm()
    if request.method == "POST":
        recorded = _record(form, who, found, ob, today, f.fy)
        if recorded is not None:
            return recorded
    with appctx.session() as session:
        items = statuses.statuses_of(session, found, today, f.fy, code)
        ids = overview.occurrence_ids(session, org, code, f.fy)
        broken = broken_links(session, found.id, code)
    if request.method == "GET":
        # The first deadline not yet done, else the latest: what an officer most likely logs.
        todo = [i for i in items if i.status not in (Status.DONE, Status.LATE)] or items[-1:]
        form.period.data = todo[0].occurrence.period if todo else None
    rows = [(i, ids.get(i.occurrence.period)) for i in items]
    due = t("กำหนด", "due")
    choices = [(i.occurrence.period, f"{digits(i.occurrence.period)} · {due} {day(i.occurrence.due, 'short')}"
                                     f" · {status_label(i.status)}") for i in items]
    status = 400 if request.method == "POST" else 200
    return render_template("boards/obligation.html", org=organisation, ob=ob, rows=rows, f=f,
                           measure=organisation.measure(ob.measure), broken=broken, writer=writer, form=form,
                           periods=choices, errors=getattr(form, "errors_by_field", {}),
                           today_text=day(today, "short"),
                           unit_name=next((u.name for u in organisation.units if u.code == ob.unit), ob.unit)), status


def _record(form: ActionForm, who: Person, found: orgcache.Loaded, ob: Obligation, today: date,
            fy: int) -> Response | None:
    """Record the posted action (a redirect to the page with the confirmation), or None with the form's
    errors filled (nothing written)."""
    if not form.validate_on_submit():  # checks the CSRF token
        form.errors_by_field = {}
        return None
    with appctx.session() as session:
        org = found.org
        periods = {i.occurrence.period for i in statuses.statuses_of(session, found, today, fy, ob.code)}
        if form.period.data not in periods:
            form.errors_by_field = {"period": [t("โปรดเลือกรอบจากรายการ", "Choose a period from the list")]}
            return None
        form.name.data = who.name  # the signed-in person records, under their own name
        done = submit(form, session, appctx.settings().data_dir, org=org.code, obligation=ob.code,
                      period=form.period.data, evidence_required=ob.evidence_required, today=today, now=appctx.now())
    if done is None:
        return None
    flash(t(f"บันทึกผลแล้ว: รอบ {digits(form.period.data)} ดำเนินการเมื่อ {day(done.done_on)}",
            f"Recorded: period {form.period.data}, done on {day(done.done_on)}"), "done")
    return redirect(url_for("boards.obligation_page", org=org.code, code=ob.code, fy=fy))


@bp.get("/o/<org>/files/<int:file_id>")
def evidence_file(org: str, file_id: int) -> Response:
    """An evidence file, for a signed-in reader of its unit."""
    who = require_person()
    _, readable = _scope(who, org)
    with appctx.session() as session:
        row = session.get(EvidenceFileRow, file_id)
        action = session.get(ActionRow, row.action_id) if row is not None else None
        ob = session.get(ObligationRow, action.obligation_id) if action is not None else None
        if row is None or ob is None or row.org_id != org_row(session, org).id:
            abort(404)
        if ob.unit_code not in readable:
            abort(403)
    return send_stored(row)


@bp.get("/overview")
def overview_page() -> str:
    """Completion and overdue per organisation, worst first, for province and national viewers."""
    who = require_person()
    today = appctx.today()
    try:
        page = max(1, int(request.args.get("page", "1")))
        fy = int(request.args.get("fy") or fiscal_year(today))
    except ValueError:
        abort(400)
    provinces = None if any(g.role == "national" for g in who.grants) else {
        g.province for g in who.grants if g.role == "province" and g.province}
    orgs = set(who.orgs())
    if not who.is_viewer and not orgs:
        abort(403)

    def compute() -> overview.Computed:
        with appctx.session() as session:
            return overview.Computed(appctx.now(), overview.rows(session, fy, today, provinces, orgs))

    key = (fy, today, None if provinces is None else frozenset(provinces), frozenset(orgs))
    found = _overview_cache().get(key, compute)
    rows, per = found.rows, overview.PAGE_SIZE
    return render_template("boards/overview.html", rows=rows[(page - 1) * per: page * per], page=page,
                           pages=max(1, -(-len(rows) // per)), total=len(rows), fy=fy, today=today,
                           computed_at=found.at)


def _overview_cache() -> overview.OverviewCache:
    """The app's overview cache, in the data folder's `cache/` (shared by the app's worker processes)."""
    found: overview.OverviewCache = current_app.extensions.setdefault("tracker_overview", overview.OverviewCache(
        appctx.settings().data_dir / "cache",
        current_app.config.get("TRACKER_OVERVIEW_SECONDS", overview.CACHE_SECONDS)))
    return found
