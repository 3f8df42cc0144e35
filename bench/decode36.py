"""A rebuild decoder's CPU per event on the held log's records, two trees alternated (issue 16, decode36): the records
read once from the log of a broker that `bench/speed.py --rebuild-hold` keeps up and kept in a file, then each round
one process per tree (a "before" tree by `--before`, this tree as installed), each doing a decoder's work on them
(`decoded_and_staged` in pieces of `DECODE_PIECE`, the facts as COPY text, the collector quieted as `rebuild.command`
quiets it) for `--passes` timed passes, µs of its own process CPU per event. The two sides' COPY texts and dead
letters are compared (equal in every run, or it stops). A process per side and round: the code differs in the
contracts, the kit and the rebuild at once, which one process cannot hold twice (`rebuild_cuts35.py` swaps one
function); alternated, the machine's load falls on both alike.

    .venv/bin/python bench/decode36.py --held /tmp/styrkedja-speed-xxxx/hold.json --records /tmp/held.pickle
    .venv/bin/python bench/decode36.py --records /tmp/held.pickle --before /tmp/main-tree --rounds 8 \
        --out bench/results/decode36-offline.json

`--before`: a tree holding `packages/contracts/src`, `packages/kit/src` and `services/reporting/src` (`git archive
main packages services | tar -x -C <tree>`).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import pickle
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("packages/contracts/src", "packages/kit/src", "services/reporting/src")


def child(records: Path, passes: int) -> dict:
    """One process: the records, one untimed pass (its answer's digest), then `passes` timed passes."""
    from styrkedja_reporting.rebuild import bulk

    raw = pickle.loads(records.read_bytes())  # noqa: S301 - this bench's own file

    def decoder() -> list:
        answers = []
        for start in range(0, len(raw), bulk.DECODE_PIECE):
            staged = bulk.decoded_and_staged(raw[start:start + bulk.DECODE_PIECE], start, 256_000, True)
            answers.append((staged.texts, staged.text_rows, staged.dead, len(staged.small), staged.read))
        return answers

    digest = hashlib.blake2b(pickle.dumps(decoder()), digest_size=12).hexdigest()
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, *gc.get_threshold()[1:])  # the rebuild's `_quiet_collector`
    times = []
    for _ in range(passes):
        started = time.process_time()
        decoder()
        times.append((time.process_time() - started) / len(raw) * 1e6)
    return {"events": len(raw), "us_per_event": [round(t, 3) for t in times], "median": round(statistics.median(times), 3),
            "answers": digest}


def held(hold_path: Path, events: int, per_fetch: int) -> list[tuple]:
    """The first records of the held log as the decoders take them (`raw_records`): `per_fetch` of each fetch."""
    sys.path.insert(0, str(ROOT / "bench"))
    from rebuild_cuts35 import _held

    return _held(hold_path, events, per_fetch)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=Path, required=True, help="the records' file (written with --held)")
    parser.add_argument("--held", type=Path, help="a hold.json of `speed.py --rebuild-hold`: read, write --records")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--per-fetch", type=int, default=2_500)
    parser.add_argument("--before", type=Path)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.records, args.passes)))
        return 0
    if args.held:
        raw = held(args.held, args.events, args.per_fetch)
        args.records.write_bytes(pickle.dumps(raw, protocol=pickle.HIGHEST_PROTOCOL))
        print(json.dumps({"records": len(raw), "topics": {t: sum(1 for r in raw if r[0] == t)
                                                           for t in sorted({r[0] for r in raw})}}))
        return 0
    if not args.before:
        parser.error("--before: the tree to compare with")
    sides = {"before": {**os.environ, "PYTHONPATH": os.pathsep.join(str(args.before / s) for s in SOURCES)},
             "after": dict(os.environ)}
    command = [sys.executable, __file__, "--child", "--records", str(args.records), "--passes", str(args.passes)]
    rounds = []
    for i in range(args.rounds):
        order = ("before", "after") if i % 2 == 0 else ("after", "before")
        got = {}
        for side in order:
            load = os.getloadavg()[0]
            done = subprocess.run(command, env=sides[side], stdout=subprocess.PIPE, text=True, check=True)
            got[side] = {**json.loads(done.stdout), "load_1min": round(load, 2)}
        if got["before"]["answers"] != got["after"]["answers"]:
            raise SystemExit(f"round {i + 1}: the two sides' answers differ")
        got["ratio_after_over_before"] = round(got["after"]["median"] / got["before"]["median"], 3)
        got["order"] = list(order)
        rounds.append(got)
        print(json.dumps({"round": i + 1, "order": order, "before": got["before"]["median"],
                          "after": got["after"]["median"], "ratio": got["ratio_after_over_before"],
                          "load": [got[s]["load_1min"] for s in order]}), flush=True)
    ratios = [r["ratio_after_over_before"] for r in rounds]
    out = {"events": rounds[0]["before"]["events"], "passes": args.passes, "rounds": rounds,
           "median_before": statistics.median(r["before"]["median"] for r in rounds),
           "median_after": statistics.median(r["after"]["median"] for r in rounds),
           "median_ratio": statistics.median(ratios), "rounds_below_1": sum(r < 1 for r in ratios),
           "answers_equal": True}
    print(json.dumps({k: v for k, v in out.items() if k != "rounds"}), flush=True)
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
