"""Lay out a `ProgressReport` as the seed's tab-separated text, as print-ready HTML (A4), or as a Word
document (landscape A4, TH Sarabun New). The content is decided in `tracker.reports.progress`; here only layout.

The tsv form reads back with `tracker import-report`: the status after each obligation is written as
"[สถานะ: …]" and the obligation an action serves as "[ตามข้อ n]", both of which the importer strips.
"""

from __future__ import annotations

import io
import re
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from tracker.domain.thaidate import to_thai_digits
from tracker.reports.parse import NO_ACTION_TEXT
from tracker.reports.progress import ProgressReport, status_mark

FONT = "TH Sarabun New"
FORMATS = ("tsv", "html", "docx")
LANG = "th-TH"  # on every run: Word breaks Thai lines at word boundaries only for text tagged Thai
PAGE_WIDTH_MM = 297 - 2 * 12
_MAI_YAMOK = re.compile(r"\s*ๆ")
_COMBINING = re.compile("[\u0e31\u0e34-\u0e3a\u0e47-\u0e4e]")  # vowels and tone marks above or below


def print_text(text: str) -> str:
    """Text for a printed page: "ๆ" is bound to the word it repeats by a no-break space ("ต่าง ๆ", written
    with a space as officials do), so that no line starts with it."""
    return _MAI_YAMOK.sub("\u00a0ๆ", text)


def _thai_width_mm(text: str, size_pt: int = 14) -> float:
    """The printed width of `text` in TH Sarabun New: marks above or below take no room."""
    return len(_COMBINING.sub("", text)) * size_pt * 0.185


def column_widths_mm(report: ProgressReport) -> list[float]:
    """Widths that follow the content: the unit column as narrow as its longest word (a unit name breaks
    between words, never inside one: "ผู้รับผิด/ชอบ"), the others shared by how much each holds."""
    from pythainlp.tokenize import word_tokenize

    words = [w for text in (report.headers[1], *(r.unit_name for r in report.rows)) for w in word_tokenize(text)]
    unit = min(max(max(_thai_width_mm(w) for w in words) + 6, 18.0), 40.0)
    sizes = [1.0] * 4
    for row in report.rows:
        sizes[0] += len(row.title)
        sizes[1] += sum(len(s) for s in row.steps)
        sizes[2] += sum(len(o.text) + len(o.status) for o in row.obligations)
        sizes[3] += sum(len(a.sentence) for a in row.actions) or len(NO_ACTION_TEXT)
    sizes = [size ** 0.5 for size in sizes]  # a column twice as full gets more room, not twice as much
    rest, minimum = PAGE_WIDTH_MM - unit, 40.0
    share = [max(minimum, rest * size / sum(sizes)) for size in sizes]
    scale = (rest - minimum * 4) / (sum(share) - minimum * 4) if sum(share) > rest else 1.0
    share = [minimum + (w - minimum) * scale for w in share]
    return [share[0], unit, *share[1:]]


def _thai(number: int) -> str:
    return to_thai_digits(str(number))


def _cell(text: str) -> str:
    """A tsv cell is one line without tabs."""
    return " ".join(text.replace("\t", " ").split())


def table_cells(report: ProgressReport) -> list[list[str]]:
    """The five cells of every row as single-line texts with numbered items (tsv and plain text)."""
    out = []
    for row in report.rows:
        steps = " ".join(f"{_thai(i)}. {s}" for i, s in enumerate(row.steps, start=1))
        obligations = " ".join(f"{_thai(ob.number)}. {ob.text} {status_mark(ob)}" for ob in row.obligations)
        actions = " ".join(f"{_thai(i)}.{a.sentence} {a.reference}" for i, a in enumerate(row.actions, start=1))
        out.append([_cell(row.title), _cell(row.unit_name), _cell(steps), _cell(obligations),
                    _cell(actions) or NO_ACTION_TEXT])
    return out


def render_tsv(report: ProgressReport) -> str:
    """The seed's layout: title lines separated by blank lines, then the header and one row per measure."""
    title = "\n\n".join(report.title_lines)
    rows = ["\t".join(report.headers), *("\t".join(cells) for cells in table_cells(report))]
    return f"\n\n{title}\n\n" + "\n".join(rows) + "\n"


_ENV = Environment(loader=PackageLoader("tracker.reports", "templates"), autoescape=select_autoescape(["html", "j2"]),
                   trim_blocks=True, lstrip_blocks=True)
_ENV.filters["print_text"] = print_text


def render_html(report: ProgressReport) -> str:
    """A single HTML page, A4 landscape when printed, Thai fonts first (TH Sarabun New, Sarabun, …)."""
    template = _ENV.get_template("progress.html.j2")
    widths = column_widths_mm(report)
    percent = [round(100 * w / sum(widths), 1) for w in widths]
    return template.render(report=report, thai=_thai, no_action=NO_ACTION_TEXT, widths=percent)


# ---------------------------------------------------------------- docx


