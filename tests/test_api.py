"""The JSON API through Flask's test client: bearer tokens and their scope, filters, an action recorded
as `tracker log` records it, problem details; every response validated against /api/v1/openapi.json."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy import Engine
from werkzeug.test import TestResponse

from jobs import plan
from tests.webapp import NOW, api_token, make_app
from tracker.store import audit
from tracker.store.db import session_scope
from tracker.store.repo import org_row
from tracker.store.secrets_store import revoke_api_token
from tracker.store.status_query import org_statuses, status_rows


class Api:
    """A test client that checks every response against the OpenAPI description it serves."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client, self.token = client, token
        self.doc: dict[str, Any] = client.get("/api/v1/openapi.json").get_json()
        self.registry = Registry().with_resource("urn:api", Resource.from_contents(self.doc, DRAFT202012))

    def check(self, response: TestResponse, path: str, method: str) -> Any:
        operation = self.doc["paths"][path][method]
        described = operation["responses"].get(str(response.status_code))
        assert described is not None, f"{method.upper()} {path} answered {response.status_code}, not described"
        [(media, _content)] = described["content"].items()
        assert response.mimetype == media
        pointer = "/".join(p.replace("~", "~0").replace("/", "~1") for p in
                           ("paths", path, method, "responses", str(response.status_code), "content", media, "schema"))
        validator = Draft202012Validator({"$ref": f"urn:api#/{pointer}"}, registry=self.registry,
                                         format_checker=FormatChecker())
        body = response.get_json()
        validator.validate(body)
        return body

    def get(self, url: str, path: str, token: str | None = None) -> tuple[int, Any]:
        response = self.client.get(url, headers=self._auth(token))
        return response.status_code, self.check(response, path, "get")

    def post(self, url: str, path: str, body: Any, token: str | None = None) -> tuple[int, Any]:
        response = self.client.post(url, json=body, headers=self._auth(token))
        return response.status_code, self.check(response, path, "post")

    def _auth(self, token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}


@pytest.fixture
def api(engine: Engine, tmp_path: Path) -> Iterator[Api]:
    app = make_app(engine, tmp_path)
    with app.test_client() as client:
        yield Api(client, api_token(engine))


def test_the_description_is_valid_openapi_3_1(api: Api) -> None:
    assert api.doc["openapi"] == "3.1.0"
    validate_spec(api.doc)
    assert api.doc["servers"] == [{"url": "http://localhost/api/v1"}]


def test_organisations_lists_only_the_tokens_own(api: Api) -> None:
    status, body = api.get("/api/v1/organisations", "/organisations")
    assert status == 200
    assert [(o["code"], [u["code"] for u in o["units"]]) for o in body["organisations"]] == [
        ("makha", ["palad", "finance"])]
    assert api.get("/api/v1/organisations/makha", "/organisations/{org}")[1]["name"] == "เทศบาลตำบลมะค่า"


