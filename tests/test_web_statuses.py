"""The boards read actions as plain rows (tracker.web.statuses) and reuse rendered board rows
(tracker.web.board_rows): the statuses must stay those `tracker status` computes, withdrawn and corrected
actions included, and a board read again after an action is logged, withdrawn or read in another
language must show the new state, not a row kept from before."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from tests.web_support import MAKHA_ADMIN, make_app, sign_in, sync_both
from tracker.domain.model import Action
from tracker.domain.thaidate import BANGKOK
from tracker.store.actions import correct_action, log_action, withdraw_action
from tracker.store.db import session_scope
from tracker.store.status_query import org_statuses
from tracker.web import orgcache, statuses

LATER = datetime(2023, 4, 30, 10, 0, tzinfo=BANGKOK)
TODAY = date(2023, 4, 30)


@pytest.fixture
def app(engine: Engine, tmp_path: Path) -> Flask:
    sync_both(engine, tmp_path)
    return make_app(engine, tmp_path, now=LATER)


def _log(engine: Engine, obligation: str, done_on: date, period: str | None = None) -> int:
    with session_scope(engine) as session:
        return log_action(session, "makha", Action(obligation, done_on, "https://makha.example.go.th/e", period=period),
                          channel="cli", now=LATER)


def _compare(app: Flask, engine: Engine) -> None:
    """Statuses through the web's cache (read twice: judged, then kept) equal `tracker status`'s."""
    with app.app_context(), session_scope(engine) as session:
        loaded = orgcache.loaded(session, "makha")
        assert loaded.key is not None  # synced: its statuses are cached
        for fy in (2566, 2567):
            _, expected = org_statuses(session, "makha", TODAY, fy)
            for _ in range(2):
                assert statuses.statuses_of(session, loaded, TODAY, fy) == expected
                for code in ("O10-1", "O10-2", "O10-3"):
                    assert statuses.statuses_of(session, loaded, TODAY, fy, code) == [
                        i for i in expected if i.occurrence.obligation == code]


def test_statuses_read_as_rows_are_those_of_tracker_status(app: Flask, engine: Engine) -> None:
    _compare(app, engine)
    _log(engine, "O10-1", date(2022, 10, 20))
    mistaken = _log(engine, "O10-2", date(2022, 10, 25))
    corrected = _log(engine, "O10-3", date(2023, 1, 10))
    _log(engine, "O10-3", date(2022, 9, 30))  # late work for the year before, attributed there
    _compare(app, engine)
    with session_scope(engine) as session:
        withdraw_action(session, "makha", mistaken, LATER, actor="admin", channel="web", reason="wrong item")
        correct_action(session, "makha", corrected, Action("O10-3", date(2023, 2, 1)), LATER, actor="admin",
                       channel="web", reason="wrong date")
    _compare(app, engine)
    with session_scope(engine) as session:
        _, expected = org_statuses(session, "makha", TODAY, 2566)
    assert any(i.occurrence.obligation == "O10-2" and not i.is_finished for i in expected)


def _row_status(client: FlaskClient, obligation: str, path: str = "/o/makha") -> list[str]:
    return re.findall(rf'<tr data-obligation="{re.escape(obligation)}" data-status="([^"]+)">', client.get(path).text)


def test_the_board_shows_a_logged_then_withdrawn_action_at_once(app: Flask, engine: Engine) -> None:
    client = app.test_client()
    sign_in(client, engine, MAKHA_ADMIN, LATER)
    before = _row_status(client, "O10-1")
    assert before and "done" not in before
    action = _log(engine, "O10-1", date(2022, 10, 20))
    assert "done" in _row_status(client, "O10-1")
    with session_scope(engine) as session:
        withdraw_action(session, "makha", action, LATER, actor="admin", channel="web", reason="wrong item")
    assert _row_status(client, "O10-1") == before


def test_a_board_read_in_thai_then_english_is_in_english(app: Flask, engine: Engine) -> None:
    client = app.test_client()
    sign_in(client, engine, MAKHA_ADMIN, LATER)
    thai = client.get("/o/makha").text
    english = client.get("/o/makha?lang=en").text
    assert "เกินกำหนด" in thai and "เกินกำหนด" not in english.split('id="board"')[1]
    assert "overdue" in english.split('id="board"')[1]
