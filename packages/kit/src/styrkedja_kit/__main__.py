"""Operations CLI of the runtime kit, used by the container images, the Kubernetes Jobs and ops.

    python -m styrkedja_kit migrate <service-package> [--check [--wait SECONDS]]
        Bring the service's own database to the newest schema (alembic `upgrade head`).
        With --check, change nothing: exit 0 when the database is at this release's head (or at
        a newer revision this release does not know, as after a rollback of the code), 3 when it
        is behind. With --wait, keep checking until then: an init container uses that to hold new
        pods back until the migration Job has run.

    python -m styrkedja_kit replay --since <ISO-8601 time with offset> [--topic T] [--dry-run]
        Mark the outbox rows written since then for republishing; the running service's outbox
        relay publishes them again in id order. Safe to repeat: consumers deduplicate by event id.
        Use it after a broker lost data, or to feed a rebuilt consumer.

    python -m styrkedja_kit topics [--dead-letter-group G ...]
        Create the topics of the contracts registry (and the groups' dead-letter topics) that are
        missing. For docker compose and single brokers; in Kubernetes Strimzi owns the topics.

Configuration comes from the same environment variables as the services (prefix STYRKEDJA_):
STYRKEDJA_DATABASE_URL for migrate and replay, STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS for topics;
STYRKEDJA_CONNECT_TIMEOUT_SECONDS (30) is how long the database or broker has to answer first.
Progress goes to stderr, the result line to stdout. Exit codes: 0 done, 1 failed, 2 usage error,
3 (migrate --check) database behind.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import sys
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any, NoReturn

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BEHIND = 3

DATABASE_URL_ENV = "STYRKEDJA_DATABASE_URL"


class CliError(Exception):
    """A failure with a message meant for the operator (no traceback)."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def shown(text: str) -> str:
    """An argument as a message repeats it: a personal identity number in any spelling redacted (an operator's
    slip ends in a terminal, a CI log or a Job's log otherwise), and at most 100 characters."""
    from styrkedja_contracts.identifiers import redact_personal_identity_numbers

    kept = redact_personal_identity_numbers(text)[0]
    return repr(kept if len(kept) <= 100 else kept[:99] + "\u2026")


class ArgumentParser(argparse.ArgumentParser):
    """argparse's, whose usage errors repeat no personal identity number: its own "unrecognized arguments: …" and
    "invalid choice: …" repeat what was typed (`styrkedja replay … 19121212-1212`), which the argument types'
    `shown` cannot reach. Sub-parsers are of the same class."""

    def error(self, message: str) -> NoReturn:
        from styrkedja_contracts.identifiers import redact_personal_identity_numbers

        super().error(redact_personal_identity_numbers(message)[0])


def redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"


def connect_seconds() -> float:
    """How long the database or the broker has to answer a command's first contact (`reach.py`)."""
    from .reach import connect_seconds as seconds

    return seconds()


def database_url() -> str:
    """The service's database URL, read exactly as the service reads it (ServiceSettings)."""
    from .settings import ServiceSettings

    settings = ServiceSettings()
    unset = settings.database_url_unset()
    if unset is not None:
        raise CliError(f"{unset}; e.g. postgresql+asyncpg://user:pass@host:5432/db", EXIT_USAGE)
    return settings.database_url


def describe_db_error(exc: BaseException, url: str) -> str:
    from .reach import Unanswered

    if isinstance(exc, Unanswered):  # the one rule's line: what, where, after how long, which variable
        return str(exc)
    return f"database {redacted(url)} failed: {type(exc).__name__}: {exc}".strip()


# --- migrate -------------------------------------------------------------------------------------

def check_service_package(package: str) -> None:
    # a name importlib cannot look up (`../x` is a relative name, `os.path` a module of a module, `os` no
    # package) raised its own ImportError, ValueError or TypeError: a traceback instead of the usage error
    try:
        found = importlib.util.find_spec(package) is not None
        migrations = found and files(package).joinpath("migrations").is_dir()
    except (ImportError, ValueError, TypeError):
        found = migrations = False
    if not found:
        raise CliError(f"no installed package {shown(package)} (expected e.g. styrkedja_assessment)", EXIT_USAGE)
    if not migrations:
        raise CliError(f"package {shown(package)} has no migrations folder", EXIT_USAGE)


