"""Pytest fixtures: a real PostgreSQL and a real Kafka-protocol broker for the whole session.

PostgreSQL from testcontainers when a Docker engine answers, otherwise the embedded binaries (the
same ones `make run` uses). The broker is a matrix: every test that uses `infrastructure` (or
`fresh_database`, `service_database`, which use it) runs on the embedded Tansu broker and on Apache
Kafka (KRaft, from Maven Central); `$STYRKEDJA_TEST_BROKERS` picks one. Environment variables can
point at an external PostgreSQL or Kafka instead.

A test that never talks to a broker says so with the marker `postgres_only` (usually for its whole
module: `pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]`): it runs once, `[postgres]`
in its id, with the same fixtures, and its broker address is a trap: a listening socket that counts
connections, so a test that connects to it after all fails at teardown instead of silently losing its
broker runs. A test in such a module that does talk to the broker takes `@pytest.mark.broker_matrix`.
"""

from __future__ import annotations

import importlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .apache_kafka import missing_requirements
from .postgres import EmbeddedPostgres
from .stack import BROKER_KINDS, ENV_KAFKA, ENV_POSTGRES, Infrastructure, start_broker

#: Which brokers the integration, end-to-end and fault tests run on (comma-separated): `embedded` (Tansu),
#: `kafka` (Apache Kafka from Maven Central). Default both; `STYRKEDJA_TEST_BROKERS=embedded` for one.
ENV_TEST_BROKERS = "STYRKEDJA_TEST_BROKERS"
#: Set by .ci/run: a missing Java/Maven fails the Apache Kafka half instead of skipping it.
ENV_REQUIRE_ALL = "STYRKEDJA_REQUIRE_KAFKA"
#: The `infrastructure` parameter (and test id) of the tests marked `postgres_only`: no broker at all.
POSTGRES_ONLY = "postgres"

if TYPE_CHECKING:
    from .issuer import DevIssuer


def docker_available() -> bool:
    if switch("STYRKEDJA_TEST_NO_DOCKER", default=False):  # (any text was on, "0" too: now the switches' rule)
        return False
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


def broker_params() -> list[str]:
    """Read once at import, before any test's monkeypatch touches the environment."""
    if os.environ.get(ENV_KAFKA):
        return ["external"]
    kinds = [k.strip() for k in os.environ.get(ENV_TEST_BROKERS, ",".join(BROKER_KINDS)).split(",") if k.strip()]
    unknown = set(kinds) - set(BROKER_KINDS)
    if unknown or not kinds:
        raise pytest.UsageError(f"${ENV_TEST_BROKERS} takes {', '.join(BROKER_KINDS)}, not {sorted(unknown)}")
    return kinds


def switch(variable: str, default: bool = True) -> bool:
    """A test switch of the environment: `1` on, `0` off, unset its default; any other text a usage error naming the
    variable and its rule (`STYRKEDJA_TEST_REUSE_DATABASES=false` or `=no` left the switch on: only `0` was off)."""
    text = os.environ.get(variable, "").strip()
    if text not in ("", "0", "1"):
        raise pytest.UsageError(f"${variable} takes 1 (on) or 0 (off), not {text[:40]!r}")
    return default if not text else text == "1"


BROKERS = broker_params()
_durations: dict[str, float] = defaultdict(float)
_counts: dict[str, int] = defaultdict(int)


@pytest.fixture(scope="session")
def test_postgres() -> Iterator[str]:
    """One PostgreSQL server for the whole session, whichever broker: its server URL."""
    if os.environ.get(ENV_POSTGRES):
        yield os.environ[ENV_POSTGRES]
        return
    if docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:18", driver=None) as pg:
            yield pg.get_connection_url().rsplit("/", 1)[0]
        return
    # not pytest's tmp_path: its folders are private to root, and the server runs as its own user
    state_dir = Path(tempfile.mkdtemp(prefix="styrkedja-test-pg-"))
    state_dir.chmod(0o755)
    postgres = EmbeddedPostgres(state_dir / "pgdata", durable=False).start()  # deleted after the session
    try:
        yield postgres.server_url()
    finally:
        postgres.stop()
        remove_in_background(state_dir)


_removals: list[subprocess.Popen[bytes]] = []


