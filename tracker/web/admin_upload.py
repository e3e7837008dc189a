"""Uploading a configuration file or a progress report: preview, then apply.

The preview writes nothing to the configuration or the database; it keeps the upload under the data
folder by its SHA-256, and the apply form names that hash, so what is applied is exactly what was
previewed. Problems are located as `tracker check` and `tracker import-report --dry-run` locate them.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from flask import Blueprint, abort, render_template, request

from config.loader import load_config
from jobs.config_apply import apply_config, apply_import, preview_config, target_file
from tracker.domain.model import Organisation
from tracker.reports.parse import ParsedReport, ReportFormatError, parse_report
from tracker.reports.reader import read_report_bytes
from tracker.reports.to_config import ImportPlan, plan_import
from tracker.store.repo import load_organisation
from tracker.web import appctx
from tracker.web.permits import require_admin

bp = Blueprint("admin_upload", __name__, url_prefix="/admin/<org>")
MAX_CONFIG_BYTES = 1_000_000
MAX_REPORT_BYTES = 10_000_000
HASH = re.compile(r"^[0-9a-f]{64}\.(toml|txt|docx)$")


def _uploads() -> Path:
    folder = appctx.settings().data_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _stage(content: bytes, suffix: str) -> str:
    name = f"{hashlib.sha256(content).hexdigest()}.{suffix}"
    (_uploads() / name).write_bytes(content)
    return name


def _staged() -> tuple[str, bytes]:
    """The previewed upload the apply form names (by its hash)."""
    staged = request.form.get("staged", "")
    if not HASH.match(staged):
        abort(400)
    path = _uploads() / staged
    if not path.exists():
        abort(410)  # previewed too long ago, or applied already: upload again
    return staged, path.read_bytes()


def _source_lines(content: bytes) -> list[str]:
    try:
        return content.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return []


@bp.get("/config")
def config_form(org: str) -> str:
    require_admin(org)
    return render_template("admin/config.html", org=_org(org), preview=None)


def _org(org: str) -> Organisation:
    with appctx.session() as session:
        return load_organisation(session, org)


@bp.post("/config/preview")
def config_preview(org: str) -> tuple[str, int] | str:
    require_admin(org)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_template("admin/config.html", org=_org(org), preview=None, missing=True), 400
    content = upload.read(MAX_CONFIG_BYTES + 1)
    if len(content) > MAX_CONFIG_BYTES:
        return render_template("admin/config.html", org=_org(org), preview=None,
                               too_big=MAX_CONFIG_BYTES), 413
    name = Path(upload.filename or "upload.toml").name
    preview = preview_config(content, name, org, appctx.settings().data_dir / "uploads" / "scratch")
    staged = _stage(content, "toml") if preview.ok else None
    return render_template("admin/config.html", org=_org(org), preview=preview, name=name,
                           lines=_source_lines(content), staged=staged), (
        200 if preview.ok else 422)


@bp.post("/config/apply")
def config_apply(org: str) -> tuple[str, int] | str:
    person = require_admin(org)
    staged, content = _staged()
    result = apply_config(appctx.engine(), appctx.settings().config_paths, org, content, appctx.now(),
                          actor=person.name, channel="web")
    if isinstance(result, list):  # another file changed since the preview
        return render_template("admin/config.html", org=_org(org), preview=None,
                               refused=result, lines=_source_lines(content)), 422
    (_uploads() / staged).unlink(missing_ok=True)
    return render_template("admin/config.html", org=_org(org), preview=None, applied=result)


@bp.get("/report-import")
def report_form(org: str) -> str:
    require_admin(org)
    return render_template("admin/report_import.html", org=_org(org), preview=None)


def _plan(org: str, content: bytes, name: str) -> tuple[ParsedReport, ImportPlan]:
    existing = _existing(org)
    source = read_report_bytes(content, name)
    report = parse_report(source, known_units=[u.name for u in existing.units] if existing else ())
    return report, plan_import(report, org, existing, name)


def _existing(org: str) -> Organisation | None:
    loaded = load_config(list(appctx.settings().config_paths))
    try:
        return loaded.org(org).organisation
    except KeyError:
        return None


@bp.post("/report-import/preview")
def report_preview(org: str) -> tuple[str, int] | str:
    require_admin(org)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_template("admin/report_import.html", org=_org(org), preview=None, missing=True), 400
    name = Path(upload.filename or "report.txt").name
    suffix = name.rsplit(".", 1)[-1].lower()
    if suffix not in ("txt", "docx"):
        return render_template("admin/report_import.html", org=_org(org), preview=None,
                               wrong_type=name), 415
    content = upload.read(MAX_REPORT_BYTES + 1)
    if len(content) > MAX_REPORT_BYTES:
        return render_template("admin/report_import.html", org=_org(org), preview=None,
                               too_big=MAX_REPORT_BYTES), 413
    try:
        report, plan = _plan(org, content, name)
    except ReportFormatError as exc:
        return render_template("admin/report_import.html", org=_org(org), preview=None,
                               unreadable=str(exc)), 422
    return render_template("admin/report_import.html", org=_org(org), preview=report, plan=plan,
                           staged=_stage(content, suffix), name=name)


@bp.post("/report-import/apply")
def report_apply(org: str) -> tuple[str, int] | str:
    person = require_admin(org)
    staged, content = _staged()
    try:
        _, plan = _plan(org, content, request.form.get("name") or staged)
        target = target_file(appctx.engine(), appctx.settings().config_paths, org)
        added = apply_import(appctx.engine(), plan, target, appctx.now(), actor=person.name, channel="web")
    except ReportFormatError as exc:
        return render_template("admin/report_import.html", org=_org(org), preview=None,
                               unreadable=str(exc)), 422
    (_uploads() / staged).unlink(missing_ok=True)
    return render_template("admin/report_import.html", org=_org(org), preview=None, added=added)
