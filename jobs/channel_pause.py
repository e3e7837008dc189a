"""Channels paused during one dispatch run, shared by its worker threads.

A refused LINE token or SMTP login, or a provider that cannot be reached at all, is the channel's
failure, not each recipient's: once one send has shown it, the other messages of that channel in this
run are not tried (each would fail the same way and cost an attempt); they go back to pending and are
tried again after `jobs.outcomes.CHANNEL_RETRY_SECONDS`, when the first of them to be sent is the probe:
if it succeeds the channel has resumed by itself, with no destination marked broken.
"""

from __future__ import annotations

import threading


class ChannelPauses:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._why: dict[str, str] = {}

    def pause(self, scheme: str, reason: str) -> None:
        with self._lock:
            self._why.setdefault(scheme, reason)

    def reason(self, scheme: str) -> str | None:
        with self._lock:
            return self._why.get(scheme)
