"""The outbox without foreign keys, with a compact unique key, and the planner's cached recipients
(issue 9, national load): what the foreign keys' cascades used to clean up is cleaned up explicitly, the
migration keeps every row and delivery attempt, and the cache follows the contacts. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from alembic import command
from sqlalchemy import Engine, delete, select, text, update

from config.loader import LoadResult
from config.settings import SAMPLE_CONFIG_DIR
from jobs import plan, sync_config
from tests.fixtures_reminders import AS_OF, SYNCED_AT, bkk, outbox, sync_sample
from tracker.store.db import _alembic_config, session_scope
from tracker.store.models import ObligationRow, OccurrenceRow
from tracker.store.outbox_keys import key_digest


def run(engine: Engine, now: datetime) -> plan.PlanResult:
    with session_scope(engine) as session:
        return plan.plan(session, now)


def pending_of(engine: Engine, occurrence_ids: set[int]) -> list[int]:
    return [r.id for r in outbox(engine, status="pending") if r.occurrence_id in occurrence_ids]


def test_a_deleted_occurrence_leaves_no_pending_reminder(engine: Engine, sample: LoadResult) -> None:
    """Nothing in the service deletes occurrences, but an operator may: with no cascade, the planner
    cancels what was waiting for it, and nothing else is touched."""
    sync_sample(engine, sample)
    run(engine, AS_OF)
    victim = outbox(engine, status="pending")[0].occurrence_id
    assert victim is not None
    others = {r.id for r in outbox(engine, status="pending") if r.occurrence_id != victim}
    with session_scope(engine) as session:
        session.execute(delete(OccurrenceRow).where(OccurrenceRow.id == victim))
    result = run(engine, bkk(2022, 10, 21, 10, 0))
    assert pending_of(engine, {victim}) == []
    cancelled = [r for r in outbox(engine, status="cancelled") if r.occurrence_id == victim]
    assert cancelled and result.cancelled == len(cancelled)
    assert {r.id for r in outbox(engine, status="pending")} >= others


def test_a_deactivated_obligation_leaves_no_pending_reminder(engine: Engine, sample: LoadResult) -> None:
    sync_sample(engine, sample)
    run(engine, AS_OF)
    victim = outbox(engine, status="pending")[0].occurrence_id
    with session_scope(engine) as session:
        obligation = session.scalar(select(OccurrenceRow.obligation_id).where(OccurrenceRow.id == victim))
        session.execute(update(ObligationRow).where(ObligationRow.id == obligation).values(active=False))
        occurrences = set(session.scalars(select(OccurrenceRow.id).where(OccurrenceRow.obligation_id == obligation)))
    run(engine, bkk(2022, 10, 21, 10, 0))
    assert pending_of(engine, occurrences) == []


def test_the_cached_recipients_follow_a_contact_change(engine: Engine, tmp_path: Path) -> None:
    """The planner keeps recipients between runs; a sync that changes a destination is seen by the next
    run, and no reminder goes to the destination that was removed."""
    folder = tmp_path / "config"
    folder.mkdir()
    original = (SAMPLE_CONFIG_DIR / "makha.toml").read_text(encoding="utf-8")
    (folder / "makha.toml").write_text(original, encoding="utf-8")
    with session_scope(engine) as session:
        assert sync_config.run_once(session, [folder], SYNCED_AT).ok
    run(engine, AS_OF)
    assert any(r.destination == "mailto:palad@makha.example.go.th" for r in outbox(engine))
    (folder / "makha.toml").write_text(original.replace("mailto:palad@", "mailto:palad.new@"), encoding="utf-8")
    with session_scope(engine) as session:
        assert sync_config.run_once(session, [folder], AS_OF).ok
    before = {r.id for r in outbox(engine)}
    assert run(engine, bkk(2022, 10, 28, 9, 0)).created > 0
    new = [r for r in outbox(engine) if r.id not in before]
    destinations = {r.destination for r in new}
    assert "mailto:palad.new@makha.example.go.th" in destinations
    assert "mailto:palad@makha.example.go.th" not in destinations


def test_the_migration_keeps_every_row_and_attempt_and_keys_them(engine: Engine) -> None:
    """From 0010 (foreign keys, the text key unique) to the compact key: on SQLite the outbox table is
    rebuilt, which with foreign keys on would have deleted every delivery attempt."""
    with engine.begin() as connection:  # the tables as revision 0010 left them
        config = _alembic_config(engine)
        config.attributes["connection"] = connection
        command.downgrade(config, "0010")
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO organisations (id, code, name, district, province, fiscal_year, language, policy, closures,"
            " source, config_hash, updated_at) VALUES (1, 'x', 'x', 'd', 'p', 2566, 'th', '{}', '[]', '', '',"
            " '2023-01-01 00:00:00')"))
        for id_, key in ((1, "digest:x:2023-03:นายก:0123456789abcdef"), (2, "alert:x:channel:line")):
            connection.execute(text(
                "INSERT INTO outbox (id, key, kind, org_id, stage, merged_stages, recipient, destination, lang,"
                " send_after, status, attempts, next_attempt_at, created_at) VALUES (:id, :key, 'digest', 1, '', '',"
                " 'นายก', 'mailto:m@x', 'th', '2023-03-01 02:00:00', 'sent', 1, '2023-03-01 02:00:00',"
                " '2023-03-01 02:00:00')"), {"id": id_, "key": key})
        connection.execute(text("INSERT INTO delivery_attempts (id, outbox_id, at, outcome, duration_ms)"
                                " VALUES (7, 1, '2023-03-01 02:00:01', 'sent', 5)"))
    with engine.begin() as connection:
        config = _alembic_config(engine)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    with engine.begin() as connection:
        rows = connection.execute(text("SELECT key, key_digest FROM outbox ORDER BY id")).all()
        assert [bytes(digest) for _, digest in rows] == [key_digest(key) for key, _ in rows]
        assert connection.execute(text("SELECT id, outbox_id FROM delivery_attempts")).all() == [(7, 1)]
