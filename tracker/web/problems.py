"""Errors of the JSON API as RFC 9457 problem details (`application/problem+json`).

Every refusal says what was wrong and, where a field is at fault, which one, so that a program (and the
person reading its log) can fix the request.
"""

from __future__ import annotations

from typing import Any

from flask import Response, json

from tracker.domain.errors import Problem

PROBLEM_TYPE = "application/problem+json"
TITLES = {400: "Bad request", 401: "Unauthorised", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
          415: "Unsupported media type", 422: "Invalid action", 500: "Server error"}


def problem(status: int, detail: str, errors: list[Problem] | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status,
                            "detail": detail, **extra}
    if errors:
        body["errors"] = [{"field": p.file, "message": p.message} for p in errors]
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_TYPE)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="ita-tracker"'
    return response
