"""The names of the organiser, its areas, school units and groups as the directory (reporting's SS 12000 import)
has them, for the pages: a unit is shown by its name where one is known. Only decoration: a directory the user
may not read, or that does not answer, leaves every unit shown by the stated fallback, never an error page.

The fallback when no name is known is said the same way everywhere: in a heading, breadcrumb or caption the
level's word and the id (`Huvudman 2980`, `Skolenhet 12345678`); in a table whose column already names the level,
the id alone. The school unit code and the organiser id are shown next to a name (users type them into the
filters and find them in the downloads); an area's or a group's id is the source system's key, not shown."""

from __future__ import annotations

from dataclasses import dataclass, field

from .chain.view import LEVEL_NAMES
from .clients import Reporting, UpstreamError
from .shapes import text

#: a group as the chain names it (`<school unit code>/<group id>`); the alerts use `:` (their contract's id)
GROUP_SEPARATORS = ("/", ":")
#: the levels whose id users need next to the name
SHOWN_IDS = frozenset({"organiser", "school_unit"})


@dataclass(frozen=True)
class UnitNames:
    known: dict[tuple[str, str], str] = field(default_factory=dict)

    def name(self, level: object, unit_id: object) -> str | None:
        """The directory's name of a unit of `level`, None when it has none. A group is named with its school
        unit (`7A, Norrbergsskolan`): a group's name is only unique within its unit."""
        found, kind = text(unit_id), text(level)
        if found is None or kind is None:
            return None
        if kind == "group":
            return self._group(found)
        return self.known.get((kind, found))

    def _group(self, unit_id: str) -> str | None:
        for separator in GROUP_SEPARATORS:
            code, sep, group = unit_id.partition(separator)
            if sep and code and group:
                named = self.known.get(("group", f"{code}/{group}"))
                if named is None:
                    return None
                return f"{named}, {self.known.get(('school_unit', code)) or LEVEL_NAMES['school_unit'] + ' ' + code}"
        return None

    def __call__(self, level: object, unit_id: object) -> str:
        """For a table whose column names the level: the name, else the id as sent ("" for none)."""
        return self.name(level, unit_id) or text(unit_id) or ""

    def label(self, level: object, unit_id: object) -> str:
        """For a heading, breadcrumb or caption: the name, else the level's word and the id (`Huvudman 2980`)."""
        named = self.name(level, unit_id)
        if named is not None:
            return named
        found, kind = text(unit_id) or "", text(level) or ""
        return f"{LEVEL_NAMES.get(kind, kind)} {found}".strip()

    def shown_id(self, level: object, unit_id: object) -> str | None:
        """The id to show next to a known name (a school unit's code, the organiser's id), else None: without a
        name the id is already what is shown."""
        kind = text(level)
        if kind not in SHOWN_IDS or self.name(level, unit_id) is None:
            return None
        return text(unit_id)


#: no names at all: every unit by the fallback (a page that could not ask the directory)
NO_NAMES = UnitNames()


async def unit_names(api: Reporting, organiser: str) -> UnitNames:
    try:
        return UnitNames(await api.unit_names(organiser))
    except UpstreamError:  # scope (the public may not read the directory), a busy or odd directory: the fallback
        return NO_NAMES
