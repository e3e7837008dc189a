"""Find the line of a field in a TOML file, so that an admin can go straight to it.

tomllib keeps no positions, so we walk the text: array-of-tables headers (`[[measures]]`) are counted to
reach the n-th element, then the key is looked for inside that block. Good enough for the hand-written
files admins edit; when the walk fails we return None and the message still names the field path.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\-\s\"]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"^\s*\"?([A-Za-z0-9_\-]+)\"?\s*=")


def _segments(path: str) -> list[str | int]:
    out: list[str | int] = []
    for part in path.split("."):
        name, *indexes = re.split(r"\[(\d+)\]", part)
        if name:
            out.append(name)
        out.extend(int(i) for i in indexes if i != "")
    return out


def locate(text: str, path: str) -> int | None:
    """1-based line of the field `path` ("measures[2].obligations[0].due") in `text`, or None."""
    lines = text.splitlines()
    segments = _segments(path)
    start, end = 0, len(lines)
    table: list[str] = []
    found: int | None = None
    i = 0
    while i < len(segments):
        name = segments[i]
        assert isinstance(name, str)
        following = segments[i + 1] if i + 1 < len(segments) else None
        index = following if isinstance(following, int) else None
        dotted = ".".join([*table, name])
        if index is not None:
            block = _nth_array_table(lines, dotted, index, start, end)
            if block is None:
                # Maybe an inline array (`steps = [...]`): fall back to the key's own line.
                return _key_line(lines, name, start, end) or found
            start, end = block
            found = start + 1
            table.append(name)
            i += 2
            continue
        header = _table_header(lines, dotted, start, end)
        if header is not None:
            start = header
            found = header + 1
            table.append(name)
        else:
            line = _key_line(lines, name, start, end)
            return line if line is not None else found
        i += 1
    return found


def _nth_array_table(lines: list[str], dotted: str, index: int, start: int, end: int) -> tuple[int, int] | None:
    seen = -1
    for n in range(start, end):
        m = _HEADER.match(lines[n])
        if m and lines[n].lstrip().startswith("[[") and _norm(m[1]) == dotted:
            seen += 1
            if seen == index:
                stop = n + 1
                while stop < end:
                    h = _HEADER.match(lines[stop])
                    if h and not _norm(h[1]).startswith(dotted + "."):
                        break
                    stop += 1
                return n, stop
    return None


def _table_header(lines: list[str], dotted: str, start: int, end: int) -> int | None:
    for n in range(start, end):
        m = _HEADER.match(lines[n])
        if m and _norm(m[1]) == dotted:
            return n
    return None


def _key_line(lines: list[str], key: str, start: int, end: int) -> int | None:
    for n in range(start, end):
        if n > start and _HEADER.match(lines[n]):
            break
        m = _KEY.match(lines[n])
        if m and m[1] == key:
            return n + 1
    return None


def _norm(name: str) -> str:
    return re.sub(r"\s+", "", name).replace('"', "")
