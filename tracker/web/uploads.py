"""Evidence files officers attach: PDF, images, Word and Excel, at most 10 MB, stored under the data
folder by content hash (the same file twice is kept once) and never served without authorisation.

The type is judged from the file's first bytes as well as its name: a renamed executable is refused.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
UPLOADS_DIR = "uploads"

_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .doc / .xls
# extension → (content type, magic prefixes)
ALLOWED: dict[str, tuple[str, tuple[bytes, ...]]] = {
    "pdf": ("application/pdf", (b"%PDF-",)),
    "png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "gif": ("image/gif", (b"GIF87a", b"GIF89a")),
    "webp": ("image/webp", (b"RIFF",)),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", (_ZIP,)),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (_ZIP,)),
    "doc": ("application/msword", (_OLE,)),
    "xls": ("application/vnd.ms-excel", (_OLE,)),
}


class UploadRefused(ValueError):
    """The file cannot be kept; the message says why in Thai and English ("th|en")."""

    def __init__(self, th: str, en: str) -> None:
        super().__init__(en)
        self.th, self.en = th, en


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    ext: str
    size: int
    original_name: str

    @property
    def content_type(self) -> str:
        return ALLOWED[self.ext][0]

    @property
    def relative(self) -> str:
        return f"{self.sha256[:2]}/{self.sha256}.{self.ext}"


def check(filename: str, data: bytes) -> str:
    """The file's extension when it may be kept; raises UploadRefused otherwise."""
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if ext not in ALLOWED:
        raise UploadRefused(f"ไม่รับไฟล์ชนิดนี้ ({filename}): รับเฉพาะ PDF รูปภาพ Word และ Excel",
                            f"{filename}: only PDF, images, Word and Excel files are accepted")
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRefused("ไฟล์ใหญ่เกิน ๑๐ เมกะไบต์", "the file is larger than 10 MB")
    if not data:
        raise UploadRefused("ไฟล์ว่างเปล่า", "the file is empty")
    if not data.startswith(ALLOWED[ext][1]):
        raise UploadRefused(f"เนื้อหาไฟล์ {filename} ไม่ใช่ชนิดที่ชื่อไฟล์บอก",
                            f"{filename}: its content is not what its name says")
    return ext


def store(data_dir: Path, filename: str, data: bytes) -> StoredFile:
    """Check and keep the file (atomically; once per content). Raises UploadRefused."""
    ext = check(filename, data)
    digest = hashlib.sha256(data).hexdigest()
    stored = StoredFile(digest, ext, len(data), Path(filename).name[:255])
    path = data_dir / UPLOADS_DIR / stored.relative
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{digest}.{secrets.token_hex(4)}")
        temp.write_bytes(data)
        os.replace(temp, path)
    return stored


def path_of(data_dir: Path, relative: str) -> Path:
    """The file behind a stored relative name; refuses anything that is not one."""
    name = relative.split("/")[-1]
    sha, _, ext = name.partition(".")
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha) or ext not in ALLOWED \
            or relative != f"{sha[:2]}/{name}":
        raise FileNotFoundError(relative)
    return data_dir / UPLOADS_DIR / relative
