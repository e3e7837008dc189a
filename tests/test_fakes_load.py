"""The fakes must not be the bottleneck they are meant to measure: a burst of simultaneous connections,
as the dispatcher opens with 64 threads, is accepted without a reset (the standard library's listen
backlog of 5 dropped and reset connections there, so the dispatch bench failed one run in two)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator

import pytest
import requests

from tests.fakes.line_server import FakeLineServer
from tests.fakes.webhook_server import FakeWebhookServer

BURST = 128


def burst(post: Callable[[int], requests.Response]) -> list[str]:
    """`BURST` requests released at the same instant; the errors, if any."""
    barrier = threading.Barrier(BURST)
    errors: list[str] = []

    def one(i: int) -> None:
        barrier.wait()
        try:
            post(i).raise_for_status()
        except requests.RequestException as exc:
            errors.append(type(exc).__name__)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(BURST)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


@pytest.fixture
def slow_line() -> Iterator[FakeLineServer]:
    with FakeLineServer("tok", latency_seconds=0.02) as server:
        yield server


def test_fake_line_accepts_a_burst_of_connections(slow_line: FakeLineServer) -> None:
    def post(i: int) -> requests.Response:
        return requests.post(f"{slow_line.base_url}/v2/bot/message/push", timeout=10,
                             json={"to": f"U{i:032x}", "messages": [{"type": "text", "text": "ทดสอบ"}]},
                             headers={"Authorization": "Bearer tok", "X-Line-Retry-Key": str(uuid.uuid4())})

    assert burst(post) == []
    assert len(slow_line.delivered) == BURST


def test_fake_webhook_accepts_a_burst_of_connections() -> None:
    with FakeWebhookServer() as hook:
        assert burst(lambda i: requests.post(hook.url(), data=b"{}", timeout=10)) == []
        assert len(hook.received) == BURST
