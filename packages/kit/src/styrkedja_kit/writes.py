"""The one write path for records a platform publishes with numbered revisions (an assessment,
a forecast): single and batch alike, all or nothing, one behaviour for every service.

- A batch larger than `max_batch_items` is a 422 naming the limit.
- Every bad item is named (index, field, rule), not only the first: the pure checks of every
  item, ids twice in one batch, then (in the transaction) what conflicts with stored state.
- Rows are locked in one order (by id) for every request, stored rows and new ones alike, so two
  batches on the same ids never deadlock; a deadlock that is left (two ids taking each other's
  natural key) is a lost race like a unique violation (below).
- A new revision is stored as the current row, an audit row and its outbox event, in one
  transaction. The same request again stores nothing and emits nothing (`unchanged`).
- A concurrent request that took the same id or key first (a unique violation): the
  transaction is tried again (`race_attempts` tries in all), now seeing the stored row; if the
  last fails too, 409 `concurrent_change`.
- The first try trusts what cannot be stored yet: ids made for this request (`Change.fresh`) are
  not looked up, and a check that a unique index also holds (`key_check`, a natural key) is left to
  the index. A unique violation then is the retry above, which looks everything up: the answer is
  the full check's. When any item is refused, the key check runs before answering.
- `may_change(row)` (optional): may this request change the stored record at all? A record of
  an organiser the caller may not write for is a 403 `write_scope` at a publish (named at its item), nothing
  stored; a removal answers it as an id never stored (below).
- Status codes: 201 when something was stored, 200 when nothing was (single and batch alike);
  a removal answers 200.
- Removing a record the service has not seen is a 404 `must_exist`: nothing is stored, so a
  publish arriving later creates it as usual. A record of an organiser the caller may not write for is
  answered the same (404, as never stored): the id tells no one outside that it is stored, or whose. After a removal, only a publish naming a revision
  above the removal's restores the record (409 `removed_needs_revision` otherwise), so a late
  publish or a re-sent old request never resurrects it. A removal at `MAX_NAMED_REVISION` or above can
  never be named past: 409 `removed_for_good` (it cannot be restored).

Checked once (the fast path of a batch): a service whose request model and pure checks already
apply every rule of the event hands its event data over as `Checked` values instead of a
validated model. They are not validated again: the envelope is made without a model and the
whole event serialised by pydantic-core's encoder (the same bytes `CloudEvent.to_bytes` gives,
but for the event's id and time). What the request could not have checked is checked here: the
revision the write path numbers must fit a database integer. Current rows of stored ids are one
upsert (`INSERT … SELECT FROM unnest(…) ON CONFLICT`); new current rows, revision rows and outbox
rows one binary COPY each (`sets.copy_rows`: less CPU than unnest on both sides, no arrays to
build and check element by element; its unique violation is the same `IntegrityError`, so the
retry-then-409 above holds), whichever way the event was made.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID, SafeUUID

from fastapi import Response
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import to_json
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    Table,
    Uuid,
    any_,
    cast,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSON, JSONB
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import SchemaItem

from styrkedja_contracts import CloudEvent, topic_for_event_type
from styrkedja_contracts.events import EventData
from styrkedja_contracts.events.base import MAX_INT4
from styrkedja_contracts.registry import REGISTRY, schema_uri

from .auth.policy import Write, may_write, require_write_each
from .auth.principal import Principal
from .db import Database
from .idempotency import take_claimed
from .inputs import unordered_fields
from .outbox import NOTIFY_CHANNEL, Outbox
from .problems import RACE_STATES
from .revisions import Decision, Stored, decide_change, decide_removal
from .rules import RuleViolation, RuleViolations, contract_violation, publishable_event
from .sets import copy_rows, insert_rows, json_text


@dataclass(frozen=True)
class RecordTables:
    """Where a kind of record lives: `current` has one row per id (columns `revision`, the
    removed flag and `content` at least); `revisions` one row per revision (the audit trail)."""

    current: Table
    revisions: Table
    id_column: str
    removed_column: str  # in `current`: retracted / withdrawn
    removal_column: str  # in `revisions`: retraction / withdrawal
    noun: str  # "assessment", in messages

    @classmethod
    def define(cls, metadata: MetaData, noun: str, *, current: str, revisions: str, id_column: str,
               removed_column: str, removal_column: str, columns: Sequence[SchemaItem],
               revision_columns: Sequence[Column[Any]] = (), revision_content: type[JSON] = JSONB) -> RecordTables:
        """The two tables of a kind of record, with the columns the write path reads and writes around the
        record's own (`columns`: after the id, the revision and the removed flag; `revision_columns`: after
        the removal flag). `revision_content=JSON` where the audit trail is written, never queried by its
        content (PostgreSQL then checks the text but builds no binary document, bench/results/write5.json)."""
        current_table = Table(
            current, metadata,
            Column(id_column, Uuid, primary_key=True),
            Column("revision", Integer, nullable=False),
            Column(removed_column, Boolean, nullable=False, default=False),
            *columns,
            Column("content", JSONB, nullable=False),
            Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        )
        revisions_table = Table(
            revisions, metadata,
            Column(id_column, Uuid, primary_key=True),
            Column("revision", Integer, primary_key=True),
            Column("event_id", Uuid, nullable=False),
            Column(removal_column, Boolean, nullable=False),
            *revision_columns,
            Column("content", revision_content, nullable=False),
            Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        )
        return cls(current=current_table, revisions=revisions_table, id_column=id_column,
                   removed_column=removed_column, removal_column=removal_column, noun=noun)


# The per-item values below (four of them per stored item) are slotted dataclasses, not frozen ones: a
# frozen dataclass's __init__ sets each field through object.__setattr__, three times the CPU (1.75 against
# 0.58 µs for the four, bench/results/write4.json). They are values all the same: nothing assigns to them.
@dataclass(slots=True)
class Change:
    """One item of a publish request: the record's id, the revision the sender names (or None
    for the next one) and what the record says (compared to tell a re-send from a change)."""

    record_id: UUID
    requested_revision: int | None
    content: dict[str, Any]
    #: The id was made for this request (a new random UUID): no stored row can hold it, so the first
    #: try does not look it up (the retry after a unique violation does, like any other id).
    fresh: bool = False
    #: The content's fields whose lists are sets (`UniqueItems`): their order is no change (`decide_change`).
    unordered: frozenset[str] = frozenset()


@dataclass(slots=True)
class Checked:
    """Event data of values that have been validated already, every rule once: by the request
    model (types, text rules, ranges) and the service's pure checks (the event model's own
    validators), plus values the service computed itself (ids, revision, times, flags). Not
    validated again (see the module's notes); `values` are by field name, JSON-ready or of types
    pydantic-core serialises as the model would (UUID, datetime, date), every field of `model`."""

    model: type[EventData]
    values: Mapping[str, Any]


def event_data(model: type[EventData], values: Mapping[str, Any], *, checked_once: bool) -> EventData | Checked:
    """A change's event data: `values` handed over as `Checked` where the service's request model and pure
    checks hold every rule of `model` (`write_events_checked_once`, on by default), else validated again by it."""
    return Checked(model, values) if checked_once else model(**values)


@dataclass(slots=True)
class Built:
    """What the service makes of a change that is stored: its event's data (a validated model, or
    `Checked` values), the columns of the current row besides id/revision/removed/content, and
    extra columns of the revision row."""

    data: EventData | Checked
    columns: Mapping[str, Any] = field(default_factory=dict)
    revision_columns: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Outcome:
    record_id: UUID
    revision: int
    removed: bool
    stored: bool  # False: the same request again, nothing stored
    row: Mapping[str, Any] | None  # the current row after the write (the stored one when unchanged)

    @property
    def status(self) -> str:
        return "stored" if self.stored else "unchanged"


Build = Callable[[Change, int, datetime], Built]
#: A check against stored state, in the transaction: a violation (or None) per change.
StoredCheck = Callable[[AsyncSession, Sequence[Change]], Awaitable[Sequence[RuleViolation | None]]]


_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))  # the version and variant bits
_UUID4_SET = (4 << 76) | (0x8000 << 48)  # version 4, RFC 4122 variant


_new, _set = object.__new__, object.__setattr__


def _uuid_of(value: int) -> UUID:
    """`UUID(int=value)` for a 128-bit `value`, without `UUID.__init__`'s parsing of the other inputs and its range
    check (its own `__setattr__` refuses: the standard library's `UUID` sets its two slots with `object.__setattr__`
    the same way); equal, hashed, printed and pickled alike (`test_random_uuids_are_version_4_as_uuid4_makes_them`)."""
    made = _new(UUID)
    _set(made, "int", value)
    _set(made, "is_safe", SafeUUID.unknown)
    return made


def random_uuids(count: int) -> list[UUID]:
    """`count` random (version 4) UUIDs, as `uuid.uuid4()` makes them (16 bytes of `os.urandom`, its
    version and variant bits set), from one read of the system's randomness and without the
    constructor's checks of other inputs (`_uuid_of`): two calls per batch of 1,000, ~0.75 ms each less than by
    `UUID(int=…)` (write22)."""
    raw = os.urandom(16 * count)
    return [_uuid_of(int.from_bytes(raw[at:at + 16], "big") & _UUID4_CLEAR | _UUID4_SET)
            for at in range(0, 16 * count, 16)]


class RequestItems:
    """The items of a write request (bodies of `model`, whose record id is `id_field`) as the write
    path's changes."""

    def __init__(self, model: type[BaseModel], id_field: str) -> None:
        self.id_field = id_field
        self._items: TypeAdapter[list[Any]] = TypeAdapter(list[model])  # type: ignore[valid-type]
        self._not_content = {"__all__": {id_field, "revision"}}
        self.unordered = unordered_fields(model)

    def contents(self, items: Sequence[BaseModel]) -> list[dict[str, Any]]:
        """What each item says, JSON-ready, without its id and revision (`Change.content`: compared to tell
        a re-send from a change, stored as the record's content): one serialiser call for a whole batch."""
        return self._items.dump_python(list(items), mode="json", exclude=self._not_content)  # type: ignore[no-any-return]

    def changes(self, items: Sequence[Any]) -> list[Change]:
        """Each item as a change: of the id it names, or of one made here (a new random UUID, `fresh`: no
        stored record holds it, so the first try does not look it up)."""
        ids = [getattr(item, self.id_field) for item in items]
        made = iter(random_uuids(ids.count(None)))
        unordered = self.unordered
        return [Change(next(made), item.revision, content, True, unordered) if record_id is None
                else Change(record_id, item.revision, content, False, unordered)
                for item, record_id, content in zip(items, ids, self.contents(items), strict=True)]


