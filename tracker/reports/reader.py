"""Get the title lines and table rows out of a progress-report file: UTF-8 (or UTF-16) text with
tab-separated columns, as the seed is, or a Word `.docx`. Everything past that is `tracker.reports.parse`.

Refuses, with a `ReportFormatError` that says what to do, files that are empty, binary, or have no table.
"""

from __future__ import annotations

import errno
import io
import zipfile
from pathlib import Path

from tracker.domain.thaidate import to_thai_digits
from tracker.reports.parse import ReportFormatError, ReportSource, SourceRow

_ZIP_MAGIC = b"PK\x03\x04"
_BINARY_MAGICS = (b"%PDF", b"\xd0\xcf\x11\xe0", b"\x89PNG", b"\xff\xd8\xff", b"GIF8")
_W_NS = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
# A progress report is tens of kilobytes (the seed: 40 KB). Bounds checked before reading or unzipping, so
# a wrong file (a 50 MB export, a .docx that expands to gigabytes) is refused in milliseconds, not minutes.
MAX_FILE_BYTES = 20_000_000  # a .docx with a few photos
MAX_TEXT_BYTES = 2_000_000
MAX_EXPANDED_BYTES = 50_000_000
# Why a file cannot be read, as an official is told it; any other reason falls back to the system's words.
_OS_ERRORS_TH = {errno.ENOENT: "ไม่พบไฟล์นี้ โปรดตรวจสอบชื่อและที่อยู่ของไฟล์",
                 errno.EISDIR: "เป็นโฟลเดอร์ ไม่ใช่ไฟล์ โปรดระบุไฟล์รายงาน",
                 errno.EACCES: "ไม่มีสิทธิ์อ่านไฟล์นี้",
                 errno.EPERM: "ไม่มีสิทธิ์อ่านไฟล์นี้"}


def _mb(size: int, digits: int = 1) -> str:
    """"21.0": a size in megabytes (`to_thai_digits` gives the Thai "๒๑.๐"; never applied to a file name)."""
    return f"{size / 1e6:,.{digits}f}"


def _not_word(name: str, exc: Exception) -> ReportFormatError:
    return ReportFormatError(f"{name} is a zip file but not a Word document ({exc}): save it again from Word as"
                             " .docx",
                             f"{name} เป็นไฟล์ zip แต่ไม่ใช่เอกสาร Word: โปรดเปิดรายงานใน Word แล้วบันทึกใหม่เป็น .docx")


def _check_expanded_size(data: bytes, name: str) -> None:
    """Refuse a zip whose members would expand past MAX_EXPANDED_BYTES (the sizes its directory declares;
    Python's zipfile never inflates a member past its declared size)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise _not_word(name, exc) from None
    if expanded > MAX_EXPANDED_BYTES:
        limit = MAX_EXPANDED_BYTES // 10**6
        raise ReportFormatError(f"{name} expands to {_mb(expanded, 0)} MB, above the {limit} MB a Word progress"
                                " report may hold: save the report alone again from Word (images removed)",
                                f"{name} เมื่อแตกไฟล์แล้วมีขนาด {to_thai_digits(_mb(expanded, 0))} MB"
                                f" เกิน {to_thai_digits(str(limit))} MB ที่รายงานในรูปเอกสาร Word ควรมี:"
                                " โปรดบันทึกเฉพาะตัวรายงานใหม่จาก Word (นำรูปภาพออก)")


def read_report(path: Path) -> ReportSource:
    """The report in `path`, as title lines and table rows. Raises ReportFormatError for what is not one.
    The size is checked before anything is read (MAX_FILE_BYTES, then MAX_TEXT_BYTES or MAX_EXPANDED_BYTES)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            limit = MAX_FILE_BYTES // 10**6
            raise ReportFormatError(f"{path} is {_mb(size)} MB, above the {limit} MB a progress report may be:"
                                    " give the report alone (text or .docx, images removed)",
                                    f"{path} มีขนาด {to_thai_digits(_mb(size))} MB เกิน {to_thai_digits(str(limit))} MB"
                                    " ที่รายงานผลการดำเนินการควรมี: โปรดให้เฉพาะตัวรายงาน (ข้อความหรือ .docx"
                                    " โดยนำรูปภาพออก)")
        data = path.read_bytes()
    except OSError as exc:
        why = _OS_ERRORS_TH.get(exc.errno or 0, exc.strerror or str(exc))
        raise ReportFormatError(f"cannot read {path}: {exc.strerror}", f"อ่านไฟล์ {path} ไม่ได้: {why}") from None
    return read_report_bytes(data, path.name)


def read_report_bytes(data: bytes, name: str) -> ReportSource:
    """As `read_report`, from the file's bytes; `name` is used in messages and to tell .docx apart."""
    if not data.strip():
        raise ReportFormatError(f"{name} is empty: export the progress report as text (tab-separated) or .docx",
                                f"{name} เป็นไฟล์ว่าง: โปรดส่งออกรายงานเป็นข้อความ (คั่นด้วยแท็บ) หรือ .docx")
    if data.startswith(_ZIP_MAGIC):
        _check_expanded_size(data, name)
        return _read_docx(data, name)
    if len(data) > MAX_TEXT_BYTES:
        limit = MAX_TEXT_BYTES // 10**6
        raise ReportFormatError(f"{name} is {_mb(len(data))} MB of text, above the {limit} MB a progress report in"
                                " text form may be: give the report alone",
                                f"{name} เป็นข้อความขนาด {to_thai_digits(_mb(len(data)))} MB"
                                f" เกิน {to_thai_digits(str(limit))} MB ที่รายงานในรูปข้อความควรมี:"
                                " โปรดให้เฉพาะตัวรายงาน")
    if name.lower().endswith(".docx"):
        raise ReportFormatError(f"{name} is named .docx but is not a Word document: save it again from Word",
                                f"{name} มีนามสกุล .docx แต่ไม่ใช่เอกสาร Word: โปรดบันทึกใหม่จาก Word")
    return _read_text(_decode(data, name), name)


