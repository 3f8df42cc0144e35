"""The compiled shadow's share of a rebuild decoder's CPU per event (issue 16, decode38): in ONE process, over the held
log's records (`bench/decode36.py --held … --records <file>` writes them), rounds alternating the compiled shadows on
and off (`envelope._COMPILED`, None: the pydantic-core shadow as before), µs of process CPU per event for
`decode_plain` alone and for a decoder's whole work (`decoded_and_staged` in pieces of `DECODE_PIECE`, the facts as COPY
text, the collector quieted as the rebuild quiets it). Both sides' answers are compared first (equal, or it stops).

    .venv/bin/python bench/decode38.py --records /tmp/held.pickle --rounds 8 --out bench/results/decode38-inproc.json
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import statistics
import time
from pathlib import Path
from typing import Any


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from styrkedja_contracts import envelope
    from styrkedja_reporting.rebuild import bulk

    raw = pickle.loads(args.records.read_bytes())  # noqa: S301 - this bench's own file
    values = [record[3] for record in raw]
    envelope._shadows_once()
    compiled = envelope._COMPILED
    assert compiled is not None

    def decoder() -> list[Any]:
        answers = []
        for start in range(0, len(raw), bulk.DECODE_PIECE):
            staged = bulk.decoded_and_staged(raw[start:start + bulk.DECODE_PIECE], start, 256_000, True)
            answers.append((staged.texts, staged.text_rows, staged.dead, len(staged.small), staged.read))
        return answers

    def plain() -> None:
        decode = envelope.decode_plain
        for value in values:
            decode(value)

    def side(on: bool) -> None:
        envelope._COMPILED = compiled if on else None

    answers = {}
    for on in (False, True):
        side(on)
        answers[on] = pickle.dumps(decoder())
    if answers[False] != answers[True]:
        raise SystemExit("the two sides' answers differ")
    taken = sum(type(envelope.decode_plain(value)).__name__ == "CompiledEvent" for value in values)
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, *gc.get_threshold()[1:])  # the rebuild's `_quiet_collector`

    def timed(work: Any) -> float:
        best = []
        for _ in range(args.passes):
            started = time.process_time()
            work()
            best.append((time.process_time() - started) / len(raw) * 1e6)
        return statistics.median(best)

    rounds = []
    for n in range(args.rounds):
        order = (False, True) if n % 2 == 0 else (True, False)
        got: dict[str, Any] = {"round": n + 1, "order": ["compiled" if on else "shadow" for on in order],
                               "load": os.getloadavg()[0]}
        for on in order:
            side(on)
            name = "compiled" if on else "shadow"
            got[f"decode_plain_{name}"] = round(timed(plain), 3)
            got[f"decoder_{name}"] = round(timed(decoder), 3)
        got["decoder_ratio"] = round(got["decoder_compiled"] / got["decoder_shadow"], 3)
        got["decode_plain_saved"] = round(got["decode_plain_shadow"] - got["decode_plain_compiled"], 3)
        rounds.append(got)
        print(json.dumps(got), flush=True)
    side(True)
    out = {"events": len(raw), "taken_by_the_compiled_shadow": taken, "passes": args.passes, "rounds": rounds,
           **{f"median_{key}": statistics.median(r[key] for r in rounds) for key in (
               "decode_plain_shadow", "decode_plain_compiled", "decoder_shadow", "decoder_compiled",
               "decoder_ratio", "decode_plain_saved")},
           "answers_equal": True}
    print(json.dumps({k: v for k, v in out.items() if k != "rounds"}))
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
