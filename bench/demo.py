"""Demo benchmark: how long `styrkedja demo` takes to publish Mittköping into a running system.

Starts its own embedded PostgreSQL and broker on free ports (or the external ones named by the
usual environment variables) and the four services as processes, then runs the demo's publisher
twice: the first run stores everything, the second must store nothing. Writes
bench/results/demo.json and prints a summary. Numbers, never pass/fail.

    .venv/bin/python bench/demo.py [--students 6000] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from styrkedja_demo import generator, publisher
from styrkedja_devstack.postgres import free_port
from styrkedja_devstack.services import SERVICES, ServiceProcess
from styrkedja_devstack.stack import Infrastructure
from styrkedja_kit.migrations import upgrade

ROOT = Path(__file__).resolve().parents[1]


async def run_once(muni: generator.Municipality, urls: dict[str, str]) -> publisher.Summary:
    async with publisher.client(urls["assessment"]) as a, publisher.client(urls["forecast"]) as f, \
            publisher.client(urls["lika"]) as lk:
        return await publisher.publish(muni, publisher.Services(a, f, lk))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "demo.json")
    args = parser.parse_args()

    state = Path(tempfile.mkdtemp(prefix="styrkedja-bench-demo-"))
    state.chmod(0o755)
    infra = Infrastructure.start(state, pg_port=int(os.environ.get("STYRKEDJA_EMBEDDED_PG_PORT") or free_port()),
                                 kafka_port=int(os.environ.get("STYRKEDJA_EMBEDDED_KAFKA_PORT") or free_port()))
    processes: dict[str, ServiceProcess] = {}
    try:
        run = uuid.uuid4().hex[:8]
        for spec in SERVICES:
            url = infra.create_database(f"demo_{spec.name}_{run}")
            upgrade(spec.package, url)
            processes[spec.name] = ServiceProcess(
                spec, database_url=url, kafka_bootstrap_servers=infra.kafka_bootstrap_servers, port=free_port(),
                log_dir=state / "logs", extra_env={"STYRKEDJA_LOG_LEVEL": "WARNING",
                                                   "STYRKEDJA_CONSUMER_GROUP": f"reporting-demo-{run}"}).start()
        for process in processes.values():
            process.wait_ready(120)
        urls = {name: p.url for name, p in processes.items()}
        started = time.monotonic()
        muni = generator.generate(args.seed, args.students)
        generated = time.monotonic() - started
        first = asyncio.run(run_once(muni, urls))
        first_seconds = time.monotonic() - started - generated
        started = time.monotonic()
        second = asyncio.run(run_once(muni, urls))
        second_seconds = time.monotonic() - started
    finally:
        for process in processes.values():
            process.stop()
        infra.stop()
        shutil.rmtree(state, ignore_errors=True)
    result = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.machine(),
        "cpus": os.cpu_count(), "students": len(muni.students), "assessments": len(muni.assessments),
        "forecasts": len(muni.forecasts), "lika_self_assessments": len(muni.lika),
        "generate_seconds": round(generated, 1), "first_run_seconds": round(first_seconds, 1),
        "second_run_seconds": round(second_seconds, 1),
        "first_run": {k: dict(v) for k, v in first.counts.items()},
        "second_run": {k: dict(v) for k, v in second.counts.items()},
        "second_run_changed": second.changed(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    json.dump(result, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
