"""The rebuild's decoder per event, offline (issue 16, rebuild16): `decoded_and_staged` as a decoder process runs it
(pieces of `DECODE_PIECE` records, the facts' rows as COPY text, the collector quieted as `rebuild.command` quiets it),
µs of process CPU per event, and `decode_event` alone; "before" and "after" trees alternated, each pass in a fresh
process of its own, so that the machine's load falls on both alike.

Corpora (seeded, as the outboxes write them: `CloudEvent.to_bytes`; `bench/decode.py`'s generator): `published`
(assessment.published only, as the term shape's log is but for its directory events; 1 in 7 a value below pass with
Swedish criteria) and `mixed` (the four fact types, one each in turn).

    .venv/bin/python bench/rebuild_decode.py --before /tmp/before-tree --pairs 3 --out bench/results/rebuild16-decode.json

`--before`: a tree holding `packages/contracts/src`, `packages/kit/src` and `services/reporting/src` of the code to
compare with (`git archive <commit> packages services | tar -x -C <tree>`).
"""

from __future__ import annotations

import argparse
import gc
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


def _corpus(kind: str, n: int) -> list[tuple]:
    sys.path.insert(0, str(ROOT / "bench"))
    from decode import generated

    from styrkedja_contracts import decode_event, topic_for_event_type

    gen = generated(16, n)
    if kind == "published":
        values = gen["gen:assessment.published"]
    else:
        kinds = ("gen:assessment.published", "gen:assessment.retracted", "gen:forecast.submitted",
                 "gen:forecast.withdrawn")
        values = [gen[kinds[i % 4]][i // 4] for i in range(n)]
    records = []
    for offset, value in enumerate(values):
        event = decode_event(value)
        records.append((topic_for_event_type(event.type).name, 0, offset, value,
                        int(event.time.timestamp() * 1000) + 2_000, event.partition_key()))
    return records


def child(kind: str, n: int, passes: int, form_header: bool = True) -> dict:
    """One process: the corpus, then `passes` timed passes of the decoder's work over it (the first untimed)."""
    from styrkedja_contracts import decode_event
    from styrkedja_kit import kafka
    from styrkedja_reporting.rebuild import bulk

    records = _corpus(kind, n)
    headers = hasattr(bulk, "raw_records")  # this tree's decoders take each record's headers (None: none)
    # the relay's header on each record (`kafka.CONTRACTS_FORM_HEADER`, resend25), as the outboxes' records carry it;
    # a tree from before reads it as no header. Without it (`--no-form-header`: a log written before): every record
    # is digested in its contracts' form
    form = [getattr(kafka, "CONTRACTS_FORM_HEADER", ("styrkedja-form", b"contracts"))] if form_header else None
    raw = [(*r, form) for r in records] if headers else records
    piece = bulk.DECODE_PIECE
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, *gc.get_threshold()[1:])  # the rebuild's `_quiet_collector`

    def decoder() -> int:
        rows = 0
        for start in range(0, len(raw), piece):
            staged = bulk.decoded_and_staged(raw[start:start + piece], start, 256_000, True)
            rows += staged.text_rows + len(staged.assessments) + len(staged.forecasts)
        return rows

    def decode_only() -> int:
        for record in records:
            decode_event(record[3])
        return len(records)

    # the hand-off too (rebuild33): the records as aiokafka's fetcher makes them (each its own headers, a tuple), made the
    # decoders' tuples (`raw_records`) and pickled as the process pool pickles a piece; the decoder's side unpickles it,
    # decodes (`decoded_for_the_rebuild`) and pickles its answer; the main process unpickles that. Each side's CPU
    # apart (one process here: the sum of both is what the two processes spend)
    from aiokafka import ConsumerRecord
    consumer_records = [ConsumerRecord(r[0], r[1], r[2], r[4], 0, r[5], r[3], None, len(r[5] or b""), len(r[3]),
                                       # fresh objects per record, as the fetcher's (pickle's memo shares one)
                                       tuple((h[0].encode().decode(), bytes(h[1])) for h in form) if form else ())
                        for r in records] if headers else []
    sides = {"main": 0.0, "decoder": 0.0}

    def handoff() -> int:
        rows = 0
        clock = time.process_time
        for start in range(0, len(consumer_records), piece):
            t0 = clock()
            blob = pickle.dumps((bulk.decoded_for_the_rebuild, bulk.raw_records(consumer_records[start:start + piece]),
                                 start, 256_000, True), protocol=pickle.HIGHEST_PROTOCOL)
            t1 = clock()
            work, *work_args = pickle.loads(blob)  # noqa: S301 - made just above
            answer = pickle.dumps(work(*work_args), protocol=pickle.HIGHEST_PROTOCOL)
            t2 = clock()
            staged = pickle.loads(answer)  # noqa: S301 - made just above
            t3 = clock()
            sides["main"] += (t1 - t0) + (t3 - t2)
            sides["decoder"] += t2 - t1
            rows += staged.text_rows + len(staged.assessments) + len(staged.forecasts)
        return rows

    out: dict = {"events": len(records)}
    steps = [("decoder", decoder), ("decode_event", decode_only)]
    if headers:
        assert handoff() == len(records)  # warm
        times: dict[str, list[float]] = {"main": [], "decoder": []}
        for _ in range(passes):
            sides.update(main=0.0, decoder=0.0)
            handoff()
            for side in times:
                times[side].append(sides[side] / len(records) * 1e6)
        for side, measured in times.items():
            out[f"handoff_{side}"] = {"median_us": round(statistics.median(measured), 2), "best_us": round(min(measured), 2)}
    for name, work in steps:
        assert work() == len(records)  # warm, and every event staged
        times = []
        for _ in range(passes):
            started = time.process_time()
            work()
            times.append((time.process_time() - started) / len(records) * 1e6)
        out[name] = {"median_us": round(statistics.median(times), 2), "best_us": round(min(times), 2)}
    return out


def run(tree: str | None, kind: str, n: int, passes: int, form_header: bool = True) -> dict:
    env = dict(os.environ)
    if tree:
        env["PYTHONPATH"] = os.pathsep.join(str(Path(tree) / s) for s in SOURCES)
    done = subprocess.run([sys.executable, __file__, "--child", kind, "--events", str(n), "--passes", str(passes),
                           *([] if form_header else ["--no-form-header"])],
                          env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="a tree of the code to compare with (see the module)")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--corpora", default="published,mixed")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--no-form-header", dest="form_header", action="store_false",
                        help="records without the relay's header (a log written before it: resend25)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.events, args.passes, args.form_header)))
        return 0
    runs = []
    for pair in range(args.pairs):
        for kind in args.corpora.split(","):
            for label, tree in (("before", args.before), ("after", None)):
                if label == "before" and not args.before:
                    continue
                load = os.getloadavg()[0]
                result = run(tree, kind, args.events, args.passes, args.form_header)
                runs.append({"pair": pair + 1, "corpus": kind, "label": label, "load_1min": round(load, 1), **result})
                print(json.dumps(runs[-1]), flush=True)
    summary = {}
    for kind in args.corpora.split(","):
        for label in ("before", "after"):
            mine = [r for r in runs if r["corpus"] == kind and r["label"] == label]
            if mine:
                summary[f"{kind}/{label}"] = {
                    step: round(statistics.median(r[step]["median_us"] for r in mine), 2)
                    for step in ("decoder", "decode_event", "handoff_main", "handoff_decoder") if step in mine[0]}
    print(json.dumps(summary, indent=1))
    if args.out:
        args.out.write_text(json.dumps({"what": __doc__.splitlines()[0], "runs": runs, "median_of_medians_us": summary},
                                       indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
