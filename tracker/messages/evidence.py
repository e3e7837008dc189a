"""The message to a unit when the evidence link of one of its actions stopped answering."""

from __future__ import annotations

from html import escape

from tracker.messages.render import RenderedMessage


def render_broken_evidence(org_name: str, obligation: str, title: str, url: str, error: str,
                           lang: str = "th") -> RenderedMessage:
    if lang == "en":
        subject = f"[Evidence link broken] {obligation}"
        text = (f"The evidence link of {obligation} ({title}) at {org_name} no longer opens:\n{url}\n"
                f"Reason: {error}\n\nAn assessor who finds a dead link fails the item: put the document back"
                " online, or record the new link (correct the action).\n")
    else:
        subject = f"[ลิงก์หลักฐานเปิดไม่ได้] {obligation}"
        text = (f"ลิงก์หลักฐานของภาระงาน {obligation} ({title}) ของ{org_name} เปิดไม่ได้แล้ว:\n{url}\n"
                f"สาเหตุ: {error}\n\nผู้ประเมินที่พบลิงก์เสียจะไม่ให้คะแนนรายการนี้ โปรดนำเอกสารกลับขึ้นเว็บไซต์"
                " หรือแก้ไขการบันทึกผลด้วยลิงก์ใหม่\n")
    html = f"<p><strong>{escape(subject)}</strong></p><pre>{escape(text)}</pre>\n"
    return RenderedMessage(subject, text, html, text.strip())
