"""Issue 16, after37: the alerts' judgement of every cell (`alerts.handlers.judge_all`) on a rebuilt database, alone —
its wall, this process's CPU, its backend's CPU, and where this process's CPU goes (cProfile, `--profile`). Reads only:
nothing is decided or written.

    .venv/bin/python bench/after37_judge.py postgresql+asyncpg://…/bench_rebuild_xxxx [--rounds 3] [--profile out.txt]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from styrkedja_reporting.alerts.handlers import judge_all


def backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", default=None)
    args = parser.parse_args()
    engine = create_async_engine(args.url)
    out: list[dict[str, object]] = []
    profiles: list[str] = []
    try:
        for n in range(args.rounds):
            async with AsyncSession(engine) as session:
                pid = int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())
                pg0, cpu0, t0 = backend_cpu(pid), time.process_time(), time.perf_counter()
                profile = cProfile.Profile() if args.profile and n == args.rounds - 1 else None
                if profile:
                    profile.enable()
                judged = await judge_all(session)
                if profile:
                    profile.disable()
                    buffer = io.StringIO()
                    pstats.Stats(profile, stream=buffer).sort_stats("cumulative").print_stats(45)
                    profiles.append(buffer.getvalue())
                out.append({"wall": round(time.perf_counter() - t0, 3), "python": round(time.process_time() - cpu0, 3),
                            "postgres": round(backend_cpu(pid) - pg0, 3), "drops": len(judged.drops),
                            "below": len(judged.below), "profiled": profile is not None,
                            "load": round(os.getloadavg()[0], 1)})
                print(json.dumps(out[-1]), flush=True)
                await session.rollback()
    finally:
        await engine.dispose()
    if args.profile and profiles:
        await asyncio.to_thread(Path(args.profile).write_text, profiles[-1])
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