async def current_revisions(url: str) -> set[str]:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import pool
    from sqlalchemy.ext.asyncio import create_async_engine

    from .reach import reach_database

    await reach_database(url, connect_seconds())
    engine = create_async_engine(url, poolclass=pool.NullPool, hide_parameters=True)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda sync: set(MigrationContext.configure(sync).get_current_heads()))
    finally:
        await engine.dispose()


def show(revisions: set[str]) -> str:
    return ", ".join(sorted(revisions)) or "empty (no revision)"


def schema_state(script: Any, heads: set[str], current: set[str]) -> str:
    """'head', 'behind' or 'newer' (a revision this release does not know: a later release ran)."""
    if current == heads:
        return "head"
    known = {rev.revision for rev in script.walk_revisions()}
    if current and not current <= known:
        return "newer"
    return "behind"


def cmd_migrate(args: argparse.Namespace) -> int:
    import time

    from alembic.script import ScriptDirectory

    from .migrations import alembic_config, upgrade

    package = args.package
    check_service_package(package)
    url = database_url()
    script = ScriptDirectory.from_config(alembic_config(package, url))
    heads = set(script.get_heads())

    deadline = time.monotonic() + (args.wait or 0)
    while True:
        try:
            before = asyncio.run(current_revisions(url))
        except Exception as exc:
            if args.check and time.monotonic() < deadline:  # e.g. the database is still starting
                progress(f"{package}: {describe_db_error(exc, url)}; retrying")
                time.sleep(5)
                continue
            raise CliError(describe_db_error(exc, url)) from exc
        state = schema_state(script, heads, before)
        if not (args.check and state == "behind" and time.monotonic() < deadline):
            break
        progress(f"{package}: database at {show(before)}, waiting for the migration to {show(heads)}")
        time.sleep(5)

    progress(f"{package}: database {redacted(url)} at {show(before)}; this release's head {show(heads)}")
    if state == "newer":
        message = (f"{package}: database is at {show(before)}, a revision this release does not know "
                   f"(migrated by a newer release)")
        if args.check:  # old code on a newer, backwards-compatible schema: a rollback may start
            print(message + "; accepted")
            return 0
        raise CliError(message + "; nothing is downgraded automatically")
    if args.check:
        if state == "head":
            print(f"{package}: database is at head ({show(heads)})")
            return 0
        print(f"{package}: database is behind: at {show(before)}, head is {show(heads)}")
        return EXIT_BEHIND
    if state == "head":
        print(f"{package}: already at head ({show(heads)}), nothing to do")
        return 0
    progress(f"{package}: upgrading to head ...")
    try:
        upgrade(package, url)
        after = asyncio.run(current_revisions(url))
    except Exception as exc:
        raise CliError(f"{package}: migration failed: {type(exc).__name__}: {exc}") from exc
    print(f"{package}: migrated from {show(before)} to {show(after)}")
    return 0


# --- replay --------------------------------------------------------------------------------------