def render_docx(report: ProgressReport) -> bytes:
    """A Word document: landscape A4, title block centred, the five-column table with a header row that
    repeats on every page and rows that are never split across pages, columns as wide as their content
    needs, every run in TH Sarabun New (including the complex-script font Thai uses) and tagged Thai."""
    import docx
    from docx.enum.section import WD_ORIENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm

    document = docx.Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Mm(297), Mm(210)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Mm(12))
    _set_font(document.styles["Normal"].element, size=14)
    _thai_defaults(document)
    for i, line in enumerate(report.title_lines):
        paragraph = document.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _run(paragraph, line, bold=i < 2, size=18 if i == 0 else 16 if i < 4 else 14)
    table = document.add_table(rows=1, cols=5)
    table.style = "Table Grid"
    table.autofit = False
    widths = [Mm(w) for w in column_widths_mm(report)]
    for column, width in zip(table.columns, widths, strict=True):
        column.width = width  # the grid Word lays out from; cell widths alone are ignored by some readers
    header = table.rows[0]
    _row_flag(header, "w:tblHeader")
    _row_flag(header, "w:cantSplit")
    for cell, text, width in zip(header.cells, report.headers, widths, strict=True):
        cell.width = width
        paragraph = cell.paragraphs[0]
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _run(paragraph, text, bold=True)
    for row in report.rows:
        added = table.add_row()
        _row_flag(added, "w:cantSplit")
        cells = added.cells
        for cell, width in zip(cells, widths, strict=True):
            cell.width = width
        _run(cells[0].paragraphs[0], row.title)
        _run(cells[1].paragraphs[0], row.unit_name)
        _items(cells[2], [f"{_thai(i)}. {s}" for i, s in enumerate(row.steps, start=1)])
        first = True
        for ob in row.obligations:
            paragraph = cells[3].paragraphs[0] if first else cells[3].add_paragraph()
            first = False
            _run(paragraph, f"{_thai(ob.number)}. {ob.text}")
            _run(cells[3].add_paragraph(), f"สถานะ: {ob.status}", italic=True, size=12, color=_COLORS.get(ob.state))
        texts = [f"{_thai(i)}. {a.sentence} {a.reference}" for i, a in enumerate(row.actions, start=1)]
        if texts:
            _items(cells[4], texts)
        else:
            _run(cells[4].paragraphs[0], NO_ACTION_TEXT, italic=True, color=_COLORS["overdue"])
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


_COLORS = {"done": "1B5E20", "late": "B26A00", "overdue": "B71C1C"}


def _items(cell: Any, texts: list[str]) -> None:
    for i, text in enumerate(texts):
        _run(cell.paragraphs[0] if i == 0 else cell.add_paragraph(), text)


def _run(paragraph: Any, text: str, *, bold: bool = False, italic: bool = False, size: int = 14,
         color: str | None = None) -> None:
    from docx.shared import RGBColor

    run = paragraph.add_run(print_text(text))
    run.bold, run.italic = bold, italic
    if color:
        run.font.color.rgb = RGBColor.from_string(color)
    _set_font(run._element, size=size, bold=bold, italic=italic)


def _set_font(element: Any, *, size: int, bold: bool = False, italic: bool = False) -> None:
    """Set TH Sarabun New for every script on a run or style (`w:rFonts` ascii, hAnsi, eastAsia and
    cs: Word draws Thai with the complex-script font) and the size for both (`w:sz`, `w:szCs`)."""
    from docx.oxml.ns import qn
    from docx.oxml.parser import OxmlElement

    props = element.get_or_add_rPr()
    fonts = props.get_or_add_rFonts()
    for attribute in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attribute), FONT)
    size_node = props.get_or_add_sz()
    size_node.set(qn("w:val"), str(size * 2))
    complex_size = props.find(qn("w:szCs"))
    if complex_size is None:
        complex_size = OxmlElement("w:szCs")
        size_node.addnext(complex_size)
    complex_size.set(qn("w:val"), str(size * 2))
    lang = props.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        props.append(lang)
    for attribute in ("w:val", "w:eastAsia", "w:bidi"):
        lang.set(qn(attribute), LANG)
    if bold:
        props.get_or_add_bCs()
    if italic:
        props.get_or_add_iCs()


def _thai_defaults(document: Any) -> None:
    """The document defaults say Thai, not the template's en-US / ar-SA (spell check, line breaking)."""
    from docx.oxml.ns import qn

    for lang in document.styles.element.iter(qn("w:lang")):
        for attribute in ("w:val", "w:eastAsia", "w:bidi"):
            lang.set(qn(attribute), LANG)


def _row_flag(row: Any, tag: str) -> None:
    """A row property: "w:tblHeader" (repeat on every page) or "w:cantSplit" (never split across pages)."""
    from docx.oxml.ns import qn
    from docx.oxml.parser import OxmlElement

    props = row._tr.get_or_add_trPr()
    marker = OxmlElement(tag)
    marker.set(qn("w:val"), "true")
    props.append(marker)


def render(report: ProgressReport, fmt: str) -> str | bytes:
    """The report in `fmt` ("tsv", "html": text; "docx": bytes)."""
    if fmt == "tsv":
        return render_tsv(report)
    if fmt == "html":
        return render_html(report)
    if fmt == "docx":
        return render_docx(report)
    raise ValueError(f"format {fmt!r} must be one of {', '.join(FORMATS)}")
