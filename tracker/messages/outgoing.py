"""The rendered message every channel sends: texts for mail, chat and the web, under one natural key.

It lives with the messages (which produce it) rather than the notifiers (which consume it), so that
rendering never imports a channel.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReminderItem:
    """One deadline in a reminder, for channels that show items one by one (LINE's Flex bubbles):
    what, when, and what the reader can do (open the signed page, snooze, acknowledge)."""

    obligation: str
    title: str
    stage: str
    headline: str
    due_text: str
    url: str = ""
    snooze_data: str = ""
    ack_data: str = ""
    note: str = ""  # a catch-up's sentence naming the reminders it replaces (render.replaced_text)


@dataclass(frozen=True)
class OutgoingMessage:
    """One notification, already rendered. `key` is its natural key, stable across attempts."""

    key: str
    subject: str
    text: str
    html: str | None = None
    line_text: str | None = None
    lang: str = "th"
    items: tuple[ReminderItem, ...] = ()  # reminders only; most urgent first
    line_token_env: str = ""  # LINE: the variable holding the token of the organisation's own channel

    @property
    def short_text(self) -> str:
        """The text for chat channels: `line_text` when given, else the full text."""
        return self.line_text if self.line_text is not None else self.text
