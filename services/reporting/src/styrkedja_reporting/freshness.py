"""How fresh every read is: the time of the newest applied event, and the consumer lag.

The lag is "unknown": the embedded broker's latest offsets (ListOffsets) are not reliable
(it reports the last batch's base, not the log end), so no number is better than a wrong one.
"""

from __future__ import annotations

from fastapi import Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .registry import freshness

NEWEST_HEADER = "X-Styrkedja-Newest-Event-Time"
LAG_HEADER = "X-Styrkedja-Consumer-Lag"


async def set_freshness(session: AsyncSession, response: Response) -> None:
    newest = (await session.execute(select(func.max(freshness.c.newest_event_time)))).scalar_one_or_none()
    response.headers[NEWEST_HEADER] = newest.isoformat() if newest else "none"
    response.headers[LAG_HEADER] = "unknown"
