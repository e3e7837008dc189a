"""What LINE's webhook says, decided without I/O: is the body really from LINE, which events does it
carry, and what does each one ask of us (bind a chat, disable one, answer a command)?

LINE signs every webhook request: `X-Line-Signature` is base64(HMAC-SHA256(channel secret, raw body)).
The signature is checked over the raw bytes, before any parsing, in constant time. Events are read
field by field as `webhook.yml` (LINE's OpenAPI description) defines them; an event of a type we do not
use is kept as `ignored`, never an error, because LINE adds event types over time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

from tracker.domain.errors import TrackerError

LINE_ID = re.compile(r"[UCR][0-9a-f]{32}")
# A destination meaning "this contact's LINE chat, once connected" (see tracker.store.line_links).
CONNECT_DESTINATION = "line:connect"
# A connect code as `tracker line-connect` prints it: "ITA-" and 8 characters without look-alikes
# (no 0/O, 1/I/L). People retype it on a phone, so case and spaces do not matter.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_PATTERN = re.compile(r"ITA[\s-]*([" + CODE_ALPHABET + r"]{4})[\s-]*([" + CODE_ALPHABET + r"]{4})",
                          re.IGNORECASE)
COMMANDS = {"สถานะ": "status", "status": "status", "เข้าสู่ระบบ": "signin", "login": "signin",
            "ช่วยเหลือ": "help", "help": "help"}
USED_TYPES = {"follow", "unfollow", "join", "leave", "message", "postback"}


class WebhookFormatError(TrackerError, ValueError):
    """The body is signed but is not a webhook request as LINE describes it (field path in the message)."""


@dataclass(frozen=True)
class LineEvent:
    """One webhook event, reduced to what the tracker acts on.

    `chat_id` is where a reply or push goes: the group or room ID in a group chat, else the user ID.
    `text` is set for text messages, `postback` for postback events."""

    event_id: str
    type: str
    timestamp_ms: int
    chat_kind: str  # user | group | room | "" (no source, e.g. some membership events)
    chat_id: str
    user_id: str
    reply_token: str
    text: str = ""
    postback: str = ""
    redelivery: bool = False


def signature_for(secret: str, body: bytes) -> str:
    """The `X-Line-Signature` LINE sends with `body` (also what a fake LINE uses to sign)."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_ok(secret: str, body: bytes, signature: str | None) -> bool:
    """True when `signature` is LINE's signature of the raw `body`; compared in constant time."""
    if not secret or not signature:
        return False
    expected = signature_for(secret, body).encode("ascii")
    return hmac.compare_digest(expected, signature.strip().encode("ascii", "replace"))


def parse_callback(body: bytes) -> list[LineEvent]:
    """The events of a webhook request body (`CallbackRequest`); raises `WebhookFormatError` naming the
    field that is missing or of the wrong type. An empty `events` list (LINE's "verify" call) is valid."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookFormatError(f"webhook body is not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("destination"), str):
        raise WebhookFormatError("webhook body: 'destination' (the bot's user ID) is required")
    events = data.get("events")
    if not isinstance(events, list):
        raise WebhookFormatError("webhook body: 'events' must be a list")
    return [_event(raw, f"events[{i}]") for i, raw in enumerate(events)]


def _field(raw: dict[str, Any], key: str, kind: type, where: str, required: bool = True) -> Any:
    value = raw.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise WebhookFormatError(f"webhook {where}.{key}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def _event(raw: Any, where: str) -> LineEvent:
    if not isinstance(raw, dict):
        raise WebhookFormatError(f"webhook {where}: an event must be an object")
    kind = _field(raw, "type", str, where)
    event_id = _field(raw, "webhookEventId", str, where)
    timestamp = _field(raw, "timestamp", int, where)
    delivery = _field(raw, "deliveryContext", dict, where)
    redelivery = _field(delivery, "isRedelivery", bool, f"{where}.deliveryContext")
    source = _field(raw, "source", dict, where, required=False) or {}
    chat_kind = str(source.get("type") or "")
    user_id = str(source.get("userId") or "")
    chat_id = {"user": user_id, "group": source.get("groupId"), "room": source.get("roomId")}.get(chat_kind) or ""
    if chat_kind and not LINE_ID.fullmatch(str(chat_id)):
        raise WebhookFormatError(f"webhook {where}.source: a {chat_kind} source needs its ID")
    text = postback = ""
    if kind == "message":
        message = _field(raw, "message", dict, where)
        if message.get("type") == "text":
            text = _field(message, "text", str, f"{where}.message")
    elif kind == "postback":
        postback = _field(_field(raw, "postback", dict, where), "data", str, f"{where}.postback")
    reply = _field(raw, "replyToken", str, where, required=kind in ("follow", "join")) or ""
    return LineEvent(event_id, kind if kind in USED_TYPES else "ignored", timestamp, chat_kind, str(chat_id),
                     user_id, reply, text, postback, redelivery)


def connect_code_in(text: str) -> str | None:
    """The connect code a message carries, normalised ("ITA-ABCD2345"), or None."""
    match = CODE_PATTERN.search(text)
    return f"ITA-{match[1].upper()}{match[2].upper()}" if match else None


def command_in(text: str) -> str | None:
    """`status`, `signin` or `help` when the message is one of the chat commands, else None."""
    return COMMANDS.get(text.strip().lower())


# ---------------------------------------------------------------- postbacks (buttons in reminders)

POSTBACK_ACTIONS = ("snooze", "ack")
POSTBACK_LIMIT = 300  # LINE's limit on postback data


@dataclass(frozen=True)
class Postback:
    """A button press: snooze or acknowledge one deadline (an occurrence) for the recipient it was sent to
    (named by a hash of the contact's name)."""

    action: str
    org: str
    occurrence_id: int
    recipient_hash: str


def recipient_tag(recipient: str) -> str:
    return hashlib.sha256(recipient.encode("utf-8")).hexdigest()[:12]


def _postback_sig(secret: str, payload: str) -> str:
    mac = hmac.new(secret.encode("utf-8"), b"postback|" + payload.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:16]).decode("ascii").rstrip("=")


def postback_data(secret: str, action: str, org: str, occurrence_id: int, recipient: str) -> str:
    """Signed postback data (well under 300 characters): `ita1|action|org|occurrence|recipient tag|sig`."""
    payload = f"ita1|{action}|{org}|{occurrence_id}|{recipient_tag(recipient)}"
    return f"{payload}|{_postback_sig(secret, payload)}"


def read_postback(secret: str, data: str) -> Postback | None:
    """The postback if `data` is one of ours with a valid signature, else None."""
    payload, _, sig = data.rpartition("|")
    parts = payload.split("|")
    if len(parts) != 5 or parts[0] != "ita1" or parts[1] not in POSTBACK_ACTIONS or not parts[3].isdigit():
        return None
    if not secret or not hmac.compare_digest(_postback_sig(secret, payload), sig):
        return None
    return Postback(parts[1], parts[2], int(parts[3]), parts[4])
