"""Event handling by registry: each capability registers the event types it applies.

The consumer loop asks `handles(type)` before claiming an event: a type nobody registered is
skipped and NOT recorded as applied (see the kit consumer), so a handler added later plus a
replay picks the old events up. Handlers run in registration order within the batch's
transaction (the directory before the results, so results are placed with the newest tree).
Several capabilities may handle the same type (results, then the figures and alerts built on
them); each gets the batch's events of its types, in order.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, Integer, String, Table, func, text
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts import CloudEvent
from styrkedja_kit.consumer import Delivered

from .metadata import metadata

BatchHandler = Callable[[AsyncSession, Sequence[Delivered]], Awaitable[None]]
_MEMO = "styrkedja.batch_memo"
_DEFERRED = "styrkedja.batch_deferred"


def batch_memo(session: AsyncSession, name: str) -> dict[Any, Any] | None:
    """A dict kept for one batch's handlers (None outside a batch): a lookup several handlers make
    (a school unit's area, an organiser's thresholds) read once per batch, not once per handler.
    Whoever changes what a memo holds within the batch clears it (`forget`)."""
    memo = session.info.get(_MEMO)
    return None if memo is None else memo.setdefault(name, {})


def defer(session: AsyncSession, sql: str, params: dict[str, Any], notify: str | None = None) -> bool:
    """Send a write whose result nobody in the batch reads (`sql`: an INSERT, UPDATE or DELETE, its
    parameters `:name`, never a `::` cast) with the batch's last statement, as a data-modifying CTE of it —
    one round trip for every such write and the freshness note, in the order deferred — and, with `notify`,
    `pg_notify(notify, '')` in it too (delivered at commit, as ever). Only while a batch is applied
    (returns False otherwise: the caller writes now). What it writes must not be read later in the batch,
    nor written by another deferred write (the parts of one statement do not see each other's rows)."""
    deferred = session.info.get(_DEFERRED)
    if deferred is None:
        return False
    deferred.append((sql, params, notify))
    return True


def forget(session: AsyncSession, name: str) -> None:
    memo = session.info.get(_MEMO)
    if memo is not None:
        memo.pop(name, None)

#: `freshness.partition` of a row that is no one partition's: the changes outside batches
#: (`freshness.note_change_outside_batches`) and the rows written before 0021 (one per topic)
WHOLE_TOPIC = -1

# One row per topic *and partition*: consumers of different partitions (reporting's replicas, each the single writer
# of its partitions) write rows of their own, so that one batch's note never waits for another consumer's commit
# (a row per topic was the one row every batch of a topic updated: apply16, bench/results/apply16.json).
freshness = Table(
    "freshness", metadata,
    Column("topic", String(200), primary_key=True),
    Column("partition", Integer, primary_key=True, server_default=str(WHOLE_TOPIC)),
    Column("newest_event_time", DateTime(timezone=True), nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


def plain_data(event: CloudEvent) -> dict[str, Any]:
    """The event's data with enums as their plain values, as stored."""
    data = event.data.model_dump(mode="python")
    for key, value in data.items():
        if hasattr(value, "value"):
            data[key] = value.value
    return data


class HandlerRegistry:
    def __init__(self) -> None:
        self._handlers: list[tuple[frozenset[str], BatchHandler]] = []

    def register(self, event_types: Iterable[str], handler: BatchHandler) -> None:
        if any(registered is handler for _, registered in self._handlers):
            raise ValueError(f"handler {handler!r} is registered already")
        self._handlers.append((frozenset(event_types), handler))

    def types(self) -> frozenset[str]:
        return frozenset().union(*[types for types, _ in self._handlers])

    def handles(self, event_type: str) -> bool:
        return any(event_type in types for types, _ in self._handlers)

    async def __call__(self, session: AsyncSession, batch: Sequence[Delivered]) -> None:
        session.info[_MEMO] = {}  # this batch's only: never a previous transaction's
        session.info[_DEFERRED] = []  # likewise (`defer`)
        try:
            present = {item.event.type for item in batch}
            whole = tuple(batch)  # shared by the handlers that take it whole: immutable
            for types, handler in self._handlers:
                if present.isdisjoint(types):
                    continue
                # a handler of every type in the batch takes it whole (no pass per handler over the batch)
                items: Sequence[Delivered] = (whole if present <= types
                                              else [item for item in batch if item.event.type in types])
                await handler(session, items)
            await _note_freshness(session, batch)
        finally:
            session.info.pop(_MEMO, None)
            session.info.pop(_DEFERRED, None)


# one fixed statement (arrays, no per-batch compilation of a many-row VALUES)
#: the freshness rule: a partition's newest event time never goes back; applied now (`note_freshness_from` too).
#: An event's `time` is its producer's claim: counted no later than the moment it is applied (`_NO_LATER`),
#: so that one event dated in the future cannot make every read say "fresh" until that day
_FRESHNESS_RULE = ("ON CONFLICT (topic, partition) DO UPDATE SET newest_event_time = "
                   "greatest(freshness.newest_event_time, EXCLUDED.newest_event_time), applied_at = now()")
_NO_LATER = "SELECT n.topic, n.part, least(n.newest, now()) FROM ({}) AS n(topic, part, newest)"
_NOTE_FRESHNESS = text(
    "INSERT INTO freshness (topic, partition, newest_event_time) "
    + _NO_LATER.format("SELECT * FROM unnest(CAST(:topics AS text[]), CAST(:partitions AS integer[]), "
                       "CAST(:times AS timestamptz[]))")
    + f" {_FRESHNESS_RULE}")


async def _note_freshness(session: AsyncSession, batch: Sequence[Delivered]) -> None:
    """Newest event time per topic and partition: every read says how fresh its figures are. The batch's last
    statement: the writes the handlers deferred (`defer`) go with it. The rows in (topic, partition) order: a
    batch writes only its own partitions' rows, which no other consumer writes (one member of the group holds
    a partition), so batches of two consumers never wait for each other here."""
    newest: dict[tuple[str, int], datetime] = {}
    for item in batch:
        time, key = item.event.time, (item.topic, item.partition)
        if key not in newest or time > newest[key]:
            newest[key] = time
    deferred = session.info.pop(_DEFERRED, None) or []
    if not newest and not deferred:
        return
    keys = sorted(newest)
    params: dict[str, Any] = {"topics": [t for t, _ in keys], "partitions": [p for _, p in keys],
                              "times": [newest[k] for k in keys]}
    if not deferred:
        await session.execute(_NOTE_FRESHNESS, params)
        return
    ctes = []
    channels: list[str] = []
    for n, (sql, own, notify) in enumerate(deferred):
        prefix = f"d{n}_"
        renamed = _PARAMETER.sub(":" + prefix + r"\1", sql)
        ctes.append(f"d{n} AS ({renamed})")
        params |= {prefix + name: value for name, value in own.items()}
        if notify is not None and notify not in channels:
            channels.append(notify)
    if newest:
        ctes.append(f"fresh AS ({_NOTE_FRESHNESS.text})")
    # the CTEs run whether or not they are read; the notifications are the statement's own rows
    params["channels"] = channels
    await session.execute(text(f"WITH {', '.join(ctes)} SELECT pg_notify(c, '') "
                               "FROM unnest(CAST(:channels AS text[])) AS c"), params)


#: a bound parameter (`:name`) of a deferred statement, renamed for its place in the batch's last statement
_PARAMETER = re.compile(r"(?<![:\w]):(\w+)")


async def note_freshness_from(session: AsyncSession, newest_per_partition: str, params: dict[str, Any] | None = None
                              ) -> None:
    """`_note_freshness` for a set (the rebuild's): `newest_per_partition` is a SELECT of (topic, partition, newest
    event time)."""
    await session.execute(text(f"INSERT INTO freshness (topic, partition, newest_event_time) "
                               f"{_NO_LATER.format(newest_per_partition)} {_FRESHNESS_RULE}"), params or {})