def answer_fields(tables: RecordTables, *row_columns: str) -> Callable[[Outcome], dict[str, Any]]:
    """An outcome as its answer's fields, JSON-ready, in the answer model's order: the record's id,
    revision and removed flag (named as the tables name them: `assessment_id`, `retracted`), then
    `row_columns` of the current row, then the status. The write path's own values: a model is made of
    them without validating (`model_construct`), a batch's answer encoded without a model per item."""
    id_name, removed_name = tables.id_column, tables.removed_column

    def answer(outcome: Outcome) -> dict[str, Any]:
        row = outcome.row or {}
        return {id_name: outcome.record_id, "revision": outcome.revision, removed_name: outcome.removed,
                **{name: row[name] for name in row_columns}, "status": outcome.status}

    return answer


def http_status(outcomes: Sequence[Outcome]) -> int:
    """201 when anything was stored, else 200."""
    return 201 if any(o.stored for o in outcomes) else 200


def batch_answer(outcomes: Sequence[Outcome], item: Callable[[Outcome], Mapping[str, Any]]) -> dict[str, Any]:
    """A batch's answer of the write path's own values, JSON-ready: `items` (each outcome by `item`,
    whose keys in the answer model's field order give the same JSON as that model), `stored`, `unchanged`."""
    stored = sum(o.stored for o in outcomes)
    return {"items": [item(o) for o in outcomes], "stored": stored, "unchanged": len(outcomes) - stored}


