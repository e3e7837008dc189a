"""The page each reminder links to: one deadline, for one recipient, through a signed link.

GET only reads (LINE and mail clients open links to preview them). POST, with the form's CSRF token,
records the action through `store.actions.log_action` (what `tracker log` does), stops the reminders not
yet sent, and redirects to the page, which then shows the confirmation and the new status.
A tampered, expired or revoked link gets a page in Thai saying what to do.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from werkzeug.wrappers import Response

from tracker.store.links import ActionLinks, LinkClaim, LinkRefused, check_revoked
from tracker.store.models import ActionRow
from tracker.store.web_models import EvidenceFileRow
from tracker.web import appctx, deadline, uploads
from tracker.web.action_form import ActionForm, submit
from tracker.web.errors import error_page
from tracker.web.i18n import day, t

bp = Blueprint("officer", __name__, url_prefix="/a")


def _links() -> ActionLinks:
    return ActionLinks.from_settings(appctx.settings())


def _refused(exc: LinkRefused) -> tuple[str, int]:
    ask = t("โปรดเปิดลิงก์จากข้อความแจ้งเตือนฉบับล่าสุด หรือติดต่อผู้ดูแลระบบของหน่วยงานให้ส่งลิงก์ใหม่",
            "Open the link in your latest reminder, or ask your organisation's admin for a new one.")
    if exc.reason == "expired" and exc.claim is not None:
        return error_page(410, t("ลิงก์นี้หมดอายุแล้ว", "This link has expired"),
                          t(f"ลิงก์ใช้ได้ถึงวันที่ {day(exc.claim.expires_at.date())} ", "") + ask)
    if exc.reason == "revoked":
        return error_page(410, t("ลิงก์นี้ถูกยกเลิกแล้ว", "This link was revoked"),
                          t("ผู้ดูแลระบบได้ยกเลิกลิงก์ของท่าน ", "Your admin revoked your links. ") + ask)
    return error_page(403, t("ลิงก์ไม่ถูกต้อง", "This link is not valid"),
                      t("ลิงก์อาจถูกคัดลอกมาไม่ครบหรือถูกแก้ไข ", "The link may be cut short or altered. ") + ask)


def _claim(token: str) -> LinkClaim:
    claim = _links().read(token, appctx.now())
    with appctx.session() as session:
        check_revoked(session, claim)
    return claim


@bp.errorhandler(LinkRefused)
def _on_refused(exc: LinkRefused) -> tuple[str, int]:
    return _refused(exc)


@bp.route("/<token>", methods=["GET", "POST"])
def page(token: str) -> Response | str | tuple[str, int]:
    claim = _claim(token)
    form = ActionForm()
    with appctx.session() as session:
        found = deadline.load(session, claim.org, claim.occurrence_id, appctx.today())
        if found is None:
            abort(404)
        if request.method == "POST" and form.validate_on_submit():  # validate_on_submit checks CSRF
            done = submit(form, session, appctx.settings().data_dir, org=claim.org, obligation=found.obligation.code,
                          period=found.status.occurrence.period, evidence_required=found.obligation.evidence_required,
                          today=appctx.today(), now=appctx.now())
            if done is not None:
                flash(t(f"บันทึกผลแล้ว: ดำเนินการเมื่อ {day(done.done_on)} ระบบหยุดแจ้งเตือนรายการนี้แล้ว",
                        f"Recorded: done on {day(done.done_on)}. The reminders of this deadline have stopped."),
                      "done")
                return redirect(url_for("officer.page", token=token, recorded=done.action_id))
        elif request.method == "GET":
            form.name.data = claim.contact
    status = 400 if request.method == "POST" else 200
    return render_template("officer/deadline.html", d=found, form=form, claim=claim, token=token,
                           errors=getattr(form, "errors_by_field", {}), today_text=day(appctx.today(), "short"),
                           file_url=lambda f: url_for("officer.evidence_file", token=token, file_id=f.id)), status


@bp.get("/<token>/files/<int:file_id>")
def evidence_file(token: str, file_id: int) -> Response:
    """A file attached to this deadline's obligation, for the holder of the link only."""
    claim = _claim(token)
    with appctx.session() as session:
        found = deadline.occurrence_of(session, claim.org, claim.occurrence_id)
        row = session.get(EvidenceFileRow, file_id)
        if found is None or row is None or row.org_id != found[0].org_id:
            abort(404)
        action = session.get(ActionRow, row.action_id)
        if action is None or action.obligation_id != found[0].obligation_id:
            abort(404)
    return send_stored(row)


def send_stored(row: EvidenceFileRow) -> Response:
    path = uploads.path_of(appctx.settings().data_dir, f"{row.sha256[:2]}/{row.sha256}.{row.ext}")
    if not path.exists():
        abort(404)
    response = send_file(path, mimetype=uploads.ALLOWED[row.ext][0], as_attachment=True,
                         download_name=row.original_name or path.name, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
