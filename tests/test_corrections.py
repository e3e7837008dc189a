"""Corrections leave a trail: withdrawn and corrected actions stay in the history, leave every status,
and the audit trail names who, when and through which channel; hand-overs move the outbox."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, select

from config.loader import LoadResult
from jobs import plan
from tests.fixtures_reminders import AS_OF, bkk, outbox, sync_sample
from tests.test_cli_status import Cli, cli  # noqa: F401  (the fixture)
from tracker.domain.errors import TrackerError
from tracker.domain.model import Action
from tracker.store import audit
from tracker.store.actions import InvalidAction, correct_action, log_action, withdraw_action
from tracker.store.db import session_scope
from tracker.store.handovers import create_handover, revoke_handover
from tracker.store.models import ObligationRow, OccurrenceRow
from tracker.store.repo import list_actions, org_row

LOGGED_AT = bkk(2024, 1, 10, 9, 0)  # after every action date below: an action is logged once done
LATER = LOGGED_AT + timedelta(hours=2)


def done_on(engine: Engine, obligation: str = "O10-3") -> date | None:
    """The stored `done_on` of the obligation's FY 2566 occurrence (O10-3: the sample logs nothing for it)."""
    with session_scope(engine) as session:
        return session.scalar(select(OccurrenceRow.done_on).join(ObligationRow, ObligationRow.id ==
                                                                 OccurrenceRow.obligation_id)
                              .where(ObligationRow.code == obligation, OccurrenceRow.period == "2566"))


def log(engine: Engine, action: Action, channel: str = "web") -> int:
    with session_scope(engine) as session:
        return log_action(session, "makha", action, channel=channel, now=LOGGED_AT)


def test_a_withdrawn_action_no_longer_counts_but_stays_in_the_history(engine: Engine, sample: LoadResult) -> None:
    sync_sample(engine, sample)
    action_id = log(engine, Action("O10-3", date(2022, 12, 20), recorded_by="สมชาย"))
    assert done_on(engine) == date(2022, 12, 20)
    with session_scope(engine) as session:
        withdraw_action(session, "makha", action_id, LATER, actor="หัวหน้าสำนักปลัด", channel="web",
                        reason="บันทึกผิดภาระงาน")
    assert done_on(engine) is None
    with session_scope(engine) as session:
        current = [s.id for s in list_actions(session, "makha", "O10-3")]
        history = {s.id: s for s in list_actions(session, "makha", "O10-3", include_withdrawn=True)}
    assert action_id not in current
    gone = history[action_id].withdrawn
    assert gone is not None and (gone.by, gone.channel, gone.reason, gone.at) == (
        "หัวหน้าสำนักปลัด", "web", "บันทึกผิดภาระงาน", LATER)


def test_withdrawing_twice_or_without_a_reason_is_refused(engine: Engine, sample: LoadResult) -> None:
    sync_sample(engine, sample)
    action_id = log(engine, Action("O10-1", date(2022, 10, 20)))
    with session_scope(engine) as session, pytest.raises(InvalidAction, match="why"):
        withdraw_action(session, "makha", action_id, LATER, actor="x", channel="cli", reason=" ")
    with session_scope(engine) as session:
        withdraw_action(session, "makha", action_id, LATER, actor="x", channel="cli", reason="ผิด")
    with session_scope(engine) as session, pytest.raises(TrackerError, match="already withdrawn"):
        withdraw_action(session, "makha", action_id, LATER, actor="x", channel="cli", reason="ผิด")


