"""Who is calling: the kit's `Principal`, from the verified bearer token (roles, organisers, school
units, groups). Each route declares one of these guards; the ownership rules in `rules` then decide
per self-assessment."""

from __future__ import annotations

from typing import Any

from styrkedja_kit.auth import Role, Write, authorize, authorize_write

from .rules import READERS

#: Create, change, publish, keep private (the unit alone: `rules.may_keep_private`), edit the action plan:
#: principal, ICT coordinator, organiser admin.
writer: Any = authorize_write(Write.LIKA)
#: Read self-assessments, action plans, comparisons, exports: the unit, the organiser admin, area managers.
reader: Any = authorize(*READERS, description="reads self-assessments")
#: The catalogue is reference data (no school's data): any role.
catalogue_reader: Any = authorize(*Role, description="reads the LIKA catalogue")