_Item = TypeVar("_Item")


class BatchAnswer(BaseModel, Generic[_Item]):
    """A batch's answer (`batch_answer`): each item's answer, how many were stored, how many unchanged. A
    service's subclasses it under its own name (the name its OpenAPI document shows):
    `class BatchOut(BatchAnswer[AssessmentOut]): ...`."""

    items: list[_Item]
    stored: int
    unchanged: int


def encoded_batch_answer(outcomes: Sequence[Outcome], item: Callable[[Outcome], Mapping[str, Any]]
                         ) -> tuple[int, bytes]:
    """A batch's status (201 when anything was stored, else 200) and its answer encoded (`batch_answer`):
    the same JSON the route's response model would give, without validating a thousand items again."""
    return http_status(outcomes), to_json(batch_answer(outcomes, item))


class _Answer(Protocol):
    status: str  # "stored" or "unchanged"


_A = TypeVar("_A", bound=_Answer)


def single_answer(results: Sequence[_A], response: Response) -> _A:
    """A single write's answer (one item): the route's 201, or 200 when it changed nothing (the same again)."""
    [result] = results
    if result.status == "unchanged":
        response.status_code = 200
    return result


class WritePath:
    #: Revision and outbox rows by COPY (else by unnest, as the current rows): a switch for the bench.
    by_copy: bool = True
    #: Tries of one publish that loses races (a unique violation, a deadlock) before its 409 `concurrent_change`.
    #: A retry locks the rows that were stored meanwhile, but a batch of new records can lose again to a batch
    #: that inserted others of them meanwhile: 48 batches of 200 new forecasts, overlapping, sent at once got a
    #: 409 in 9 of 14 runs with two tries (1-7 of the 48), none in 6 runs with three (a probe of round 9)
    race_attempts: int = 3

    def __init__(self, db: Database, outbox: Outbox, tables: RecordTables, *, source: str,
                 max_batch_items: int, may_change: Callable[[Mapping[str, Any]], bool] | None = None,
                 writer: tuple[Principal, Write] | None = None) -> None:
        """`writer`: the token and what it writes (`Write.ASSESSMENTS`), for its own organisers only:
        each item's organiser (`require_writer`) and each stored record's (`may_change`)."""
        self.writer = writer
        if writer is not None and may_change is None:
            principal, kind = writer
            may_change = lambda row: may_write(principal, kind, row["organiser_id"])  # noqa: E731
        self.may_change = may_change
        self.db = db
        self.outbox = outbox
        self.tables = tables
        self.source = source
        self.max_batch_items = max_batch_items

    # -- publish -----------------------------------------------------------------------------
    def require_writer(self, organiser_ids: Sequence[str | None], *, batch: bool) -> None:
        """First of all, every item's organiser is one the `writer` writes for: a 403 naming each one that
        is not, and nothing stored."""
        assert self.writer is not None, "a write path made without a writer"
        principal, kind = self.writer
        require_write_each(principal, kind, organiser_ids, batch=batch)

    async def publish(self, changes: Sequence[Change], build: Build, *, batch: bool,
                      violations: Sequence[RuleViolation] = (), stored_check: StoredCheck | None = None,
                      key_check: StoredCheck | None = None) -> list[Outcome]:
        """Store each change as a new revision with its event, all or nothing. `violations` are
        the pure checks' findings (already located at their items); every one is answered.

        `key_check`: a check against stored state that a unique index of the current table also
        holds (a natural key that one record at a time may hold). The first try does not run it:
        a change that breaks it makes the insert fail with a unique violation, and the retry runs
        it (and so answers its 409, not `concurrent_change`). It is also run, before answering,
        whenever any other violation is found, so every bad item is still named."""
        found = list(violations)
        if batch and len(changes) > self.max_batch_items:
            raise RuleViolations([RuleViolation("items", "max_batch_items",
                                                f"at most {self.max_batch_items} items in one batch")])
        first_at: dict[UUID, int] = {}
        for index, change in enumerate(changes):
            if change.record_id in first_at:
                found.append(RuleViolation(
                    f"items.{index}.{self.tables.id_column}", "unique_in_batch",
                    f"the same {self.tables.noun} as items.{first_at[change.record_id]}; "
                    f"send one revision per {self.tables.noun}"))
            else:
                first_at[change.record_id] = index
        if found:
            raise RuleViolations(found)
        for attempt in range(1, self.race_attempts + 1):
            try:
                # the first try trusts fresh ids and the unique indexes; the retry looks everything up
                return await self._publish_once(changes, build, batch, stored_check, key_check,
                                                optimistic=attempt == 1)
            except DBAPIError as error:
                # Another request stored one of these ids or keys first (or took a key this one
                # waits for while waiting for one of this one's: a deadlock). Again: its rows
                # are then seen (and locked), so a parallel re-send becomes `unchanged`.
                if not _concurrent(error):
                    raise
                if attempt == self.race_attempts:
                    raise self._concurrent_change() from error
        raise AssertionError("unreachable")

    async def _publish_once(self, changes: Sequence[Change], build: Build, batch: bool,
                            stored_check: StoredCheck | None, key_check: StoredCheck | None, *,
                            optimistic: bool) -> list[Outcome]:
        now = datetime.now(UTC)
        t = self.tables
        envelopes: dict[type[EventData], _Envelope] = {}
        event_ids = iter(random_uuids(len(changes)))
        async with self.db.sessions.begin() as session:
            await take_claimed(session)  # an `Idempotency-Key` the route claims for this write: 409 while it is taken
            current = await self._lock(session, [c.record_id for c in changes if not (optimistic and c.fresh)])
            found: list[RuleViolation] = []
            if key_check is not None and not optimistic:
                found += [v for v in await key_check(session, changes) if v is not None]
            if stored_check is not None:
                found += [v for v in await stored_check(session, changes) if v is not None]
            outcomes: list[Outcome] = []
            rows: list[dict[str, Any]] = []
            revision_rows: list[dict[str, Any]] = []
            outbox_rows: list[dict[str, Any]] = []
            for index, change in enumerate(changes):
                at = index if batch else None
                row = current.get(change.record_id)
                if row is not None and self.may_change is not None and not self.may_change(row):
                    found.append(self._out_of_scope().at_item(at))
                    continue
                stored = None if row is None else self._stored(row)
                try:
                    decision, revision = decide_change(stored, change.requested_revision, change.content,
                                                       unordered=change.unordered)
                except RuleViolation as error:
                    found.append(error.at_item(at))
                    continue
                if decision == Decision.ALREADY_DONE:
                    outcomes.append(Outcome(change.record_id, revision, False, False, row))
                    continue
                try:
                    try:
                        built = build(change, revision, now)
                    except ValidationError as error:  # the service validated its event model: a 422, not a 500
                        raise contract_violation(error, _where(index, batch)) from None
                    if isinstance(built.data, Checked):
                        if revision > MAX_INT4:  # the one rule the request could not check: stored + 1
                            raise RuleViolation(_where(index, batch), "less_than_equal",
                                                "cannot be published as an event: revision: the next revision "
                                                f"{revision} is above {MAX_INT4} (a database integer)")
                        event_id = next(event_ids)
                        envelope = envelopes.get(built.data.model)
                        if envelope is None:
                            envelope = envelopes[built.data.model] = _Envelope.of(built.data.model, self.source,
                                                                                  now)
                        outbox_row = envelope.outbox_row(built.data, subject=change.record_id,
                                                         event_id=event_id)
                    else:
                        event = publishable_event(lambda: built.data, source=self.source,  # noqa: B023 (called at once)
                                                  subject=str(change.record_id), field=_where(index, batch))
                        event_id, outbox_row = event.id, event_outbox_row(event)
                except RuleViolation as error:
                    found.append(error)
                    continue
                content = json_text(change.content)  # encoded once, for the current and the revision row
                new_row = {t.id_column: change.record_id, "revision": revision, t.removed_column: False,
                           "content": content, **built.columns}
                rows.append(new_row)
                revision_rows.append({t.id_column: change.record_id, "revision": revision, "event_id": event_id,
                                      t.removal_column: False, "content": content,
                                      **built.revision_columns})
                outbox_rows.append(outbox_row)
                outcomes.append(Outcome(change.record_id, revision, False, True,
                                        {**new_row, "content": change.content}))
            if found:
                if key_check is not None and optimistic:  # every bad item named: the key check's too
                    found = [v for v in await key_check(session, changes) if v is not None] + found
                raise RuleViolations(found)
            if outbox_rows:  # first: it begins the transaction (no `SELECT 1` round trip before the first COPY)
                await self._wake_relay(session)
            await self._save(session, rows, revision_rows, stored=current.keys())
            await self._outbox(session, outbox_rows)
        return outcomes

    # -- remove ------------------------------------------------------------------------------
    async def remove(self, record_id: UUID, requested_revision: int | None,
                     build: Callable[[Mapping[str, Any], int, datetime], Built]) -> Outcome:
        """Remove (retract, withdraw) the record as its next revision, with its event."""
        t = self.tables
        now = datetime.now(UTC)
        try:
            async with self.db.sessions.begin() as session:
                row = (await self._lock(session, [record_id])).get(record_id)
                if row is not None and self.may_change is not None and not self.may_change(row):
                    # another organiser's record is answered as an id never stored (the same 404): a 403 told
                    # whoever named the id that it is stored, and for another organiser (a forecast's id is
                    # derived from organiser, student, subject and period, so anyone could ask after any one)
                    row = None
                decision, revision = decide_removal(self._stored(row), requested_revision, id_field=t.id_column,
                                                    noun=t.noun)
                assert row is not None  # decide_removal answers 404 when there is none
                if decision == Decision.ALREADY_DONE:
                    return Outcome(record_id, revision, True, False, row)
                try:
                    built = build(row, revision, now)
                except ValidationError as error:  # the service validated its event model: a 422, not a 500
                    raise contract_violation(error, t.id_column) from None
                event = publishable_event(lambda: built.data, source=self.source, subject=str(record_id),
                                          field=t.id_column)
                await session.execute(t.current.update().where(t.current.c[t.id_column] == record_id).values(
                    revision=revision, **{t.removed_column: True}, updated_at=func.now()))
                await session.execute(t.revisions.insert(), [{
                    t.id_column: record_id, "revision": revision, "event_id": event.id, t.removal_column: True,
                    "content": {}, **built.revision_columns}])
                await self.outbox.add(session, [event])
        except IntegrityError as error:
            raise self._concurrent_change() from error
        return Outcome(record_id, revision, True, True, {**row, "revision": revision, t.removed_column: True})

    # -- parts -------------------------------------------------------------------------------
    async def _lock(self, session: AsyncSession, ids: Sequence[UUID]) -> dict[UUID, Mapping[str, Any]]:
        """The stored rows of these ids, locked for this transaction, always in id order."""
        unique = sorted(set(ids), key=_uuid_order)
        if not unique:
            return {}
        id_column = self.tables.current.c[self.tables.id_column]
        # one array parameter: the same prepared statement for every batch size
        result = await session.execute(select(self.tables.current)
                                       .where(id_column == any_(cast(literal(unique), ARRAY(Uuid))))
                                       .order_by(id_column).with_for_update())
        return {row[self.tables.id_column]: dict(row) for row in result.mappings()}

    def _stored(self, row: Mapping[str, Any] | None) -> Stored | None:
        if row is None:
            return None
        return Stored(row["revision"], row[self.tables.removed_column], row["content"])

    async def _save(self, session: AsyncSession, rows: list[dict[str, Any]],
                    revision_rows: list[dict[str, Any]], stored: Collection[UUID]) -> None:
        """Current rows: those of ids stored before (locked by `_lock`) upserted, new ones (with
        `by_copy`) copied as plain inserts: a racing request that inserted the same id first makes
        that a unique violation, retried like any other (the retry sees and locks its row)."""
        if not rows:
            return
        t = self.tables
        # in id order, as `_lock` locks: a new row's insert waits for a racing one in the same order
        rows = sorted(rows, key=lambda row: row[t.id_column].int)
        if self.by_copy:
            if stored:
                await copy_rows(session, t.current, [row for row in rows if row[t.id_column] not in stored])
                rows = [row for row in rows if row[t.id_column] in stored]
            else:  # nothing stored before (a batch of new records): every row copied, no id looked up
                await copy_rows(session, t.current, rows)
                rows = []
        await insert_rows(session, t.current, rows, conflict=[t.id_column], touch="updated_at")
        await (copy_rows if self.by_copy else insert_rows)(session, t.revisions, revision_rows)

    async def _outbox(self, session: AsyncSession, rows: list[dict[str, Any]]) -> None:
        """The events' outbox rows in one statement, in order (the serial id follows the arrays)."""
        if not rows:
            return
        await (copy_rows if self.by_copy else insert_rows)(session, self.outbox.table, rows)

    @staticmethod
    async def _wake_relay(session: AsyncSession) -> None:
        """The relay woken at commit (as `Outbox.add` does): PostgreSQL delivers a notification when its
        transaction commits, never before and never after a rollback, wherever in the transaction it was
        sent. Sent as the transaction's first statement, it is also the statement that begins it, so the
        COPYs after it need no statement of their own to begin the transaction: one round trip a batch
        fewer, and on a busy machine each round trip waits for the database's process and then the
        service's to get a CPU again (bench/results/write6.json)."""
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})

    def _out_of_scope(self) -> RuleViolation:
        return RuleViolation(self.tables.id_column, "write_scope",
                             f"this {self.tables.noun} belongs to an organiser this token may not write for",
                             status=403)

    def _concurrent_change(self) -> RuleViolation:
        return RuleViolation(self.tables.id_column, "concurrent_change",
                             "changed by another request at the same time; send it again", status=409)


