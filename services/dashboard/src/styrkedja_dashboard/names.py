"""The names of the organiser, its areas, school units and groups as the directory (reporting's SS 12000 import)
has them, for the pages: a unit is shown by its name where one is known. Only decoration: a directory the user
may not read, or that does not answer, leaves every unit shown by the stated fallback, never an error page.

The fallback when no name is known is said the same way everywhere: in a heading, breadcrumb or caption the
level's word and the id (`Huvudman 2980`, `Skolenhet 12345678`); in a table whose column already names the level,
the id alone. The school unit code and the organiser id are shown next to a name (users type them into the
filters and find them in the downloads); an area's or a group's id is the source system's key, not shown."""

from __future__ import annotations

import time
from collections import OrderedDict
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


#: how long the directory's names serve one session's pages: every page asked for the organiser's whole tree (one
#: read of reporting per page, beside the page's own). Names change with an SS 12000 import (nightly, or an operator's
#: run); a page showing a renamed unit by its old name for a minute harms nobody
NAMES_SECONDS = 60.0
#: answers kept at most (one per session and organiser), the least recently used dropped first: a tree's names are
#: tens of kB for a municipality, so a few MB at most, however many sessions there are
NAMES_KEPT = 256


class NamesCache:
    """The directory's names as reporting answered them, per session and organiser, for `NAMES_SECONDS`. Kept per
    session, never shared: the answer is read with the session's token and its scope, and a session's id is new at
    every sign-in (`SessionStore.rotate`), so no answer serves another person, nor the same person signed in again
    with another role. Only answers are kept: a directory that could not be read is asked again on the next page."""

    def __init__(self, seconds: float = NAMES_SECONDS, kept: int = NAMES_KEPT) -> None:
        self.seconds, self.kept = seconds, kept
        self._entries: OrderedDict[tuple[str, str], tuple[float, UnitNames]] = OrderedDict()

    def for_session(self, session_id: str) -> SessionNames:
        return SessionNames(self, session_id)

    def get(self, session_id: str, organiser: str) -> UnitNames | None:
        key = (session_id, organiser)
        found = self._entries.get(key)
        if found is None:
            return None
        if found[0] <= time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return found[1]

    def put(self, session_id: str, organiser: str, names: UnitNames) -> None:
        self._entries[(session_id, organiser)] = (time.monotonic() + self.seconds, names)
        self._entries.move_to_end((session_id, organiser))
        while len(self._entries) > self.kept:
            self._entries.popitem(last=False)


@dataclass(frozen=True)
class SessionNames:
    """One session's part of a `NamesCache` (what a page's reporting client carries: `Reporting.names`)."""

    cache: NamesCache
    session_id: str

    def get(self, organiser: str) -> UnitNames | None:
        return self.cache.get(self.session_id, organiser)

    def put(self, organiser: str, names: UnitNames) -> None:
        self.cache.put(self.session_id, organiser, names)


async def unit_names(api: Reporting, organiser: str) -> UnitNames:
    """The names for `organiser`'s pages: the session's kept answer (`NamesCache`) where the client carries one and
    it is fresh, else the directory's, kept for the next pages of the session."""
    kept: SessionNames | None = api.names
    found = kept.get(organiser) if kept is not None else None
    if found is not None:
        return found
    try:
        found = UnitNames(await api.unit_names(organiser))
    except UpstreamError:  # scope (the public may not read the directory), a busy or odd directory: the fallback
        return NO_NAMES
    if kept is not None:
        kept.put(organiser, found)
    return found
