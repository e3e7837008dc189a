"""The LINE webhook: `POST /line/webhook` (the global channel) and `/line/webhook/<channel>` (an
organisation's own official account). CSRF-exempt (LINE signs the request instead; the app factory
exempts this blueprint); the view only hands the raw body and the signature to `jobs.line_webhook`."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from werkzeug.wrappers import Response

from jobs.line_webhook import handle_webhook
from tracker.web import appctx

bp = Blueprint("line", __name__, url_prefix="/line")


@bp.post("/webhook")
@bp.post("/webhook/<channel>")
def webhook(channel: str = "") -> tuple[Response, int]:
    # The raw bytes, before Flask parses anything: the signature covers exactly what LINE sent.
    body = request.get_data(cache=False, as_text=False, parse_form_data=False)
    result = handle_webhook(appctx.engine(), appctx.settings(), body, request.headers.get("X-Line-Signature"),
                            appctx.now(), channel)
    if result.status != 200:
        return jsonify({"error": result.reason}), result.status
    return jsonify({"handled": result.handled, "duplicates": result.duplicates}), 200
