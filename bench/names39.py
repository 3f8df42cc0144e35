"""hostile39: what the names' whole-script look-alike rule (`no_whole_script_confusables`, round 39) costs
`decode_event`, in CPU µs per event, before and after, in alternated pairs — names38's harness and corpora (its
`SIDE`), with one corpus more:

* `latin_and_greek`: "Modersmål Ελληνικά <n>": a Latin word beside a word of another script, the only names whose
  words are looked up in Unicode's confusables (`look_alike_word`); taken (Λ, λ, η are drawn like no ASCII letter).

"before" is the contracts as committed at `--base` (the session's start), "after" the working tree's.

    .venv/bin/python bench/names39.py --pairs 4      # → bench/results/names39.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from measured import contracts_pairs
from names38 import SIDE as SIDE38

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "names39.json"

_CORPORA = 'corpora = {"latin1_names": [], "sami_names": [], "cyrillic_names": [], "assessments": []}'
_NAMES = '"cyrillic_names": "Київська школа {}"}'
assert _CORPORA in SIDE38 and _NAMES in SIDE38, "names38's corpora changed"
SIDE = SIDE38.replace(_CORPORA, _CORPORA[:-1] + ', "latin_and_greek": []}').replace(
    _NAMES, _NAMES[:-1] + ', "latin_and_greek": "Modersmål Ελληνικά {}"}')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="a47b8a7e", help="the commit of the code before")
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--events", type=int, default=3_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    contracts_pairs(SIDE,
                    what="decode_event CPU µs per event of organisation.unit_upserted events with a name of their own "
                         "each, and of assessments: before (--base) and after (the working tree), alternated pairs",
                    base=args.base, pairs=args.pairs,
                    events=args.events, repeats=args.repeats, out=args.out, prefix="hostile39")
    return 0


if __name__ == "__main__":
    sys.exit(main())
