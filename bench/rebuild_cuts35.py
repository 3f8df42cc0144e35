"""The rebuild decoder's cuts of rebuild35, each alone (issue 16): a decoder's work (`decoded_and_staged` as a decoder
process runs it, pieces of `DECODE_PIECE`, the facts as COPY text) over one corpus in ONE process, with the cut's
function as it is and as it was in alternated rounds, µs of process CPU per event. `--cut tstz`: `bulk._tstz`, a
time's text made once per distinct time (before: `timestamptz_text` every time); `--cut both`: the two; `--cut pin`: the personnummer
pre-filter's verdict on a run remembered (`identifiers._run_holds_pin`; before: its unremembered function). One process, alternated rounds: the machine's load falls on both alike, and
the code is the same but for the one function (the by-process bench, `rebuild_decode.py`, spread ±5 µs at load 7).

    .venv/bin/python bench/rebuild_cuts35.py --cut tstz --rounds 10 --out bench/results/rebuild35-tstz.json \
        [--held /tmp/styrkedja-speed-xxxx/hold.json]

`--held`: the corpus `held` read from the log of a broker that `bench/speed.py --rebuild-hold` keeps up (the first
`--events` records, `--per-fetch` of each fetch: the term shape's real times, mostly one moment for an event's
`time` and its data's, and for consecutive events), besides the generated corpora (every event its own moment).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from rebuild_decode import _corpus  # noqa: E402

from styrkedja_contracts import identifiers  # noqa: E402
from styrkedja_reporting.rebuild import bulk  # noqa: E402
from styrkedja_reporting.staging import timestamptz_text  # noqa: E402

#: cut → its functions: (module, name, the function as it was, as it is)
CUTS = {"tstz": [(bulk, "_tstz", timestamptz_text, bulk._tstz)],
        "pin": [(identifiers, "_run_holds_pin", identifiers._run_holds_pin.__wrapped__, identifiers._run_holds_pin)]}
CUTS["both"] = [*CUTS["tstz"], *CUTS["pin"]]


def _as(cut: str, label: str) -> None:
    """The cut's functions as they were ("before") or as they are."""
    for module, name, was, now in CUTS[cut]:
        setattr(module, name, was if label == "before" else now)


def _held(hold_path: Path, events: int, per_fetch: int) -> list[tuple]:
    """The first records of the held log as the decoders take them (`raw_records`): `per_fetch` of each fetch."""
    import asyncio

    hold = json.loads(hold_path.read_text())
    os.environ.update(hold["env"])
    os.environ.setdefault("STYRKEDJA_DATABASE_URL", "postgresql+asyncpg://unused@127.0.0.1:1/unused")  # not opened
    from styrkedja_reporting.rebuild.command import reporting_topics
    from styrkedja_reporting.rebuild.log import read_log
    from styrkedja_reporting.settings import ReportingSettings

    taken: list[tuple] = []

    class Enough(Exception):
        pass

    async def on_records(records: list) -> None:
        taken.extend(bulk.raw_records(records[:per_fetch]))
        if len(taken) >= events:
            raise Enough

    with contextlib.suppress(Enough):  # the first records only: the read stopped
        asyncio.run(read_log(ReportingSettings(), reporting_topics(), client_id="rebuild-cuts35",
                             on_records=on_records))
    return taken[:events]


def _pass(raw: list[tuple], max_bytes: int) -> float:
    started = time.process_time()
    for start in range(0, len(raw), bulk.DECODE_PIECE):
        bulk.decoded_and_staged(raw[start:start + bulk.DECODE_PIECE], start, max_bytes, True)
    return (time.process_time() - started) / len(raw) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--corpora", default="published,mixed")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--held", type=Path, help="a hold.json of `speed.py --rebuild-hold`: the corpus `held`")
    parser.add_argument("--per-fetch", type=int, default=1_000)
    parser.add_argument("--cut", choices=sorted(CUTS), default="tstz")
    args = parser.parse_args()
    out: dict = {"cut": args.cut, "events": args.events, "rounds": args.rounds, "load_1min_start": os.getloadavg()[0]}
    kinds = [*(["held"] if args.held else []), *filter(None, args.corpora.split(","))]
    for kind in kinds:
        raw = _held(args.held, args.events, args.per_fetch) if kind == "held" else \
            [(*r, bulk._FORM_HEADERS) for r in _corpus(kind, args.events)]
        out.setdefault("topics", {})[kind] = {t: sum(1 for r in raw if r[0] == t) for t in sorted({r[0] for r in raw})}
        texts = {}
        for label in ("before", "after"):
            _as(args.cut, label)
            texts[label] = bulk.decoded_and_staged(raw, 0, 1 << 20, True).texts  # warm, and the texts compared
        if texts["before"] != texts["after"]:
            raise SystemExit(f"{kind}: the COPY texts differ")
        gc.collect()
        gc.freeze()
        gc.disable()  # as `rebuild.command` quiets the decoders' collector
        times: dict[str, list[float]] = {"before": [], "after": []}
        for i in range(args.rounds):
            for label in (("before", "after") if i % 2 == 0 else ("after", "before")):
                _as(args.cut, label)
                times[label].append(round(_pass(raw, 1 << 20), 3))
        gc.enable()
        _as(args.cut, "after")
        ratios = [a / b for a, b in zip(times["after"], times["before"], strict=True)]
        out[kind] = {"us_per_event": times, "median_before": statistics.median(times["before"]),
                     "median_after": statistics.median(times["after"]),
                     "ratios_after_over_before": [round(r, 3) for r in ratios],
                     "median_ratio": round(statistics.median(ratios), 3), "texts_equal": True}
        print(kind, json.dumps({k: v for k, v in out[kind].items() if k != "us_per_event"}), flush=True)
    out["load_1min_end"] = os.getloadavg()[0]
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
