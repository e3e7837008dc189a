"""Serving the app without gunicorn: `tracker web` in the foreground, `tracker run` in a thread.

Werkzeug's threaded server is enough for one office on a laptop; production runs gunicorn (Procfile).
"""

from __future__ import annotations

import threading

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def server(app: Flask, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> BaseWSGIServer:
    """A bound server (raises OSError when the port is taken)."""
    return make_server(host, port, app, threaded=True)


def url_of(srv: BaseWSGIServer) -> str:
    host = srv.host if ":" not in srv.host else f"[{srv.host}]"
    return f"http://{host}:{srv.port}"


class Background:
    """The server in a daemon thread; `stop()` shuts it down and waits."""

    def __init__(self, srv: BaseWSGIServer) -> None:
        self.server = srv
        self.thread = threading.Thread(target=srv.serve_forever, name="web", daemon=True)

    def start(self) -> Background:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.server.server_close()
