"""Boards: the organisation's status board, a unit's page, an obligation's page, the overview."""

from __future__ import annotations

from flask import Blueprint, render_template

from tracker.web.i18n import t

bp = Blueprint("boards", __name__)


@bp.get("/")
def home() -> str:
    return render_template("boards/home.html", title=t("ติดตามมาตรการ ITA", "ITA Tracker"))