def aware_timestamp(text: str) -> datetime:
    """argparse type: an ISO-8601 time that says which time zone it is in."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{shown(text)} is not an ISO-8601 time (e.g. 2026-03-27T00:00:00+01:00 or 2026-03-26T23:00:00Z)"
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        # the examples from the time read, not the text given (`2026-01-01+01:00` is no time either); none from a
        # personal identity number, which `fromisoformat` reads as a date and a time (1912-12-12T12:12)
        local = value.isoformat(timespec="seconds") if shown(text) == repr(text) else "2026-03-27T00:00:00"
        raise argparse.ArgumentTypeError(
            f"{shown(text)} has no time zone: the outbox stores UTC, so a local time is ambiguous; "
            f"add an offset, e.g. {local}+01:00 (Swedish winter time), {local}+02:00 (summer) or {local}Z (UTC)")
    try:
        value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 is in year 0 in UTC: a traceback in the progress line
        raise argparse.ArgumentTypeError(f"{shown(text)} is outside the years UTC can hold") from None
    return value


async def replay(url: str, since: datetime, topic: str | None, dry_run: bool) -> tuple[int, int]:
    """Returns (rows marked, of which were still unpublished anyway)."""
    from sqlalchemy import MetaData, func, select, text

    from .db import Database
    from .outbox import Outbox, define_outbox_tables
    from .reach import reach_database

    await reach_database(url, connect_seconds())
    table, _ = define_outbox_tables(MetaData())
    db = Database(url, pool_size=1)
    try:
        async with db.sessions() as session, session.begin():
            if (await session.execute(text("SELECT to_regclass('outbox')"))).scalar() is None:
                raise CliError("this database has no outbox table; replay works on a producing service's "
                               "database (assessment, forecast, lika), not on reporting's")
            pending = select(func.count()).select_from(table).where(
                table.c.created_at >= since, table.c.published_at.is_(None))
            if topic:
                pending = pending.where(table.c.topic == topic)
            already_pending = (await session.execute(pending)).scalar_one()
            marked = await Outbox(table).mark_for_replay(session, since, topic)
            if dry_run:
                await session.rollback()  # nothing changes, and the relay is not woken
        return marked, already_pending
    finally:
        await db.dispose()


def cmd_replay(args: argparse.Namespace) -> int:
    from styrkedja_contracts import TOPICS

    # `--topic ""` (an unset `--topic "$TOPIC"`) was read as no --topic: every topic marked for republishing
    if args.topic is not None and args.topic not in TOPICS:
        raise CliError(f"unknown topic {shown(args.topic)}; the outbox writes only to: {', '.join(TOPICS)}",
                       EXIT_USAGE)
    url = database_url()
    since: datetime = args.since
    now = datetime.now(UTC)
    if since > now:
        progress(f"warning: --since {since.isoformat()} is in the future; nothing can match")
    scope = f"topic {args.topic}" if args.topic else "all topics"
    progress(f"{'dry run: counting' if args.dry_run else 'marking'} outbox rows created since "
             f"{since.astimezone(UTC).isoformat()} ({scope}) in {redacted(url)} ...")
    try:
        marked, already_pending = asyncio.run(replay(url, since, args.topic, args.dry_run))
    except CliError:
        raise
    except Exception as exc:
        raise CliError(describe_db_error(exc, url)) from exc
    detail = f" ({already_pending} of them were not yet published)" if already_pending else ""
    if args.dry_run:
        print(f"dry run: would mark {marked} outbox rows for republishing{detail}; nothing changed")
    else:
        print(f"marked {marked} outbox rows for republishing{detail}; "
              f"the service's outbox relay publishes them in order")
    return 0


# --- topics --------------------------------------------------------------------------------------

def cmd_topics(args: argparse.Namespace) -> int:
    from styrkedja_contracts import dead_letter_topic

    from .kafka import ensure_topics, registry_topics
    from .settings import ServiceSettings

    for group in args.dead_letter_group:  # a group no topic can be named after: its rule, not a traceback
        try:
            dead_letter_topic(group)
        except ValueError as error:
            rule = ("may hold no personal identity number (no_personal_identity_number)"
                    if "personal identity number" in str(error) else "is 1-200 characters of [A-Za-z0-9._-]")
            raise CliError(f"--dead-letter-group {shown(group)}: a consumer group {rule} (its dead-letter topic is "
                           "named after it)", EXIT_USAGE) from None
    topics = registry_topics(args.dead_letter_group)
    settings = ServiceSettings()
    problem = settings.kafka_bootstrap_servers_problem()
    if problem is not None:
        raise CliError(problem, EXIT_USAGE)
    bootstrap = settings.kafka_bootstrap_servers
    progress(f"ensuring {len(topics)} topics on {bootstrap} ...")
    from .reach import Unanswered, reach_broker

    async def ensure() -> None:
        await reach_broker(settings, settings.connect_timeout_seconds)
        await ensure_topics(settings, topics)

    try:
        asyncio.run(ensure())
    except Unanswered as exc:
        raise CliError(str(exc)) from None
    except Exception as exc:
        raise CliError(f"broker {bootstrap} failed: {type(exc).__name__}: {exc}") from exc
    for name, partitions in topics:
        progress(f"  {name} ({partitions} partition{'s' if partitions != 1 else ''})")
    print(f"{len(topics)} topics present (existing ones left as they were)")
    return 0


# --- entry point ---------------------------------------------------------------------------------

def seconds(text: str) -> float:
    """argparse type: a number of seconds, 0 or more and finite (`float` took `-5`, `nan` and `inf`: a check that
    never ended, or one that never waited)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a number of seconds") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{shown(text)}: a number of seconds, 0 or more")
    return value


