"""Reporting restart benchmark: seconds from starting the process again after a SIGKILL until
`/readyz` answers 200 (the consumer group has handed it its partitions), with the service's
default consumer settings, on the embedded broker (or the one the environment names).

    .venv/bin/python bench/restart.py [--kills 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from styrkedja_devstack.postgres import free_port  # noqa: E402
from styrkedja_devstack.services import SERVICES, ServiceProcess  # noqa: E402
from styrkedja_devstack.stack import Infrastructure  # noqa: E402
from styrkedja_kit.migrations import upgrade  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for reporting, e.g. STYRKEDJA_CONSUMER_GROUP_INSTANCE_ID=reporting-0")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "restart.json")
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="styrkedja-bench-restart-"))
    state.chmod(0o755)
    infra = Infrastructure.start(state)
    process = None
    try:
        spec = next(s for s in SERVICES if s.name == "reporting")
        url = infra.create_database(f"bench_restart_{uuid.uuid4().hex[:8]}")
        upgrade(spec.package, url)
        process = ServiceProcess(spec, database_url=url, kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
                                 port=free_port(), log_dir=state / "logs",
                                 extra_env={"STYRKEDJA_LOG_LEVEL": "WARNING",
                                            **dict(e.split("=", 1) for e in args.env)}).start()
        first_start = round(process.wait_ready(90), 2)
        print(f"first start: ready after {first_start} s", flush=True)
        process.stop()  # SIGTERM: the member leaves the group; the floor a restart cannot beat
        started = time.monotonic()
        process.start()
        process.wait_ready(90)
        clean_restart = round(time.monotonic() - started, 2)
        print(f"restart after SIGTERM: ready after {clean_restart} s", flush=True)
        samples = []
        for n in range(args.kills):
            time.sleep(3)  # a live member with a few heartbeats behind it, as in production
            process.kill()
            started = time.monotonic()
            process.start()
            process.wait_ready(90)
            samples.append(round(time.monotonic() - started, 2))
            print(f"kill {n + 1}: ready {samples[-1]} s after the restart", flush=True)
        results = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                   "infrastructure": infra.notes, "extra_env": args.env,
                   "first_start_ready_s": first_start, "ready_after_sigterm_restart_s": clean_restart,
                   "ready_after_restart_s": samples,
                   "median_s": statistics.median(samples), "max_s": max(samples)}
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