def test_a_correction_replaces_the_date_and_names_the_action_it_corrects(engine: Engine, sample: LoadResult) -> None:
    sync_sample(engine, sample)
    wrong = log(engine, Action("O10-3", date(2023, 12, 20), recorded_by="สมชาย"))  # typed ๒๕๖๖ for ๒๕๖๕
    with session_scope(engine) as session:
        fixed = correct_action(session, "makha", wrong, Action("O10-3", date(2022, 12, 20)), LATER,
                               actor="สมชาย", channel="line", reason="ปี พ.ศ. ผิด")
    assert done_on(engine) == date(2022, 12, 20)
    with session_scope(engine) as session:
        history = {s.id: s for s in list_actions(session, "makha", "O10-3", include_withdrawn=True)}
        trail = audit.entries(session, org_row(session, "makha").id, entity="action")
    assert history[fixed].corrects_id == wrong and history[fixed].withdrawn is None
    assert history[wrong].withdrawn is not None and history[wrong].withdrawn.reason == "corrected: ปี พ.ศ. ผิด"
    assert [(e.change, e.channel, e.entity_id) for e in trail] == [("corrected", "line", str(fixed)),
                                                                   ("created", "web", str(wrong))]


def test_an_invalid_correction_changes_nothing(engine: Engine, sample: LoadResult) -> None:
    sync_sample(engine, sample)
    action_id = log(engine, Action("O10-3", date(2022, 12, 20)))
    with session_scope(engine) as session, pytest.raises(InvalidAction) as caught:
        correct_action(session, "makha", action_id, Action("O10-3", date(2022, 12, 21), evidence="ftp://x"),
                       LATER, actor="x", channel="web", reason="", prefix="")
    assert {p.file for p in caught.value.problems} == {"evidence", "reason"}
    with session_scope(engine) as session:
        assert [s.id for s in list_actions(session, "makha", "O10-3")] == [action_id]


def test_a_handover_moves_pending_reminders_in_the_leave_to_the_colleague(engine: Engine,
                                                                           sample: LoadResult) -> None:
    sync_sample(engine, sample)
    officer, colleague = "เจ้าหน้าที่ผู้รับผิดชอบ สำนักปลัด", "หัวหน้าสำนักปลัด"
    with session_scope(engine) as session:
        create_handover(session, "makha", officer, colleague, date(2022, 10, 17), date(2022, 10, 28), AS_OF,
                        actor=colleague, channel="web")
    with session_scope(engine) as session:
        result = plan.plan(session, AS_OF, "makha")
    officer_rows = [r for r in outbox(engine) if r.recipient == officer]
    assert result.handed_over == len(officer_rows) > 0  # every one of them falls in the leave (21 October)
    assert all(r.status == "skipped" and "handed over to หัวหน้าสำนักปลัด" in (r.skip_reason or "")
               for r in officer_rows)
    moved = [r for r in outbox(engine, status="pending") if r.recipient == colleague]
    # the officer has two destinations (LINE, mail); the head's one mailbox gets each reminder once
    assert len(moved) == len({(r.occurrence_id, r.stage) for r in officer_rows}) == len(officer_rows) // 2
    assert {r.destination for r in moved} == {"mailto:palad.head@makha.example.go.th"}
    assert {(r.occurrence_id, r.stage) for r in moved} == {(r.occurrence_id, r.stage) for r in officer_rows}
    # Planning again moves nothing twice.
    with session_scope(engine) as session:
        assert plan.plan(session, bkk(2022, 10, 21, 11, 0), "makha").handed_over == 0


def test_reminders_outside_the_leave_stay_with_the_person(engine: Engine, sample: LoadResult) -> None:
    sync_sample(engine, sample)
    officer = "เจ้าหน้าที่ผู้รับผิดชอบ สำนักปลัด"
    with session_scope(engine) as session:
        h = create_handover(session, "makha", officer, "หัวหน้าสำนักปลัด", date(2022, 11, 1), date(2022, 11, 5),
                            AS_OF, actor="x", channel="cli")
        revoke_handover(session, "makha", h.id, AS_OF, actor="x", channel="cli")
    with session_scope(engine) as session:
        assert plan.plan(session, AS_OF, "makha").handed_over == 0
    assert {r.recipient for r in outbox(engine, stage="before-7")} >= {officer}


