"""Calendar feeds: a secret, revocable iCalendar URL per organisation and per unit, parsed back with
`icalendar` and checked for what Google Calendar and Outlook need."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from icalendar import Calendar
from sqlalchemy import Engine

from tests.webapp import NOW, make_app
from tracker.store.db import session_scope
from tracker.store.secrets_store import create_feed, revoke_feed
from tracker.store.status_query import org_statuses


@pytest.fixture
def client(sqlite_engine: Engine, tmp_path: Path) -> Iterator[FlaskClient]:
    with make_app(sqlite_engine, tmp_path).test_client() as c:
        yield c


def new_feed(engine: Engine, unit: str | None = None, org: str = "makha") -> tuple[int, str]:
    with session_scope(engine) as session:
        info, token = create_feed(session, org, unit, NOW, actor="admin")
    return info.id, token


def events(body: bytes) -> dict[str, object]:
    cal = Calendar.from_ical(body)
    return {str(e["uid"]): e for e in cal.walk("VEVENT")}


def test_the_organisation_feed_has_every_open_deadline_as_an_all_day_event(client: FlaskClient,
                                                                           sqlite_engine: Engine) -> None:
    _, token = new_feed(sqlite_engine)
    response = client.get(f"/feeds/{token}.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    with session_scope(sqlite_engine) as session:
        _, items = org_statuses(session, "makha", NOW.date(), 2566)
    open_ones = {f"makha.{i.occurrence.obligation}.{i.occurrence.period}@ita-tracker": i for i in items
                 if i.status.value not in ("done", "late")}
    found = events(response.data)
    assert set(found) == set(open_ones) and len(found) > 10
    uid = "makha.O10-3.2566@ita-tracker"  # the previous year's report, due December 2565, never logged
    event = found[uid]
    assert event["dtstart"].dt == date(2022, 12, 31) and not isinstance(event["dtstart"].dt, datetime)
    assert event["dtend"].dt == date(2023, 1, 1)
    assert str(event["summary"]).startswith("ครบกำหนด O10-3: ")
    assert "๓๑ ธันวาคม ๒๕๖๕" in str(event["description"]) and "เกินกำหนด" in str(event["description"])
    [alarm] = event.walk("VALARM")
    assert alarm["trigger"].dt == -timedelta(days=7) and str(alarm["action"]) == "DISPLAY"
    assert "makha.O10-1.2566@ita-tracker" not in found  # done (late) on 5 April 2566


def test_the_feed_is_what_calendar_apps_accept(client: FlaskClient, sqlite_engine: Engine) -> None:
    _, token = new_feed(sqlite_engine)
    body = client.get(f"/feeds/{token}.ics").data
    lines = body.split(b"\r\n")
    assert lines[0] == b"BEGIN:VCALENDAR" and lines[-2] == b"END:VCALENDAR" and lines[-1] == b""
    assert b"\n" not in body.replace(b"\r\n", b"")  # CRLF only
    assert max(len(line) for line in lines) <= 75  # folded at 75 octets (RFC 5545 §3.1)
    cal = Calendar.from_ical(body)
    assert str(cal["version"]) == "2.0" and str(cal["method"]) == "PUBLISH" and cal["prodid"]
    assert str(cal["x-wr-calname"]) == "ITA เทศบาลตำบลมะค่า" and str(cal["x-wr-timezone"]) == "Asia/Bangkok"
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT6H" in body and b"X-PUBLISHED-TTL:PT6H" in body
    for event in cal.walk("VEVENT"):
        assert event["dtstamp"].dt.tzinfo is not None  # DTSTAMP must be UTC
        assert event["uid"] and event["dtstart"] and event["summary"]


def test_a_unit_feed_holds_that_units_deadlines_only(client: FlaskClient, sqlite_engine: Engine) -> None:
    _, token = new_feed(sqlite_engine, "finance")
    cal = Calendar.from_ical(client.get(f"/feeds/{token}.ics").data)
    assert str(cal["x-wr-calname"]) == "ITA เทศบาลตำบลมะค่า — กองคลัง"
    descriptions = [str(e["description"]) for e in cal.walk("VEVENT")]
    assert descriptions and all("· กองคลัง ·" in d for d in descriptions)


def test_a_revoked_or_unknown_feed_answers_404_in_thai(client: FlaskClient, sqlite_engine: Engine) -> None:
    feed_id, token = new_feed(sqlite_engine)
    assert client.get(f"/feeds/{token}.ics").status_code == 200
    with session_scope(sqlite_engine) as session:
        revoke_feed(session, "makha", feed_id, NOW, actor="admin")
    gone = client.get(f"/feeds/{token}.ics")
    assert gone.status_code == 404 and "ถูกยกเลิก" in gone.get_data(as_text=True)
    assert client.get(f"/feeds/{token[:-1]}x.ics").status_code == 404
    assert client.get("/feeds/anything.ics").status_code == 404


def test_a_feed_is_its_own_organisations(client: FlaskClient, sqlite_engine: Engine) -> None:
    _, token = new_feed(sqlite_engine, org="nongbua")
    assert all(uid.startswith("nongbua.") for uid in events(client.get(f"/feeds/{token}.ics").data))


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        names = [r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {n: int(conn.exec_driver_sql(f'SELECT count(*) FROM "{n}"').scalar() or 0) for n in names}


def test_reading_a_feed_writes_nothing(client: FlaskClient, sqlite_engine: Engine) -> None:
    _, token = new_feed(sqlite_engine)
    before = table_counts(sqlite_engine)
    assert client.get(f"/feeds/{token}.ics").status_code == 200
    assert table_counts(sqlite_engine) == before
