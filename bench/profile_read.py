"""Profile the organiser-level reads in-process (pyinstrument): the reporting app behind an httpx
ASGI client on the database `figures_read.py --state DIR` kept, one client, as the organiser's
admin (a bearer token, verified on every request). Prints the mean time per endpoint and writes the
profile as text to bench/results/profile-read-<label>.txt.

    .venv/bin/python bench/figures_read.py --state /tmp/figures   # once: load and keep
    .venv/bin/python bench/profile_read.py --state /tmp/figures [--requests 20] [--label after] [--uncached]

The warm-up reads each endpoint once, so with the answer cache on (`access.answers`) the profile is
of repeated reads of unchanged state (hits); `--uncached` profiles the routes themselves.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from pyinstrument import Profiler

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from figures_read import ORGANISER, REQUESTS, migrate_kept, params_of  # noqa: E402

from styrkedja_devstack.issuer import DevIssuer  # noqa: E402
from styrkedja_devstack.postgres import EmbeddedPostgres  # noqa: E402
from styrkedja_devstack.testing import service_client  # noqa: E402
from styrkedja_reporting.settings import ReportingSettings  # noqa: E402


async def run(url: str, issuer: DevIssuer, requests: int, only: list[str], out: Path, cached: bool = True) -> None:
    settings = ReportingSettings(database_url=url, consumer_enabled=False, outbox_enabled=False,
                                 kafka_bootstrap_servers="127.0.0.1:1", auth_issuer=issuer.url,
                                 read_cache_enabled=cached)
    token = issuer.mint(roles=["organiser_admin"], organisers=[ORGANISER])
    names = only or list(REQUESTS)
    times: dict[str, list[float]] = {name: [] for name in names}
    async with service_client("styrkedja_reporting", settings, token=token) as client:

        async def get(name: str) -> None:
            path, params = params_of(name)  # the common parameters the read takes (None drops one)
            started = time.perf_counter()
            response = await client.get(path, params=params)
            times[name].append(time.perf_counter() - started)
            assert response.status_code == 200, response.text[:300]

        for name in names:  # warm-up
            await get(name)
        for values in times.values():
            values.clear()
        profiler = Profiler(async_mode="enabled")
        with profiler:
            for _ in range(requests):
                for name in names:
                    await get(name)
    lines = [f"{name}: mean {statistics.mean(v) * 1000:.1f} ms, median {statistics.median(v) * 1000:.1f} ms"
             for name, v in times.items()]
    print("\n".join(lines))
    text = "\n".join(lines) + "\n\n" + profiler.output_text(unicode=True, show_all=False)
    await asyncio.to_thread(out.write_text, text)
    print(f"profile: {out}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--state", type=Path, required=True, help="the folder figures_read.py --state kept")
    parser.add_argument("--requests", type=int, default=20, help="rounds over the endpoints")
    parser.add_argument("--only", action="append", default=[], choices=sorted(REQUESTS))
    parser.add_argument("--label", default="after")
    parser.add_argument("--uncached", action="store_true", help="the answer cache off: the routes themselves")
    args = parser.parse_args()
    state = args.state.resolve()
    pg = EmbeddedPostgres(state / "pgdata").start()
    try:
        url = f"postgresql+asyncpg://{pg.server_url().removeprefix('postgresql://')}/bench_figures"
        asyncio.run(migrate_kept(url))
        issuer = DevIssuer(state, port=None).start()
        asyncio.run(run(url, issuer, args.requests, args.only,
                        ROOT / "bench" / "results" / f"profile-read-{args.label}.txt", not args.uncached))
    finally:
        pg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
