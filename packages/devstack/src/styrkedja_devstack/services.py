"""The four services as operating-system processes (used by `make run` and the end-to-end tests)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    port: int

    @property
    def package(self) -> str:
        return f"styrkedja_{self.name}"

    @property
    def database(self) -> str:
        return f"styrkedja_{self.name}"


SERVICES = (
    ServiceSpec("assessment", 8101),
    ServiceSpec("forecast", 8102),
    ServiceSpec("lika", 8103),
    ServiceSpec("reporting", 8104),
)

#: The fifth deployable part: no database, no broker; it talks to the services' HTTP APIs only,
#: so it is not in SERVICES (which get a database and migrations).
DASHBOARD = ServiceSpec("dashboard", 8100)

#: uvicorn worker processes per service under `styrkedja run` / `make run` (tests start one unless
#: they ask). Each worker serves HTTP; one of them (holder of a PostgreSQL advisory lock) runs the
#: consumer, and the outbox relay's lock picks one publisher. One each for the readers: on a 2-core
#: machine a second worker showed no gain for reads (bench/README.md) and doubles memory. Two for the
#: bulk writers (assessment, forecast; issue 16, bench/results/write6.json): a batch's Python is about
#: two thirds of its CPU, and one worker's event loop was on a CPU or waiting for one 90-95 % of the
#: time in every run, so one worker caps the batch endpoint at one core's worth (~1 / 45 µs per item,
#: ~22k items/s on a quiet machine, less on a shared one); two let the service use both cores.
#: `STYRKEDJA_WORKERS_<NAME>` (e.g. STYRKEDJA_WORKERS_REPORTING=4) overrides; images read
#: `WEB_CONCURRENCY`.
RUN_WORKERS = {"assessment": 2, "forecast": 2, "lika": 1, "reporting": 1, "dashboard": 1}


#: seconds uvicorn's supervisor waits for a worker's answer to its health check before it kills the worker and starts
#: another (`--timeout-worker-healthcheck`; uvicorn's default is 5). The check is answered by a thread of the worker,
#: which needs the GIL: a worker that holds it — a long C call, a full collection over a large heap — or gets little
#: CPU on a busy machine is slow but healthy, and killing it loses the requests it is answering and makes its consumer
#: apply its batch again. At 6.4M events under load 7-11 (niced) one was killed that way during `make bench`'s reads
#: (bench/README.md, scale28). A worker that has died is noticed at once whatever this is (its process is gone);
#: this bounds only how long a hung one (alive, never answering) stays before it is replaced, while its siblings
#: serve and its consumer's partitions move to them after the group's session (6 s, `kafka.group_timing`): a
#: stalled worker loses its partitions (a rebalance, nothing lost) long before it is killed.
WORKER_HEALTHCHECK_TIMEOUT_S = 60


def run_workers(name: str, environ: dict[str, str] | None = None) -> int:
    """Worker processes for `name` under `styrkedja run`: the override variable, else RUN_WORKERS."""
    value = (os.environ if environ is None else environ).get(f"STYRKEDJA_WORKERS_{name.upper()}", "")
    if not value.strip():
        return RUN_WORKERS.get(name, 1)
    if not value.strip().isdigit() or not 1 <= int(value) <= 64:
        raise ValueError(f"STYRKEDJA_WORKERS_{name.upper()}: a whole number from 1 to 64, not {value!r}")
    return int(value)


def dashboard_env(*, issuer_url: str, reporting_url: str, lika_url: str, port: int) -> dict[str, str]:
    return {"STYRKEDJA_DASHBOARD_ISSUER": issuer_url, "STYRKEDJA_DASHBOARD_REPORTING_URL": reporting_url,
            "STYRKEDJA_DASHBOARD_LIKA_URL": lika_url, "STYRKEDJA_DASHBOARD_PUBLIC_URL": f"http://127.0.0.1:{port}"}


def database_url(server_url: str, database: str) -> str:
    """`postgresql://user@host:port` + database → the asyncpg SQLAlchemy URL a service wants."""
    return server_url.replace("postgresql://", "postgresql+asyncpg://", 1).rstrip("/") + f"/{database}"


class ServiceProcess:
    """One service under uvicorn in its own process group, so a test can SIGKILL it whole."""

    def __init__(self, spec: ServiceSpec, *, database_url: str, kafka_bootstrap_servers: str,
                 port: int | None = None, log_dir: Path | None = None, extra_env: dict[str, str] | None = None,
                 workers: int = 1):
        if workers < 1:
            raise ValueError("workers: at least 1")
        self.spec = spec
        self.workers = workers
        self.port = port or spec.port
        # /metrics on the API's port (off by default: round 30o): the devstack listens on 127.0.0.1 alone, and the
        # bench and the tests read the counters there
        self.env = {"STYRKEDJA_METRICS_ON_APP_PORT": "true", **os.environ,
                    "STYRKEDJA_SERVICE_NAME": spec.name, "STYRKEDJA_DATABASE_URL": database_url,
                    "STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers, **(extra_env or {})}
        self.log_dir = log_dir
        self.process: subprocess.Popen[bytes] | None = None
        self._terminated: subprocess.Popen[bytes] | None = None  # the process `terminate` signalled

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServiceProcess:
        out: int | IO[bytes] = subprocess.DEVNULL
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{self.spec.name}.log", "ab")  # noqa: SIM115 (the child holds it)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", f"{self.spec.package}.main:app", "--host", "127.0.0.1",
             "--port", str(self.port), "--no-access-log", "--no-server-header", "--timeout-graceful-shutdown", "20",
             "--workers", str(self.workers), "--timeout-worker-healthcheck", str(WORKER_HEALTHCHECK_TIMEOUT_S),
             "--http", "styrkedja_kit.server:ProblemHttpProtocol"],
            env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def wait_ready(self, timeout: float = 60) -> float:
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                where = f"; see {self.log_dir / (self.spec.name + '.log')}" if self.log_dir else ""
                raise RuntimeError(f"{self.spec.name} exited with {self.process.returncode} before it was ready "
                                   f"(is port {self.port} taken?){where}")
            try:
                response = httpx.get(f"{self.url}/readyz", timeout=2)
                if response.status_code == 200:
                    answered = response.json().get("service")
                    if answered not in (None, self.spec.name):  # someone else holds our port
                        raise RuntimeError(f"{self.spec.name}: port {self.port} is answered by {answered}")
                    return time.monotonic() - started
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.spec.name} not ready within {timeout} s")

    def kill(self) -> None:
        """SIGKILL, no chance to clean up: what a crash looks like."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def terminate(self) -> None:
        """SIGTERM without waiting (`stop` then waits), once per start: stopping several services at once."""
        if self.process and self.process.poll() is None and self._terminated is not self.process:
            self._terminated = self.process
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM and wait: the service finishes the batch in hand and closes cleanly."""
        if self.process and self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
