"""Use cases of self-assessments; each call is one transaction (domain rows + outbox).

Drafts are saved in any order, partially, many times; publishing (or keeping private) checks the
whole self-assessment against its catalogue version, makes it final and generates its action plan.
Only a published one leaves the service, as events; a private one never does."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts import CloudEvent
from styrkedja_contracts.calendar import DEFAULT_CALENDAR
from styrkedja_contracts.events.base import EARLIEST_YEAR, LAST_SCHOOL_YEAR_START
from styrkedja_contracts.events.lika import LikaRating, LikaSelfAssessmentPublishedV1
from styrkedja_kit.rules import RuleViolation, publishable_event

from ..access.actor import Acting
from ..access.rules import (
    Owner,
    may_read,
    not_found,
    require_keep_private,
    require_read,
    require_visible,
    require_write,
)
from ..action_plans import queries as plan_queries
from ..action_plans.service import generate_plan
from ..catalogue.library import catalogue_for
from ..domain import AssessmentStatus, Catalogue, SchoolTerm, SelfAssessment
from ..problems import FieldProblem, raise_if_any
from ..text_rules import text_problems
from . import queries, rules
from .schemas import DraftIn, PublishedOut, RatingSaveIn, SelfAssessmentPublishedIn

SOURCE = "/styrkedja/lika"
_DRAFT_HEADER = ("organiser_id", "school_unit_code", "school_form", "respondent_role", "catalogue_version")


def owner_of(row: dict[str, Any]) -> Owner:
    return Owner(row["organiser_id"], row["school_unit_code"], AssessmentStatus(row["status"]))


def sized(event: CloudEvent, max_event_bytes: int, field: str) -> CloudEvent:
    size = len(event.to_bytes())
    if size > max_event_bytes:
        raise RuleViolation(field, "event_size_limit", f"the event would be {size} bytes, the limit is "
                                                       f"{max_event_bytes}: shorten the comments")
    return event


async def load(session: AsyncSession, self_assessment_id: uuid.UUID, *, lock: bool = False) -> dict[str, Any]:
    row = await queries.one(session, self_assessment_id, lock=lock)
    if row is None:
        raise not_found(self_assessment_id)
    return row


async def ratings_of(session: AsyncSession, row: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    """`{indicator_id: (rating, comment)}`: a tool-made one from its rating rows, an import from what
    was published."""
    if row["origin"] == "import":
        return {r["indicator_id"]: (r["rating"], r.get("comment")) for r in row["ratings"]}
    return await queries.ratings(session, row["self_assessment_id"])


def to_domain(row: dict[str, Any], ratings: dict[str, tuple[str, str | None]]) -> SelfAssessment:
    return SelfAssessment.model_validate({**rules.header(row), "ratings": {
        k: {"rating": r, "comment": c} for k, (r, c) in ratings.items()}})


#: a start term as a request writes it: one spelling, `HT 2026/27` (ASCII digits, one ordinary space)
_START_TERM = re.compile(r"(HT|VT) ([0-9]{4})/[0-9]{2}")
_TERM_RULE = "a term like 'HT 2026/27' (HT or VT, one space, the school year)"


#: the time zone of a school's days (the contracts' default calendar's: Swedish time), not UTC's: at 00:30 on 1 July in
#: Sweden a draft was dated 30 June and a plan started in the spring term just over
SCHOOL_TIME = ZoneInfo(DEFAULT_CALENDAR.timezone)


def school_day(now: datetime) -> date:
    """The day it is at a school at the moment `now`."""
    return now.astimezone(SCHOOL_TIME).date()


def _start_term(text: str | None, now: datetime) -> SchoolTerm:
    """The plan's start term asked for. In the school years a request may name (1900/01-2198/99, `LAST_SCHOOL_YEAR_START`):
    the school years' own rule runs to 9998/99, and the plan's suggested terms, counted on from the start, then left
    it — `HT 9998/99` was a 500 at publish. Its rule broken is said in words, never as pydantic's own text (the
    model's name, a link to pydantic's site)."""
    if text is None:
        return rules.term_of(school_day(now))
    found = _START_TERM.fullmatch(text)
    if found is None:
        raise RuleViolation("start_term", "term_format", f"must be {_TERM_RULE}")
    # the one bound of every school year a request names (`school_year_within_years`): `VT 2199/00` lies in 2200
    if not EARLIEST_YEAR <= int(found.group(2)) <= LAST_SCHOOL_YEAR_START:
        raise RuleViolation("start_term", "date_range", f"must be a term of the school years {EARLIEST_YEAR}/"
                            f"{(EARLIEST_YEAR + 1) % 100:02d}-{LAST_SCHOOL_YEAR_START}/"
                            f"{(LAST_SCHOOL_YEAR_START + 1) % 100:02d}")
    try:
        return SchoolTerm.parse(text)
    except (ValueError, ValidationError):  # a school year of two years not in a row (`2026/28`)
        raise RuleViolation("start_term", "school_year_format", f"must be {_TERM_RULE}, its school year two "
                            "consecutive years (`2026/27`)") from None


Loaded = tuple[dict[str, Any], dict[str, tuple[str, str | None]]]
"""A stored self-assessment row and its `{indicator_id: (rating, comment)}`."""


class SelfAssessments(Acting):
    async def _visible(self, session: AsyncSession, self_assessment_id: uuid.UUID, *,
                       lock: bool = False) -> dict[str, Any]:
        """The row of a self-assessment the caller may read; one it may not is answered as an id never stored
        (`require_visible`)."""
        row = await load(session, self_assessment_id, lock=lock)
        require_visible(self.actor, owner_of(row), self_assessment_id)
        return row

    # ---- reading ------------------------------------------------------------------------------

    async def get(self, self_assessment_id: uuid.UUID) -> Loaded:
        async with self.db.sessions() as session:
            row = await self._visible(session, self_assessment_id)
            return row, await ratings_of(session, row)

    async def get_many(self, ids: Mapping[str, uuid.UUID]) -> list[Loaded]:
        """Each self-assessment by the request's field that named it (`{"first": …, "second": …}`): an
        unknown one or one outside the caller's scope (404 both: `require_visible`) is refused naming that field, the
        one the client sent, not `self_assessment_id`."""
        async with self.db.sessions() as session:
            out = []
            for field, self_assessment_id in ids.items():
                try:
                    row = await self._visible(session, self_assessment_id)
                except RuleViolation as violation:
                    raise dataclasses.replace(violation, field=field) from None
                out.append((row, await ratings_of(session, row)))
            return out

    async def of_unit(self, organiser_id: str, school_unit_code: str, school_form: str | None,
                      statuses: Sequence[str], *, after: uuid.UUID | None, limit: int
                      ) -> tuple[list[tuple[dict[str, Any], int]], uuid.UUID | None]:
        """A page of a unit's self-assessments over time (oldest first), those the caller may read, each with how many
        indicators it has rated; and the id to ask the next page `after` (None: the last page). A 403 when the caller
        may read none of that unit's (not even a published one); a 422 naming `after` when it is no self-assessment
        of this unit."""
        try:
            require_read(self.actor, Owner(organiser_id, school_unit_code, AssessmentStatus.PUBLISHED))
        except RuleViolation as violation:  # named by the parameter that steered it out of scope, as `get_many`'s
            field = "organiser_id" if organiser_id not in self.actor.organisers else "school_unit_code"
            raise dataclasses.replace(violation, field=field) from None
        # within one unit what the caller may read depends on the status alone: filtered in SQL, so that a page is
        # `limit` rows the caller reads (filtered after the limit, a page of private ones was empty with a next)
        readable = [s for s in statuses if may_read(self.actor, Owner(organiser_id, school_unit_code,
                                                                       AssessmentStatus(s)))]
        async with self.db.sessions() as session:
            position = None
            if after is not None:
                position = await queries.position_in_unit(session, organiser_id, school_unit_code, after)
                if position is None:
                    raise RuleViolation("after", "listed_id", f"{after} is no self-assessment of school unit "
                                        f"{school_unit_code}: give the id the previous page's next link names")
            rows = await queries.of_unit(session, organiser_id, school_unit_code, school_form=school_form,
                                         statuses=readable, after=position, limit=limit + 1) if readable else []
            page = rows[:limit]
            counts = await queries.rated_counts(session, [r["self_assessment_id"] for r in page
                                                          if r["origin"] != "import"])
        found = [(row, len({r["indicator_id"] for r in row["ratings"] or ()}) if row["origin"] == "import"
                  else counts.get(row["self_assessment_id"], 0)) for row in page]
        return found, page[-1]["self_assessment_id"] if len(rows) > limit else None

    # ---- writing ------------------------------------------------------------------------------

    async def create_draft(self, body: DraftIn) -> tuple[dict[str, Any], dict[str, tuple[str, str | None]], bool]:
        """The new draft and True; the same request again: the stored one (with its ratings) and False."""
        catalogue_for(body.catalogue_version)
        require_write(self.actor, Owner(body.organiser_id, body.school_unit_code, AssessmentStatus.DRAFT))
        self_assessment_id = body.self_assessment_id or uuid.uuid4()
        now = datetime.now(UTC)
        if body.assessed_on is not None and body.assessed_on > school_day(now):
            # the day names the school year the self-assessment is about (reporting's compilation): one dated 2199
            # was of the school year 2199/00, which no read may name, and never the current year's (round 28t)
            raise RuleViolation("assessed_on", "not_in_future", "a self-assessment is made on or before the day it "
                                f"is saved: at the latest today in Sweden ({school_day(now).isoformat()})")
        header = body.model_dump(mode="json", include=set(_DRAFT_HEADER))
        async with self.db.sessions.begin() as session:
            if await queries.insert_new(session, {
                    "self_assessment_id": self_assessment_id, **header, "status": AssessmentStatus.DRAFT.value,
                    "origin": "tool", "assessed_on": body.assessed_on or school_day(now), "created_at": now,
                    "updated_at": now}):
                return await load(session, self_assessment_id), {}, True
            row = await load(session, self_assessment_id)
            ratings = await ratings_of(session, row)
        # the day, where the request names one, is the draft's too: a re-send naming another day was answered as
        # "the same draft again" and its day dropped (omitted, it is "today", which a re-send tomorrow is not)
        if {k: row[k] for k in _DRAFT_HEADER} != header or body.assessed_on not in (None, row["assessed_on"]):
            raise RuleViolation("self_assessment_id", "id_taken",
                                "another self-assessment has this id; omit the id to get a new one", status=409)
        require_read(self.actor, owner_of(row))
        return row, ratings, False

    async def _draft_for_change(self, session: AsyncSession, self_assessment_id: uuid.UUID,
                                action: str) -> tuple[dict[str, Any], Catalogue]:
        row = await self._visible(session, self_assessment_id, lock=True)
        require_write(self.actor, owner_of(row))
        problem = rules.lifecycle_problem(AssessmentStatus(row["status"]), action)
        if problem:
            raise RuleViolation(problem.field, problem.rule, problem.message, status=409)
        return row, catalogue_for(row["catalogue_version"])

    async def _finalised_already(self, session: AsyncSession, self_assessment_id: uuid.UUID, *, publish: bool,
                                 start: SchoolTerm | None) -> Loaded | None:
        """The same publish (or keep-private) again — a client's retry after a timeout, the first having made it
        final — answered as the first was: the self-assessment as it stands, nothing stored, no event. It was a 409
        `final` ("can no longer be published; start a new self-assessment"), which told a client whose publish had
        succeeded that it had not. None where this is no such request (a draft; the other action; another start
        term than the plan's: those are the usual path's, and its 409)."""
        row = await self._visible(session, self_assessment_id, lock=True)
        wanted = AssessmentStatus.PUBLISHED if publish else AssessmentStatus.PRIVATE
        if row["origin"] != "tool" or row["status"] != wanted.value:
            return None
        require_write(self.actor, owner_of(row))
        if not publish:
            require_keep_private(self.actor, owner_of(row))
        if start is not None:
            plan = await plan_queries.plan(session, self_assessment_id)
            if plan is None or plan["start_term"] != str(start):
                return None
        return row, await ratings_of(session, row)

    async def save(self, self_assessment_id: uuid.UUID, entries: list[RatingSaveIn]) -> Loaded:
        """The draft with its ratings after the save."""
        items = [e.model_dump() for e in entries]
        async with self.db.sessions.begin() as session:
            row, catalogue = await self._draft_for_change(session, self_assessment_id, "changed")
            raise_if_any(rules.save_problems(catalogue, row, items))
            await queries.save_ratings(session, self_assessment_id, items, datetime.now(UTC))
            return await load(session, self_assessment_id), await queries.ratings(session, self_assessment_id)

    async def remove_rating(self, self_assessment_id: uuid.UUID, indicator_id: str) -> None:
        async with self.db.sessions.begin() as session:
            await self._draft_for_change(session, self_assessment_id, "changed")
            if not await queries.delete_rating(session, self_assessment_id, indicator_id,
                                               datetime.now(UTC)):
                raise RuleViolation("indicator_id", "not_rated", f"{indicator_id} is not rated", status=404)

    async def finalise(self, self_assessment_id: uuid.UUID, *, publish: bool, start_term: str | None) -> Loaded:
        """Publish (events leave the service) or keep private (nothing ever leaves it). Either way the
        self-assessment must be complete and valid against its catalogue version; it becomes final and
        gets its action plan."""
        now = datetime.now(UTC)
        start = _start_term(start_term, now)
        async with self.db.sessions.begin() as session:
            done = await self._finalised_already(session, self_assessment_id, publish=publish,
                                                 start=None if start_term is None else start)
            if done is not None:
                return done
            row, catalogue = await self._draft_for_change(session, self_assessment_id,
                                                          "published" if publish else "kept private")
            if not publish:
                require_keep_private(self.actor, owner_of(row))
            elif rules.header(row)["assessed_on"] > school_day(now):
                # a draft saved before drafts were dated at the latest today (round 28t), or a clock set back since
                # it was saved: its event is one the contract refuses (`assessed_on` after its publishing's day)
                raise RuleViolation("assessed_on", "not_in_future", "the draft is dated "
                                    f"{rules.header(row)['assessed_on'].isoformat()}, after today in Sweden "
                                    f"({school_day(now).isoformat()}): it can be published from that day on, or "
                                    "its ratings saved in a new draft", status=409)
            ratings = await queries.ratings(session, self_assessment_id)
            checked = rules.finalise(catalogue, row, ratings)
            if isinstance(checked, list):
                # a 409, as every refusal by what the draft holds (final: `final`; dated after today:
                # `not_in_future`): a publish sends no ratings, the draft's stored ones are incomplete or invalid,
                # and the same request passes once the draft is mended (a 422 said the request's content was
                # wrong, which a client cannot mend by sending it otherwise; round 32)
                raise_if_any(checked, status=409, title="The self-assessment is not complete and valid")
                raise AssertionError("unreachable: a list of problems is never empty")
            snapshot = [{"indicator_id": i.id, "area": i.area.value, "rating": checked.ratings[i.id].rating.value,
                         "comment": checked.ratings[i.id].comment}
                        for i in catalogue.indicators_for(checked.school_form)]
            status = AssessmentStatus.PUBLISHED if publish else AssessmentStatus.PRIVATE
            values: dict[str, Any] = {"status": status.value, "ratings": snapshot, "finalised_at": now,
                                      "updated_at": now}
            events = []
            if publish:
                # the day it was made goes with it: the school year it is about (`rules.header`), never the publishing's
                event = sized(publishable_event(lambda: LikaSelfAssessmentPublishedV1(
                    self_assessment_id=self_assessment_id, published_at=now,
                    assessed_on=rules.header(row)["assessed_on"],
                    ratings=tuple(LikaRating(**r) for r in snapshot), **{k: row[k] for k in _DRAFT_HEADER}),
                    source=SOURCE, subject=str(self_assessment_id), field="ratings"), self.max_event_bytes, "ratings")
                values |= {"published_at": now, "event_id": event.id}
                events.append(event)
            await queries.set_columns(session, self_assessment_id, values)
            events += await generate_plan(session, {**row, **values}, catalogue, checked, start, now,
                                          self.max_event_bytes)
            if events:
                await self.outbox.add(session, events)
            return {**row, **values}, ratings

    # ---- the door for self-assessments published elsewhere ------------------------------------------

    async def import_published(self, item: SelfAssessmentPublishedIn) -> PublishedOut:
        """Store a self-assessment published in another tool, and its event; the same id and content
        again is a no-op."""
        require_write(self.actor, Owner(item.organiser_id, item.school_unit_code, AssessmentStatus.PUBLISHED))
        raise_if_any(import_problems(item))
        self_assessment_id = item.self_assessment_id or uuid.uuid4()
        content = item.model_dump(mode="json", exclude={"self_assessment_id"})
        now = datetime.now(UTC)
        event = sized(publishable_event(lambda: LikaSelfAssessmentPublishedV1(
            self_assessment_id=self_assessment_id, published_at=now, assessed_on=school_day(now), **content),
            source=SOURCE, subject=str(self_assessment_id)), self.max_event_bytes, "ratings")
        async with self.db.sessions.begin() as session:
            if await queries.insert_new(session, {"self_assessment_id": self_assessment_id, **content,
                                                  "status": AssessmentStatus.PUBLISHED.value, "origin": "import",
                                                  "event_id": event.id, "published_at": now,
                                                  "assessed_on": school_day(now), "finalised_at": now,
                                                  "created_at": now, "updated_at": now}):
                await self.outbox.add(session, [event])
                return PublishedOut(self_assessment_id=self_assessment_id, published_at=now, status="stored")
            stored = await load(session, self_assessment_id)
        if stored["origin"] != "import" or not rules.same_import({k: stored[k] for k in queries.IMPORT_COLUMNS},
                                                                 content):
            raise RuleViolation("self_assessment_id", "published_is_final",
                                "a different self-assessment is already stored under this id; "
                                "publish a change under a new id", status=409)
        return PublishedOut(self_assessment_id=self_assessment_id, published_at=stored["published_at"],
                            status="unchanged")


def import_problems(item: SelfAssessmentPublishedIn) -> list[FieldProblem]:
    """A self-assessment made elsewhere may be partial, but what it rates must be in its catalogue
    version and school form, under the indicator's own area."""
    catalogue = catalogue_for(item.catalogue_version)
    problems = []
    seen: dict[str, int] = {}
    for index, rating in enumerate(item.ratings):
        where = f"ratings.{index}"
        if rating.indicator_id in seen:
            problems.append(FieldProblem(f"{where}.indicator_id", "unique_indicator",
                                         f"indicator {rating.indicator_id!r} is already rated at "
                                         f"ratings.{seen[rating.indicator_id]}"))
        seen.setdefault(rating.indicator_id, index)
        if not catalogue.has_indicator(rating.indicator_id) or (
                catalogue.indicator(rating.indicator_id).school_form.value != item.school_form.value):
            problems.append(FieldProblem(f"{where}.indicator_id", "unknown_indicator",
                                         f"catalogue {catalogue.version} has no indicator {rating.indicator_id} "
                                         f"for {item.school_form.value}"))
        elif catalogue.indicator(rating.indicator_id).area.value != rating.area.value:
            problems.append(FieldProblem(f"{where}.area", "indicator_area",
                                         f"{rating.indicator_id} belongs to area "
                                         f"{catalogue.indicator(rating.indicator_id).area.value}"))
        problems += [p for p in text_problems(f"{where}.comment", rating.comment, multiline=True)
                     if p.rule != "no_personal_identity_number"]
    return problems