@pytest.mark.parametrize("header", [None, "Basic abc", "Bearer ", "Bearer itk_not-a-token"])
def test_no_or_a_wrong_token_is_refused_with_a_problem(api: Api, header: str | None) -> None:
    response = api.client.get("/api/v1/organisations/makha/occurrences",
                              headers={"Authorization": header} if header else {})
    body = api.check(response, "/organisations/{org}/occurrences", "get")
    assert response.status_code == 401 and body["status"] == 401 and "token" in body["detail"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_stops_working_at_once(api: Api, engine: Engine) -> None:
    assert api.get("/api/v1/organisations", "/organisations")[0] == 200
    with session_scope(engine) as session:
        revoke_api_token(session, "makha", 1, NOW, actor="admin")
    status, body = api.get("/api/v1/organisations", "/organisations")
    assert status == 401 and "revoked" in body["detail"]


@pytest.mark.parametrize("path", ["", "/occurrences", "/actions", "/outbox"])
def test_a_token_of_one_organisation_cannot_read_another(api: Api, path: str) -> None:
    status, body = api.get(f"/api/v1/organisations/nongbua{path}", f"/organisations/{{org}}{path}")
    assert status == 403 and "'makha' only" in body["detail"]


def test_a_token_of_one_organisation_cannot_write_another(api: Api, engine: Engine) -> None:
    status, _ = api.post("/api/v1/organisations/nongbua/actions", "/organisations/{org}/actions",
                         {"obligation": "O10-1", "date": "2023-04-05"})
    assert status == 403
    with session_scope(engine) as session:
        assert audit.entries(session, org_row(session, "nongbua").id, entity="action") == []


def test_occurrences_are_the_status_board_of_that_instant(api: Api, engine: Engine) -> None:
    status, body = api.get("/api/v1/organisations/makha/occurrences?as_of=2023-04-30",
                           "/organisations/{org}/occurrences")
    assert status == 200 and body["fiscal_year"] == 2566
    with session_scope(engine) as session:
        org, items = org_statuses(session, "makha", NOW.date(), 2566)
    assert body["occurrences"] == status_rows(org, items)
    [o10] = [o for o in body["occurrences"] if o["obligation"] == "O10-1"]
    assert (o10["status"], o10["done_on"], o10["days_late"]) == ("late", "2023-04-05", 156)


def test_occurrences_filter_by_unit_status_and_fiscal_year(api: Api) -> None:
    url = "/api/v1/organisations/makha/occurrences"
    _, overdue = api.get(f"{url}?status=overdue&unit=finance&as_of=30/4/2566", "/organisations/{org}/occurrences")
    assert overdue["occurrences"] and {(o["status"], o["unit"]) for o in overdue["occurrences"]} == {
        ("overdue", "finance")}
    _, older = api.get(f"{url}?fiscal_year=2566&as_of=2023-10-05", "/organisations/{org}/occurrences")
    assert older["fiscal_year"] == 2566 and all(o["due"] <= "2023-09-30" for o in older["occurrences"])


@pytest.mark.parametrize(("query", "field"), [("status=finished", "status"), ("unit=kong", "unit"),
                                              ("fiscal_year=2023x", "fiscal_year"), ("as_of=31/2/2566", "as_of")])
def test_occurrence_filters_that_make_no_sense_are_400_naming_the_field(api: Api, query: str, field: str) -> None:
    status, body = api.get(f"/api/v1/organisations/makha/occurrences?{query}", "/organisations/{org}/occurrences")
    assert status == 400 and [e["field"] for e in body["errors"]] == [field]


def test_posting_an_action_records_it_as_tracker_log_does(api: Api, engine: Engine) -> None:
    status, created = api.post("/api/v1/organisations/makha/actions", "/organisations/{org}/actions",
                               {"obligation": "O10-3", "date": "๒๐ ธ.ค. ๒๕๖๕", "evidence": "https://makha.go.th/r",
                                "by": "สมชาย"})
    assert status == 201
    assert (created["date"], created["channel"], created["recorded_by"]) == ("2022-12-20", "api", "สมชาย")
    _, board = api.get("/api/v1/organisations/makha/occurrences?as_of=2023-04-30", "/organisations/{org}/occurrences")
    [o103] = [o for o in board["occurrences"] if o["obligation"] == "O10-3"]
    assert (o103["status"], o103["done_on"]) == ("done", "2022-12-20")
    _, listed = api.get("/api/v1/organisations/makha/actions?obligation=O10-3", "/organisations/{org}/actions")
    assert [a["id"] for a in listed["actions"]] == [created["id"]]
    with session_scope(engine) as session:
        [entry] = audit.entries(session, org_row(session, "makha").id, entity="action")
    assert (entry.channel, entry.change, entry.actor) == ("api", "created", "สมชาย")


def test_posting_an_action_cancels_its_pending_reminders(api: Api, engine: Engine) -> None:
    with session_scope(engine) as session:
        plan.plan(session, NOW.replace(year=2022, month=10, day=21), "makha")
    _, pending = api.get("/api/v1/organisations/makha/outbox?status=pending", "/organisations/{org}/outbox")
    assert {m["obligation"] for m in pending["messages"]} >= {"O10-1"}
    assert all("@" not in m["destination"] or "***@" in m["destination"] for m in pending["messages"])
    api.post("/api/v1/organisations/makha/actions", "/organisations/{org}/actions",
             {"obligation": "O10-1", "date": "2022-10-21"})
    with session_scope(engine) as session:
        plan.plan(session, NOW.replace(year=2022, month=10, day=21, hour=11), "makha")
    _, cancelled = api.get("/api/v1/organisations/makha/outbox?status=cancelled", "/organisations/{org}/outbox")
    assert {m["obligation"] for m in cancelled["messages"]} == {"O10-1"}


@pytest.mark.parametrize(("body", "fields"), [
    ({}, ["obligation", "date"]),
    ({"obligation": "O99-9", "date": "2023-01-01"}, ["obligation"]),
    ({"obligation": "O10-1", "date": "31/2/2566"}, ["date"]),
    ({"obligation": "O10-1", "date": "2023-01-01", "evidence": "www.x.th", "unit": "kong"}, ["unit", "evidence"]),
    ({"obligation": "O10-1", "date": "2023-01-01", "when": "now"}, ["when"]),
    ({"obligation": 10, "date": "2023-01-01"}, ["obligation"]),
])
def test_an_invalid_action_is_422_with_every_problem_by_field(api: Api, engine: Engine, body: dict[str, Any],
                                                              fields: list[str]) -> None:
    status, problem = api.post("/api/v1/organisations/makha/actions", "/organisations/{org}/actions", body)
    assert status == 422 and [e["field"] for e in problem["errors"]] == fields
    with session_scope(engine) as session:
        assert audit.entries(session, org_row(session, "makha").id, entity="action") == []


def test_an_action_that_is_not_json_is_415_and_a_list_is_400(api: Api) -> None:
    response = api.client.post("/api/v1/organisations/makha/actions", data="obligation=O10-1",
                               headers={"Authorization": f"Bearer {api.token}"})
    assert api.check(response, "/organisations/{org}/actions", "post")["status"] == 415
    assert api.post("/api/v1/organisations/makha/actions", "/organisations/{org}/actions", [1])[0] == 400


def test_outbox_parameters_are_checked(api: Api) -> None:
    assert api.get("/api/v1/organisations/makha/outbox?status=lost", "/organisations/{org}/outbox")[0] == 400
    assert api.get("/api/v1/organisations/makha/outbox?limit=0", "/organisations/{org}/outbox")[0] == 400


def test_withdrawn_actions_are_listed_only_when_asked(api: Api, engine: Engine) -> None:
    from tracker.store.actions import withdraw_action
    _, created = api.post("/api/v1/organisations/makha/actions", "/organisations/{org}/actions",
                          {"obligation": "O10-3", "date": "2022-12-20"})
    with session_scope(engine) as session:
        withdraw_action(session, "makha", created["id"], NOW, actor="ผู้ดูแลระบบ", channel="web", reason="ผิด")
    url = "/api/v1/organisations/makha/actions?obligation=O10-3"
    assert api.get(url, "/organisations/{org}/actions")[1]["actions"] == []
    _, listed = api.get(url + "&include_withdrawn=true", "/organisations/{org}/actions")
    [gone] = listed["actions"]
    assert gone["withdrawn"]["by"] == "ผู้ดูแลระบบ" and gone["withdrawn"]["channel"] == "web"


def test_an_unknown_route_under_the_api_is_a_problem_too(api: Api) -> None:
    response = api.client.get("/api/v1/organisations/makha/nothing", headers={"Authorization": f"Bearer {api.token}"})
    assert response.status_code == 404
