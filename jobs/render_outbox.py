"""Render the texts of claimed reminders and keep them in their outbox rows.

Planning writes only keys and references (cheap, set-based); the text is rendered when a row is first
claimed, then stored, so that every retry of a message sends exactly the same words, and `tracker
outbox` shows what was sent. Reminders of one occurrence and stage share their text (only escalations
greet their recipient), so rendering is cached per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tracker.domain.reminders import replaced_days
from tracker.domain.thaidate import period_fiscal_year, title_for_year
from tracker.messages.render import ReminderContent, RenderedMessage, render_reminder
from tracker.store.links import ActionLinks
from tracker.store.outbox import reminder_contents, store_texts


def render_missing(session: Session, ids: Sequence[int], links: ActionLinks | None = None,
                   now: datetime | None = None) -> int:
    """Render and store the texts of those of `ids` that have none yet. Returns how many were rendered.

    With `links` (and the instant `now` they are issued at), each reminder carries its recipient's signed
    action link; the text then differs per recipient."""
    cache: dict[tuple[Any, ...], RenderedMessage] = {}
    updates: list[dict[str, Any]] = []
    for row in reminder_contents(session, ids):
        (out_id, occ_id, stage, day, recipient, lang, org_code, org_name, measure, ob_code, written_title,
         done_when, unit_code, unit_name, period, due, written_for, merged_stages) = row
        ob_title = title_for_year(written_title, written_for, period_fiscal_year(period))
        greeting = recipient if stage.startswith("escalation") else ""
        url = links.url(org_code, occ_id, recipient, due, now) if links is not None and now is not None else ""
        replaced = replaced_days(merged_stages or "")
        cache_key = (occ_id, stage, day, greeting, lang, url, replaced)
        if cache_key not in cache:
            content = ReminderContent(org_code, org_name, measure, ob_code, ob_title, unit_name or unit_code,
                                      done_when, period, due, day or due, stage, greeting, replaced)
            cache[cache_key] = render_reminder(content, lang, action_url=url or None)
        rendered = cache[cache_key]
        updates.append({"b_id": out_id, "subject": rendered.subject, "text": rendered.text, "html": rendered.html,
                        "line_text": rendered.line_text})
    store_texts(session, updates)
    return len(updates)
