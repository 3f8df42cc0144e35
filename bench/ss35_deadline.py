"""ss35: what the page deadline on every socket read (`ss12000/deadline.py`) costs the import's reading.

A server in a process of its own serves `--pages` pages of `--items` organisations each on 127.0.0.1; the importer's
`HttpSource` reads the whole list in this process, `--pairs` times each way, alternated: "before" with a plain httpx
client (the client of the code before: reads bounded per read only), "after" with the bounded one (the default).
Said: this process's CPU per item (the server's is not counted), wall, the load average; JSON to bench/results/.

    .venv/bin/python bench/ss35_deadline.py --pairs 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

import httpcore
import httpx

from styrkedja_cli.ss12000.deadline import Deadline, _Stream
from styrkedja_cli.ss12000.source import HttpSource

SERVER = r"""
import json, socket, sys, threading
pages, items = int(sys.argv[1]), int(sys.argv[2])
bodies = {}
for p in range(pages):
    data = [{"id": f"o{p}-{n}", "displayName": f"Enhet {n}", "organisationType": "Skolenhet",
             "schoolUnitCode": f"{10000000 + p * items + n}", "parentOrganisation": {"id": "huv"}}
            for n in range(items)]
    bodies[str(p)] = json.dumps({"data": data, "pageToken": str(p + 1) if p + 1 < pages else None}).encode()
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(8)
print(listener.getsockname()[1], flush=True)
def serve(conn):
    pending = b""
    with conn:
        while True:
            while b"\r\n\r\n" not in pending:
                data = conn.recv(65536)
                if not data:
                    return
                pending += data
            head, pending = pending.split(b"\r\n\r\n", 1)
            target = head.split(b" ", 2)[1].decode()
            token = "0"
            if "pageToken=" in target:
                token = target.split("pageToken=")[1].split("&")[0]
            body = bodies[token]
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""


def one_read(url: str, bounded: bool) -> tuple[int, float, float]:
    """(items read, CPU seconds of this process, wall seconds) of one whole read of the list."""
    client = None if bounded else httpx.Client(base_url=url, headers={"Authorization": "Bearer t"}, timeout=60,
                                               follow_redirects=False)
    source = HttpSource(url, "t", client=client, page_size=100_000)
    cpu, wall = time.process_time(), time.perf_counter()
    count = len(source.read("organisations", None, lambda *_: None))
    return count, time.process_time() - cpu, time.perf_counter() - wall


def wrapper_cost(calls: int = 200_000) -> dict[str, float]:
    """The wrapper's own CPU per socket read: `_Stream.read` over a stream that returns at once, against that stream
    called directly (what the read adds besides the socket)."""
    class Instant(httpcore.NetworkStream):
        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            return b"x"

    inner = Instant()
    deadline = Deadline()
    deadline.at = time.monotonic() + 3600
    wrapped = _Stream(inner, deadline)
    out = {}
    for name, stream in (("direct", inner), ("wrapped", wrapped)):
        began = time.process_time()
        for _ in range(calls):
            stream.read(65536, 60.0)
        out[f"{name}_us_per_read"] = round((time.process_time() - began) / calls * 1e6, 3)
    return out


def reads_per_list(url: str) -> int:
    """How many socket reads one whole read of the list takes (the wrapper's calls)."""
    count = [0]
    original = _Stream.read

    def counted(self: _Stream, max_bytes: int, timeout: float | None = None) -> bytes:
        count[0] += 1
        return original(self, max_bytes, timeout)

    _Stream.read = counted  # type: ignore[method-assign]
    try:
        one_read(url, True)
    finally:
        _Stream.read = original  # type: ignore[method-assign]
    return count[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--items", type=int, default=5000)
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(args.pages), str(args.items)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        one_read(url, True)  # (warm: imports, the first connection)
        reads = reads_per_list(url)
        runs: list[dict[str, object]] = []
        for pair in range(args.pairs):
            order = (False, True) if pair % 2 == 0 else (True, False)
            for bounded in order:
                count, cpu, wall = one_read(url, bounded)
                runs.append({"pair": pair, "way": "after" if bounded else "before", "items": count,
                             "cpu_s": round(cpu, 4), "wall_s": round(wall, 4),
                             "cpu_us_per_item": round(cpu / count * 1e6, 3), "load1": os.getloadavg()[0]})
                print(runs[-1], flush=True)
    finally:
        server.kill()
        server.wait()
    ratios = []
    for pair in range(args.pairs):
        by_way = {r["way"]: r for r in runs if r["pair"] == pair}
        ratios.append(float(by_way["after"]["cpu_s"]) / float(by_way["before"]["cpu_s"]))  # type: ignore[arg-type]
    summary = {
        "items_per_read": args.pages * args.items, "pairs": args.pairs,
        "cpu_us_per_item_before_median": median(float(r["cpu_us_per_item"]) for r in runs  # type: ignore[arg-type]
                                                if r["way"] == "before"),
        "cpu_us_per_item_after_median": median(float(r["cpu_us_per_item"]) for r in runs  # type: ignore[arg-type]
                                               if r["way"] == "after"),
        "cpu_ratio_after_to_before_per_pair": [round(r, 3) for r in ratios],
        "cpu_ratio_median": round(median(ratios), 3),
        "socket_reads_per_list": reads, **wrapper_cost(),
        "load1_range": [min(float(r["load1"]) for r in runs), max(float(r["load1"]) for r in runs)],  # type: ignore[arg-type]
    }
    print(json.dumps(summary, indent=1))
    out = Path(__file__).parent / "results" / "ss35_deadline.json"
    out.write_text(json.dumps({"summary": summary, "runs": runs}, indent=1) + "\n")


if __name__ == "__main__":
    main()
