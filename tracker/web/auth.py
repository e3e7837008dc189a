"""Sign-in without passwords: a one-time link sent to the person's configured destinations.

A person types an e-mail address or LINE ID they are configured with; the link goes to every destination
of theirs (the page says the same whether or not the address is known, so it reveals nobody). The link
opens a page with a button: opening it (a mail scanner, LINE's preview) spends nothing; pressing it
signs in, once, within 15 minutes, and goes back to the page that sent them to sign in (`?next=`, a path
of this site only). `tracker login-link` prints one for bootstrapping.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import LoginManager, login_user, logout_user
from werkzeug.wrappers import Response

from notifiers.registry import Notifiers, mask_destination, route_to_outbox
from tracker.messages.outgoing import OutgoingMessage
from tracker.store import signin
from tracker.web import appctx
from tracker.web.access import viewers
from tracker.web.errors import error_page
from tracker.web.i18n import digits, t
from tracker.web.people import Person, destinations_of, person_for

bp = Blueprint("auth", __name__, url_prefix="/signin")
log = logging.getLogger("tracker.web.auth")


def init_login(login: LoginManager) -> None:
    login.login_view = "auth.request_link"
    login.login_message = ""
    login.user_loader(_load_person)


def _load_person(key: str) -> Person | None:
    with appctx.session() as session:
        return person_for(session, key, viewers())


def destination_of(text: str) -> str:
    """What a person types, as a destination URL: an e-mail address or a LINE user ID."""
    text = text.strip()
    if text.startswith(("mailto:", "line://")):
        return text
    if "@" in text:
        return "mailto:" + text
    return "line://" + text if text.startswith(("U", "C", "R")) else text


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path of this site (where to go after signing in), else None: never another
    site (`//evil.example`, `https://…`), so a crafted sign-in link cannot send anyone away."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def signin_url(token: str, next_path: str | None = None) -> str:
    suffix = f"?{urlencode({'next': next_path})}" if next_path else ""
    return f"{appctx.settings().base_url}/signin/{token}{suffix}"


def _message(person: Person, url: str) -> OutgoingMessage:
    text = (f"เรียน {person.name}\n\nลิงก์เข้าสู่ระบบติดตามมาตรการ ITA (ใช้ได้ครั้งเดียว ภายใน {signin.SIGNIN_MINUTES} นาที):\n"
            f"{url}\n\nหากท่านไม่ได้ขอ ไม่ต้องดำเนินการใด ๆ\n\n"
            f"Your sign-in link (one use, {signin.SIGNIN_MINUTES} minutes): {url}\n")
    return OutgoingMessage(f"signin-{secrets.token_hex(8)}", "ลิงก์เข้าสู่ระบบ ITA Tracker", text, None, text)


@bp.get("/")
def request_link() -> str:
    return render_template("auth/request.html", sent=False)


def client_key() -> str:
    """The requesting client's address as a keyed hash: counted for the per-client limit, never kept in
    the clear (an unkeyed hash of an IPv4 address is reversed by trying them all). The address is the
    one the app sees: behind a reverse proxy, have the proxy pass the client's own."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, (request.remote_addr or "").encode(), hashlib.sha256).hexdigest()


@bp.post("/")
def send_link() -> str | tuple[str, int]:
    key = destination_of(request.form.get("who", ""))
    now = appctx.now()
    try:
        with appctx.session() as session:
            signin.note_request(session, client_key(), now)
    except signin.TooManyRequests:
        return error_page(429, t("ขอลิงก์เข้าสู่ระบบบ่อยเกินไป", "Too many sign-in requests"),
                          t(f"เครื่องนี้ขอลิงก์ครบ {digits(signin.SIGNIN_PER_CLIENT)} ครั้งใน {digits(signin.SIGNIN_MINUTES)}"
                            f" นาทีแล้ว โปรดรอ {digits(signin.SIGNIN_MINUTES)} นาทีแล้วลองใหม่ หรือใช้ลิงก์ที่ส่งไปแล้ว",
                            f"This device asked for {signin.SIGNIN_PER_CLIENT} links within {signin.SIGNIN_MINUTES}"
                            f" minutes. Wait {signin.SIGNIN_MINUTES} minutes and try again, or use a link already"
                            " sent."))
    with appctx.session() as session:
        person = person_for(session, key, viewers()) if key else None
        token = None
        if person is not None:
            try:
                token = signin.issue(session, person.key, now)
            except signin.TooManyLinks:
                token = None  # said the same way: the page reveals nothing about who exists
        destinations = destinations_of(session, person.key, viewers()) if person is not None else []
    if person is not None and token is not None:
        settings = appctx.settings()
        with Notifiers(settings) as notifiers:
            for destination in destinations:
                try:
                    notifiers.send(route_to_outbox(destination, settings),
                                   _message(person, signin_url(token, safe_next(request.args.get("next")))))
                except Exception as exc:  # one channel down must not stop the others (nor show a 500)
                    log.warning("sign-in link not sent to %s: %s", mask_destination(destination), type(exc).__name__)
    return render_template("auth/request.html", sent=True)


@bp.get("/<token>")
def confirm(token: str) -> str | tuple[str, int]:
    with appctx.session() as session:
        valid = signin.is_valid(session, token, appctx.now())
    if not valid:
        return _spent()
    return render_template("auth/confirm.html", token=token)


@bp.post("/<token>")
def redeem(token: str) -> Response | tuple[str, int]:
    with appctx.session() as session:
        key = signin.redeem(session, token, appctx.now())
        person = person_for(session, key, viewers()) if key else None
    if person is None:
        return _spent()
    login_user(person)
    return redirect(safe_next(request.args.get("next")) or url_for("boards.home"))


def _spent() -> tuple[str, int]:
    return error_page(410, t("ลิงก์เข้าสู่ระบบนี้ใช้ไม่ได้แล้ว", "This sign-in link no longer works"),
                      t(f"ลิงก์ใช้ได้ครั้งเดียว ภายใน {signin.SIGNIN_MINUTES} นาที โปรดขอลิงก์ใหม่",
                        f"A link works once, within {signin.SIGNIN_MINUTES} minutes. Ask for a new one."))


@bp.post("/out")
def sign_out() -> Response:
    logout_user()
    return redirect(url_for("boards.home"))
