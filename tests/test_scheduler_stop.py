"""Stopping `tracker run` (SIGTERM, SIGINT) at any moment. A run stopped while starting hung for good:
the signal handler shut the scheduler down itself, in the main thread, which the signal had interrupted
inside APScheduler while it held the thread pool's lock (submitting a sweep), so the shutdown waited
for that lock for ever. Found when a full test run's `tracker run` did not stop within 30 s."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

# The pool's thread start made slow, and SIGTERM sent while `submit` holds the pool's lock in it.
SCRIPT = """
import concurrent.futures, os, signal, threading, time
from datetime import datetime
from types import SimpleNamespace
from apscheduler.executors.pool import BasePoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from jobs.scheduler import run_forever

inside = threading.Event()

class SlowStart(concurrent.futures.ThreadPoolExecutor):
    def _adjust_thread_count(self):  # submit() calls it holding self._shutdown_lock
        inside.set()
        time.sleep(1.0)
        super()._adjust_thread_count()

def terminate():
    inside.wait(10)
    os.kill(os.getpid(), signal.SIGTERM)

class SlowPool(BasePoolExecutor):
    def __init__(self):
        super().__init__(SlowStart(max_workers=2))

ran = []
scheduler = BlockingScheduler(executors={"default": SlowPool()})
scheduler.add_job(lambda: ran.append(1), "interval", seconds=60, next_run_time=datetime.now(), misfire_grace_time=30)
threading.Thread(target=terminate, daemon=True).start()
run_forever(SimpleNamespace(stopping=threading.Event()), scheduler)
print("stopped after", len(ran), "sweep")
"""


def test_a_signal_while_a_sweep_is_being_submitted_stops_the_service() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=30,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "stopped after 1 sweep" in done.stdout  # the sweep in flight finished before it returned
