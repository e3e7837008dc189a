"""The HTTP server the loopback fakes share.

The standard library's `socketserver` listens with a backlog of 5: a burst of connections (the
dispatcher's 64 threads opening theirs at once) overflows it and the kernel drops or resets the rest,
which real LINE never does. A deep backlog makes the fake accept every connection of a burst.
"""

from __future__ import annotations

from http.server import ThreadingHTTPServer


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server with a listen backlog deep enough for bursts, and daemon handler threads."""

    request_queue_size = 1024
    daemon_threads = True
