"""hostile39: what the names' whole-script look-alike rule (`no_whole_script_confusables`, round 39) costs
`decode_event`, in CPU µs per event, before and after, in alternated pairs — names38's harness and corpora (its
`SIDE`), with one corpus more:

* `latin_and_greek`: "Modersmål Ελληνικά <n>": a Latin word beside a word of another script, the only names whose
  words are looked up in Unicode's confusables (`look_alike_word`); taken (Λ, λ, η are drawn like no ASCII letter).

"before" is the contracts as committed at `--base` (the session's start), "after" the working tree's.

    .venv/bin/python bench/names39.py --pairs 4      # → bench/results/names39.json
"""

from __future__ import annotations

import sys
from pathlib import Path

import names38
from names38 import SIDE as SIDE38

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "names39.json"

_CORPORA = 'corpora = {"latin1_names": [], "sami_names": [], "cyrillic_names": [], "assessments": []}'
_NAMES = '"cyrillic_names": "Київська школа {}"}'
assert _CORPORA in SIDE38 and _NAMES in SIDE38, "names38's corpora changed"
SIDE = SIDE38.replace(_CORPORA, _CORPORA[:-1] + ', "latin_and_greek": []}').replace(
    _NAMES, _NAMES[:-1] + ', "latin_and_greek": "Modersmål Ελληνικά {}"}')


def main() -> int:
    return names38.main(SIDE, base="a47b8a7e", pairs=4, events=3_000, out=RESULTS, prefix="hostile39",
                        doc=__doc__)


if __name__ == "__main__":
    sys.exit(main())
