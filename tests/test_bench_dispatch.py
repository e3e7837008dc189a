"""The dispatch benchmark runs (small): every message it queues is delivered to the fake LINE server.
It had stopped measuring anything: its messages went to recipients no configuration named, and the
dispatcher's send-time check cancelled all of them."""

from __future__ import annotations

import argparse
from datetime import datetime

import pytest

from bench.dispatch_bench import dispatch_benchmarks
from tracker.domain.thaidate import BANGKOK


def test_the_dispatch_benchmark_delivers_what_it_queues(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(latency=0.005, sequential=6, messages=24, concurrency=4, line_rate=2000.0,
                              limited_rate=10.0)
    dispatch_benchmarks(args, datetime(2023, 3, 24, 10, 0, tzinfo=BANGKOK))  # asserts each run's delivery
    printed = capsys.readouterr().out
    assert "sequential:  6 messages" in printed and "24 messages" in printed and "30 messages" in printed