def parser(prog: str = "python -m styrkedja_kit") -> argparse.ArgumentParser:
    from .settings import MAKE_RUN_DATABASES

    p = ArgumentParser(
        prog=prog,
        description="Styrkedja operations: database migrations, outbox replay, topics.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    m = sub.add_parser("migrate", help="upgrade a service's database to the newest schema",
                       description="Run the service's alembic migrations up to head against "
                                   f"${DATABASE_URL_ENV}.", epilog=MAKE_RUN_DATABASES)
    m.add_argument("package", help="the service's Python package, e.g. styrkedja_assessment")
    m.add_argument("--check", action="store_true",
                   help="change nothing; exit 0 if the database is at head (or newer), 3 if it is behind")
    m.add_argument("--wait", type=seconds, default=0, metavar="SECONDS",
                   help="with --check: keep checking (every 5 s) until the database is at head "
                        "or the time is up")
    m.set_defaults(func=cmd_migrate)

    r = sub.add_parser("replay", help="mark outbox rows for republishing",
                       description=f"Mark the outbox rows in ${DATABASE_URL_ENV} created at or after --since "
                                   "as unpublished; the service's outbox relay publishes them again; consumers "
                                   "skip the events they already applied.", epilog=MAKE_RUN_DATABASES)
    r.add_argument("--since", required=True, type=aware_timestamp, metavar="TIME",
                   help="ISO-8601 time with a UTC offset, e.g. 2026-03-27T00:00:00+01:00 or ...Z")
    r.add_argument("--topic", help="only rows for this topic (default: every topic)")
    r.add_argument("--dry-run", action="store_true", help="only count the rows, change nothing")
    r.set_defaults(func=cmd_replay)

    t = sub.add_parser("topics", help="create the registry's missing topics (compose / single broker)",
                       description="Create the contracts registry's topics on "
                                   "$STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS if they are missing.")
    t.add_argument("--dead-letter-group", action="append", default=[], metavar="GROUP",
                   help="also create this consumer group's dead-letter topic (repeatable)")
    t.set_defaults(func=cmd_topics)
    return p


def main(argv: list[str] | None = None, prog: str = "python -m styrkedja_kit") -> int:
    p = parser(prog)
    args = p.parse_args(argv)
    if getattr(args, "wait", 0) and not args.check:
        p.error("--wait only goes with migrate --check")
    # alembic reports each revision it runs ("Running upgrade a -> b") through logging: show those
    # lines, but not its other INFO chatter nor the libraries' debug output
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s: %(message)s")
    alembic_log = logging.getLogger("alembic.runtime.migration")
    alembic_log.setLevel(logging.INFO)
    alembic_log.addFilter(
        lambda record: record.levelno > logging.INFO or record.getMessage().startswith("Running"))
    try:
        return int(args.func(args))
    except CliError as exc:
        from styrkedja_contracts.identifiers import redact_personal_identity_numbers

        print(f"error: {redact_personal_identity_numbers(str(exc))[0]}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:  # asyncio.run cancelled the work first: its transaction rolled back
        print("interrupted (Ctrl-C); its open transaction was rolled back; run the command again", file=sys.stderr)
        return 130
    except Exception as exc:  # a STYRKEDJA_* setting pydantic refuses: one line per variable, not a traceback
        from pydantic import ValidationError

        from .settings import validation_lines

        if not isinstance(exc, ValidationError):
            raise
        for line in validation_lines(exc):
            print(f"error: {line}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
