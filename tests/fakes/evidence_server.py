"""A small website on loopback standing in for an organisation's site: pages that answer, vanish,
redirect (to themselves, or to a cloud metadata address), drip slowly, or are very large."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *_args: Any) -> None:
        return

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        route = self.path.split("?")[0]
        if route in self.server.missing:
            self._answer(404, b"not found")
        elif route == "/redirect":
            self._redirect("/plan.pdf")
        elif route == "/loop":
            self._redirect("/loop")
        elif route == "/to-metadata":
            self._redirect("http://169.254.169.254/latest/meta-data/")
        elif route == "/slow":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            time.sleep(self.server.slow_seconds)
            self._write(b"x" * 100)
        elif route == "/big":
            self.send_response(200)
            self.send_header("Content-Length", str(50 * 1024 * 1024))
            self.end_headers()
            for _ in range(50 * 16):
                if not self._write(b"x" * 65536):
                    break
        else:
            self._answer(200, "<html><body>แผนดำเนินงานประจำปี</body></html>".encode())

    def _write(self, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self._write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hits: list[str]
    missing: set[str]
    slow_seconds: float


class EvidenceSite:
    def __init__(self) -> None:
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.hits, self.server.missing, self.server.slow_seconds = [], set(), 3.0
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def hits(self) -> list[str]:
        return self.server.hits

    def remove(self, path: str) -> None:
        self.server.missing.add(path)

    def __enter__(self) -> EvidenceSite:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
