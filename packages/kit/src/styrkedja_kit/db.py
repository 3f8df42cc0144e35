"""Async SQLAlchemy engine and sessions; one database per service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


class Database:
    def __init__(self, url: str, pool_size: int = 10, pool_timeout: float = 30.0) -> None:
        self.url = url
        # hide_parameters: a failed statement's error (and so any log of it) never carries its
        # parameters, which are student data
        self.engine: AsyncEngine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size,
                                                       pool_timeout=pool_timeout, pool_pre_ping=True,
                                                       hide_parameters=True)
        self.sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(self.engine, expire_on_commit=False)
        self._probe: AsyncEngine | None = None  # `ping`'s own connection, made on first use

    @property
    def asyncpg_dsn(self) -> str:
        """The same URL for plain asyncpg (LISTEN/NOTIFY needs a dedicated raw connection)."""
        return make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)

    def _probe_engine(self, timeout: float) -> AsyncEngine:
        """One connection of its own for `ping`, made on first use: the app's pool may be exhausted by slow queries
        (every connection held, the next request waiting `pool_timeout`, 30 s), and a readiness probe waiting
        behind them hung for as long as the orchestrator let it, then counted as a failure with no reason given.
        One connection, no overflow: probes in a flood (they are never bounded at the door) open no more."""
        if self._probe is None:
            self._probe = create_async_engine(self.url, pool_size=1, max_overflow=0, pool_timeout=timeout,
                                              pool_pre_ping=True, hide_parameters=True,
                                              connect_args={"timeout": timeout})
        return self._probe

    async def ping(self, timeout: float = 5.0) -> None:
        """`SELECT 1` on the probe's own connection (`_probe_engine`), within `timeout` seconds whatever the app's
        pool is doing: `TimeoutError` otherwise (a connection cut off mid-statement is invalidated, not reused)."""
        async with asyncio.timeout(timeout):
            async with self._probe_engine(timeout).connect() as conn:
                await conn.execute(text("SELECT 1"))

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncSession]:
        """A session whose statements all read ONE state of the database (`one_snapshot`); closing it rolls
        back, so a read that also writes (an audit row) commits before it leaves."""
        async with self.sessions() as session:
            await one_snapshot(session)
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._probe is not None:
            await self._probe.dispose()


async def one_snapshot(session: AsyncSession) -> None:
    """Every statement of the session's transaction reads one state of the database (REPEATABLE READ; call
    before its first statement). For a read that takes a decision on some rows and data it decides on in
    separate statements — a disclosure decision and the cells it withholds, a consistency check's facts and
    cells: at READ COMMITTED a transaction committed between them pairs the old data with a decision on the
    new rows. No round trip more: asyncpg begins the transaction with its isolation level."""
    await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def outside_event_loop(function: Callable[..., Any], *args: Any) -> Any:
    """Call a blocking function that runs an event loop of its own (`asyncio.run`, Alembic's
    env.py) from sync code, even where a loop is already running (an async test fixture): then
    it runs in a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return function(*args)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args).result()


_SETTING_LOCAL = text("SELECT current_setting(:name), set_config(:name, :value, true)")
_SETTING_BACK = text("SELECT set_config(:name, :value, true)")


@asynccontextmanager
async def planner_setting(session: AsyncSession, name: str, value: str) -> AsyncIterator[None]:
    """A planner setting (e.g. `enable_nestloop` off) for the statements run inside, set back after them.
    Local to the transaction: a failed statement rolls it back with the rest, so no `finally` is needed."""
    before = (await session.execute(_SETTING_LOCAL, {"name": name, "value": value})).scalar_one()
    yield
    await session.execute(_SETTING_BACK, {"name": name, "value": before})


async def advisory_locks(session: AsyncSession, lock_class: int, keys: Iterable[str], *, shared: bool = False) -> None:
    """Transaction-level advisory locks `(lock_class, hashtext(key))` of `keys`, in one round trip and one order (the
    hashes', distinct, sorted before any is taken: two writers sharing keys take them alike, so neither waits on the
    other in a cycle; two keys of one hash are one lock, which only makes them take turns). `shared`: readers that
    must not see a change under way, while they do not wait for one another. `lock_class` is the caller's own
    int4, so one service's locks never meet another kind's."""
    ordered = sorted(set(keys))
    if not ordered:
        return
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    await session.execute(text(f"SELECT {function}(CAST(:lock_class AS int4), h) FROM (SELECT DISTINCT hashtext(k) "
                               "AS h FROM unnest(CAST(:keys AS text[])) AS t(k) ORDER BY h) AS locks"),
                          {"lock_class": lock_class, "keys": ordered})
