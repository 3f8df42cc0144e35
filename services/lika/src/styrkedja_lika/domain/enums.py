"""Enumerations of the LIKA domain.

Member names are English. The *values* are those of the event contracts
(``styrkedja_contracts.events.lika``: ``SchoolForm``, ``RespondentRole``,
``LikaArea``, ``LikaRatingValue``), so a value read from an event or written
to one needs no mapping; ``OwnerRole`` follows the same lower-case style. The
Swedish labels live in the catalogue data (``scale``, ``areas``,
``school_forms``, ``owner_roles``), so wording can change without a code change.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Area", "AREA_ORDER", "AssessmentStatus", "OwnerRole", "Rating", "RATED_SCALE", "RespondentRole",
           "SchoolForm"]


class SchoolForm(StrEnum):
    """Skolform: förskola, grundskola, gymnasieskola."""

    PRESCHOOL = "forskola"
    COMPULSORY_SCHOOL = "grundskola"
    UPPER_SECONDARY_SCHOOL = "gymnasieskola"

    @property
    def code(self) -> str:
        """Prefix of indicator ids: ``FO``, ``GR`` or ``GY``."""
        return _FORM_CODES[self]


_FORM_CODES = {
    SchoolForm.PRESCHOOL: "FO",
    SchoolForm.COMPULSORY_SCHOOL: "GR",
    SchoolForm.UPPER_SECONDARY_SCHOOL: "GY",
}


class Area(StrEnum):
    """Verksamhetsområde: Ledning, Infrastruktur, Kompetens, Användning (in this order)."""

    LEADERSHIP = "ledning"
    INFRASTRUCTURE = "infrastruktur"
    COMPETENCE = "kompetens"
    USE = "anvandning"

    @property
    def code(self) -> str:
        """Middle part of indicator ids: ``LED``, ``INF``, ``KOM`` or ``ANV``."""
        return _AREA_CODES[self]

    @property
    def order(self) -> int:
        """Position in the canonical order (Ledning first)."""
        return AREA_ORDER.index(self)


AREA_ORDER: tuple[Area, ...] = (Area.LEADERSHIP, Area.INFRASTRUCTURE, Area.COMPETENCE, Area.USE)
_AREA_CODES = {Area.LEADERSHIP: "LED", Area.INFRASTRUCTURE: "INF", Area.COMPETENCE: "KOM", Area.USE: "ANV"}


class Rating(StrEnum):
    """The LIKA rating scale.

    Ordered ``NOT_PLANNED`` (ej planerad, 0) < ``PLANNED`` (planerad, 1) <
    ``STARTED`` (påbörjad, 2) < ``ALMOST_THERE`` (nästan där, 3) <
    ``ACHIEVED`` (uppnådd, 4). ``NOT_RELEVANT`` (ej relevant) has no level and
    is left out of every score.
    """

    NOT_PLANNED = "NOT_PLANNED"
    PLANNED = "PLANNED"
    STARTED = "STARTED"
    ALMOST_THERE = "ALMOST_THERE"
    ACHIEVED = "ACHIEVED"
    NOT_RELEVANT = "NOT_RELEVANT"

    @property
    def level(self) -> int | None:
        """0–4 on the ordered scale, ``None`` for ``NOT_RELEVANT``."""
        return _LEVELS.get(self)

    @property
    def is_scored(self) -> bool:
        return self is not Rating.NOT_RELEVANT

    @classmethod
    def from_level(cls, level: int) -> Rating:
        return RATED_SCALE[level]


RATED_SCALE: tuple[Rating, ...] = (
    Rating.NOT_PLANNED,
    Rating.PLANNED,
    Rating.STARTED,
    Rating.ALMOST_THERE,
    Rating.ACHIEVED,
)
"""The ordered, scored part of the scale (index = level)."""
_LEVELS = {r: i for i, r in enumerate(RATED_SCALE)}
TOP_LEVEL = len(RATED_SCALE) - 1


class OwnerRole(StrEnum):
    """The role that usually owns an activity in the action plan."""

    PRINCIPAL = "rektor"
    ICT_COORDINATOR = "ict_coordinator"  # ikt-samordnare / IT-pedagog
    TEACHER_TEAM = "teacher_team"  # arbetslag / ämneslag
    CENTRAL_OFFICE = "central_office"  # förvaltningen
    IT_DEPARTMENT = "it_department"  # IT-avdelningen


class RespondentRole(StrEnum):
    """Who made a self-assessment (värdering)."""

    PRINCIPAL = "rektor"
    ICT_COORDINATOR = "ict_coordinator"  # ikt-samordnare
    TEACHER_TEAM = "teacher_team"  # arbetslag
    MANAGEMENT_TEAM = "management_team"  # ledningsgrupp


class AssessmentStatus(StrEnum):
    """Life cycle of a self-assessment: draft → published, or kept private."""

    DRAFT = "DRAFT"
    PRIVATE = "PRIVATE"
    PUBLISHED = "PUBLISHED"
