"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json.

Written by hand, beside the views, and kept honest by a test that validates real responses of every
operation against it (tests/test_api.py). OpenAPI 3.1 schemas are JSON Schema 2020-12.
"""

from __future__ import annotations

from typing import Any

STATUSES = ["upcoming", "open", "due_soon", "done", "late", "overdue"]
CHANNELS = ["config", "cli", "import", "web", "line", "api", "simulation"]
OUTBOX_STATUSES = ["pending", "leased", "sent", "failed", "dead", "skipped", "cancelled"]

DATE = {"type": "string", "format": "date"}
DATETIME = {"type": "string", "format": "date-time"}
NULLABLE_STR = {"type": ["string", "null"]}
NULLABLE_INT = {"type": ["integer", "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: list[str], **props: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props, "additionalProperties": False}


SCHEMAS: dict[str, Any] = {
    "Unit": _obj(["code", "name"], code={"type": "string"}, name={"type": "string"}),
    "Organisation": _obj(["code", "name", "district", "province", "fiscal_year", "units"],
                         code={"type": "string"}, name={"type": "string"}, district={"type": "string"},
                         province={"type": "string"}, fiscal_year={"type": "integer", "description": "B.E."},
                         units={"type": "array", "items": _ref("Unit")}),
    "OrganisationList": _obj(["organisations"], organisations={"type": "array", "items": _ref("Organisation")}),
    "Occurrence": _obj(
        ["org", "measure", "obligation", "unit", "window_start", "due", "status", "done_on", "days_late",
         "days_overdue", "period"],
        org={"type": "string"}, measure={"type": "string"}, obligation={"type": "string"}, unit={"type": "string"},
        window_start=DATE, due=DATE, status={"enum": STATUSES}, done_on={"oneOf": [DATE, {"type": "null"}]},
        days_late=NULLABLE_INT, days_overdue=NULLABLE_INT,
        period={"type": "string", "description": "2566, 2566-Q2, 2566-H1, 2566-M07"}),
    "OccurrenceList": _obj(["org", "as_of", "fiscal_year", "occurrences"], org={"type": "string"}, as_of=DATE,
                           fiscal_year={"type": "integer"}, occurrences={"type": "array", "items": _ref("Occurrence")}),
    "Withdrawal": _obj(["at", "by", "channel", "reason"], at=DATETIME, by={"type": "string"},
                       channel={"type": "string"}, reason={"type": "string"}),
    "Action": _obj(
        ["id", "obligation", "date", "evidence", "note", "recorded_by", "recorded_at", "period", "unit", "channel",
         "corrects", "withdrawn"],
        id={"type": "integer"}, obligation={"type": "string"}, date=DATE, evidence=NULLABLE_STR,
        note={"type": "string"}, recorded_by={"type": "string"}, recorded_at={"oneOf": [DATETIME, {"type": "null"}]},
        period=NULLABLE_STR, unit=NULLABLE_STR, channel={"enum": CHANNELS},
        corrects={**NULLABLE_INT, "description": "the action this one corrects (withdrawn)"},
        withdrawn={"oneOf": [_ref("Withdrawal"), {"type": "null"}]}),
    "ActionList": _obj(["org", "actions"], org={"type": "string"}, actions={"type": "array", "items": _ref("Action")}),
    "NewAction": _obj(
        ["obligation", "date"], obligation={"type": "string", "examples": ["O10-1"]},
        date={"type": "string", "description": "ISO (2023-04-05) or Thai (5/4/2566, ๕ เม.ย. ๒๕๖๖)"},
        evidence={"type": "string", "description": "a web link starting with https://"}, note={"type": "string"},
        by={"type": "string", "description": "who did it"},
        period={"type": "string", "description": "the occurrence it serves when the date alone would mislead"},
        unit={"type": "string"}),
    "OutboxMessage": _obj(
        ["id", "kind", "status", "stage", "obligation", "period", "recipient", "destination", "send_after", "attempts",
         "sent_at", "last_error", "skip_reason"],
        id={"type": "integer"}, kind={"enum": ["reminder", "digest", "alert"]}, status={"enum": OUTBOX_STATUSES},
        stage={"type": "string"}, obligation=NULLABLE_STR, period=NULLABLE_STR, recipient={"type": "string"},
        destination={"type": "string", "description": "masked"}, send_after=DATETIME, attempts={"type": "integer"},
        sent_at={"oneOf": [DATETIME, {"type": "null"}]}, last_error=NULLABLE_STR, skip_reason=NULLABLE_STR),
    "OutboxList": _obj(["org", "messages"], org={"type": "string"},
                       messages={"type": "array", "items": _ref("OutboxMessage")}),
    "Problem": {
        "type": "object", "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {"type": "array", "items": _obj(["field", "message"], field={"type": "string"},
                                                      message={"type": "string"})},
        },
    },
}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {"schema": _ref("Problem")}}}


def _ok(schema: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


ORG = {"name": "org", "in": "path", "required": True, "schema": {"type": "string"}, "description": "organisation code"}
AUTH_ERRORS = {"401": _problem("no token, or an unknown or revoked one"),
               "403": _problem("the token belongs to another organisation"),
               "404": _problem("no such organisation")}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


PATHS: dict[str, Any] = {
    "/organisations": {"get": {"operationId": "listOrganisations", "summary": "The organisations the token opens",
                               "responses": {"200": _ok("OrganisationList"), "401": AUTH_ERRORS["401"]}}},
    "/organisations/{org}": {"get": {"operationId": "getOrganisation", "parameters": [ORG],
                                     "responses": {"200": _ok("Organisation"), **AUTH_ERRORS}}},
    "/organisations/{org}/occurrences": {"get": {
        "operationId": "listOccurrences", "summary": "Deadlines and their status, as `tracker status` gives them",
        "parameters": [ORG, _query("fiscal_year", {"type": "integer"}, "B.E. fiscal year (default: that of as_of)"),
                       _query("unit", {"type": "string"}, "a unit code"),
                       _query("status", {"enum": STATUSES}, "only deadlines with this status"),
                       _query("as_of", {"type": "string"}, "the day to judge on (default today, Bangkok)")],
        "responses": {"200": _ok("OccurrenceList"), "400": _problem("a parameter is invalid"), **AUTH_ERRORS}}},
    "/organisations/{org}/actions": {
        "get": {"operationId": "listActions",
                "parameters": [ORG, _query("obligation", {"type": "string"}, "an obligation code"),
                               _query("include_withdrawn", {"type": "boolean"}, "also withdrawn actions")],
                "responses": {"200": _ok("ActionList"), **AUTH_ERRORS}},
        "post": {"operationId": "createAction", "summary": "Record an action (as `tracker log` does)",
                 "parameters": [ORG],
                 "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("NewAction")}}},
                 "responses": {"201": _ok("Action", "recorded; pending reminders of its deadline are cancelled"),
                               "400": _problem("the body is not a JSON object"),
                               "415": _problem("the body is not JSON"),
                               "422": _problem("the action is invalid (every problem, by field)"), **AUTH_ERRORS}}},
    "/organisations/{org}/outbox": {"get": {
        "operationId": "listOutbox", "summary": "Messages sent, waiting, failed or dead-lettered, newest first",
        "parameters": [ORG, _query("status", {"enum": OUTBOX_STATUSES}, "only this status"),
                       _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "default 100")],
        "responses": {"200": _ok("OutboxList"), "400": _problem("a parameter is invalid"), **AUTH_ERRORS}}},
}


def document(server_url: str) -> dict[str, Any]:
    """The description, with `server_url` (this deployment's /api/v1) as its server."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "ITA Tracker API", "version": "1",
                 "description": "Deadlines, actions and reminders of the ITA measures of Thai local governments."
                                " Create a token with `tracker api-token create --org CODE`."},
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "paths": PATHS,
        "components": {"schemas": SCHEMAS,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                      "description": "tracker api-token create --org CODE"}}},
    }
