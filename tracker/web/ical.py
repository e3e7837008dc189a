"""An iCalendar (RFC 5545) feed of open deadlines that Google Calendar and Outlook subscribe to.

Each open occurrence is an all-day event on its due date (DTSTART as a DATE, DTEND the day after, as
RFC 5545 wants for one-day events), with a display alarm a week before; the UID is stable across fetches
so a calendar updates an event instead of duplicating it. Summaries are in Thai, like the reminders.
Google reads X-WR-CALNAME and X-WR-TIMEZONE; Outlook reads X-PUBLISHED-TTL; both honour REFRESH-INTERVAL.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from icalendar import Alarm, Calendar, Event, vDuration

from tracker.domain.model import Organisation
from tracker.domain.status import OccurrenceStatus, status_text
from tracker.domain.thaidate import format_date, period_label

ALARM_BEFORE = timedelta(days=7)
REFRESH = timedelta(hours=6)


def feed_name(org: Organisation, unit: str | None) -> str:
    units = {u.code: u.name for u in org.units}
    return f"ITA {org.name}" + (f" — {units.get(unit, unit)}" if unit else "")


def calendar(org: Organisation, items: Iterable[OccurrenceStatus], unit: str | None, now: datetime,
             link: str | None = None) -> bytes:
    """The feed of `items` (already filtered to the open ones) as bytes (CRLF lines, folded at 75 octets)."""
    cal = Calendar()
    cal.add("prodid", "-//ITA Tracker//ita-tracker//TH")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", feed_name(org, unit))
    cal.add("x-wr-timezone", "Asia/Bangkok")
    cal.add("refresh-interval", vDuration(REFRESH), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", vDuration(REFRESH))
    units = {u.code: u.name for u in org.units}
    for item in items:
        ob = org.obligation(item.occurrence.obligation)
        occ = item.occurrence
        event = Event()
        event.add("uid", f"{org.code}.{ob.code}.{occ.period}@ita-tracker")
        event.add("dtstamp", now)
        event.add("dtstart", occ.due)
        event.add("dtend", occ.due + timedelta(days=1))
        event.add("summary", f"ครบกำหนด {ob.code}: {org.occurrence_title(occ)}")
        lines = [f"มาตรการ {ob.measure} · {units.get(ob.unit, ob.unit)} · รอบ {period_label(occ.period)}",
                 f"กำหนดส่ง {format_date(occ.due, 'th')} · สถานะ {status_text(item, 'th')}"]
        if ob.done_when:
            lines.append(f"ถือว่าเสร็จเมื่อ: {ob.done_when}")
        if link:
            lines.append(link)
        event.add("description", "\n".join(lines))
        event.add("transp", "TRANSPARENT")  # a deadline does not make anyone busy
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("trigger", -ALARM_BEFORE)
        alarm.add("description", f"อีก ๗ วันครบกำหนด {ob.code}")
        event.add_component(alarm)
        cal.add_component(event)
    body: bytes = cal.to_ical()
    return body
