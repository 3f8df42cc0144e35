"""Alembic, once: each service keeps its revisions in `<package>/migrations/versions` and a
three-line env.py that calls `run_env(metadata)`."""

from __future__ import annotations

import asyncio
from importlib.resources import files

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, MetaData, pool
from sqlalchemy.ext.asyncio import create_async_engine

from .db import outside_event_loop


def alembic_config(package: str, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files(package) / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(package: str, database_url: str, revision: str = "head") -> None:
    """Migrate to `revision`. Alembic's env.py runs its own event loop, so when called from inside
    a running loop (an async test, say) it runs in a worker thread."""
    outside_event_loop(command.upgrade, alembic_config(package, database_url), revision)


def run_env(metadata: MetaData) -> None:
    """Body of a service's migrations/env.py (online mode, async engine)."""
    url = context.config.get_main_option("sqlalchemy.url")

    def do_run(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        assert url is not None, "sqlalchemy.url is set by `upgrade`"
        engine = create_async_engine(url, poolclass=pool.NullPool, hide_parameters=True)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(run())


def new_revision(package: str, database_url: str, message: str) -> None:
    """Autogenerate a revision from the difference between the models and a migrated database."""
    command.revision(alembic_config(package, database_url), message=message, autogenerate=True)


if __name__ == "__main__":  # python -m styrkedja_kit.migrations <package> <database_url> <message>
    import sys

    new_revision(sys.argv[1], sys.argv[2], sys.argv[3])
