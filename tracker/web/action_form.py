"""The form that records an action, on an action link's page (and, for signed-in writers, the obligation
page). Dates are read by the same parser as `tracker log` (ISO or Thai), the action is checked and
recorded by the same function (`store.actions.log_action`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy.orm import Session
from wtforms import StringField, TextAreaField

from tracker.domain.errors import DateParseError
from tracker.domain.model import Action
from tracker.domain.thaidate import parse_date
from tracker.store.actions import InvalidAction, log_action
from tracker.store.outbox import cancel_done
from tracker.store.repo import org_row
from tracker.store.web_models import EvidenceFileRow
from tracker.web import orgcache, uploads
from tracker.web.i18n import t


class ActionForm(FlaskForm):  # type: ignore[misc]
    done_on = StringField()
    evidence = StringField()
    file = FileField()
    note = TextAreaField()
    name = StringField()
    period = StringField()  # on the obligation page, where the signed-in officer picks the deadline


@dataclass(frozen=True)
class Submitted:
    action_id: int
    done_on: date


def _problem(form: ActionForm, field: str, message: str) -> None:
    form.errors_by_field.setdefault(field, []).append(message)


def submit(form: ActionForm, session: Session, data_dir: Path, *, org: str, obligation: str, period: str,
           evidence_required: bool, today: date, now: datetime) -> Submitted | None:
    """Record the action the form describes, or None with `form.errors_by_field` filled (nothing written)."""
    form.errors_by_field = {}
    text = (form.done_on.data or "").strip()
    done_on = today
    if text:
        try:
            done_on = parse_date(text)
        except DateParseError as exc:
            _problem(form, "done_on", t(f"อ่านวันที่ไม่ได้: {exc}", f"Cannot read the date: {exc}"))
    if done_on > today:
        _problem(form, "done_on", t("วันที่ดำเนินการต้องไม่เป็นวันในอนาคต", "The day done cannot be in the future"))
    evidence = (form.evidence.data or "").strip()
    upload = form.file.data
    data = upload.read() if upload and upload.filename else b""
    if data or (upload and upload.filename):
        try:
            uploads.check(upload.filename, data)  # kept only once the action is accepted (below)
        except uploads.UploadRefused as exc:
            _problem(form, "file", t(exc.th, exc.en))
    if evidence_required and not evidence and not (upload and upload.filename):
        _problem(form, "evidence", t("โปรดใส่ลิงก์หลักฐาน หรือแนบไฟล์", "Give a link to the evidence, or attach a file"))
    if form.errors_by_field:
        return None
    action = Action(obligation, done_on, evidence, (form.note.data or "").strip(), (form.name.data or "").strip(),
                    None, period)
    try:
        action_id = log_action(session, org, action, channel="web", now=now, prefix="",
                               org=orgcache.organisation(session, org))
    except InvalidAction as exc:
        for p in exc.problems:
            _problem(form, p.file if p.file in ("evidence", "period") else "done_on", p.message)
        return None
    org_id = org_row(session, org).id
    if data:
        # Written only now: a refused action (a bad date, an unknown period) leaves no file behind.
        stored = uploads.store(data_dir, upload.filename, data)
        session.add(EvidenceFileRow(org_id=org_id, action_id=action_id, sha256=stored.sha256,
                                    ext=stored.ext, size=stored.size, original_name=stored.original_name,
                                    uploaded_at=now))
    cancel_done(session, today, org_id)  # the reminders not yet sent stop now, not at the next sweep
    return Submitted(action_id, done_on)
