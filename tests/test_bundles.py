"""One message a day per person and channel: a day's reminders for a recipient and destination go out as
one bundle, most urgent first; work logged before the send drops its item; a channel left with nothing
gets nothing; a batch cut never splits a bundle."""

from __future__ import annotations

import random
from datetime import UTC, date

from sqlalchemy import Engine, select

from config.loader import LoadResult
from jobs import dispatch, plan
from jobs.bundle import SEPARATOR
from tests.fixtures_reminders import AS_OF, RecordingSender, outbox, sync_sample
from tracker.domain.model import Action
from tracker.store.db import session_scope
from tracker.store.models import ObligationRow, OccurrenceRow, OutboxRow
from tracker.store.repo import record_action

OFFICER_LINE = "line://U0123456789abcdef0123456789abcdef"
OFFICER_MAIL = "mailto:palad@makha.example.go.th"


def planned(engine: Engine, sample: LoadResult) -> None:
    sync_sample(engine, sample)
    with session_scope(engine) as session:
        plan.plan(session, AS_OF, "makha")


def log(engine: Engine, obligation: str) -> None:
    with session_scope(engine) as session:
        record_action(session, "makha", Action(obligation, date(2022, 10, 20), "https://makha.example/x", "",
                                               "test"), now=AS_OF.astimezone(UTC))


def obligation_of(engine: Engine, row: OutboxRow) -> str:
    with session_scope(engine) as session:
        code = session.scalar(select(ObligationRow.code).join(OccurrenceRow, OccurrenceRow.obligation_id
                                                              == ObligationRow.id)
                              .where(OccurrenceRow.id == row.occurrence_id))
    assert code is not None
    return code


def send(engine: Engine, sender: RecordingSender, **kw: int) -> dispatch.DispatchResult:
    return dispatch.run_once(engine, AS_OF, sender, "test", rng=random.Random(3), **kw)  # type: ignore[arg-type]


def test_a_day_of_reminders_is_one_message_per_recipient_and_destination(engine: Engine, sample: LoadResult) -> None:
    planned(engine, sample)
    rows = outbox(engine)
    sender = RecordingSender()
    result = send(engine, sender, batch=1)  # a batch of one row is widened to the whole bundle
    channels = {(r.recipient, r.destination) for r in rows}
    assert result.statuses["sent"] == len(rows) and len(sender.sent) == len(channels) < len(rows)
    line = [m for d, m in sender.sent if d == OFFICER_LINE]
    assert len(line) == 1
    officer_rows = [r for r in rows if r.destination == OFFICER_LINE]
    codes = {obligation_of(engine, r) for r in officer_rows}
    assert len(officer_rows) == len(codes) == 6 and all(code in line[0].short_text for code in codes)
    assert line[0].subject.startswith("[แจ้งเตือน ๖ รายการ]")
    mail = next(m for d, m in sender.sent if d == OFFICER_MAIL)
    assert all(code in mail.text for code in codes)  # the e-mail lists every item
    assert mail.text.count(SEPARATOR) == len(officer_rows) - 1
    assert mail.html is not None and mail.html.count("<hr>") == len(officer_rows) - 1


def test_work_logged_before_the_send_drops_its_item_and_an_empty_bundle_is_not_sent(
        engine: Engine, sample: LoadResult) -> None:
    planned(engine, sample)
    o10 = [r for r in outbox(engine) if obligation_of(engine, r) == "O10-1"]
    assert o10
    log(engine, "O10-1")
    sender = RecordingSender()
    send(engine, sender)
    line = [m for d, m in sender.sent if d == OFFICER_LINE]
    assert len(line) == 1 and "O10-1" not in line[0].short_text and "M03-1" in line[0].short_text
    assert line[0].subject.startswith("[แจ้งเตือน ๕ รายการ]")
    assert {r.status for r in outbox(engine) if r.id in {o.id for o in o10}} == {"cancelled"}


def test_a_channel_whose_every_item_was_done_gets_no_message(engine: Engine, sample: LoadResult) -> None:
    planned(engine, sample)
    finance = [r for r in outbox(engine) if r.destination == "mailto:finance@makha.example.go.th"]
    assert len(finance) == 1
    log(engine, obligation_of(engine, finance[0]))
    sender = RecordingSender()
    send(engine, sender)
    assert all(d != "mailto:finance@makha.example.go.th" for d, _ in sender.sent)
    assert {r.status for r in outbox(engine) if r.destination == "mailto:finance@makha.example.go.th"} == {"cancelled"}
