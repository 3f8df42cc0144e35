"""HTTP bodies of the reporting calendar."""

from __future__ import annotations

from pydantic import BaseModel, Field

from styrkedja_contracts.events.calendar import ReportingCalendar
from styrkedja_kit.inputs import Revision


class CalendarIn(ReportingCalendar):
    """The whole calendar (not a diff). Omitted fields take the defaults."""

    revision: Revision | None = Field(None, description="Optional optimistic lock: the next revision (current + 1).")

    def calendar(self) -> ReportingCalendar:
        """The calendar in its one order (windows HT then VT, deadlines by round): the same calendar listed in
        another order is the same calendar (`unchanged`), not a new revision and event."""
        return ReportingCalendar.model_validate(self.model_dump(exclude={"revision"})).canonical()


class CalendarOut(BaseModel):
    organiser_id: str
    revision: int = Field(description="0: the organiser has set no calendar; the defaults apply.")
    default: bool = Field(description="True while the defaults apply.")
    calendar: ReportingCalendar
    status: str = Field(description="`current` (GET), `stored` (a new revision, one event) or `unchanged`.")
