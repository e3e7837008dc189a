"""A fake LINE Messaging API (and LINE Notify gateway) on loopback that behaves as the real one does.

- `POST /v2/bot/message/push`: Bearer token checked (401), body validated against the official
  OpenAPI description (400 with `details`), text limited to 5,000 UTF-16 code units, `X-Line-Retry-Key`
  must be a UUID (400) and is remembered for 24 hours: a repeat answers 409 with
  `x-line-accepted-request-id` and is not delivered again.
- `POST /v2/bot/message/reply`: body validated (`ReplyMessageRequest`), replies recorded by token.
- `GET /v2/bot/message/quota` (`quota_limit`: None is "none", else "limited") and
  `/v2/bot/message/quota/consumption` (messages pushed plus `usage_offset`), each answer checked against
  `MessageQuotaResponse` / `QuotaConsumptionResponse`; a push beyond `quota_limit` answers 429 "You have
  reached your monthly limit." and delivers nothing, as LINE does; `GET /v2/bot/info`. As LINE does, a
  message to a group or room counts once per member (`group_members`, default 1), and
  `GET /v2/bot/group/{id}/members/count` (and `/room/…`) answers that number.
- Webhook events *to* the app, as LINE sends them: `webhook_request(...)` gives the body and the
  `X-Line-Signature` header (signed with the channel secret; `tamper=True` changes the body after
  signing), each event checked against `webhook.yml`; `send_webhook(url, ...)` posts it over HTTP.
- `POST /api/notify`: the LINE Notify protocol (form field `message`, Bearer token).
- `fail_next(status, ...)` programs failures; `latency_seconds` slows every request down.
Every request is recorded with its validation errors so that a test can assert none failed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

import requests

from tests.fakes.http_server import LoopbackHTTPServer
from tests.fakes.line_schema import WEBHOOK, errors_for, validator

BOT_USER_ID = "U" + "b07" * 10 + "ab"
BOT_BASIC_ID = "@ita-test"
RETRY_KEY_TTL = 24 * 3600.0
QUOTA_PATHS = ("/v2/bot/message/quota",)
MAX_TEXT_UTF16 = 5000
LINE_ID = re.compile(r"[UCR][0-9a-f]{32}")
DEFAULT_ERRORS = {
    400: "The request body has 1 error(s)",
    401: "Authentication failed. Confirm that the access token in the authorization header is valid.",
    403: "The access token you are using is not allowed to use this API.",
    429: "You have reached your monthly limit.",
    500: "An error occurred in the backend server.",
}


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any = None
    validation_errors: list[str] = field(default_factory=list)
    status: int = 0


@dataclass
class PlannedFailure:
    status: int
    times: int
    retry_after: str | None
    body: dict[str, Any] | None
    path: str | None = None  # only requests to this path (e.g. pushes, not quota reads)


class FakeLineServer:
    """Start with `start()` (or `with FakeLineServer(...) as line:`); point `LINE_API_BASE` at `base_url`."""

    def __init__(
        self,
        token: str = "test-channel-token",
        *,
        notify_token: str | None = "test-notify-token",
        clock: Callable[[], float] = time.time,
        latency_seconds: float = 0.0,
        channel_secret: str = "test-channel-secret",
    ) -> None:
        self.token = token
        self.channel_secret = channel_secret
        self.quota_limit: int | None = None
        self.usage_offset = 0
        self.group_members: dict[str, int] = {}  # group or room ID -> members (the account not counted)
        self.replies: list[tuple[str, list[dict[str, Any]]]] = []
        self.sent_events: list[dict[str, Any]] = []
        self._event_ids = itertools.count(1)
        self.notify_token = notify_token
        self.clock = clock
        self.latency_seconds = latency_seconds
        self.requests: list[RecordedRequest] = []
        self.delivered: list[tuple[str, str]] = []
        self.notify_delivered: list[str] = []
        self.accepted_keys: dict[str, tuple[float, str]] = {}
        self._failures: list[PlannedFailure] = []
        self._lock = threading.Lock()
        self._server: LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control ---------------------------------------------------------------------------------
    def start(self) -> FakeLineServer:
        # Compile the OpenAPI schema now (cached): compiled lazily, concurrent first requests each parse
        # the YAML for seconds and time out, which real LINE never does.
        validator("PushMessageRequest")
        validator("CallbackRequest", WEBHOOK)
        self._server = LoopbackHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeLineServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the server first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail_next(
        self, status: int, times: int = 1, retry_after: float | str | None = None, body: dict[str, Any] | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next `times` requests (to `path` when given; else any but the quota reads) with
        `status` (and `Retry-After`)."""
        header = None if retry_after is None else str(retry_after)
        with self._lock:
            self._failures.append(PlannedFailure(status, times, header, body, path))

    @property
    def consumption(self) -> int:
        """Messages counted against this month's quota: those delivered, plus `usage_offset` (a month
        already under way)."""
        return sum(self.members(to) for to, _ in self.delivered) + self.usage_offset

    def members(self, chat: str) -> int:
        """How many people a message to `chat` reaches (and costs): 1 for a user, else the group's size."""
        return 1 if chat.startswith("U") else self.group_members.get(chat, 1)

    def quota_reads(self) -> int:
        return sum(1 for r in self.requests if r.path == "/v2/bot/message/quota")

    @property
    def validation_failures(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.validation_errors]

    def pushes(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/v2/bot/message/push"]

    def reply_texts(self) -> list[str]:
        return [m.get("text", "") for _, messages in self.replies for m in messages]

    # -- webhook events sent to the app ----------------------------------------------------------
    def event(self, kind: str, chat: str, *, text: str | None = None, postback: str | None = None,
              user: str | None = None, event_id: str | None = None) -> dict[str, Any]:
        """One webhook event as LINE builds it: `chat` is a user ID, or a group/room ID (C…/R…) with
        `user` the member who acted."""
        source: dict[str, Any] = {"type": "user", "userId": chat}
        if chat.startswith("C"):
            source = {"type": "group", "groupId": chat} | ({"userId": user} if user else {})
        elif chat.startswith("R"):
            source = {"type": "room", "roomId": chat} | ({"userId": user} if user else {})
        number = next(self._event_ids)
        event: dict[str, Any] = {
            "type": kind, "timestamp": int(self.clock() * 1000), "mode": "active", "source": source,
            "webhookEventId": event_id or f"01FAKE{number:020d}", "deliveryContext": {"isRedelivery": False},
        }
        if kind in ("follow", "join", "message", "postback"):
            event["replyToken"] = uuid.uuid4().hex
        if kind == "follow":
            event["follow"] = {"isUnblocked": False}
        if kind == "message":
            event["message"] = {"type": "text", "id": str(number), "text": text or "", "quoteToken": uuid.uuid4().hex}
        if kind == "postback":
            event["postback"] = {"data": postback or ""}
        return event

    def webhook_request(self, *events: dict[str, Any], redelivery: bool = False, tamper: bool = False,
                        secret: str | None = None) -> tuple[bytes, dict[str, str]]:
        """(body, headers) of one webhook request carrying `events`, signed as LINE signs it. The body is
        checked against webhook.yml's `CallbackRequest` (an AssertionError names what is wrong)."""
        if redelivery:
            events = tuple(e | {"deliveryContext": {"isRedelivery": True}} for e in events)
        payload = {"destination": BOT_USER_ID, "events": list(events)}
        problems = errors_for("CallbackRequest", payload, WEBHOOK)
        assert not problems, f"the fake built an invalid webhook body: {problems}"
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        key = (secret if secret is not None else self.channel_secret).encode("utf-8")
        signature = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode("ascii")
        if tamper:
            body = body.replace(b'"active"', b'"standby"', 1)
        with self._lock:
            self.sent_events.extend(events)
        return body, {"Content-Type": "application/json; charset=utf-8", "X-Line-Signature": signature}

    def send_webhook(self, url: str, *events: dict[str, Any], redelivery: bool = False, tamper: bool = False,
                     secret: str | None = None, timeout: float = 5.0) -> requests.Response:
        """POST a signed webhook request to the app at `url`, as LINE does."""
        body, headers = self.webhook_request(*events, redelivery=redelivery, tamper=tamper, secret=secret)
        return requests.post(url, data=body, headers=headers, timeout=timeout)

    # -- behaviour -------------------------------------------------------------------------------
    def _planned_failure(self, path: str) -> PlannedFailure | None:
        with self._lock:
            # Failures programmed without a path are for what a test sends; a dispatcher reads the quota
            # first, and that housekeeping must not use them up (name the quota path to fail it).
            wanted = self._failures[0].path if self._failures else None
            if not self._failures or (wanted is None and path.startswith(QUOTA_PATHS)) or wanted not in (None, path):
                return None
            failure = self._failures[0]
            failure.times -= 1
            if failure.times <= 0:
                self._failures.pop(0)
            return failure

    def handle(self, rec: RecordedRequest, auth: str | None) -> tuple[int, dict[str, str], Any]:
        """The answer to one request: status, extra headers, JSON body."""
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        notify = rec.path == "/api/notify"
        expected = self.notify_token if notify else self.token
        if auth != f"Bearer {expected}":
            return (
                401,
                {},
                {"message": DEFAULT_ERRORS[401]} if not notify else {"status": 401, "message": "Invalid access token"},
            )
        failure = self._planned_failure(rec.path)
        if failure is not None:
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            return failure.status, headers, failure.body or {"message": DEFAULT_ERRORS.get(failure.status, "error")}
        if rec.method == "GET" and rec.path == "/v2/bot/message/quota":
            limit = self.quota_limit
            body = {"type": "none"} if limit is None else {"type": "limited", "value": limit}
            rec.validation_errors.extend(errors_for("MessageQuotaResponse", body))  # the fake checks itself
            return 200, {}, body
        if rec.method == "GET" and rec.path == "/v2/bot/message/quota/consumption":
            body = {"totalUsage": self.consumption}
            rec.validation_errors.extend(errors_for("QuotaConsumptionResponse", body))
            return 200, {}, body
        counted = re.fullmatch(r"/v2/bot/(group|room)/([^/]+)/members/count", rec.path)
        if rec.method == "GET" and counted:
            body = {"count": self.members(counted.group(2))}
            rec.validation_errors.extend(errors_for(f"{counted.group(1).title()}MemberCountResponse", body))
            return 200, {}, body
        if rec.method == "GET" and rec.path == "/v2/bot/info":
            return 200, {}, {"userId": BOT_USER_ID, "basicId": BOT_BASIC_ID, "displayName": "ITA Tracker",
                             "chatMode": "bot", "markAsReadMode": "auto"}
        if rec.method == "POST" and rec.path == "/v2/bot/message/reply":
            return self._reply(rec)
        if rec.method == "POST" and rec.path == "/v2/bot/message/push":
            return self._push(rec)
        if rec.method == "POST" and notify:
            return self._notify(rec)
        return 404, {}, {"message": "Not found"}

    def _push(self, rec: RecordedRequest) -> tuple[int, dict[str, str], Any]:
        retry_key = rec.headers.get("x-line-retry-key")
        if retry_key is not None:
            try:
                uuid.UUID(retry_key)
            except ValueError:
                rec.validation_errors.append(f"X-Line-Retry-Key is not a UUID: {retry_key!r}")
                return 400, {}, {"message": "The retry key is invalid"}
        try:
            rec.json = json.loads(rec.body)
        except ValueError:
            rec.validation_errors.append("body is not JSON")
            return 400, {}, {"message": "The request body could not be parsed as JSON"}
        rec.validation_errors.extend(errors_for("PushMessageRequest", rec.json))
        rec.validation_errors.extend(_beyond_schema(rec.json))
        if rec.validation_errors:
            details = [{"message": e, "property": e.partition(":")[0]} for e in rec.validation_errors]
            return 400, {}, {"message": f"The request body has {len(details)} error(s)", "details": details}
        request_id = str(uuid.uuid4())
        with self._lock:
            now = self.clock()
            if retry_key is not None:
                seen = self.accepted_keys.get(retry_key)
                if seen is not None and now - seen[0] < RETRY_KEY_TTL:
                    headers = {"x-line-accepted-request-id": seen[1]}
                    return 409, headers, {"message": "The retry key is already accepted", "sentMessages": []}
            cost = len(rec.json["messages"]) * self.members(rec.json["to"])
            if self.quota_limit is not None and self.consumption + cost > self.quota_limit:
                return 429, {}, {"message": DEFAULT_ERRORS[429]}  # the month's quota is spent: nothing sent
            if retry_key is not None:
                self.accepted_keys[retry_key] = (now, request_id)
            for message in rec.json["messages"]:
                self.delivered.append((rec.json["to"], _readable(message)))
        sent = [{"id": str(uuid.uuid4().int)[:18], "quoteToken": uuid.uuid4().hex} for _ in rec.json["messages"]]
        return 200, {"x-line-request-id": request_id}, {"sentMessages": sent}

    def _reply(self, rec: RecordedRequest) -> tuple[int, dict[str, str], Any]:
        try:
            rec.json = json.loads(rec.body)
        except ValueError:
            rec.validation_errors.append("body is not JSON")
            return 400, {}, {"message": "The request body could not be parsed as JSON"}
        rec.validation_errors.extend(errors_for("ReplyMessageRequest", rec.json))
        rec.validation_errors.extend(_beyond_schema(rec.json))
        if rec.validation_errors:
            return 400, {}, {"message": f"The request body has {len(rec.validation_errors)} error(s)"}
        with self._lock:
            self.replies.append((rec.json["replyToken"], rec.json["messages"]))
        return 200, {"x-line-request-id": str(uuid.uuid4())}, {"sentMessages": []}

    def _notify(self, rec: RecordedRequest) -> tuple[int, dict[str, str], Any]:
        form = parse_qs(rec.body.decode("utf-8"))
        message = (form.get("message") or [""])[0]
        if not message:
            rec.validation_errors.append("form field 'message' is missing")
            return 400, {}, {"status": 400, "message": "message: must not be empty"}
        with self._lock:
            self.notify_delivered.append(message)
        return 200, {}, {"status": 200, "message": "ok"}


def _readable(message: dict[str, Any]) -> str:
    """A text message's text; a Flex message's altText and every text in its bubbles."""
    if message.get("type") != "flex":
        return str(message.get("text", ""))
    texts: list[str] = [str(message.get("altText", ""))]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text":
                texts.append(str(node.get("text", "")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message.get("contents"))
    return "\n".join(texts)


def _beyond_schema(body: Any) -> list[str]:
    """What LINE checks that the OpenAPI description does not say: ID form and text length."""
    if not isinstance(body, dict):
        return []
    errors = []
    if isinstance(body.get("to"), str) and not LINE_ID.fullmatch(body["to"]):
        errors.append("to: The property, 'to', in the request body is invalid")
    for i, message in enumerate(body.get("messages") or []):
        errors.extend(_flex_limits(message, f"messages/{i}"))
        text = message.get("text") if isinstance(message, dict) else None
        if isinstance(text, str) and len(text.encode("utf-16-le")) // 2 > MAX_TEXT_UTF16:
            errors.append(f"messages/{i}/text: Length must be between 0 and {MAX_TEXT_UTF16}")
    return errors


def _flex_limits(message: Any, where: str) -> list[str]:
    """LINE's Flex limits the schema does not state: altText ≤ 1,500 characters, ≤ 12 bubbles, postback
    data ≤ 300 characters, button labels ≤ 40."""
    if not isinstance(message, dict) or message.get("type") != "flex":
        return []
    errors = []
    if len(str(message.get("altText", ""))) > 1500:
        errors.append(f"{where}/altText: Length must be between 1 and 1500")
    contents = message.get("contents") or {}
    if contents.get("type") == "carousel" and len(contents.get("contents") or []) > 12:
        errors.append(f"{where}/contents: a carousel holds at most 12 bubbles")
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("action"), dict):
                found.append(node["action"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(contents)
    for action in found:
        if action.get("type") == "postback" and len(str(action.get("data", ""))) > 300:
            errors.append(f"{where}: postback data longer than 300 characters")
        if len(str(action.get("label", ""))) > 40:
            errors.append(f"{where}: action label longer than 40 characters")
    return errors


def _handler_for(fake: FakeLineServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            rec = RecordedRequest(self.command, self.path.partition("?")[0], headers, body)
            with fake._lock:
                fake.requests.append(rec)
            status, extra, payload = fake.handle(rec, self.headers.get("Authorization"))
            rec.status = status
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    return Handler
