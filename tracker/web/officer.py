"""The page each reminder links to: one deadline, for one recipient, through a signed link."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("officer", __name__, url_prefix="/a")
