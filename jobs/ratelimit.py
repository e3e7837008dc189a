"""A per-channel rate limit shared by the dispatcher's threads (LINE allows 2,000 pushes/s per channel).

A virtual-time token bucket (GCRA): each caller reserves the next free slot under a lock and sleeps
outside it, so threads never spin and the long-run rate never exceeds the limit; `burst` slots may be
taken at once after an idle period.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping


class RateLimiter:
    def __init__(self, per_second: float, burst: int = 1, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if per_second <= 0:
            raise ValueError("a rate limit must be positive (messages per second)")
        self.interval = 1.0 / per_second
        self.burst = max(1, burst)
        self._clock = clock
        self._sleep = sleep
        self._next = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for a slot; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            earliest = now - (self.burst - 1) * self.interval
            slot = max(self._next, earliest)
            self._next = slot + self.interval
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
        return max(0.0, wait)


class ChannelLimits:
    """One limiter per URL scheme (`line`, `mailto`…); schemes without a limit are not slowed."""

    def __init__(self, limits: Mapping[str, float] | None = None) -> None:
        self._limiters = {scheme: RateLimiter(rate) for scheme, rate in (limits or {}).items() if rate}

    def acquire(self, scheme: str) -> float:
        limiter = self._limiters.get(scheme)
        return limiter.acquire() if limiter else 0.0
