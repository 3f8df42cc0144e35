"""Who is calling: the kit's `Principal`, from the verified bearer token (roles, organisers, school
units, groups). Each route declares one of these guards; the ownership rules in `rules` then decide
per self-assessment."""

from __future__ import annotations

from typing import Any, Self

from fastapi import Request

from styrkedja_kit.app import runtime_of
from styrkedja_kit.auth import Principal, Role, Write, authorize, authorize_write
from styrkedja_kit.db import Database
from styrkedja_kit.outbox import Outbox

from .rules import READERS

#: Create, change, publish, keep private (the unit alone: `rules.may_keep_private`), edit the action plan:
#: principal, ICT coordinator, organiser admin.
writer: Any = authorize_write(Write.LIKA)
#: Read self-assessments, action plans, comparisons, exports: the unit, the organiser admin, area managers.
reader: Any = authorize(*READERS, description="reads self-assessments")
#: The catalogue is reference data (no school's data): any role.
catalogue_reader: Any = authorize(*Role, description="reads the LIKA catalogue")


class Acting:
    """A capability's use cases for one caller (`SelfAssessments`, `ActionPlans`): the database, the outbox, the
    bound of one event, and who acts; built per request by `of` (the routes' dependencies, a reader's or a
    writer's guard in front)."""

    def __init__(self, db: Database, outbox: Outbox, max_event_bytes: int, actor: Principal) -> None:
        self.db = db
        self.outbox = outbox
        self.max_event_bytes = max_event_bytes
        self.actor = actor

    @classmethod
    def of(cls, request: Request, actor: Principal) -> Self:
        runtime = runtime_of(request)
        return cls(runtime.db, runtime.require_outbox(), runtime.settings.max_event_bytes, actor)
