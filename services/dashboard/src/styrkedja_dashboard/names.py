"""The names of areas and school units as the directory (reporting's SS 12000 import) has them, for the pages:
a unit is shown by its name where one is known, by its id otherwise. Only decoration: a directory the user may
not read, or that does not answer, leaves every unit shown by its id, never an error page."""

from __future__ import annotations

from dataclasses import dataclass, field

from .clients import Reporting, UpstreamError
from .shapes import text


@dataclass(frozen=True)
class UnitNames:
    known: dict[tuple[str, str], str] = field(default_factory=dict)

    def __call__(self, level: object, unit_id: object) -> str:
        """The name of a unit of `level` (area, school_unit), else its id as sent ("" for none)."""
        found, kind = text(unit_id), text(level)
        if found is None:
            return ""
        return self.known.get((kind, found), found) if kind else found


async def unit_names(api: Reporting, organiser: str) -> UnitNames:
    try:
        return UnitNames(await api.unit_names(organiser))
    except UpstreamError:  # scope, a busy or odd directory: the ids are shown, as before names were
        return UnitNames()
