"""Alembic, once: each service keeps its revisions in `<package>/migrations/versions` and a
three-line env.py that calls `run_env(metadata)`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from importlib.resources import files

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, MetaData, pool, text
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


#: The organisation number spellings kept before identifiers were kept in one: ten digits, and the twelve-digit
#: form with the prefix 16 with or without the hyphen (`NNNNNN-NNNN` is the kept one, a kommunkod stays).
OLD_ORGANISER_SPELLING = r"^([0-9]{10}|16[0-9]{10}|16[0-9]{6}-[0-9]{4})$"
#: SQL of the kept spelling of the text `{}` (the contracts' `canonical_organiser_id`: `(16)?NNNNNN-?NNNN`
#: as `NNNNNN-NNNN`, anything else as it is). Anchored, so the 16 is a prefix only when ten digits follow (no
#: `(?:`: a colon would be a bind parameter to `text`).
_KEPT = r"regexp_replace({}, '^(16)?([0-9]{{6}})-?([0-9]{{4}})$', '\2-\3')"


class OrganiserKeyCollision(RuntimeError):
    """Rows that would hold one unique key once their organiser ids are kept in one spelling."""


def keep_organiser_spelling(connection: Connection, table: str, *, column: str = "organiser_id",
                            content: str | None = None, unique_key: Sequence[str] | None = None,
                            id_column: str | None = None, removed_column: str | None = None, order_by: str = "") -> int:
    """Rewrite `table.column` (and `content->>'organiser_id'` of the JSONB column `content`) from an old
    organisation number spelling to `NNNNNN-NNNN`; how many rows changed.

    `unique_key` (the columns besides `column`; `()` when `column` alone is the key) is a unique key the
    rewrite could break: rows that would share it are looked for first. Of such a group at most one row may be live (`removed_column` false; a table without
    one has every row live): the live one, else the first by `order_by`, keeps the key, and the others' current
    rows are deleted (`id_column` names them; their every revision stays in the audit trail). A group with two
    live rows raises `OrganiserKeyCollision` naming the table, the key, the rule and the rows' ids, before
    anything is written."""
    old, kept = OLD_ORGANISER_SPELLING, _KEPT.format(column)
    if unique_key is not None:
        key, partition = ", ".join([column, *unique_key]), ", ".join([kept, *unique_key])
        assert id_column is not None, "a collision names its rows"
        live = f"NOT {removed_column}" if removed_column else "true"
        rank_order = ", ".join(filter(None, [f"{removed_column}" if removed_column else "", order_by, id_column]))
        rows = connection.execute(text(
            "SELECT id, live, live_rows, rank FROM ("
            f"  SELECT ({id_column})::text AS id, {live} AS live, count(*) OVER w AS n, count(*) FILTER (WHERE {live}) OVER w"
            f"  AS live_rows, row_number() OVER (w ORDER BY {rank_order}) AS rank,"
            f"  bool_or({column} ~ :old) OVER w AS any_old"
            f"  FROM {table} WINDOW w AS (PARTITION BY {partition})) AS k "
            "WHERE n > 1 AND any_old ORDER BY id"), {"old": old}).all()
        clashing = sorted(r.id for r in rows if r.live_rows > 1)
        if clashing:
            raise OrganiserKeyCollision(
                f"{table}: {len(clashing)} live rows would share the unique key ({key}) "
                f"once {column} is kept as NNNNNN-NNNN (rule: one_row_per_key). Decide which row of each stands, "
                f"retract (or delete) the others, then upgrade again; {id_column} of the rows: "
                + ", ".join(clashing[:10])
                + (" …" if len(clashing) > 10 else ""))
        gone = [r.id for r in rows if r.rank > 1]
        if gone:
            connection.execute(text(f"DELETE FROM {table} WHERE ({id_column})::text = ANY(:ids)"), {"ids": gone})
    changed = connection.execute(text(f"UPDATE {table} SET {column} = {kept} WHERE {column} ~ :old"),
                                 {"old": old}).rowcount
    if content is not None:
        json_kept = _KEPT.format(f"{content}->>'organiser_id'")
        connection.execute(text(
            f"UPDATE {table} SET {content} = jsonb_set({content}, '{{organiser_id}}', to_jsonb({json_kept})) "
            f"WHERE {content}->>'organiser_id' ~ :old"), {"old": old})
    return changed


def keep_organiser_spelling_in_outbox(connection: Connection) -> int:
    """The message key of every outbox row not yet published, in the kept spelling (how many changed): sent
    after the upgrade, it joins the organiser's new events in their partition, in order. The payload stays as
    written (a consumer keeps a digest of the record's bytes, so other bytes under an event id that was
    applied would be dead-lettered as a conflicting duplicate; the decoder keeps the spelling anyway), and so
    do published rows (a replay sends a record again as it was sent)."""
    kept = _KEPT.format("encode(key, 'escape')")
    return connection.execute(text(
        f"UPDATE outbox SET key = convert_to({kept}, 'UTF8') "
        "WHERE published_at IS NULL AND encode(key, 'escape') ~ :old"), {"old": OLD_ORGANISER_SPELLING}).rowcount


def new_revision(package: str, database_url: str, message: str) -> None:
    """Autogenerate a revision from the difference between the models and a migrated database."""
    command.revision(alembic_config(package, database_url), message=message, autogenerate=True)


if __name__ == "__main__":  # python -m styrkedja_kit.migrations <package> <database_url> <message>
    import sys

    new_revision(sys.argv[1], sys.argv[2], sys.argv[3])
