"""What an SS 12000 import reads of reporting's directory for the organisers a `--reporting-token` is for that the
source has nothing of (round 33): before, each one's every entity (`command.held`); now all but its memberships
(`command.held_but_memberships`: one page of them, then `after` past them). Reporting is a stub answering
`GET /v1/directory/held` as reporting does (key order from `after`, `limit` a page, `next_after`), holding per other
organiser `--units` units, `--duties` duties, `--teaching` teaching assignments and `--memberships` memberships.
Measured per way, best of `--repeat`: requests, keys received, response bytes, the client's CPU seconds and wall
seconds (the stub's own work is in the wall time; reporting's database work per page is not measured here — it
scales with the pages asked).

    .venv/bin/python bench/ss12000_many_organisers.py [--organisers 5] [--memberships 100000] [--out FILE]
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from styrkedja_cli.ss12000.command import held, held_but_memberships


def holdings(units: int, duties: int, teaching: int, memberships: int) -> list[tuple[str, str]]:
    """One organiser's keys as reporting keys them (sorted), each with a source id."""
    def ident(n: int, kind: int) -> str:
        return str(uuid.UUID(int=(kind << 64) | n, version=4))
    keys = ([(f"unit:school_unit:2999{n:04}:{ident(n, 1)}", ident(n, 1)) for n in range(units)]
            + [(f"duty:{ident(n, 2)}", ident(n, 2)) for n in range(duties)]
            + [(f"teaching_assignment:{ident(n, 3)}", ident(n, 3)) for n in range(teaching)]
            + [(f"membership:{ident(n, 4)}", ident(n % max(units, 1), 1)) for n in range(memberships)])
    return sorted(keys)


class Stub:
    def __init__(self, keys: list[tuple[str, str]]) -> None:
        self.keys, self.names = keys, [k for k, _ in keys]
        self.requests = self.bytes = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        after, limit = request.url.params.get("after"), int(request.url.params["limit"])
        start = 0 if after is None else bisect.bisect_right(self.names, after)
        page = self.keys[start:start + limit]
        more = start + limit < len(self.keys)
        response = httpx.Response(200, json={
            "items": [{"organiser_id": "x", "entity_key": k} for k, _ in page], "source_ids": [s for _, s in page],
            "next_after": page[-1][0] if more and page else None})
        self.requests += 1
        self.bytes += len(response.content)
        return response


def measure(way: str, keys: list[tuple[str, str]], organisers: int) -> dict[str, Any]:
    stub = Stub(keys)
    client = httpx.Client(transport=httpx.MockTransport(stub.handle), base_url="http://reporting")
    cpu, wall = time.process_time(), time.perf_counter()
    got = 0
    for n in range(organisers):
        got += len(held(client, f"o{n}") if way == "whole" else held_but_memberships(client, f"o{n}")[0])
    return {"way": way, "requests": stub.requests, "keys_received": got, "response_bytes": stub.bytes,
            "cpu_seconds": round(time.process_time() - cpu, 3), "wall_seconds": round(time.perf_counter() - wall, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--organisers", type=int, default=5)
    parser.add_argument("--units", type=int, default=60)
    parser.add_argument("--duties", type=int, default=800)
    parser.add_argument("--teaching", type=int, default=4000)
    parser.add_argument("--memberships", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "ss12000-many-organisers.json")
    args = parser.parse_args()
    keys = holdings(args.units, args.duties, args.teaching, args.memberships)
    runs = {way: min((measure(way, keys, args.organisers) for _ in range(args.repeat)),
                     key=lambda r: r["wall_seconds"]) for way in ("whole", "but_memberships")}
    result = {"organisers": args.organisers, "per_organiser": {"units": args.units, "duties": args.duties,
              "teaching": args.teaching, "memberships": args.memberships}, "repeat": args.repeat,
              "load_average": os.getloadavg(), "runs": runs}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
