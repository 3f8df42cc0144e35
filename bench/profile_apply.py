"""Profile reporting's apply path in-process (pyinstrument): the figures bench's events (an
organiser of `--students` × 16 subjects × 4 rounds, year-9 forecasts and term grades) applied in
batches of 1,000 through the handler registry (all six levels, figures, support, alerts) into a
fresh embedded PostgreSQL. Prints events/s and writes bench/results/profile-apply-<label>.txt.

    .venv/bin/python bench/profile_apply.py [--students 300] [--label after]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
from pathlib import Path

from pyinstrument import Profiler

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from figures_read import load, organisation, results  # noqa: E402

from styrkedja_devstack.postgres import EmbeddedPostgres, ensure_database  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--label", default="after")
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="styrkedja-profile-apply-"))
    state.chmod(0o755)
    pg = EmbeddedPostgres(state / "pgdata").start()
    try:
        ensure_database(pg.server_url(), "profile_apply")
        url = f"postgresql+asyncpg://{pg.server_url().removeprefix('postgresql://')}/profile_apply"
        directory, groups = organisation(args.students)
        events = results(random.Random(7), groups)
        profiler = Profiler(async_mode="enabled")
        with profiler:
            applied = asyncio.run(load(url, directory, events, args.batch))
        print(applied)
        out = ROOT / "bench" / "results" / f"profile-apply-{args.label}.txt"
        out.write_text(f"{applied}\n" + profiler.output_text(unicode=True, show_all=False))
        print(f"profile: {out}")
    finally:
        pg.stop()
        shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