def test_a_handover_to_an_unknown_person_says_which_names_exist(engine: Engine, sample: LoadResult) -> None:
    sync_sample(engine, sample)
    with session_scope(engine) as session, pytest.raises(InvalidAction) as caught:
        create_handover(session, "makha", "นาย ก", "หัวหน้าสำนักปลัด", date(2022, 11, 5), date(2022, 11, 1),
                        AS_OF, actor="x", channel="web")
    assert {p.file for p in caught.value.problems} == {"from", "ends_on"}


# ---------------------------------------------------------------- the CLI


def test_cli_withdraw_correct_and_audit(cli: Cli) -> None:  # noqa: F811
    assert cli("log", "--org", "makha", "--obligation", "O10-2", "--date", "2023-04-20", "--by", "สมชาย")[0] == 0
    [logged] = [a for a in cli.json("actions", "--org", "makha", "--obligation", "O10-2")["actions"]
                if a["source"] == "cli"]
    code, out = cli("correct", str(logged["id"]), "--org", "makha", "--date", "20/4/2566",
                    "--evidence", "https://makha.example.go.th/o10", "--reason", "ลืมแนบลิงก์", "--by", "สมชาย")
    assert code == 0, out
    current = [a for a in cli.json("actions", "--org", "makha", "--obligation", "O10-2")["actions"]
               if a["source"] == "cli"]
    assert [a["evidence"] for a in current] == ["https://makha.example.go.th/o10"]
    code, out = cli("withdraw", str(current[0]["id"]), "--org", "makha", "--reason", "ซ้ำ", "--by", "ผู้ดูแลระบบ")
    assert code == 0, out
    trail = cli.json("audit", "--org", "makha")["entries"]
    assert [(e["entity"], e["change"], e["channel"], e["actor"]) for e in trail[:3]] == [
        ("action", "withdrawn", "cli", "ผู้ดูแลระบบ"), ("action", "corrected", "cli", "สมชาย"),
        ("action", "created", "cli", "สมชาย")]
    code, out = cli("withdraw", str(current[0]["id"]), "--org", "makha", "--reason", "ซ้ำ")
    assert code == 2 and "already withdrawn" in out


def test_cli_api_tokens_are_shown_once_stored_hashed_and_revocable(cli: Cli) -> None:  # noqa: F811
    code, out = cli("api-token", "create", "--org", "makha", "--name", "dashboard", "--by", "admin")
    assert code == 0
    token = out.strip().splitlines()[-1]
    assert token.startswith("itk_") and len(token) > 40
    code, listing = cli("api-token", "list", "--org", "makha")
    assert "dashboard" in listing and token not in listing and token[:10] in listing
    assert cli("api-token", "revoke", "--org", "makha")[0] == 2
    assert cli("api-token", "revoke", "1", "--org", "makha")[0] == 0
    trail = cli.json("audit", "--org", "makha")["entries"]
    assert [(e["entity"], e["change"]) for e in trail[:2]] == [("api_token", "revoked"), ("api_token", "created")]
    assert all(token not in str(e) for e in trail)


def test_cli_feed_prints_a_secret_url_under_the_base_url(cli: Cli) -> None:  # noqa: F811
    cli.env["TRACKER_BASE_URL"] = "https://ita.example.go.th/"
    code, out = cli("feed", "create", "--org", "makha", "--unit", "palad")
    assert code == 0 and "https://ita.example.go.th/feeds/cal_" in out and out.strip().endswith(".ics")
    code, out = cli("feed", "create", "--org", "makha", "--unit", "nope")
    assert code == 2 and "no unit 'nope'" in out


def test_cli_handover(cli: Cli) -> None:  # noqa: F811
    code, out = cli("handover", "create", "--org", "makha", "--from", "เจ้าหน้าที่ผู้รับผิดชอบ กองคลัง",
                    "--to", "ผู้อำนวยการกองคลัง", "--start", "1/11/2565", "--end", "2022-11-10")
    assert code == 0, out
    assert "2022-11-01" in cli("handover", "list", "--org", "makha")[1]
    code, out = cli("handover", "create", "--org", "makha", "--from", "ใครก็ไม่รู้")
    assert code == 2 and "--to" in out
