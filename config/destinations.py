"""What a destination URL must look like, checked the same way in the admins' files (`tracker check`)
and on the command line (`tracker send-test`), before anything is sent or written.

Secrets never go in a destination: a webhook URL with a user name and password (`https://bot:token@…`),
a `token=` in its query or a token-like path segment (Slack's `/services/T…/B…/<24 characters>`) would
be stored in the database and the outbox in plain text, so they are refused.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from tracker.domain.line_webhook import CONNECT_DESTINATION

DESTINATION_SCHEMES = ("line", "line-notify", "mailto", "https", "http", "outbox")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
LINE_ID = re.compile(r"^[UCR][0-9a-f]{32}$")
_SECRET_QUERY = re.compile(r"(token|secret|key|password|sig|signature)=", re.I)
LINE_NOTIFY_ENDED = ("LINE Notify ended on 31 March 2025 (บริการ LINE Notify ยุติแล้ว): use line://<ID> with the"
                     " Messaging API, unless this points at a gateway that still speaks it")


def _looks_like_token(segment: str) -> bool:
    """A path segment with a run of 20+ letters and digits mixing upper case, lower case or digits, as
    generated secrets are; words joined by hyphens (`ita-tracker-2566`) are not."""
    return any(len(run) >= 20 and sum(bool(re.search(p, run)) for p in (r"[a-z]", r"[A-Z]", r"\d")) >= 2
               for run in re.split(r"[^A-Za-z0-9]+", segment))


def destination_error(url: str) -> str | None:
    """Why `url` cannot be a destination, or None. Never repeats the URL (it may hold a secret)."""
    scheme, _, rest = url.partition(":")
    if scheme not in DESTINATION_SCHEMES:
        return (f"destination '{scheme[:20]}:…' has an unknown scheme: use one of "
                + ", ".join(f"{s}:" for s in DESTINATION_SCHEMES))
    if scheme == "line" and url != CONNECT_DESTINATION and not LINE_ID.match(rest.removeprefix("//")):
        return (f"not a LINE destination: write \"{CONNECT_DESTINATION}\" (the person connects with a code from"
                " `tracker line-connect`), or line://<ID> with a user, group or room ID of U, C or R and 32 hex"
                " digits (lowercase), as LINE's webhook reports it")
    if scheme == "line-notify" and not ENV_NAME.match(rest.removeprefix("//")):
        return ("line-notify://<NAME> must name the environment variable that holds the token"
                " (e.g. line-notify://MAKHA_NOTIFY_TOKEN), never the token itself")
    addresses = rest.partition("?")[0].split(",")
    if scheme == "mailto" and not all(re.fullmatch(r"[^@\s]+@[^@\s]+", a.strip()) for a in addresses):
        return "a mail destination is mailto:name@example.go.th"
    if scheme in ("https", "http"):
        return _webhook_error(url)
    return None


def _webhook_error(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        return "a webhook destination is https://host/path: this URL cannot be read"
    if not parts.hostname:
        return "a webhook destination is https://host/path: the host is missing"
    if parts.username or parts.password:
        return ("a webhook URL must not carry a user name or password (before '@'): the configuration holds no"
                " secrets; let the receiver check X-Tracker-Signature, signed with WEBHOOK_SIGNING_SECRET")
    if _SECRET_QUERY.search(parts.query):
        return "a webhook URL must not carry a secret in its query: put it in an environment variable"
    for number, segment in enumerate(parts.path.split("/")[1:], start=1):
        if _looks_like_token(segment):
            return (f"path segment {number} of this webhook URL ({len(segment)} characters) looks like a token:"
                    " the configuration must not hold secrets, and a URL that is its own secret (as Slack's"
                    " incoming webhooks are) cannot be used; use a receiver that checks X-Tracker-Signature")
    return None


def destination_warning(url: str) -> str | None:
    """Something worth telling an admin about a valid destination, or None."""
    return LINE_NOTIFY_ENDED if url.startswith("line-notify:") else None
