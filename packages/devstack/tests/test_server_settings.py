"""The embedded server's settings (`postgres.server_settings`): both kinds keep only the WAL crash recovery needs, the
durable one checkpoints less often, and a started server runs with them (and with a bench's own over them)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import asyncpg
import pytest

from styrkedja_devstack.postgres import EmbeddedPostgres, server_settings


def test_both_servers_keep_minimal_wal_and_only_the_test_server_skips_fsync():
    durable, throwaway = server_settings(True), server_settings(False)
    for settings in (durable, throwaway):
        # wal_level=minimal refuses to start with WAL senders
        assert settings["wal_level"] == "minimal" and settings["max_wal_senders"] == "0"
    assert durable["fsync"] == "on" and "full_page_writes" not in durable and "synchronous_commit" not in durable
    assert durable["max_wal_size"] == "4GB" and durable["checkpoint_timeout"] == "15min"
    assert throwaway["fsync"] == "off" and throwaway["full_page_writes"] == "off"


async def _shown(url: str, names: list[str]) -> dict[str, str]:
    conn = await asyncpg.connect(f"{url}/postgres")
    try:
        return {name: await conn.fetchval(f"SHOW {name}") for name in names}
    finally:
        await conn.close()


@pytest.mark.integration
def test_a_durable_server_starts_with_them_and_a_bench_s_settings_over_them():
    # not pytest's tmp_path: its folders are private to root, and the server runs as its own user
    folder = Path(tempfile.mkdtemp(prefix="styrkedja-settings-"))
    folder.chmod(0o755)
    server = EmbeddedPostgres(folder / "pgdata")
    server.settings = {"checkpoint_timeout": "20min"}
    try:
        server.start()
        shown = asyncio.run(_shown(server.server_url(), ["wal_level", "max_wal_senders", "max_wal_size", "fsync",
                                                         "checkpoint_timeout"]))
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    assert shown == {"wal_level": "minimal", "max_wal_senders": "0", "max_wal_size": "4GB", "fsync": "on",
                     "checkpoint_timeout": "20min"}
