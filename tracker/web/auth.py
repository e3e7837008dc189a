"""Sign-in without passwords: a one-time link sent to the person's configured destinations."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import LoginManager, logout_user
from werkzeug.wrappers import Response

from tracker.web import appctx
from tracker.web.access import viewers
from tracker.web.i18n import t
from tracker.web.people import Person, person_for

bp = Blueprint("auth", __name__, url_prefix="/signin")


def init_login(login: LoginManager) -> None:
    login.login_view = "auth.request_link"
    login.login_message = ""

    login.user_loader(_load_person)


def _load_person(key: str) -> Person | None:
    with appctx.session() as session:
        return person_for(session, key, viewers())


@bp.get("/")
def request_link() -> str:
    return render_template("auth/request.html", title=t("เข้าสู่ระบบ", "Sign in"))


@bp.post("/out")
def sign_out() -> Response:
    logout_user()
    return redirect(url_for("boards.home"))
