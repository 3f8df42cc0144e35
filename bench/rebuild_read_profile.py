"""The rebuild's main process during the read, profiled alone (issue 16, rebuild33): `read_log` against a broker that
`bench/speed.py --rebuild-hold` keeps up, each fetch made the decoders' tuples (`raw_records`) and pickled in pieces
as the process pool pickles them, no decoders and no database; cProfile's own CPU time per function, the process's CPU
seconds and the records read.

    .venv/bin/python bench/rebuild_read_profile.py /tmp/styrkedja-speed-xxxx/hold.json [--out profile.txt]

The records come as the rebuild takes them: runs of tuples made from the fetched batches (`read_log`'s `on_raw`,
read36); `--records` reads them as `ConsumerRecord`s and makes the tuples by `raw_records`, the path before.
`--no-profile`: the process's CPU seconds alone (cProfile's cost per call inflates the per-record path).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pickle
import pstats
import sys
import time
from pathlib import Path
from typing import Any


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("hold", type=Path)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--records", action="store_true", help="ConsumerRecords and raw_records (before read36)")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    hold = json.loads(args.hold.read_text())
    os.environ.update(hold["env"])
    os.environ.setdefault("STYRKEDJA_DATABASE_URL", "postgresql+asyncpg://unused@127.0.0.1:1/unused")  # not opened

    from styrkedja_reporting.rebuild import bulk
    from styrkedja_reporting.rebuild.command import _quiet_collector, reporting_topics
    from styrkedja_reporting.rebuild.log import read_log
    from styrkedja_reporting.settings import ReportingSettings

    settings = ReportingSettings()
    read = [0]

    async def on_raw(raw: list[Any]) -> None:
        for start in range(0, len(raw), bulk.DECODE_PIECE):  # as `Rebuilder.feed_raw` hands them to the pool
            pickle.dumps((bulk.decoded_for_the_rebuild, raw[start:start + bulk.DECODE_PIECE], start,
                          settings.max_event_bytes, True), protocol=pickle.HIGHEST_PROTOCOL)
        read[0] += len(raw)

    async def on_records(records: list[Any]) -> None:
        await on_raw(bulk.raw_records(records))

    _quiet_collector()  # as the rebuild's command
    profiler = cProfile.Profile(time.process_time)  # CPU, not wall: the machine is shared
    cpu, wall = time.process_time(), time.perf_counter()
    if not args.no_profile:
        profiler.enable()
    asyncio.run(read_log(settings, reporting_topics(), client_id="rebuild-read-profile",
                         on_records=on_records if args.records else None, on_raw=None if args.records else on_raw))
    profiler.disable()
    spent = time.process_time() - cpu
    head = (f"{'records' if args.records else 'runs'}: records {read[0]:,}, CPU {spent:.2f} s "
            f"({'without' if args.no_profile else 'with'} the profiler), wall {time.perf_counter() - wall:.2f} s, "
            f"load {os.getloadavg()[0]:.1f}\n")
    if args.no_profile:
        print(json.dumps({"way": "records" if args.records else "runs", "records": read[0], "cpu_s": round(spent, 3),
                          "us_per_record": round(spent / max(read[0], 1) * 1e6, 3),
                          "load": round(os.getloadavg()[0], 2)}))
        return 0
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(args.top)
    print(head + text.getvalue())
    if args.out:
        args.out.write_text(head + text.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
