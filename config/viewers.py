"""Province and national viewers: people who read many organisations' boards but belong to none.

They are listed in their own TOML file named by `TRACKER_VIEWERS` (organisation files describe one
organisation each):

    [[viewers]]
    name = "สถจ.นครราชสีมา"
    scope = "province:นครราชสีมา"     # or "national"
    destinations = ["mailto:viewer@example.go.th"]
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from tracker.domain.errors import TrackerError

ENV = "TRACKER_VIEWERS"


@dataclass(frozen=True)
class Viewer:
    name: str
    scope: str  # "national" or "province:<name>"
    destinations: tuple[str, ...]

    @property
    def province(self) -> str | None:
        return self.scope.split(":", 1)[1] if self.scope.startswith("province:") else None


class ViewersError(TrackerError):
    pass


def load_viewers(path: Path | None) -> tuple[Viewer, ...]:
    """The viewers listed in `path` (none when no file is configured). Raises ViewersError, located."""
    if path is None:
        return ()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ViewersError(f"{path}: {exc}") from None
    viewers = []
    for index, item in enumerate(data.get("viewers", []), start=1):
        where = f"{path}: viewers[{index}]"
        name, scope, destinations = item.get("name"), item.get("scope", ""), item.get("destinations", [])
        if not isinstance(name, str) or not name.strip():
            raise ViewersError(f"{where}.name: give the viewer's name")
        if scope != "national" and not (isinstance(scope, str) and scope.startswith("province:") and scope[9:]):
            raise ViewersError(f"{where}.scope: write \"national\" or \"province:<province name>\", not {scope!r}")
        if not isinstance(destinations, list) or not destinations or not all(isinstance(d, str) for d in destinations):
            raise ViewersError(f"{where}.destinations: list at least one, e.g. [\"mailto:viewer@example.go.th\"]")
        viewers.append(Viewer(name, scope, tuple(destinations)))
    return tuple(viewers)
