"""One of several processes leads: a session-level PostgreSQL advisory lock held on a connection of
its own. The outbox relay takes one per service database (one publisher); sibling uvicorn workers take
one per consumer group (one consumer). The server releases the lock when that connection goes, so the
holder must stop leading then: `lost` is set the moment the connection is gone."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg


class AdvisoryLock:
    def __init__(self, dsn: str, key: int) -> None:
        self.dsn, self.key = dsn, key
        self.connection: asyncpg.Connection | None = None
        self.lost = asyncio.Event()

    async def try_acquire(self) -> bool:
        """Take the lock if it is free (connecting first where need be); False while another holds it."""
        if self.connection is None or self.connection.is_closed():
            self.connection = await asyncpg.connect(self.dsn)
            self.connection.add_termination_listener(lambda _connection: self.lost.set())
        if not await self.connection.fetchval("SELECT pg_try_advisory_lock($1)", self.key):
            return False
        self.lost.clear()
        return True

    @property
    def held(self) -> bool:
        return self.connection is not None and not self.connection.is_closed() and not self.lost.is_set()

    async def release(self) -> None:
        """Close the connection (the server releases the lock with it)."""
        connection, self.connection = self.connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()
