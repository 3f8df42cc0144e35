"""Issue 16, apply39: two probes of the apply path's Python beside `apply37_pairs.py`.

`--probe arguments`: `profile_apply.py` (its arguments after `--`) with asyncpg's prepared statements wrapped: per
statement, the array parameters' elements asyncpg encoded over the whole run (each element costs its array encoder one to
two `isinstance` checks against collections.abc classes, a Python-level `ABCMeta.__instancecheck__` apiece).
`--probe encode`: on an embedded PostgreSQL of its own, the Python CPU per call of a batch's claim arrays (5,000 ids,
organisers, topics, digests: `consumer._claim_new`'s parameters) against the same strings sent as one text, alternated.

    .venv/bin/python bench/apply39_probes.py --probe encode
    .venv/bin/python bench/apply39_probes.py --probe arguments -- --data deadline-week --students 1200 --batch 5000 \
        --warm 5000 --no-profile
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import runpy
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def arguments(profile_args: list[str]) -> None:
    import asyncpg.prepared_stmt as prepared

    elements: collections.Counter[str] = collections.Counter()
    types: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    original = prepared.PreparedStatement._PreparedStatement__bind_execute  # type: ignore[attr-defined]

    async def bind(self, args, limit, timeout, **kw):  # noqa: ANN001, ANN003, ANN202
        query = " ".join(self._query.split())[:90]
        for arg in args:
            if isinstance(arg, (list, tuple)):
                elements[query] += len(arg)
                if arg:
                    types[query][type(arg[0]).__name__] += len(arg)
        return await original(self, args, limit, timeout, **kw)

    prepared.PreparedStatement._PreparedStatement__bind_execute = bind  # type: ignore[attr-defined]
    sys.argv = ["profile_apply.py", *profile_args]
    try:
        runpy.run_path(str(ROOT / "bench" / "profile_apply.py"), run_name="__main__")
    finally:
        for query, n in elements.most_common(15):
            print(n, dict(types[query]), query)


async def _encode(url: str, rounds: int) -> dict:
    import asyncpg

    conn = await asyncpg.connect(url)
    n = 5000
    ids = [uuid.uuid4() for _ in range(n)]
    organisers, topics = ["2999"] * n, ["styrkedja.assessment.v1"] * n
    digests = [os.urandom(16) for _ in range(n)]
    arrays = await conn.prepare("SELECT cardinality(CAST($1 AS uuid[])) + cardinality(CAST($2 AS text[])) + "
                                "cardinality(CAST($3 AS text[])) + cardinality(CAST($4 AS bytea[]))")
    one_text = await conn.prepare("SELECT length(CAST($1 AS text))")
    strings = [str(u) for u in ids]  # made before the clock: what one text would cost on top is their making
    spent: dict[str, list[float]] = {"arrays": [], "one_text": []}
    for rep in range(rounds):
        for name in ("arrays", "one_text") if rep % 2 == 0 else ("one_text", "arrays"):
            started = time.process_time()
            for _ in range(5):
                if name == "arrays":
                    await arrays.fetchval(ids, organisers, topics, digests)
                else:
                    await one_text.fetchval(json.dumps([strings, organisers, topics]))
            spent[name].append((time.process_time() - started) / 5 * 1e3)
    await conn.close()
    return {name: round(statistics.median(ms), 2) for name, ms in spent.items()}


def encode(rounds: int) -> None:
    from styrkedja_devstack.postgres import EmbeddedPostgres

    state = Path(tempfile.mkdtemp(prefix="styrkedja-apply39-"))
    state.chmod(0o755)
    pg = EmbeddedPostgres(state / "pgdata").start()
    try:
        result = asyncio.run(_encode(pg.server_url() + "/postgres", rounds))
    finally:
        pg.stop()
    print(json.dumps({"python_cpu_ms_per_batch_of_5000": result, "load": [round(x, 2) for x in os.getloadavg()]}))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--probe", choices=("arguments", "encode"), required=True)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("rest", nargs="*", help="arguments: profile_apply.py's arguments (after --)")
    args = parser.parse_args()
    if args.probe == "arguments":
        arguments(args.rest)
    else:
        encode(args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
