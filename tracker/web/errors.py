"""Error pages in the reader's language that say what happened and what to do; JSON callers (the API)
get their own handlers in their blueprint."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from tracker.web.i18n import t


def _messages(code: int) -> tuple[str, str]:
    return {
        400: (t("คำขอไม่ถูกต้อง", "Bad request"),
              t("โปรดกลับไปหน้าก่อนหน้าแล้วลองใหม่", "Go back and try again.")),
        403: (t("ไม่มีสิทธิ์เข้าถึงหน้านี้", "You may not open this page"),
              t("หน้านี้เป็นของหน่วยงานอื่น หากคิดว่าเป็นความผิดพลาด โปรดติดต่อผู้ดูแลระบบของหน่วยงาน",
                "This page belongs to another unit or organisation. If that is wrong, ask your admin.")),
        404: (t("ไม่พบหน้านี้", "Page not found"),
              t("ลิงก์อาจพิมพ์ผิดหรือรายการถูกลบแล้ว", "The link may be mistyped, or the item is gone.")),
        405: (t("ไม่รองรับวิธีนี้", "Method not allowed"), ""),
        413: (t("ไฟล์ใหญ่เกินไป", "The file is too large"),
              t("โปรดแนบไฟล์ขนาดไม่เกิน ๑๐ เมกะไบต์ หรือใส่ลิงก์หลักฐานแทน",
                "Attach a file of at most 10 MB, or give a link to the evidence instead.")),
    }.get(code, (t("เกิดข้อผิดพลาด", "Something went wrong"), ""))


def error_page(code: int, title: str, detail: str) -> tuple[str, int]:
    return render_template("error.html", code=code, title=title, detail=detail), code


def _http_error(exc: HTTPException) -> tuple[str, int]:
    code = exc.code or 500
    title, detail = _messages(code)
    return error_page(code, title, detail)


def _csrf_error(exc: CSRFError) -> tuple[str, int]:
    return error_page(400, t("แบบฟอร์มหมดอายุหรือไม่ถูกต้อง", "The form expired or is not valid"),
                      t("โปรดเปิดลิงก์อีกครั้งแล้วกรอกใหม่ (ยังไม่มีการบันทึกใด ๆ)",
                        "Open the link again and fill the form once more (nothing was recorded)."))


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf_error)
    for code in (400, 403, 404, 405, 413):
        app.register_error_handler(code, _http_error)