def _decode(data: bytes, name: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if data.startswith(_BINARY_MAGICS) or b"\x00" in data[:4096]:
        raise ReportFormatError(
            f"{name} is a binary file, not a report: give the report as UTF-8 text (tab-separated columns)"
            " or as a Word .docx (a .doc or PDF must first be saved as .docx)",
            f"{name} ไม่ใช่ไฟล์รายงาน: โปรดให้รายงานเป็นข้อความ UTF-8 (คอลัมน์คั่นด้วยแท็บ) หรือเอกสาร Word .docx"
            " (ไฟล์ .doc หรือ PDF ต้องบันทึกเป็น .docx ก่อน)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReportFormatError(
            f"{name} is not UTF-8 text (byte {exc.start}): save it as UTF-8 (in Notepad: Save as… → Encoding"
            " UTF-8), or give the .docx",
            f"{name} ไม่ใช่ข้อความ UTF-8 (ไบต์ที่ {exc.start}): โปรดบันทึกเป็น UTF-8 (ใน Notepad: บันทึกเป็น…"
            " → การเข้ารหัส UTF-8) หรือให้ไฟล์ .docx") from None


def _read_text(text: str, name: str) -> ReportSource:
    """Lines before the first tabbed line are the title block; after it, every non-blank line is a row
    (a line without tabs then shows up as a one-column row, which the parser warns about)."""
    title: list[str] = []
    rows: list[SourceRow] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if "\t" in line:
            rows.append(SourceRow(tuple(line.split("\t")), f"line {number}"))
        elif line.strip():
            if rows:
                rows.append(SourceRow((line,), f"line {number}"))
            else:
                title.append(line.strip())
    if not rows:
        raise ReportFormatError(
            f"{name} has no table: a report in text form has five columns separated by tabs, starting with"
            " the header row \"ประเด็นที่ต้องปรับปรุงแก้ไข/ประเด็นที่ต้องพัฒนา\" …",
            f"{name} ไม่มีตาราง: รายงานในรูปข้อความต้องมี ๕ คอลัมน์คั่นด้วยแท็บ เริ่มด้วยแถวหัวตาราง"
            " \"ประเด็นที่ต้องปรับปรุงแก้ไข/ประเด็นที่ต้องพัฒนา\" …")
    return ReportSource(tuple(title), tuple(rows), name)


def _read_docx(data: bytes, name: str) -> ReportSource:
    """Paragraphs before the first table are the title block; every table's rows, in document order,
    are the rows (a report often has one table per page). Merged cells are read once; Word's automatic
    list numbers, which are not in the text, are written back as "1. ", "2. "."""
    import docx  # python-docx; imported here so that text reports do not pay for it
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise _not_word(name, exc) from None
    title: list[str] = []
    rows: list[SourceRow] = []
    tables = 0
    for child in document.element.body.iterchildren():
        if child.tag == f"{_W_NS}p" and not tables:
            text = "".join(t.text or "" for t in child.iter(f"{_W_NS}t")).strip()
            if text:
                title.append(text)
        elif child.tag == f"{_W_NS}tbl":
            tables += 1
            table = Table(child, document)
            for r, row in enumerate(table.rows, start=1):
                rows.append(SourceRow(_row_cells(row), f"table {tables}, row {r}"))
    if not tables:
        raise ReportFormatError(f"{name} has no table: the progress report is a table of five columns"
                                " (ประเด็น, ผู้รับผิดชอบ, ขั้นตอน, กำหนดเวลา, การดำเนินการ)",
                                f"{name} ไม่มีตาราง: รายงานผลการดำเนินการเป็นตาราง ๕ คอลัมน์"
                                " (ประเด็น, ผู้รับผิดชอบ, ขั้นตอน, กำหนดเวลา, การดำเนินการ)")
    return ReportSource(tuple(title), tuple(rows), name)


def _row_cells(row: object) -> tuple[str, ...]:
    cells: list[str] = []
    seen: list[object] = []
    for cell in row.cells:  # type: ignore[attr-defined]
        if any(cell._tc is s for s in seen):  # a merged cell repeats in every grid column it spans
            continue
        seen.append(cell._tc)
        cells.append(_cell_text(cell))
    return tuple(cells)


def _cell_text(cell: object) -> str:
    parts: list[str] = []
    number = 0
    for paragraph in cell.paragraphs:  # type: ignore[attr-defined]
        text = paragraph.text.strip()
        if not text:
            continue
        if _is_numbered(paragraph):
            number += 1
            text = f"{number}. {text}"
        parts.append(text)
    return " ".join(parts)


def _is_numbered(paragraph: object) -> bool:
    """True for a paragraph in an automatic numbered list, set on the paragraph or by its style."""
    props = paragraph._p.pPr  # type: ignore[attr-defined]
    if props is not None and props.numPr is not None:
        return True
    style = paragraph.style  # type: ignore[attr-defined]
    while style is not None:
        style_props = style.element.pPr
        if style_props is not None and style_props.numPr is not None:
            return True
        style = style.base_style
    return False
