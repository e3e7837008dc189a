"""Evidence links are fetched after they are logged and again after a report round closes; a broken
one is recorded, shown, and told to the unit once. Loopback and private addresses are refused unless a
test allows its own loopback server."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from jobs import evidence
from jobs.evidence_fetch import EvidenceFetcher
from tests.fakes.evidence_server import EvidenceSite
from tests.fixtures_reminders import outbox
from tests.two_orgs import NOW, sync_two
from tracker.domain.model import Action
from tracker.domain.thaidate import BANGKOK
from tracker.store.actions import correct_action, log_action
from tracker.store.db import session_scope
from tracker.store.evidence import broken_links
from tracker.store.repo import org_row

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


@pytest.fixture
def site() -> Iterator[EvidenceSite]:
    with EvidenceSite() as s:
        yield s


@pytest.fixture
def fetcher() -> Iterator[EvidenceFetcher]:
    f = EvidenceFetcher(timeout_seconds=1.0, max_bytes=1_000_000, max_redirects=3, allow=LOOPBACK)
    yield f
    f.close()


def test_a_page_that_answers_is_ok(site: EvidenceSite, fetcher: EvidenceFetcher) -> None:
    outcome = fetcher.check(f"{site.url}/plan.pdf")
    assert (outcome.ok, outcome.status_code, outcome.error) == (True, 200, "")


def test_a_redirect_is_followed_to_the_page(site: EvidenceSite, fetcher: EvidenceFetcher) -> None:
    outcome = fetcher.check(f"{site.url}/redirect")
    assert outcome.ok and outcome.final_url == f"{site.url}/plan.pdf"


def test_a_missing_page_is_broken(site: EvidenceSite, fetcher: EvidenceFetcher) -> None:
    site.remove("/plan.pdf")
    outcome = fetcher.check(f"{site.url}/plan.pdf")
    assert (outcome.ok, outcome.status_code) == (False, 404) and outcome.error.startswith("HTTP 404")


def test_a_redirect_loop_stops_at_the_limit(site: EvidenceSite, fetcher: EvidenceFetcher) -> None:
    outcome = fetcher.check(f"{site.url}/loop")
    assert not outcome.ok and "more than 3 redirects" in outcome.error
    assert site.hits.count("/loop") == 4


def test_a_page_that_does_not_answer_in_time_is_broken(site: EvidenceSite, fetcher: EvidenceFetcher) -> None:
    outcome = fetcher.check(f"{site.url}/slow")
    assert not outcome.ok and ("1 s" in outcome.error or "broke off" in outcome.error or "slowly" in outcome.error)


def test_a_huge_page_is_read_only_up_to_the_cap(site: EvidenceSite, fetcher: EvidenceFetcher) -> None:
    started = datetime.now()
    outcome = fetcher.check(f"{site.url}/big")  # 50 MB offered, 1 MB read
    assert outcome.ok and datetime.now() - started < timedelta(seconds=5)


def test_loopback_is_refused_without_the_tests_allow_list(site: EvidenceSite) -> None:
    strict = EvidenceFetcher(timeout_seconds=1.0)
    outcome = strict.check(f"{site.url}/plan.pdf")
    strict.close()
    assert not outcome.ok and "refused for safety" in outcome.error and site.hits == []


@pytest.mark.parametrize("url", ["http://10.0.0.1/", "http://192.168.1.1/x", "http://169.254.169.254/latest/",
                                 "http://[::1]:8000/", "http://0.0.0.0/", "http://100.64.0.1/"])
def test_private_and_local_addresses_are_refused(url: str, fetcher: EvidenceFetcher) -> None:
    outcome = fetcher.check(url)
    assert not outcome.ok and "refused for safety" in outcome.error


def test_a_redirect_to_the_metadata_address_is_refused(site: EvidenceSite, fetcher: EvidenceFetcher) -> None:
    outcome = fetcher.check(f"{site.url}/to-metadata")
    assert not outcome.ok and "169.254.169.254" in outcome.error


@pytest.mark.parametrize("url", ["ftp://example.org/x", "file:///etc/passwd", "https:///nohost"])
def test_what_is_not_a_web_link_is_not_fetched(url: str, fetcher: EvidenceFetcher) -> None:
    assert "not a web link" in fetcher.check(url).error


# ---------------------------------------------------------------- the sweep


@pytest.fixture
def db(sqlite_engine: Engine, tmp_path: Path) -> Engine:
    sync_two(sqlite_engine, tmp_path)
    return sqlite_engine


def log(engine: Engine, url: str, obligation: str = "O10-3") -> int:
    with session_scope(engine) as session:
        return log_action(session, "makha", Action(obligation, date(2022, 12, 20), evidence=url), channel="web",
                          now=NOW)


def test_a_new_link_is_checked_once_and_a_broken_one_tells_the_unit_once(db: Engine, site: EvidenceSite,
                                                                           fetcher: EvidenceFetcher) -> None:
    site.remove("/report.pdf")
    action_id = log(db, f"{site.url}/report.pdf")
    log(db, f"{site.url}/plan.pdf", "O11-1")
    first = evidence.run_once(db, NOW, fetcher)
    assert (first.checked, first.broken, first.newly_broken) == (2, 1, 1)
    with session_scope(db) as session:
        [link] = broken_links(session, org_row(session, "makha").id)
    assert (link.action_id, link.obligation, link.unit) == (action_id, "O10-3", "palad")
    alerts = outbox(db, kind="alert", stage="evidence")
    # palad's head (mail) and officer (LINE, mail)
    assert len(alerts) == first.alerts == 3 and all("O10-3" in (a.subject or "") for a in alerts)
    assert "ลิงก์หลักฐาน" in (alerts[0].text or "") and f"{site.url}/report.pdf" in (alerts[0].text or "")
    again = evidence.run_once(db, NOW + timedelta(hours=1), fetcher)
    assert again.checked == 0  # nothing new; the next look is after the round closes
    later = evidence.run_once(db, NOW + timedelta(days=1), fetcher, recheck_all=True)
    assert (later.checked, later.newly_broken, later.alerts) == (2, 0, 0)  # still broken: told once


def test_every_link_is_fetched_again_after_a_round_closes(db: Engine, site: EvidenceSite,
                                                          fetcher: EvidenceFetcher) -> None:
    march = datetime(2023, 3, 20, 10, 0, tzinfo=BANGKOK)
    log(db, f"{site.url}/plan.pdf")
    assert evidence.run_once(db, march, fetcher).checked == 1
    assert evidence.run_once(db, march + timedelta(days=5), fetcher).checked == 0  # still in the round
    site.remove("/plan.pdf")
    april = datetime(2023, 4, 3, 10, 0, tzinfo=BANGKOK)  # the six-month round closed on 31 March
    result = evidence.run_once(db, april, fetcher)
    assert (result.checked, result.newly_broken) == (1, 1)
    assert evidence.run_once(db, april + timedelta(days=1), fetcher).checked == 0


def test_correcting_the_link_clears_the_broken_mark(db: Engine, site: EvidenceSite, fetcher: EvidenceFetcher) -> None:
    site.remove("/old.pdf")
    action_id = log(db, f"{site.url}/old.pdf")
    evidence.run_once(db, NOW, fetcher)
    with session_scope(db) as session:
        correct_action(session, "makha", action_id,
                       Action("O10-3", date(2022, 12, 20), evidence=f"{site.url}/plan.pdf"), NOW,
                       actor="สมชาย", channel="web", reason="ลิงก์ใหม่")
        assert broken_links(session, org_row(session, "makha").id) == []
    assert evidence.run_once(db, NOW, fetcher).checked == 1  # the new link is checked
    assert evidence.round_close(date(2023, 10, 15)) == date(2023, 9, 30)
    assert evidence.round_close(date(2023, 6, 1)) is None


def test_the_digest_shows_broken_links_to_the_executives(db: Engine, site: EvidenceSite,
                                                         fetcher: EvidenceFetcher) -> None:
    from jobs import digest
    site.remove("/report.pdf")
    log(db, f"{site.url}/report.pdf")
    evidence.run_once(db, NOW, fetcher)
    with session_scope(db) as session:
        composed = digest.compose(session, "makha", 2023, 5, date(2023, 5, 2), NOW)
    [broken] = composed.digest.broken_evidence
    assert broken.obligation == "O10-3" and broken.url == f"{site.url}/report.pdf"
    assert "ลิงก์หลักฐานที่เปิดไม่ได้" in composed.rendered.text and f"{site.url}/report.pdf" in composed.rendered.text
    assert f'href="{site.url}/report.pdf"' in composed.rendered.html
    assert "O10-3 สำนักปลัด" in (composed.rendered.line_text or "")
