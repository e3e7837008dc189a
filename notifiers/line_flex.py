"""LINE reminders as Flex messages: one bubble per item (a carousel for a bundle), each with a button
that opens the item's signed web page and postbacks to snooze or acknowledge it.

Built from the message's `items`; the plain text stays as `altText` (what notifications and old
clients show). LINE's limits are kept here: at most 12 bubbles per carousel (the rest are named in the
last bubble), altText at most 1,500 characters, postback data at most 300.
"""

from __future__ import annotations

from typing import Any

from tracker.messages.outgoing import OutgoingMessage, ReminderItem

MAX_BUBBLES = 12
MAX_ALT_TEXT = 1500
MAX_POSTBACK = 300
LABELS = {
    "th": {"open": "เปิดรายการ", "snooze": "เลื่อน ๓ วันทำการ", "ack": "รับทราบ", "more": "และอีก {n} รายการในข้อความนี้"},
    "en": {"open": "Open", "snooze": "Snooze 3 working days", "ack": "Got it", "more": "and {n} more in this message"},
}
COLOURS = {"escalation": "#B71C1C", "overdue": "#C62828", "due": "#E65100", "before": "#1565C0"}


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "text", "text": text or "-", "wrap": True, **style}


def _button(label: str, action: dict[str, Any], style: str = "link") -> dict[str, Any]:
    return {"type": "button", "style": style, "height": "sm", "action": {"label": label[:40], **action}}


def bubble(item: ReminderItem, lang: str, note: str = "") -> dict[str, Any]:
    """One item: what is due, when, and what the reader can do about it."""
    labels = LABELS.get(lang, LABELS["th"])
    kind = item.stage.split("-")[0]
    body = [_text(item.headline, weight="bold", color=COLOURS.get(kind, "#333333"), size="sm"),
            _text(f"{item.obligation} {item.title}", size="md"),
            _text(item.due_text, size="sm", color="#555555")]
    if item.note:
        body.append(_text(item.note, size="xs", color="#555555"))
    if note:
        body.append(_text(note, size="xs", color="#888888"))
    buttons = []
    if item.url:
        buttons.append(_button(labels["open"], {"type": "uri", "uri": item.url}, "primary"))
    if item.snooze_data and len(item.snooze_data) <= MAX_POSTBACK:
        buttons.append(_button(labels["snooze"], {"type": "postback", "data": item.snooze_data}))
    if item.ack_data and len(item.ack_data) <= MAX_POSTBACK:
        buttons.append(_button(labels["ack"], {"type": "postback", "data": item.ack_data}))
    out: dict[str, Any] = {"type": "bubble", "size": "kilo",
                           "body": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": body}}
    if buttons:
        out["footer"] = {"type": "box", "layout": "vertical", "spacing": "xs", "contents": buttons}
    return out


def flex_message(message: OutgoingMessage, alt_text: str) -> dict[str, Any] | None:
    """The Flex message for `message`, or None when it carries no items (digests, alerts)."""
    items = message.items
    if not items:
        return None
    labels = LABELS.get(message.lang, LABELS["th"])
    shown = items[:MAX_BUBBLES]
    extra = len(items) - len(shown)
    bubbles = [bubble(item, message.lang, labels["more"].format(n=extra) if extra and i == len(shown) - 1 else "")
               for i, item in enumerate(shown)]
    contents = bubbles[0] if len(bubbles) == 1 else {"type": "carousel", "contents": bubbles}
    alt = alt_text if len(alt_text) <= MAX_ALT_TEXT else alt_text[: MAX_ALT_TEXT - 1] + "…"
    return {"type": "flex", "altText": alt, "contents": contents}
