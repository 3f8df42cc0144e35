"""How fresh every read is: the time of the newest applied event, and the consumer lag.

The lag is the number of events on the consumer's partitions not applied yet, as of their last
fetch, where the broker's end offsets count records (Apache Kafka). It is "unknown" on the
embedded broker, whose latest offsets (ListOffsets) report the last batch's base, not the log
end — no number is better than a wrong one — and before the consumer has fetched every
partition it was assigned (or when this process runs no consumer).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import Request, Response
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_kit.auth import Principal, Role

from .registry import WHOLE_TOPIC, freshness

NEWEST_HEADER = "X-Styrkedja-Newest-Event-Time"
LAG_HEADER = "X-Styrkedja-Consumer-Lag"

LagSource = Callable[[], int | None]
_lag_source: LagSource | None = None


def follow_lag(source: LagSource | None) -> None:
    """Where the reads take the lag from: the service's consumer (wired once, at start)."""
    global _lag_source
    _lag_source = source


def current_lag() -> int | None:
    """The consumer lag as the reads report it (None: unknown)."""
    return _lag_source() if _lag_source is not None else None


#: What the newest event's time says to a reader who may not learn it (`newest_event_time_for`).
NEWEST_WITHHELD = "withheld"
#: The roles told the newest event's time: operations, whose work is the pipeline of every organiser.
PIPELINE_READERS = frozenset({Role.OPS})


def reads_pipeline(principal: Principal | None) -> bool:
    """Whether this reader is told the pipeline's state (the newest event's time, the lag): operations alone."""
    return principal is not None and principal.has(*PIPELINE_READERS)


def newest_event_time_for(principal: Principal | None, newest: datetime | None) -> str:
    """The newest applied event's time as `NEWEST_HEADER` says it to this reader. Reporting keeps it per topic
    partition (`freshness`), and a partition holds every organiser's events: it is the time any organiser last had an
    event. Told to a reader of one organiser's figures, it said when another organiser last wrote (privacy round 30: a
    politician of one organiser read the time of an event of another, to the microsecond). A time per organiser would
    be a row per organiser written by every batch; coarsened (a day) it still says whether another organiser had an
    event that day. So it is told to operations alone, `withheld` to every other reader — whose figures carry their
    own dates, scoped and suppressed (`/v1/figures/freshness`: each cell's newest result)."""
    if not reads_pipeline(principal):
        return NEWEST_WITHHELD
    return newest.isoformat() if newest else "none"


def consumer_lag_for(principal: Principal | None, lag: int | None) -> str:
    """The consumer lag as `LAG_HEADER` says it to this reader: told to operations alone, as the newest event's time
    is (`newest_event_time_for`). The lag counts the events of every organiser on the consumer's partitions, so it
    moved, between two reads of one politician's unchanged figures, with another organiser's writes: how much another
    organiser wrote, and when (privacy round 30b). `unknown` is no signal of that kind, but a reader who may not learn
    the number is told `withheld` whichever it is, so that the header says nothing of the pipeline to it."""
    if not reads_pipeline(principal):
        return NEWEST_WITHHELD
    return "unknown" if lag is None else str(lag)


async def set_freshness(session: AsyncSession, response: Response, request: Request) -> None:
    principal = getattr(request.state, "principal", None)
    # the newest time is read only for a reader told it: every other read would query it to send `withheld`
    newest = ((await session.execute(select(func.max(freshness.c.newest_event_time)))).scalar_one_or_none()
              if reads_pipeline(principal) else None)
    response.headers[NEWEST_HEADER] = newest_event_time_for(principal, newest)
    response.headers[LAG_HEADER] = consumer_lag_for(principal, current_lag())


#: The state version's row for changes made outside an applied batch (`note_change_outside_batches`).
OUTSIDE_BATCHES = "reporting.outside-batches"
_NOTE_OUTSIDE = text(
    "INSERT INTO freshness (topic, partition, newest_event_time) "
    f"SELECT CAST(:topic AS text), {WHOLE_TOPIC}, max(newest_event_time) FROM freshness WHERE topic <> :topic "
    "HAVING max(newest_event_time) IS NOT NULL "
    "ON CONFLICT (topic, partition) DO UPDATE SET applied_at = clock_timestamp()")


async def note_change_outside_batches(session: AsyncSession) -> None:
    """A change the kept answers rest on, made outside an applied batch (an alert acknowledged, swept or
    judged again): the state version moves in the change's own transaction, as a batch moves it, so no
    answer kept before it is served after it commits. The row's newest event time is the newest the
    topics' rows hold (never newer: the freshness header stays the events' own); with no row at all
    nothing was applied, so nothing can have been kept on what changed."""
    await session.execute(_NOTE_OUTSIDE, {"topic": OUTSIDE_BATCHES})
