"""Fetching an evidence link safely: timeouts, a redirect limit, a size cap, and no request to the
machine itself or its private networks.

The service runs inside an office or a cloud network; a URL typed by anyone who can log an action must
not make it knock on 127.0.0.1, 10.x, 169.254.169.254 (cloud metadata) and the like. Every hop of a
redirect chain is resolved and refused unless every address it resolves to is global. Tests pass
`allow` (loopback networks) to reach their own server; nothing in production sets it.
Known limit: the name is resolved again by the HTTP client, so a DNS answer that changes between the
two lookups (rebinding) is not caught.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import requests

from tracker.store.evidence import CheckOutcome

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
USER_AGENT = "ITA-Tracker evidence check (+https://github.com/)"


@dataclass
class EvidenceFetcher:
    timeout_seconds: float = 10.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    allow: Sequence[Network] = ()  # for tests only: networks that may be reached although not global
    session: requests.Session = field(default_factory=requests.Session)

    def refused(self, host: str, port: int) -> str | None:
        """Why `host` may not be fetched, or None."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            return f"the name {host} does not resolve ({exc})"
        for info in infos:
            address = ipaddress.ip_address(info[4][0])
            if any(address in net for net in self.allow):
                continue
            if not address.is_global or address.is_multicast:
                return f"{host} is a local or private address ({address}): refused for safety"
        return None

    def check(self, url: str) -> CheckOutcome:
        current = url
        deadline = time.monotonic() + self.timeout_seconds * 3
        for _ in range(self.max_redirects + 1):
            parts = urlsplit(current)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                return CheckOutcome(False, None, current, "not a web link (http:// or https://)")
            try:
                port = parts.port or (443 if parts.scheme == "https" else 80)
            except ValueError:
                return CheckOutcome(False, None, current, "the port is not a number")
            reason = self.refused(parts.hostname, port)
            if reason:
                return CheckOutcome(False, None, current, reason)
            try:
                response = self.session.get(current, stream=True, allow_redirects=False,
                                            timeout=(self.timeout_seconds, self.timeout_seconds),
                                            headers={"User-Agent": USER_AGENT, "Accept": "*/*"})
            except requests.Timeout:
                return CheckOutcome(False, None, current, f"no answer within {self.timeout_seconds:g} s")
            except requests.RequestException as exc:
                return CheckOutcome(False, None, current, f"could not connect: {type(exc).__name__}")
            with response:
                if response.is_redirect:
                    current = urljoin(current, response.headers.get("Location", ""))
                    continue
                error = self._drain(response, deadline)
                if error:
                    return CheckOutcome(False, response.status_code, current, error)
                ok = 200 <= response.status_code < 300
                return CheckOutcome(ok, response.status_code, current,
                                    "" if ok else f"HTTP {response.status_code} {response.reason or ''}".strip())
        return CheckOutcome(False, None, current, f"more than {self.max_redirects} redirects")

    def _drain(self, response: requests.Response, deadline: float) -> str:
        """Read at most `max_bytes` (a page bigger than that is up; the rest is not worth fetching)."""
        read = 0
        try:
            for chunk in response.iter_content(65536):
                read += len(chunk)
                if read >= self.max_bytes:
                    break
                if time.monotonic() > deadline:
                    return "the page came too slowly"
        except requests.RequestException as exc:
            return f"the page broke off: {type(exc).__name__}"
        return ""

    def close(self) -> None:
        self.session.close()
