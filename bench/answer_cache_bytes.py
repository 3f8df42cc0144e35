"""What the answer cache (`styrkedja_reporting.access.answers`) holds in memory against what it counts.

The real middleware (`AnswerCache`) in front of a stand-in route that answers as reporting's routes do (starlette's
`Response`: `vary: Accept` and its media type; a CSV with its `content-disposition`), each answer a different query
(as a dashboard's reads are: units, subjects, years), one reader class. `tracemalloc` measures what the kept answers
allocated (their bodies, headers, ETags, keys and the cache's entries), which is compared with the bytes the cache
counts against `read_cache_max_mb`. No database, no server: python bench/answer_cache_bytes.py [--entries N].
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import tracemalloc
from typing import Any

from starlette.responses import Response

from styrkedja_kit.auth import principal_from_claims
from styrkedja_reporting.access import answers as cache


def _route(body_bytes: int, csv: bool):
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        p = scope["state"]["principal"]
        # as `reader_class`: a tuple made anew by each request's route
        scope["state"][cache.CLASS_KEY] = ((p.roles, p.organisers, p.areas, p.school_units, p.groups), (), None)
        query = scope["query_string"].decode()
        if csv:
            headers = {"vary": "Accept", "content-disposition": "attachment; filename=\"rapporteringsgrad-2120000142"
                       f"-{query[-12:]}-2026-12-05.csv\"; filename*=UTF-8''rapporteringsgrad-2120000142-{query[-12:]}"
                       "-2026-12-05.csv"}
            answer = Response(b"x" * body_bytes, media_type="text/csv; charset=utf-8", headers=headers)
        else:
            answer = Response(b"x" * body_bytes, media_type="application/json", headers={"vary": "Accept"})
        await answer(scope, receive, send)
    return app


async def _measure(entries: int, body_bytes: int, csv: bool, warm_queries: bool) -> dict[str, Any]:
    answers = cache.Answers(max_entries=entries + 1, max_bytes=2**40, max_answer_bytes=2**30)
    versions = cache.StateVersions(_version)
    middleware = cache.AnswerCache(_route(body_bytes, csv), prefixes=("/v1/figures/",), versions=lambda app: versions,
                                   lag=lambda: 0, answers=answers)
    principal = principal_from_claims({"sub": "u-1", "roles": ["organiser_admin"], "organisers": ["2120000142"]})
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    def query_of(i: int) -> bytes:
        return f"level=school_unit&unit_id={10000000 + i}&subject_code=GRGRMAT01&school_year=2026/27".encode()

    async def one(i: int) -> None:
        query = query_of(i)
        scope = {"type": "http", "method": "GET", "path": "/v1/figures/drill-down", "query_string": query,
                 "headers": [(b"accept", b"application/json")], "state": {"principal": principal}, "app": object()}
        await middleware(scope, receive, send)
        sent.clear()

    await one(-1)  # the first generation and its version made outside the measure
    cache._query_items.cache_clear()
    if warm_queries:  # the parsed queries (`_query_items`, 4096 kept whether or not an answer is) left out
        for i in range(entries):
            cache._query_items(query_of(i))
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for i in range(entries):
        await one(i)
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    held = sum(s.size_diff for s in after.compare_to(before, "filename"))
    (generation,) = answers._spaces.values()
    counted = generation.size
    lru = cache._query_items.cache_info().currsize
    return {"entries": len(generation.answers), "body_bytes": body_bytes, "csv": csv, "parsed_queries": not warm_queries,
            "counted_per_entry": round(counted / len(generation.answers)),
            "held_per_entry": round(held / entries), "held_over_counted": round(held / counted, 2),
            "query_items_cached": lru}


async def _version() -> cache.StateRows:
    return (("styrkedja.assessments", 0, None),)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=2000)
    args = parser.parse_args()
    rows = [asyncio.run(_measure(args.entries, size, csv, warm)) for size in (100, 1000, 4000, 32000)
            for csv in (False, True) for warm in (False, True)]
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
