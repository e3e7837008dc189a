"""Secret calendar feeds: GET /feeds/<token>.ics, no sign-in (calendar apps cannot sign in).

The token in the URL is the only key; it is stored hashed, and revoking it (`tracker feed revoke`, or the
admin page) makes the URL answer 404 at once. A GET only reads.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template_string

from tracker.domain.status import Status
from tracker.domain.thaidate import BANGKOK, fiscal_year
from tracker.store.secrets_store import resolve_feed
from tracker.store.status_query import org_statuses
from tracker.web import appctx
from tracker.web.ical import calendar

bp = Blueprint("feeds", __name__)
FINISHED = {Status.DONE, Status.LATE}

GONE = """<!doctype html><html lang="th"><meta charset="utf-8"><title>ไม่พบปฏิทิน</title>
<p>ลิงก์ปฏิทินนี้ไม่ถูกต้องหรือถูกยกเลิกแล้ว โปรดขอลิงก์ใหม่จากผู้ดูแลระบบของหน่วยงาน</p>
<p lang="en">This calendar link is unknown or was revoked: ask your organisation's admin for a new one.</p>"""


@bp.get("/feeds/<token>.ics")
def feed(token: str) -> Response:
    now = appctx.now()
    today = now.astimezone(BANGKOK).date()
    with appctx.session() as session:
        found = resolve_feed(session, token)
        if found is None:
            return Response(render_template_string(GONE), status=404, mimetype="text/html")
        fy = fiscal_year(today)
        org, items = org_statuses(session, found.org, today, fy)
        if fy > org.fiscal_year:  # what is still overdue from last year stays on the calendar
            items = org_statuses(session, found.org, today, fy - 1)[1] + items
    open_items = [i for i in items if i.status not in FINISHED
                  and (found.unit is None or org.obligation(i.occurrence.obligation).unit == found.unit)]
    body = calendar(org, open_items, found.unit, now)
    response = Response(body, mimetype="text/calendar")
    name = f"ita-{found.org}" + (f"-{found.unit}" if found.unit else "")
    response.headers["Content-Disposition"] = f'inline; filename="{name}.ics"'
    response.headers["Cache-Control"] = "private, max-age=900"
    return response
