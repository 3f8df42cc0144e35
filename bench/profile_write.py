"""Profile the bulk write API in-process (pyinstrument): the assessment app behind an httpx ASGI
client on an embedded PostgreSQL, batches of 1,000, relay off. Prints items/s and writes the
profile as text to bench/results/profile-write-<label>.txt.

    .venv/bin/python bench/profile_write.py [--batches 20] [--label after]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from pyinstrument import Profiler  # noqa: E402

from styrkedja_assessment.settings import AssessmentSettings  # noqa: E402
from styrkedja_devstack.postgres import EmbeddedPostgres, ensure_database  # noqa: E402
from styrkedja_devstack.testing import service_client  # noqa: E402
from styrkedja_kit.migrations import upgrade  # noqa: E402
from support import Mittkoping, Tokens  # noqa: E402


async def run(url: str, batches: int, out: Path, tokens: Tokens) -> None:
    settings = AssessmentSettings(database_url=url, outbox_enabled=False, kafka_bootstrap_servers="127.0.0.1:1",
                                  auth_issuer=tokens.service_env["STYRKEDJA_AUTH_ISSUER"])
    data = Mittkoping(seed=3)
    chunks = [data.new_assessments(1000) for _ in range(batches + 2)]
    async with service_client("styrkedja_assessment", settings) as client:
        client.headers.update(tokens.platform(*data.organisers))
        for chunk in chunks[:2]:  # warm-up
            assert (await client.post("/v1/assessments/batch", json={"items": chunk})).status_code == 201
        profiler = Profiler(async_mode="enabled")
        started = time.perf_counter()
        with profiler:
            for chunk in chunks[2:]:
                response = await client.post("/v1/assessments/batch", json={"items": chunk})
                assert response.status_code == 201, response.text
        seconds = time.perf_counter() - started
    print(f"{batches * 1000 / seconds:,.0f} items/s (one client, in-process)")
    await asyncio.to_thread(out.write_text, f"{batches * 1000 / seconds:,.0f} items/s\n" + profiler.output_text(unicode=True, show_all=False))
    print(f"profile: {out}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--label", default="after")
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="styrkedja-profile-"))
    state.chmod(0o755)
    pg = EmbeddedPostgres(state / "pgdata").start()
    try:
        name = f"profile_{uuid.uuid4().hex[:6]}"
        ensure_database(pg.server_url(), name)
        url = f"postgresql+asyncpg://{pg.server_url().removeprefix('postgresql://')}/{name}"
        upgrade("styrkedja_assessment", url)
        asyncio.run(run(url, args.batches, ROOT / "bench" / "results" / f"profile-write-{args.label}.txt",
                        Tokens.start(state)))
    finally:
        pg.stop()
        shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
