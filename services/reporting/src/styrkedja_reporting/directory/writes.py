"""The directory write path: platforms and the SS 12000 importer send directory changes in
batches; each change that differs from what was last published becomes an organisation event
in the outbox (same transaction), so a replay of styrkedja.organisation rebuilds the directory
and a second import of the same data changes nothing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, get_args

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import ColumnElement, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts import (
    DutyUpsertedV1,
    EventData,
    GroupMembershipUpsertedV1,
    OrganisationEntityRemovedV1,
    OrganisationUnitUpsertedV1,
    TeachingAssignmentUpsertedV1,
    new_event,
)
from styrkedja_contracts.identifiers import SOURCE_ID_PATTERN, OrganiserId
from styrkedja_kit.db import advisory_locks
from styrkedja_kit.inputs import InputModel
from styrkedja_kit.outbox import Outbox
from styrkedja_kit.problems import Problem
from styrkedja_kit.rules import RuleViolation, RuleViolations
from styrkedja_kit.sets import any_of, rows_in, unnested

from .rules import NOT_IN_FUTURE_RULE, applies, dated_ahead, in_kept_spelling, key_in_kept_spelling, unit_scope
from .tables import DIRECTORY_WRITE_LOCK, published

SOURCE = "/reporting/directory"
MAX_ITEMS = 5_000
Status = Literal["created", "changed", "removed", "unchanged"]
#: a removal naming nothing (`RemovalBatch`: neither `source_ids` nor `entities`)
NOTHING_TO_REMOVE = "nothing_to_remove"

_REMOVED = "removed"
#: the columns `write_changes` upserts, in the order of its rows
_PUBLISHED_COLUMNS = ["organiser_id", "entity_key", "content_hash", "changed_at", "source_id", "written_by", "unit_type",
                      "school_unit_code"]


#: the contracts a change's `data` is validated by, one per change type
_Contract = (OrganisationUnitUpsertedV1 | GroupMembershipUpsertedV1 | TeachingAssignmentUpsertedV1 | DutyUpsertedV1
             | OrganisationEntityRemovedV1)
MODELS: dict[str, type[EventData]] = {m.event_type: m for m in get_args(_Contract)}


def _data_by_type(schema: dict[str, Any]) -> None:
    """Each change's `data` is its type's contract (`MODELS`, what the route validates it by), said in the document as
    one branch per type. Round 31: `data` was any object, and `{"type": "…duty_upserted.v1", "data": {}}`,
    schema-valid, a 422. The branches take pydantic's own references to the contracts (`ContractData`: the document
    holds each once, among its components); the serialization schema has none and no branches."""
    contracts = schema["properties"]["data"].get("anyOf")
    if contracts is not None:
        schema["oneOf"] = [{"properties": {"type": {"const": event_type}, "data": contract}}
                           for event_type, contract in zip(MODELS, contracts, strict=True)]


def _as_sent(data: Any) -> Any:
    return data


#: `data` as the document says it: one of the contracts, in `MODELS`' order (the branches above pair them by that
#: order). The route validates it by its type's contract (a 422 naming the field and the rule), so the field itself
#: takes any object, as before: `json_schema_input_type` only documents.
ContractData = Annotated[dict[str, Any], BeforeValidator(_as_sent, json_schema_input_type=_Contract)]


class Change(InputModel):
    """One directory change: the CloudEvents type, its data (validated against the contract), and
    the source's id of what it came from (default: the entity's own id)."""

    model_config = ConfigDict(json_schema_extra=_data_by_type)

    type: Literal["se.styrkedja.organisation.unit_upserted.v1", "se.styrkedja.organisation.membership_upserted.v1",
                  "se.styrkedja.organisation.teaching_assigned.v1", "se.styrkedja.organisation.duty_upserted.v1",
                  "se.styrkedja.organisation.entity_removed.v1"]
    data: ContractData
    source_id: str | None = Field(None, pattern=SOURCE_ID_PATTERN)


class ChangeBatch(InputModel):
    items: list[Change] = Field(min_length=1, max_length=MAX_ITEMS)


class HeldEntity(InputModel):
    """One entity the directory holds (published and not removed), as a full import compares it."""

    organiser_id: OrganiserId
    entity_key: str = Field(min_length=3, max_length=200)


class HeldEntities(BaseModel):
    items: list[HeldEntity]
    source_ids: list[str]
    next_after: str | None = None


class RemovalBatch(InputModel):
    """Remove everything published from these source ids (an SS 12000 deletedEntities list), and
    these entities by key (what a full import no longer found in its source). At least one of the two
    is named (rule `nothing_to_remove`)."""

    # `_something` in the document too: a client generated from it never sends a body the service refuses
    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"required": ["source_ids"], "properties": {"source_ids": {"minItems": 1}}},
        {"required": ["entities"], "properties": {"entities": {"minItems": 1}}}]})

    source_ids: list[Annotated[str, Field(pattern=SOURCE_ID_PATTERN)]] = Field(default=[], max_length=MAX_ITEMS)
    entities: list[HeldEntity] = Field(default=[], max_length=MAX_ITEMS)
    removed_at: AwareDatetime

    @model_validator(mode="after")
    def _something(self) -> RemovalBatch:
        if not self.source_ids and not self.entities:
            # a rule of its own, as the document's `anyOf` says it (round 32: pydantic's generic `value_error`)
            raise PydanticCustomError(NOTHING_TO_REMOVE, "name at least one source id or entity")
        return self


class ChangeResult(BaseModel):
    status: Status
    entity_key: str


class ChangeSummary(BaseModel):
    created: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    items: list[ChangeResult] = []
    #: a removal by a platform client: live entities it named that were written before reporting recorded who wrote
    #: what (migration 0026, no writer) — the organiser admin's to remove (`rules.removed_by`), so not removed. Counted,
    #: not named: what they are is not this client's business (`/held`), that its removal left some is
    unrecorded_writer: int = Field(0, description="Removals: live entities named that were written before reporting "
                                   "recorded their writer; only the organiser admin removes them, so they were not "
                                   "removed (send the removal with the organiser admin's token)")


def entity_key(data: EventData) -> str:
    """Names the entity an event is about; a removal names the same entity as its upsert."""
    if isinstance(data, OrganisationUnitUpsertedV1):
        return f"unit:{data.unit_type.value}:{unit_scope(data.unit_type.value, data.school_unit_code)}:{data.unit_id}"
    if isinstance(data, OrganisationEntityRemovedV1):
        if data.unit_type is not None:
            scope = unit_scope(data.unit_type.value, data.school_unit_code)
            return f"unit:{data.unit_type.value}:{scope}:{data.entity_id}"
        return f"{data.entity.value}:{data.entity_id}"
    if isinstance(data, GroupMembershipUpsertedV1):
        return f"membership:{data.membership_id}"
    if isinstance(data, TeachingAssignmentUpsertedV1):
        return f"teaching_assignment:{data.assignment_id}"
    assert isinstance(data, DutyUpsertedV1)
    return f"duty:{data.duty_id}"


def natural_id(data: EventData) -> str:
    for name in ("unit_id", "entity_id", "membership_id", "assignment_id", "duty_id"):
        if hasattr(data, name):
            return str(getattr(data, name))
    raise ValueError(type(data).__name__)


def content_hash(data: EventData) -> str:
    """What the entity is, without when the source says it changed: equal content = unchanged."""
    if isinstance(data, OrganisationEntityRemovedV1):
        return _REMOVED
    body = data.model_dump(mode="json", exclude={"updated_at"})
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def removal_for(entity_key: str, organiser_id: str, school_unit_code: str | None, removed_at: datetime
                ) -> OrganisationEntityRemovedV1:
    kind, _, rest = entity_key.partition(":")
    if kind == "unit":
        unit_type, _, rest = rest.partition(":")
        _, _, unit_id = rest.partition(":")
        return OrganisationEntityRemovedV1(entity="unit", entity_id=unit_id, organiser_id=organiser_id,
                                           unit_type=unit_type, school_unit_code=school_unit_code,
                                           removed_at=removed_at)
    return OrganisationEntityRemovedV1(entity=kind, entity_id=rest, organiser_id=organiser_id, removed_at=removed_at)


async def write_changes(session: AsyncSession, outbox: Outbox, items: Sequence[tuple[EventData, str | None]], *,
                        writer: str, writes_for: Collection[str] = ()) -> ChangeSummary:
    """The caller validated `items` (contract models). One transaction: compare, outbox, remember.

    `writer` (`rules.writer_of` the token) is recorded as the entity's writer whenever it sends the entity — a change,
    and also the same content again (`unchanged`, no event): the client that last sent an entity holds it (`/held`
    lists it that client's), so a full import re-claims what it still sends, also what was written before writers
    were recorded or last sent by another client.

    Writers of one organiser's directory take turns (its advisory lock, held to the commit): two imports of
    the same data at once — an import run twice, a platform's retry racing its first try — compared against
    what was published before either, so both sent every new entity as `created` (its event twice), and their
    row locks, taken in the order of each plan, could deadlock (a 500). Now the second compares against what
    the first committed, and answers `unchanged`."""
    _refuse_dated_ahead([(f"items.{n}.data.", item) for n, (item, _) in enumerate(items)])
    items = [(in_kept_spelling(item), source_id) for item, source_id in items]  # what the directory will hold
    keyed = [(item.organiser_id, entity_key(item), content_hash(item), item,  # type: ignore[attr-defined]
              source_id or natural_id(item)) for item, source_id in items]
    school_units = _school_units_named(items)
    await lock_directories(session, {organiser for organiser, *_ in keyed} | {
        SCHOOL_UNIT_CODE_LOCK + code for code in school_units.values()})
    await _refuse_others_school_units(session, keyed, school_units, writes_for)
    found = (await session.execute(select(published).where(rows_in(
        (published.c.organiser_id, published.c.entity_key), [(o, k) for o, k, _, _, _ in keyed])).with_for_update())).all()
    stored = {(r.organiser_id, r.entity_key): r.content_hash for r in found}
    held_at = {(r.organiser_id, r.entity_key): r.changed_at for r in found}
    written_by = {(r.organiser_id, r.entity_key): r.written_by for r in found}
    summary = ChangeSummary()
    events, remember, claimed = [], {}, set()
    for organiser, key, digest, item, source_id in keyed:
        before = stored.get((organiser, key))
        at = getattr(item, "updated_at", None) or item.removed_at  # type: ignore[attr-defined]  # a removal
        if before == digest or (before is None and digest == _REMOVED):
            status: Status = "unchanged"  # (removing what was never published is nothing to say)
            if before is not None and written_by.get((organiser, key)) != writer:
                claimed.add((organiser, key))
        elif before is not None and before != _REMOVED and not applies(at, digest == _REMOVED,
                                                                       held_at[(organiser, key)], False):
            status = "unchanged"  # older than what the directory holds: it would ignore the event (`rules.applies`)
        else:
            if before == _REMOVED and not applies(at, False, held_at[(organiser, key)], True):
                # sent again after its removal, with a time not after it (an import removes at the time it runs, the
                # source keeps the entity's own older time): brought back, at the removal's time and a microsecond
                # — the directory kept it removed while the door answered `created` (round 26)
                at = held_at[(organiser, key)] + timedelta(microseconds=1)
                item = item.model_copy(update={"updated_at": at})
            # what comes back after a removal is created again, not changed
            status = "removed" if digest == _REMOVED else "created" if before in (None, _REMOVED) else "changed"
            stored[(organiser, key)] = digest
            held_at[(organiser, key)] = at
            events.append(new_event(item, source=SOURCE, subject=key[:200]))
            unit_type = getattr(item, "unit_type", None)
            claimed.discard((organiser, key))
            remember[(organiser, key)] = {
                "content_hash": digest, "changed_at": at, "source_id": source_id, "written_by": writer,
                "unit_type": unit_type.value if unit_type is not None else None,
                "school_unit_code": getattr(item, "school_unit_code", None)}
        setattr(summary, status, getattr(summary, status) + 1)
        summary.items.append(ChangeResult(status=status, entity_key=key))
    if events:
        await outbox.add(session, events)
        # one array per column (`unnested`): a multi-row VALUES took 8 parameters per row, and a full batch's 5,000
        # rows passed the 32,767 one statement may have (a 500, round 27); a removal by source id has no such bound
        columns = [published.c[name] for name in _PUBLISHED_COLUMNS]
        stmt = pg_insert(published).from_select(_PUBLISHED_COLUMNS, unnested(columns, [
            (o, k, *(row[name] for name in _PUBLISHED_COLUMNS[2:])) for (o, k), row in sorted(remember.items())]))
        # a removal keeps the source id and school unit it was published with; a change sends the school unit
        # code the entity has now (a school unit re-coded: its removal must name the code it holds, round 26)
        await session.execute(stmt.on_conflict_do_update(
            index_elements=["organiser_id", "entity_key"],
            set_={"content_hash": stmt.excluded.content_hash, "changed_at": stmt.excluded.changed_at,
                  "written_by": stmt.excluded.written_by,
                  "school_unit_code": case((stmt.excluded.content_hash == _REMOVED, published.c.school_unit_code),
                                           else_=stmt.excluded.school_unit_code)}))
    claimed -= remember.keys()  # (sent twice in one batch, changed the second time: already recorded)
    if claimed:  # the same content sent by another client than the one recorded: it holds the entity now
        await session.execute(update(published).where(rows_in(
            (published.c.organiser_id, published.c.entity_key), claimed)).values(written_by=writer))
    return summary


def _school_units_named(items: Sequence[tuple[EventData, str | None]]) -> dict[int, str]:
    """Item index → the school unit code of each school unit upsert of the batch."""
    return {n: item.school_unit_code for n, (item, _) in enumerate(items)
            if isinstance(item, OrganisationUnitUpsertedV1) and item.unit_type.value == "school_unit"
            and item.school_unit_code}


#: the rule of a school unit code another organiser's directory holds (`_refuse_others_school_units`)
CODE_HELD_RULE = "school_unit_code_held"


async def _refuse_others_school_units(session: AsyncSession, keyed: Sequence[tuple[str, str, str, Any, str]],
                                      school_units: Mapping[int, str], writes_for: Collection[str]) -> None:
    """409 naming `items.N.data.school_unit_code` for each school unit of the batch whose code a live school unit of
    ANOTHER organiser's directory holds (published, not removed by this batch) — one whose directory the writer may
    not write (`writes_for`: a token of both organisers moves a school between them, as an import of both sends the
    school under its new organiser before it removes it under the old one). A code is one school, placed under
    one organiser (`school_unit_placements`, keyed by the code): the newest upsert won it, so a platform client of
    organiser A re-placed organiser B's school — and the results reported under its code — into A's tree (round 26,
    "directory takeover by content"). A school changing organiser is removed by the one that held it first. The code
    is public (Skolverket's register): the refusal says it is held, not by whom. Read under the codes' write locks."""
    if not school_units:
        return
    removed_here = {(organiser, key) for organiser, key, digest, *_ in keyed if digest == _REMOVED}
    codes = sorted(set(school_units.values()))
    live = (await session.execute(select(published.c.organiser_id, published.c.entity_key, published.c.school_unit_code)
                                  .where(any_of(published.c.school_unit_code, codes),
                                         published.c.entity_key.startswith(_SCHOOL_UNIT_KEY),
                                         published.c.content_hash != _REMOVED))).all()
    holders: dict[str, set[str]] = {}
    for row in live:
        if (row.organiser_id, row.entity_key) not in removed_here:
            holders.setdefault(row.school_unit_code, set()).add(row.organiser_id)
    for n, code in sorted(school_units.items()):  # a batch naming one code under two organisers: the first holds it
        holders.setdefault(code, {keyed[n][0]})
    errors = [{"field": f"items.{n}.data.school_unit_code", "rule": CODE_HELD_RULE,
               "message": f"the school unit {code} is held by another organiser's directory: it is re-placed only "
                          "after that organiser removed it"}
              for n, code in sorted(school_units.items()) if holders[code] - {keyed[n][0]} - set(writes_for)]
    if errors:
        # every error (the problem lists 1,000, then how many more: `problems.listed`)
        raise Problem(409, "Conflict", "; ".join(f"{e['field']}: {e['message']}" for e in errors[:10]), errors)


def _refuse_dated_ahead(dated: Sequence[tuple[str, Any]]) -> None:
    """422 naming each `updated_at` / `removed_at` (under its prefix) dated ahead of this clock (`rules.dated_ahead`)."""
    now = datetime.now(UTC)
    errors = [RuleViolation(f"{prefix}{name}", NOT_IN_FUTURE_RULE,
                            f"{name} lies in the future ({at.isoformat()}): a change is dated when it was made, by a "
                            "clock that is right (the newest change wins, so one dated ahead would hide every later "
                            "one)")
              for prefix, what in dated for name in ("updated_at", "removed_at")
              if (at := getattr(what, name, None)) is not None and dated_ahead(at, now)]
    if errors:
        raise RuleViolations(errors)


_SCHOOL_UNIT_KEY = "unit:school_unit:"
#: `lock_directories` takes a school unit code's lock under this prefix (no organiser id starts so): two
#: organisers' writers adding one code take turns, the second sees the first's
SCHOOL_UNIT_CODE_LOCK = "school_unit_code:"


async def lock_directories(session: AsyncSession, organisers: set[str]) -> None:
    """The organisers' directory write locks for the transaction, in one order (no deadlock between writers)."""
    await advisory_locks(session, DIRECTORY_WRITE_LOCK, organisers)


async def remove_sources(session: AsyncSession, outbox: Outbox, batch: RemovalBatch, *, writer: str,
                         removable: Mapping[str, str | None]) -> ChangeSummary:
    """Removal events for every live entity published from the given source ids or named by key, of the organisers
    of `removable` only, each organiser's as it says whose (`rules.removed_by`: one writer's, or `EVERY_WRITER`'s).
    What another client wrote, or no client is recorded to have written (0026), is to this writer as an entity not
    published: not removed, not counted (its keys and source ids are not this writer's business, `/held`)."""
    _refuse_dated_ahead([("", batch)])
    named: ColumnElement[bool] = any_of(published.c.source_id, batch.source_ids)
    if batch.entities:
        named = named | rows_in((published.c.organiser_id, published.c.entity_key),
                                [(e.organiser_id, key_in_kept_spelling(e.organiser_id, e.entity_key))
                                 for e in batch.entities])
    whose = [published.c.organiser_id == organiser if by is None else
             (published.c.organiser_id == organiser) & (published.c.written_by == by)
             for organiser, by in sorted(removable.items(), key=lambda item: item[0])]
    if not whose:
        return ChangeSummary()
    # whose an entity is is read under the organisers' write locks (`write_changes` takes them again, held already):
    # else a client that sent an entity again between this read and the removal held it, and lost it all the same
    await lock_directories(session, set(removable))
    rows = (await session.execute(select(published).where(named, or_(*whose), published.c.content_hash != _REMOVED)
                                  .order_by(published.c.organiser_id, published.c.entity_key))).all()
    # those of no recorded writer a platform client named, left: said as a count (an incremental import's removals by
    # /deletedEntities removed 0 of them and said nothing, as if reporting did not hold them)
    unrecorded_of = [(published.c.organiser_id == organiser) & published.c.written_by.is_(None)
                     for organiser, by in sorted(removable.items(), key=lambda item: item[0]) if by is not None]
    unrecorded = 0 if not unrecorded_of else (await session.execute(
        select(func.count()).select_from(published).where(named, or_(*unrecorded_of),
                                                          published.c.content_hash != _REMOVED))).scalar_one()
    removals = [(removal_for(r.entity_key, r.organiser_id, r.school_unit_code, batch.removed_at), r.source_id)
                for r in rows]
    if not removals:
        return ChangeSummary(unrecorded_writer=unrecorded)
    summary = await write_changes(session, outbox, removals, writer=writer)
    summary.unrecorded_writer = unrecorded
    return summary


async def held_entities(session: AsyncSession, organiser_id: str, after: str | None, limit: int,
                        written_by: str | None) -> HeldEntities:
    """The live entities published for an organiser, in key order from `after` (a page): those `written_by` sent
    last, or every one when it is None (`rules.held_by`: the organiser admin's)."""
    query = select(published.c.entity_key, published.c.source_id).where(
        published.c.organiser_id == organiser_id, published.c.content_hash != _REMOVED)
    if written_by is not None:
        query = query.where(published.c.written_by == written_by)
    if after is not None:
        query = query.where(published.c.entity_key > after)
    rows = (await session.execute(query.order_by(published.c.entity_key).limit(limit + 1))).all()
    page = rows[:limit]
    return HeldEntities(items=[HeldEntity(organiser_id=organiser_id, entity_key=r.entity_key) for r in page],
                        source_ids=[r.source_id for r in page],
                        next_after=page[-1].entity_key if len(rows) > limit else None)
