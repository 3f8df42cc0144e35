"""Reporting restart benchmark: seconds from starting the process again after a SIGKILL until
`/readyz` answers 200 (the consumer group has handed it its partitions), with the service's
default consumer settings, on the embedded broker or Apache Kafka. Where the time goes: each
sample is split into start-up (until `/healthz` answers: interpreter, imports, app start-up) and
the rest (database, broker and the group handing over the partitions).

    .venv/bin/python bench/restart.py [--kills 5] [--broker kafka]
        [--env STYRKEDJA_CONSUMER_GROUP_INSTANCE_ID=reporting-0]   # static membership
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

import httpx  # noqa: E402

from styrkedja_devstack.issuer import DevIssuer  # noqa: E402
from styrkedja_devstack.postgres import free_port  # noqa: E402
from styrkedja_devstack.services import SERVICES, ServiceProcess  # noqa: E402
from styrkedja_devstack.stack import Infrastructure  # noqa: E402
from styrkedja_kit.migrations import upgrade  # noqa: E402


def timed_start(process: ServiceProcess, timeout: float = 90) -> tuple[float, float]:
    """Start the process; seconds until /healthz answers (started up) and until /readyz does."""
    started = time.monotonic()
    process.start()
    live = None
    deadline = started + timeout
    while time.monotonic() < deadline:
        path = "/healthz" if live is None else "/readyz"
        try:
            if httpx.get(f"{process.url}{path}", timeout=2).status_code == 200:
                if live is None:
                    live = time.monotonic() - started
                    continue
                return round(live, 2), round(time.monotonic() - started, 2)
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError("reporting did not become ready")


def p90(samples: list[float]) -> float:
    return round(statistics.quantiles(samples, n=10, method="inclusive")[-1], 2) if len(samples) > 1 else samples[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for reporting, e.g. STYRKEDJA_CONSUMER_GROUP_INSTANCE_ID=reporting-0")
    parser.add_argument("--broker", choices=("embedded", "kafka"), default=None,
                        help="the broker to start (default: the embedded one, or $STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS)")
    parser.add_argument("--out", type=Path, default=None,
                        help="default: bench/results/restart[-<broker>][-static].json")
    args = parser.parse_args()
    if args.out is None:
        static = any(e.startswith("STYRKEDJA_CONSUMER_GROUP_INSTANCE_ID=") for e in args.env)
        args.out = ROOT / "bench" / "results" / (
            "restart" + (f"-{args.broker}" if args.broker else "") + ("-static" if static else "") + ".json")
    state = Path(tempfile.mkdtemp(prefix="styrkedja-bench-restart-"))
    state.chmod(0o755)
    infra = Infrastructure.start(state, broker_kind=args.broker)
    process = None
    try:
        spec = next(s for s in SERVICES if s.name == "reporting")
        url = infra.create_database(f"bench_restart_{uuid.uuid4().hex[:8]}")
        upgrade(spec.package, url)
        issuer = DevIssuer(state, port=None).start()  # the service checks tokens (only the probes are open)
        process = ServiceProcess(spec, database_url=url, kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
                                 port=free_port(), log_dir=state / "logs",
                                 extra_env={"STYRKEDJA_LOG_LEVEL": "WARNING", **infra.service_env,
                                            "STYRKEDJA_AUTH_ISSUER": issuer.url,
                                            **dict(e.split("=", 1) for e in args.env)})
        first_live, first_start = timed_start(process)
        print(f"first start: live after {first_live} s, ready after {first_start} s", flush=True)
        process.stop()  # SIGTERM: the member leaves the group; the floor a restart cannot beat
        clean_live, clean_restart = timed_start(process)
        print(f"restart after SIGTERM: live after {clean_live} s, ready after {clean_restart} s", flush=True)
        samples, lives = [], []
        for n in range(args.kills):
            time.sleep(3)  # a live member with a few heartbeats behind it, as in production
            process.kill()
            live, ready = timed_start(process)
            lives.append(live)
            samples.append(ready)
            print(f"kill {n + 1}: live {live} s, ready {ready} s after the restart", flush=True)
        results = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
                   "infrastructure": infra.notes, "extra_env": args.env,
                   "cpus": os.cpu_count(), "load_average_1m_at_end": round(os.getloadavg()[0], 1),
                   "first_start_live_s": first_live, "first_start_ready_s": first_start,
                   "sigterm_restart_live_s": clean_live, "ready_after_sigterm_restart_s": clean_restart,
                   "live_after_restart_s": lives, "ready_after_restart_s": samples,
                   "join_after_live_s": [round(r - live, 2) for r, live in zip(samples, lives, strict=True)],
                   "median_s": statistics.median(samples), "p90_s": p90(samples), "max_s": max(samples)}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results, indent=2))
        return 0
    finally:
        if process is not None:
            process.stop()
        infra.stop()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