def _where(index: int, batch: bool) -> str:
    """Where a refusal of this change is named: its item of a batch, else the body."""
    return f"items.{index}" if batch else "body"


def _uuid_order(value: UUID) -> int:
    """PostgreSQL's order of uuid values (their bytes) is Python's (their integer): sorting by the
    integer is one call per id, not a Python comparison per pair."""
    return value.int


#: the integrity violations a race causes: another request stored the id or key first (unique, exclusion). A
#: NOT NULL, foreign key or check violation is the service's own fault, the same on every try: a 500 (logged), not
#: `race_attempts` tries and a 409 telling the client to send it again
_RACE_INTEGRITY_STATES = frozenset({"23505", "23P01"})


def _concurrent(error: DBAPIError) -> bool:
    """Whether a failed write lost a race with another request (worth another try, up to
    `WritePath.race_attempts`, then 409)."""
    state = getattr(error.orig, "sqlstate", None)
    if isinstance(error, IntegrityError):
        return state is None or state in _RACE_INTEGRITY_STATES  # a driver that names no state: taken as a race
    return state in RACE_STATES


# -- events as outbox rows -------------------------------------------------------------------------
@dataclass(frozen=True)
class _EventKind:
    type: str
    dataschema: str
    topic: str
    fields: tuple[str, ...]


