"""`tracker remind --dry-run` is the real planner rolled back: at each sample instant it shows exactly
the reminders that `tracker remind` then queues, and writes nothing (issue 8). SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from config.loader import LoadResult
from config.settings import Settings
from notifiers.registry import mask_destination
from tests.fixtures_reminders import bkk, count_outbox, sync_sample
from tracker.cli.common import Context
from tracker.cli.main import main
from tracker.store import outbox
from tracker.store.db import session_scope

# (what the day is, the instant, a reminder the day must show as (obligation, stage kind, days to due))
INSTANTS = [
    ("before-stage day", bkk(2022, 10, 21, 9, 0), ("O10-1", "before", 10)),
    ("due day", bkk(2022, 10, 31, 9, 0), ("O10-1", "due", 0)),
    ("overdue day and November's digest day", bkk(2022, 11, 1, 10, 0), ("O10-1", "overdue", -1)),
    ("escalation day", bkk(2022, 11, 7, 9, 0), ("O10-1", "escalation", -7)),
    ("December's digest day", bkk(2022, 12, 1, 10, 0), None),
    ("fiscal-year rollover: FY 2567, never synced", bkk(2023, 10, 17, 9, 0), ("O10-1", "before", 14)),
]
Item = tuple[str, str, str, str, int, str, str]


def run(env: dict[str, str], *argv: str) -> Any:
    out = io.StringIO()
    code = main([*argv, "--format", "json"], Context(Settings.from_env(env), out=out, err=out))
    assert code == 0, out.getvalue()
    return json.loads(out.getvalue())


def item(r: dict[str, Any]) -> Item:
    return (r["org"], r["obligation"], r["due"], r["stage"], r["days_to_due"], r["recipient"], r["destination"])


def queued_since(engine: Engine, after: int) -> tuple[set[Item], int]:
    """What the real run queued after outbox id `after`: (pending reminders as the dry run shows them, skipped)."""
    with session_scope(engine) as session:
        rows = outbox.reminders_since(session, after)
    shown = {(r.org, r.obligation, r.due.isoformat(), r.kind, r.days_to_due, r.recipient,
              mask_destination(r.destination)) for r in rows if r.status != "skipped"}
    return shown, sum(r.status == "skipped" for r in rows)


@pytest.mark.parametrize("when", INSTANTS, ids=[i[0] for i in INSTANTS])
def test_one_instant_dry_run_equals_the_real_run(engine: Engine, db_url: str, tmp_path: Path, sample: LoadResult,
                                                  when: tuple[str, datetime, tuple[str, str, int] | None]) -> None:
    _, at, expected = when
    env = {"DATABASE_URL": db_url, "TRACKER_DATA_DIR": str(tmp_path), "TRACKER_OUTBOX_DIR": str(tmp_path / "out")}
    sync_sample(engine, sample)  # in FY 2566: the rollover instant must materialise FY 2567 itself
    check_instant(engine, env, at, expected)


def test_a_year_of_sample_instants_in_sequence_agree(engine: Engine, db_url: str, tmp_path: Path,
                                                     sample: LoadResult) -> None:
    """One database through the year: catch-up and skips after the gaps between instants agree too."""
    env = {"DATABASE_URL": db_url, "TRACKER_DATA_DIR": str(tmp_path), "TRACKER_OUTBOX_DIR": str(tmp_path / "out")}
    sync_sample(engine, sample)  # in FY 2566: the rollover instant must materialise FY 2567 itself
    for _, at, expected in INSTANTS:
        check_instant(engine, env, at, expected)


def check_instant(engine: Engine, env: dict[str, str], at: datetime, expected: tuple[str, str, int] | None) -> None:
    before = count_outbox(engine)
    dry = run(env, "remind", "--dry-run", "--as-of", at.isoformat())
    assert count_outbox(engine) == before, "a dry run wrote to the outbox"
    shown = [item(r) for r in dry["reminders"]]
    assert len(shown) == len(set(shown))
    with session_scope(engine) as session:
        last = outbox.last_id(session)
    real = run(env, "remind", "--as-of", at.isoformat())
    queued, skipped = queued_since(engine, last)
    assert set(shown) == queued, at
    assert (dry["skipped"], real["planned"]["skipped"]) == (skipped, skipped), at
    assert real["planned"]["created"] == len(queued), at
    if expected is not None:
        assert expected in {(i[1], i[3], i[4]) for i in shown}, at
    assert all(r["text"] and r["subject"] for r in dry["reminders"])


def test_the_dry_run_shows_each_messages_signed_link_and_stores_nothing(engine: Engine, db_url: str, tmp_path: Path,
                                                                       sample: LoadResult) -> None:
    """Each reminder carries the link its message would (its recipient's, to its deadline), and the link
    opens that deadline's page; the outbox and the key file are left as they were."""
    from tests.web_support import make_app
    env = {"DATABASE_URL": db_url, "TRACKER_DATA_DIR": str(tmp_path), "TRACKER_OUTBOX_DIR": str(tmp_path / "out"),
           "TRACKER_BASE_URL": "http://tracker.test", "TRACKER_SECRET_KEY": "dry-run-test-key"}
    sync_sample(engine, sample)
    before = count_outbox(engine)
    at = bkk(2022, 10, 21, 9, 0)
    dry = run(env, "remind", "--dry-run", "--as-of", at.isoformat())
    assert count_outbox(engine) == before and "links_note" not in dry
    assert dry["reminders"] and all(r["link"] and r["link"].startswith("http://tracker.test/a/")
                                    and r["link"] in r["text"] for r in dry["reminders"])
    pairs = {(r["obligation"], r["recipient"]) for r in dry["reminders"]}
    assert len({r["link"] for r in dry["reminders"]}) == len(pairs)  # each recipient's own link to its deadline
    o10 = next(r for r in dry["reminders"] if r["obligation"] == "O10-1")
    app = make_app(engine, tmp_path, now=at)
    app.config["TRACKER_SETTINGS"] = Settings.from_env(env)
    page = app.test_client().get(o10["link"].removeprefix("http://tracker.test"))
    assert page.status_code == 200 and "O10-1" in page.text and o10["recipient"] in page.text
    out = io.StringIO()
    assert main(["remind", "--dry-run", "--as-of", at.isoformat()], Context(Settings.from_env(env), out=out)) == 0
    assert o10["link"] in out.getvalue()  # the table's listing, one link a line
    assert count_outbox(engine) == before


def test_without_a_key_the_dry_run_creates_none_and_says_so(engine: Engine, db_url: str, tmp_path: Path,
                                                          sample: LoadResult) -> None:
    env = {"DATABASE_URL": db_url, "TRACKER_DATA_DIR": str(tmp_path / "data"), "TRACKER_OUTBOX_DIR": str(tmp_path)}
    sync_sample(engine, sample)
    dry = run(env, "remind", "--dry-run", "--as-of", bkk(2022, 10, 21, 9, 0).isoformat())
    assert "will not open" in dry["links_note"] and all(r["link"] for r in dry["reminders"])
    assert not (tmp_path / "data" / "secret_key").exists()
