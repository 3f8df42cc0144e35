"""HTTP bodies of the reporting calendar."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from styrkedja_contracts.calendar import TERM_WEEKS
from styrkedja_contracts.events.calendar import ReportingCalendar
from styrkedja_contracts.identifiers import Term
from styrkedja_kit.inputs import Revision


def _say_the_calendar_rules(schema: dict[str, Any]) -> None:
    """The rules of a calendar its fields' schemas can say, in the request's document only (the event's schema is
    the contracts'): two windows, one of them HT and one VT, as `contains` (two items each term at least once: each
    exactly once); a round once, in words (no keyword compares one property across items). Round 31: a calendar of
    two HT windows was schema-valid and a 422."""
    properties = schema.get("properties", {})
    windows = properties.get("forecast_windows", {})
    windows["allOf"] = [{"contains": {"type": "object", "properties": {"term": {"const": term.value}},
                                      "required": ["term"]}} for term in Term]
    windows["description"] = ("Exactly one window for HT and one for VT, in any order (`one_window_per_term`).")
    deadlines = properties.get("round_deadlines", {})
    deadlines["description"] = "Each round at most once (`one_deadline_per_round`)."
    # each week in its term's weeks (`check_weeks_in_terms`, `TERM_WEEKS`), a window's and a deadline's alike
    in_term = {"anyOf": [{"properties": {"term": {"const": term.value},
                                         "iso_week": {"minimum": weeks.start, "maximum": weeks.stop - 1}}}
                         for term, weeks in TERM_WEEKS.items()]}
    for prop in (windows, deadlines):
        if "items" in prop:
            prop["items"] = {"allOf": [prop["items"], in_term]}
        prop["description"] += " Each week within its term's (HT weeks 27-52, VT 1-26: `week_in_term`)."
    zone = properties.get("timezone", {})
    zone["description"] = f"{zone.get('description', '')} Another name is a 422 (`unknown_time_zone`).".strip()


class CalendarIn(ReportingCalendar):
    """The whole calendar (not a diff). Omitted fields take the defaults."""

    model_config = ConfigDict(json_schema_extra=_say_the_calendar_rules)

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