@cache
def _event_kind(model: type[EventData]) -> _EventKind:
    event_type = getattr(model, "event_type", "")
    if REGISTRY.models.get(event_type) is not model:
        raise TypeError(f"{model.__name__} is not a registered event data model")
    return _EventKind(event_type, schema_uri(event_type), topic_for_event_type(event_type).name,
                      tuple(model.model_fields))


@dataclass(frozen=True)
class _Envelope:
    """The encoded envelope of one kind of event from one source at one time (a batch's events share
    them): its bytes around the id, the subject and the data, each encoded once by pydantic-core (the
    same bytes as encoding the whole envelope). Per event, only the id, the subject and the data are
    encoded; the id (and a record id given as the subject) as a UUID, which pydantic-core writes as its
    canonical text (what `str` gives) without a Python call."""

    kind: _EventKind
    head: bytes  # up to the id
    after_id: bytes  # from the id up to the subject
    after_subject: bytes  # from the subject up to the data

    @classmethod
    def of(cls, model: type[EventData], source: str, time: datetime) -> _Envelope:
        kind = _event_kind(model)
        return cls(kind, b'{"specversion":"1.0","id":',
                   b',"source":' + to_json(source) + b',"type":' + to_json(kind.type) + b',"time":'
                   + to_json(time) + b',"subject":',
                   b',"datacontenttype":"application/json","dataschema":' + to_json(kind.dataschema) + b',"data":')

    def encode(self, data: Checked, *, subject: str | UUID, event_id: UUID) -> bytes:
        kind, values = self.kind, data.values
        if data.model.event_type != kind.type or len(values) != len(kind.fields):  # a service bug, never a request's
            raise ValueError(f"{data.model.__name__}: fields {sorted(values)} are not {sorted(kind.fields)}")
        # a UUID (the id; a record id as the subject) encoded by pydantic-core: its canonical text, as `str`
        return b"".join((self.head, to_json(event_id), self.after_id, to_json(subject), self.after_subject,
                         to_json({name: values[name] for name in kind.fields}), b"}"))

    def outbox_row(self, data: Checked, *, subject: str | UUID, event_id: UUID) -> dict[str, Any]:
        return {"event_id": event_id, "topic": self.kind.topic, "key": str(data.values["organiser_id"]).encode(),
                "payload": self.encode(data, subject=subject, event_id=event_id)}


def encode_checked(data: Checked, *, source: str, subject: str | UUID, event_id: UUID, time: datetime) -> bytes:
    """The event as `CloudEvent.to_bytes` writes it (structured mode, fields in the models' order),
    made from `Checked` values without a model. `subject` is a record id (a canonical UUID: no text
    rule can fail on it) and `source` the service's own constant."""
    return _Envelope.of(data.model, source, time).encode(data, subject=subject, event_id=event_id)


def checked_outbox_row(data: Checked, *, source: str, subject: str | UUID, event_id: UUID,
                       time: datetime) -> dict[str, Any]:
    """The outbox row of an event made of `Checked` values (see `encode_checked`)."""
    return _Envelope.of(data.model, source, time).outbox_row(data, subject=subject, event_id=event_id)


def event_outbox_row(event: CloudEvent) -> dict[str, Any]:
    """The outbox row of a validated event (as `Outbox.add` writes it)."""
    return {"event_id": event.id, "topic": topic_for_event_type(event.type).name, "key": event.partition_key(),
            "payload": event.to_bytes()}