def remove_in_background(folder: Path) -> None:
    """Delete a throw-away folder without waiting: the test PostgreSQL's hundreds of databases took
    1-3 minutes of `rmtree` at the end of the session on busy disks (measured), time nothing needs."""
    try:
        _removals.append(subprocess.Popen(["rm", "-rf", "--", str(folder)], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, start_new_session=True))
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)


def share_default_tls_context() -> None:
    """In the test process, every httpx client made with httpx's TLS defaults shares one TLS context.

    httpx builds a new one for each client, parsing the whole CA bundle (measured 0.12-0.16 s of CPU
    on the shared 2-core machine), even for a client that only ever speaks plain HTTP to loopback:
    every `httpx.get` of a poll (`wait_ready`, `wait_until_exact`), every test's `httpx.Client`, every
    in-process service's key fetch from the dev issuer. An `ssl.SSLContext` is safe to share between
    clients and threads; one made with other settings (a `verify` of its own, a client certificate)
    is made as before. Keyed by the environment httpx reads (`SSL_CERT_FILE`, `SSL_CERT_DIR`), so a
    test that points those elsewhere gets a context of its own. `STYRKEDJA_TEST_SHARE_TLS=0`: off."""
    if not switch("STYRKEDJA_TEST_SHARE_TLS"):
        return
    try:
        transports: Any = importlib.import_module("httpx._transports.default")
    except ImportError:  # another httpx layout: every client makes its own, as before
        return
    made = getattr(transports, "create_ssl_context", None)
    if made is None or getattr(made, "shared_by_styrkedja", False):
        return
    cache: dict[tuple[bool, str | None, str | None], Any] = {}
    lock = threading.Lock()

    def create_ssl_context(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
        if verify is not True or cert is not None:
            return made(verify=verify, cert=cert, trust_env=trust_env)
        key = (trust_env, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
        with lock:
            if key not in cache:
                cache[key] = made(verify=verify, cert=cert, trust_env=trust_env)
            return cache[key]

    create_ssl_context.shared_by_styrkedja = True  # type: ignore[attr-defined]
    transports.create_ssl_context = create_ssl_context


def pytest_configure(config: pytest.Config) -> None:
    share_default_tls_context()
    # read where they are used: a bad value said once, before the first test
    for variable, default in ((ENV_REUSE, True), ("STYRKEDJA_TEST_NO_DOCKER", False), (ENV_REQUIRE_ALL, False)):
        switch(variable, default)
    config.addinivalue_line("markers", "postgres_only: the test needs PostgreSQL but never a broker: it runs once, "
                                       "not once per broker (a connection to the broker fails it)")
    config.addinivalue_line("markers", "broker_matrix: the test talks to the broker: once per broker, even in a "
                                       "module marked postgres_only")
    config.addinivalue_line("markers", "one_broker: the test drives a user-facing layer (browser, CLI) whose broker "
                                       "behaviour other tests prove on both: it runs on the first selected broker only")


def runs_without_broker(node: pytest.Item) -> bool:
    return bool(node.get_closest_marker("postgres_only") and not node.get_closest_marker("broker_matrix"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`infrastructure` (and so `fresh_database`, `service_database`, `stack`, ...) once per broker, or once
    without a broker for a test marked `postgres_only`. Session-scoped: pytest groups the tests by it, so
    each broker starts once per session."""
    if "infrastructure" in metafunc.fixturenames:
        params = [POSTGRES_ONLY] if runs_without_broker(metafunc.definition) else BROKERS
        if params is BROKERS and metafunc.definition.get_closest_marker("one_broker"):
            params = BROKERS[:1]
        metafunc.parametrize("infrastructure", params, indirect=True, scope="session")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """With pytest-xdist (`make test` runs two workers, `--dist loadgroup`), every test of one broker goes to
    the same worker: each broker then starts once per session, as without xdist, and the two brokers' tests
    run side by side. The rest (no broker, or PostgreSQL only) is shared out test by test."""
    for item in items:
        kind = _broker_of(item.nodeid)
        if kind in (*BROKER_KINDS, "external"):
            item.add_marker(pytest.mark.xdist_group(kind))


class BrokerTrap:
    """A listening socket where the postgres-only tests' broker would be: it accepts, counts and closes
    every connection, so a test that talks to a broker after all is caught (see `_no_broker_used`)."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._sock.getsockname()[1]}"
        self.connections = 0
        threading.Thread(target=self._serve, name="broker-trap", daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._sock.close()


_trap: BrokerTrap | None = None


@pytest.fixture(scope="session")
def infrastructure(request: pytest.FixtureRequest, test_postgres: str) -> Iterator[Infrastructure]:
    """PostgreSQL and one broker; parametrised (see `pytest_generate_tests`), so every test that needs it
    runs once per broker; for a `postgres_only` test, PostgreSQL and a broker address nothing answers on."""
    global _trap
    kind = getattr(request, "param", BROKERS[0])
    if kind == POSTGRES_ONLY:
        _trap = BrokerTrap()
        try:
            yield Infrastructure(test_postgres, _trap.address, notes=["PostgreSQL only: no broker"])
        finally:
            _trap.close()
            _trap = None
        return
    if kind == "external":
        yield Infrastructure(test_postgres, os.environ[ENV_KAFKA], notes=["external Kafka"])
        return
    if kind == "kafka":
        missing = missing_requirements()
        if missing:
            if switch(ENV_REQUIRE_ALL, default=False):
                pytest.fail(f"{missing} (${ENV_REQUIRE_ALL} is set: the Apache Kafka half must run)")
            pytest.skip(missing)
    state_dir = Path(tempfile.mkdtemp(prefix=f"styrkedja-test-{kind}-"))
    broker = start_broker(kind, state_dir)
    infra = Infrastructure(test_postgres, broker.bootstrap_servers, broker=broker, notes=[kind])
    previous = {name: os.environ.get(name) for name in infra.service_env}
    os.environ.update(infra.service_env)  # seen by in-process services and by service processes
    try:
        # the registry's topics before any test: else the first test to produce to one (without making it first)
        # had the broker auto-create it with its own partition count, and the tests after it, which count on the
        # registry's (six partitions), depended on which test ran first (test_two_consumers: 4 partitions of 6)
        infra.ensure_topics()
        yield infra
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        broker.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def _no_broker_used(request: pytest.FixtureRequest) -> Iterator[None]:
    """A `postgres_only` test that connected to the broker address fails: it must run on the brokers."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is None or callspec.params.get("infrastructure") != POSTGRES_ONLY:
        yield
        return
    request.getfixturevalue("infrastructure")
    trap = _trap
    before = trap.connections if trap else 0
    yield
    if trap and trap.connections != before:
        pytest.fail(f"{request.node.nodeid} is marked postgres_only but connected to the broker "
                    f"({trap.connections - before} connections): give it @pytest.mark.broker_matrix", pytrace=False)


#: seconds before pytest-timeout ends a test that the asyncio tasks still waiting are written out
_TASKS_BEFORE_TIMEOUT = 15


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """A test about to be ended by pytest-timeout has its waiting asyncio tasks written to stderr first (shown with
    the failure): pytest-timeout shows the threads' stacks, where an asyncio test stands in the event loop's poll,
    not in the coroutine that waits (a Kafka consumer test stood there 240 s once, CI session 22, with no clue)."""
    marker = item.get_closest_marker("timeout")
    timeout = float(marker.args[0]) if marker and marker.args else float(item.config.getini("timeout") or 0)
    watchdog = None
    if timeout > 2 * _TASKS_BEFORE_TIMEOUT:
        watchdog = threading.Timer(timeout - _TASKS_BEFORE_TIMEOUT, _write_waiting_tasks, args=(item.nodeid,))
        watchdog.daemon = True
        watchdog.start()
    try:
        return (yield)
    finally:
        if watchdog is not None:
            watchdog.cancel()


def _write_waiting_tasks(nodeid: str) -> None:
    import asyncio
    import gc
    import sys

    tasks = [task for task in gc.get_objects() if isinstance(task, asyncio.Task) and not task.done()]
    print(f"--- {nodeid}: {len(tasks)} asyncio tasks waiting, {_TASKS_BEFORE_TIMEOUT} s before its timeout ---",
          file=sys.stderr)
    for task in tasks:
        task.print_stack(limit=12, file=sys.stderr)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    kind = _broker_of(report.nodeid)
    _durations[kind] += report.duration
    if report.when == "call":
        _counts[kind] += 1


def _broker_of(nodeid: str) -> str:
    params = nodeid.rpartition("[")[2].rstrip("]").split("-") if nodeid.endswith("]") else []
    return next((p for p in params if p in (*BROKER_KINDS, "external", POSTGRES_ONLY)), "no broker")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if len(_durations) > 1 or set(_durations) - {"no broker"}:
        parts = [f"{kind}: {_counts[kind]} tests, {seconds:.0f} s" for kind, seconds in sorted(_durations.items())]
        terminalreporter.write_line("time per broker (setup + call + teardown; postgres: the postgres_only "
                                    "tests, no broker): " + "; ".join(parts))
    if _database_counts:
        terminalreporter.write_line(f"test databases: {_database_counts['cloned']} cloned from a migrated template, "
                                    f"{_database_counts['reused']} reused (emptied to the template's state), "
                                    f"{_database_counts['kept']} not reusable (left as the test left them)")


#: (PostgreSQL server, service package) → a database migrated once this session, cloned for each test
_migrated: dict[tuple[str, str], str] = {}
#: (PostgreSQL server, service package) → what a database fresh from the template looks like (its schema,
#: grants and migration version: `_FINGERPRINT`), or None where the template holds rows besides Alembic's
#: (then no database of the package is reused: emptying it would not make it fresh)
_template_fingerprints: dict[tuple[str, str], str | None] = {}
#: (PostgreSQL server, service package) → databases a finished test handed back, emptied to the template's
#: state (`recycle_database`); the next test takes one under a new name instead of cloning the template again
_idle: dict[tuple[str, str], list[str]] = defaultdict(list)
#: how many databases the session cloned and how many it reused (the summary line)
_database_counts: dict[str, int] = defaultdict(int)
#: `migrated_database` and `recycle_database` may run in threads side by side (a stack's four databases,
#: one per package: `tests/stacks.py`); the migrations and the counts are serialised
_migrations = threading.RLock()
_counts_lock = threading.Lock()


def _count(what: str) -> None:
    with _counts_lock:
        _database_counts[what] += 1


#: the schema objects of a database, its grants, settings and migration version, as one digest: equal to
#: the template's means nothing a test did changed the schema (a dropped table, an added column, index,
#: trigger, function, grant, ...), so emptying the tables and restarting the sequences makes it fresh
_FINGERPRINT = """
WITH user_rel AS (
    SELECT c.oid, n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_to%'
      AND n.nspname NOT LIKE 'pg\\_temp%'
), parts AS (
    SELECT format('schema %s %s %s', nspname, nspowner, nspacl) AS x FROM pg_namespace
    WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_to%'
      AND nspname NOT LIKE 'pg\\_temp%'
    UNION ALL
    SELECT format('rel %s.%s %s %s %s %s %s %s', r.nspname, r.relname, r.relkind, c.relacl, c.relpersistence,
                  c.relrowsecurity, c.relispartition, pg_get_expr(c.relpartbound, c.oid))
    FROM user_rel r JOIN pg_class c ON c.oid = r.oid
    UNION ALL
    SELECT format('col %s.%s %s %s %s %s %s %s %s', r.nspname, r.relname, a.attnum, a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity, a.attgenerated,
                  pg_get_expr(d.adbin, d.adrelid))
    FROM user_rel r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    UNION ALL
    SELECT format('con %s.%s %s %s', r.nspname, r.relname, co.conname, pg_get_constraintdef(co.oid))
    FROM pg_constraint co JOIN user_rel r ON r.oid = co.conrelid
    UNION ALL
    SELECT format('idx %s', pg_get_indexdef(i.indexrelid)) FROM pg_index i JOIN user_rel r ON r.oid = i.indrelid
    UNION ALL
    SELECT format('trg %s %s %s', t.tgname, t.tgenabled, pg_get_triggerdef(t.oid))
    FROM pg_trigger t JOIN user_rel r ON r.oid = t.tgrelid WHERE NOT t.tgisinternal
    UNION ALL
    SELECT format('rule %s', pg_get_ruledef(w.oid)) FROM pg_rewrite w JOIN user_rel r ON r.oid = w.ev_class
    UNION ALL
    SELECT format('pol %s.%s %s %s %s', r.nspname, r.relname, p.polname, pg_get_expr(p.polqual, p.polrelid),
                  pg_get_expr(p.polwithcheck, p.polrelid)) FROM pg_policy p JOIN user_rel r ON r.oid = p.polrelid
    UNION ALL
    SELECT format('seq %s.%s %s %s %s %s %s', schemaname, sequencename, data_type, start_value, increment_by,
                  min_value, max_value) FROM pg_sequences
    WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
    UNION ALL
    SELECT format('fn %s.%s(%s) %s %s %s', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid),
                  md5(coalesce(p.prosrc, '')), p.proconfig, p.proacl)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
    UNION ALL
    SELECT format('type %s.%s %s %s', n.nspname, t.typname, t.typtype,
                  (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e
                   WHERE e.enumtypid = t.oid))
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_to%'
      AND t.typtype IN ('e', 'd', 'c', 'r', 'm') AND (t.typtype <> 'c' OR t.typrelid IN (
          SELECT oid FROM pg_class WHERE relkind = 'c'))
    UNION ALL
    SELECT format('ext %s %s', extname, extversion) FROM pg_extension
    UNION ALL
    SELECT format('set %s %s', setrole, setconfig) FROM pg_db_role_setting
    WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
    UNION ALL
    SELECT format('lo %s', count(*)) FROM pg_largeobject_metadata
    UNION ALL
    SELECT format('pub %s', pubname) FROM pg_publication
)
SELECT md5(string_agg(x, E'\\n' ORDER BY x)) FROM parts
"""

#: the tables whose rows a reset removes: every table of the user's schemas but Alembic's version
_TABLES = """
SELECT format('%I.%I', n.nspname, c.relname) AS name, pg_relation_size(c.oid) AS bytes
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_to%' AND n.nspname NOT LIKE 'pg\\_temp%' AND c.relname <> 'alembic_version'
ORDER BY 1
"""
#: `STYRKEDJA_TEST_REUSE_DATABASES=0`: every test database a new clone of the template (no `recycle_database`)
ENV_REUSE = "STYRKEDJA_TEST_REUSE_DATABASES"


def _admin(server_url: str, work: Callable[[Any], Any]) -> Any:
    """`await work(connection)` on the server's `postgres` database, from sync code."""
    import asyncio

    import asyncpg

    from styrkedja_kit.db import outside_event_loop

    async def run() -> Any:
        conn = await asyncpg.connect(f"{server_url}/postgres")
        try:
            return await work(conn)
        finally:
            await conn.close()

    return outside_event_loop(asyncio.run, run())


def _clone_database(server_url: str, name: str, template: str) -> bool:
    """CREATE DATABASE name TEMPLATE template; False if the server refuses (say, someone is connected)."""
    import asyncpg

    async def create(conn: Any) -> bool:
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            return True
        except asyncpg.PostgresError:
            return False

    return bool(_admin(server_url, create))


def _template_fingerprint(server_url: str, template: str) -> str | None:
    """The template's `_FINGERPRINT`, or None if any table but Alembic's holds rows."""
    import asyncio

    import asyncpg

    from styrkedja_kit.db import outside_event_loop

    async def read() -> str | None:
        conn = await asyncpg.connect(f"{server_url}/{template}")
        try:
            for row in await conn.fetch(_TABLES):
                if await conn.fetchval(f"SELECT EXISTS (SELECT FROM {row['name']})"):
                    return None
            return str(await conn.fetchval(_FINGERPRINT))
        finally:
            await conn.close()

    return outside_event_loop(asyncio.run, read())  # type: ignore[no-any-return]


def _reuse_idle(server_url: str, key: tuple[str, str], name: str | None) -> str | None:
    """An idle database of `key` (renamed to `name` if one is asked for), or None if there is none or
    none could be renamed (a rename needs every connection to it closed)."""
    import asyncpg

    if not _idle[key]:
        return None
    if name is None:
        return _idle[key].pop()  # renamed to a fresh name when it was handed back

    async def rename(conn: Any) -> str | None:
        while _idle[key]:
            idle = _idle[key].pop()
            try:
                await conn.execute(f'ALTER DATABASE "{idle}" RENAME TO "{name}"')
                return name
            except asyncpg.PostgresError:
                continue
        return None

    return _admin(server_url, rename)  # type: ignore[no-any-return]


#: in one round trip: whether anyone else is connected or a prepared transaction holds the database, its
#: fingerprint, and its tables with their sizes
_CHECK = f"""
SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid())
     + (SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()) AS holders,
       ({_FINGERPRINT}) AS fingerprint,
       (SELECT coalesce(array_agg(name || ' ' || bytes), '{{}}') FROM ({_TABLES}) t) AS tables
"""


def recycle_database(infrastructure: Infrastructure, package: str, url: str) -> None:
    """Hand a test's database back for the next test, emptied to its template's state: only if nobody is
    connected to it, its schema, grants and migration version still equal the template's (`_FINGERPRINT`)
    and no prepared transaction holds it; then every table's rows go (triggers and foreign keys not
    fired: `session_replication_role = replica`), every sequence restarts, and it is renamed, so that
    nothing holding its old name reaches it again. Anything unexpected leaves it alone, as before: the
    next test clones the template."""
    import asyncio

    import asyncpg

    from styrkedja_kit.db import outside_event_loop

    key = (infrastructure.postgres_url, package)
    expected = _template_fingerprints.get(key)
    name = url.rsplit("/", 1)[1]
    if expected is None or not switch(ENV_REUSE):
        return
    short = package.removeprefix("styrkedja_")
    renamed = f"t_{short}_{uuid.uuid4().hex[:8]}"

    async def reset() -> bool:
        conn = await asyncpg.connect(f"{infrastructure.postgres_url}/{name}")
        try:
            check = await conn.fetchrow(_CHECK)
            if check["holders"] or check["fingerprint"] != expected:
                return False
            tables = [entry.rsplit(" ", 1) for entry in check["tables"]]
            # every table the test wrote to (it has pages) gets new, empty files, as in a fresh copy: no dead
            # rows left behind to slow the next test's scans (deleting them instead made the integration
            # tests several times slower after a few hundred reuses); the untouched ones have none
            written = [table for table, size in tables if int(size) > 0]
            script = ["BEGIN", "SET LOCAL lock_timeout = '5s'", "SET LOCAL session_replication_role = replica"]
            if written:
                script.append(f"TRUNCATE {', '.join(written)} CASCADE")
            script += ["SELECT setval(format('%I.%I', schemaname, sequencename), start_value, false) "
                       "FROM pg_sequences WHERE schemaname NOT IN ('pg_catalog', 'information_schema')", "COMMIT"]
            await conn.execute(";\n".join(script))
        finally:
            await conn.close()
        admin = await asyncpg.connect(f"{infrastructure.postgres_url}/postgres")
        try:
            await admin.execute(f'ALTER DATABASE "{name}" RENAME TO "{renamed}"')
        finally:
            await admin.close()
        return True

    try:
        reusable = bool(outside_event_loop(asyncio.run, reset()))
    except Exception:  # a database that cannot be reset is simply not reused
        reusable = False
    if reusable:
        _idle[key].append(renamed)
    else:
        _count("kept")


def migrated_database(infrastructure: Infrastructure, package: str, name: str | None = None) -> str:
    """A new database (`name`, or a fresh one) migrated with the service package's migrations: they run
    once per package and session, into a template database, and each new database is a copy of it,
    which PostgreSQL makes faster than running a dozen migrations again; or, faster still, a database an
    earlier test of the session handed back (`fresh_database` does), emptied to the template's state and
    renamed (`recycle_database`). Its URL."""
    from styrkedja_kit.migrations import upgrade

    short = package.removeprefix("styrkedja_")
    key = (infrastructure.postgres_url, package)
    with _migrations:  # Alembic's `context` and `op` are module globals: one migration at a time
        if key not in _migrated:
            template = f"template_{short}_{uuid.uuid4().hex[:8]}"
            upgrade(package, infrastructure.create_database(template))
            _template_fingerprints[key] = _template_fingerprint(infrastructure.postgres_url, template)
            _migrated[key] = template
    reused = _reuse_idle(infrastructure.postgres_url, key, name)
    if reused:
        _count("reused")
        return infrastructure.database_url(reused)
    name = name or f"t_{short}_{uuid.uuid4().hex[:8]}"
    if _clone_database(infrastructure.postgres_url, name, _migrated[key]):
        _count("cloned")
        return infrastructure.database_url(name)
    url = infrastructure.create_database(name)
    with _migrations:
        upgrade(package, url)
    return url


@pytest.fixture
def fresh_database(infrastructure: Infrastructure) -> Iterator[Callable[[str], str]]:
    """Factory: a new, empty database migrated with the given service package's migrations. After the test
    each goes back to the session's idle databases if it can be made fresh again (`recycle_database`)."""
    made: list[tuple[str, str]] = []

    def make(package: str) -> str:
        url = migrated_database(infrastructure, package)
        made.append((package, url))
        return url

    yield make
    for package, url in made:
        recycle_database(infrastructure, package, url)


@pytest.fixture
def service_database(fresh_database: Callable[[str], str], infrastructure: Infrastructure,
                     monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    """Factory: `fresh_database(package)`, with the environment a service's settings read pointed at it
    and at the test broker, and the outbox relay off (the tests read the outbox table themselves)."""

    def make(package: str) -> str:
        url = fresh_database(package)  # call from a sync fixture: migrations run their own event loop
        monkeypatch.setenv("STYRKEDJA_DATABASE_URL", url)
        monkeypatch.setenv("STYRKEDJA_OUTBOX_ENABLED", "false")
        monkeypatch.setenv("STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS", infrastructure.kafka_bootstrap_servers)
        return url

    return make


# `client` and `db` serve a test module that defines a `settings` fixture: the settings of the service
# under test (an instance of its `<package>.settings` class) pointing at a fresh database.


@pytest.fixture
def client_token() -> str | None:
    """The bearer token the `client` fixture sends: none here; a module whose service requires tokens
    overrides this fixture, e.g. `return token_issuer.mint(roles=["platform"], organisers=["2999"])`."""
    return None


@pytest.fixture
async def client(settings: Any, client_token: str | None) -> AsyncIterator[Any]:
    """The service of the module's `settings`, started in-process behind an httpx client that sends
    `client_token` (if any) on every request."""
    from .testing import service_client

    async with service_client(type(settings).__module__.partition(".")[0], settings, token=client_token) as client:
        yield client


@pytest.fixture
async def db(settings: Any) -> AsyncIterator[Any]:
    """An SQLAlchemy engine on the database of the module's `settings`."""
    from .testing import async_engine

    async with async_engine(settings.database_url) as engine:
        yield engine


@pytest.fixture
def issuer_env(token_issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> DevIssuer:
    """`STYRKEDJA_AUTH_ISSUER` pointed at the session's dev issuer for this test (settings built from
    the environment then verify its tokens); the issuer itself is returned, to mint with."""
    monkeypatch.setenv("STYRKEDJA_AUTH_ISSUER", token_issuer.url)
    return token_issuer


@pytest.fixture(scope="session")
def token_issuer() -> Iterator[DevIssuer]:
    """A dev OIDC issuer on a free loopback port for the session; `token_issuer.mint(roles=[...],
    organisers=[...], ...)` signs a token, `token_issuer.url` is the `STYRKEDJA_AUTH_ISSUER`."""
    from .issuer import DevIssuer

    state_dir = Path(tempfile.mkdtemp(prefix="styrkedja-issuer-"))
    issuer = DevIssuer(state_dir, port=None).start()
    try:
        yield issuer
    finally:
        issuer.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


def token_fixtures(mint: Callable[[DevIssuer], str]) -> tuple[Any, Any]:
    """For the conftest of a service whose every test request carries a real token:
    `_issuer, client_token = token_fixtures(lambda issuer: issuer.mint(roles=[...], organisers=[...]))`.
    `_issuer` (autouse) points `STYRKEDJA_AUTH_ISSUER` at the session's dev issuer before any settings are
    built; `client_token` (what the `client` fixture sends) is `mint(token_issuer)`."""

    @pytest.fixture(autouse=True, name="_issuer")
    def issuer(issuer_env: DevIssuer) -> DevIssuer:
        return issuer_env

    @pytest.fixture(name="client_token")
    def token(token_issuer: DevIssuer) -> str:
        return mint(token_issuer)

    return issuer, token
