"""`python -m styrkedja_devstack run`: the whole system on one machine, no Docker."""

from __future__ import annotations

import argparse
import functools
import logging
import os
import re
import shutil
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import psutil

from .issuer import DEFAULT_PORT as ISSUER_PORT
from .issuer import DevIssuer
from .services import DASHBOARD, SERVICES, ServiceProcess, dashboard_env, run_workers
from .stack import ENV_KAFKA, ENV_POSTGRES, Infrastructure, broker_setting_problems

#: `make run` warns when the embedded broker's resident memory passes this (MiB), and again at each doubling.
ENV_MEMORY_WARN = "STYRKEDJA_EMBEDDED_BROKER_MEMORY_WARN_MIB"


def memory_warn_mib(environ: Mapping[str, str] | None = None) -> float:
    text = (os.environ if environ is None else environ).get(ENV_MEMORY_WARN, "").strip() or "512"
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise ValueError(f"{ENV_MEMORY_WARN}: a number of MiB above 0, not {text[:40]!r}")
    return value


class BrokerMemoryWatch:
    """The embedded broker keeps every record in memory (no retention): measured at ~72 MiB a minute
    at 1,000 items/s. Say so before the machine runs out, and say what to do instead."""

    def __init__(self, infra: Infrastructure, every: float = 10.0) -> None:
        broker = infra.broker
        self.pid = broker.process.pid if broker and broker.kind == "embedded" and broker.process else None
        self.threshold = memory_warn_mib() * 2**20
        self.every = every
        self.last = 0.0

    def check(self) -> None:
        now = time.monotonic()
        if self.pid is None or now - self.last < self.every:
            return
        self.last = now
        try:
            rss = psutil.Process(self.pid).memory_info().rss
        except psutil.Error:
            return
        if rss >= self.threshold:
            print(f"WARNING: the embedded broker holds {rss / 2**20:.0f} MiB and grows with every event (topics "
                  f"live in memory, no retention). For anything long-running use Apache Kafka: "
                  f"STYRKEDJA_BROKER=kafka make run (needs Java 17+ and Maven).", flush=True)
            self.threshold *= 2


#: (role, what it is for, the `styrkedja token` arguments besides --role)
TOKEN_ROLES = (
    ("platform", "a school platform: writes assessments, forecasts, support, directory", "--organiser ORG"),
    ("organiser_admin", "reads the whole organiser; LIKA of any unit; settings", "--organiser ORG"),
    ("area_manager", "reads one area's units", "--organiser ORG --area AREA_ID"),
    ("principal", "reads own units; writes their LIKA", "--organiser ORG --school-unit CODE"),
    ("teacher", "reads own groups", "--organiser ORG --group CODE/GROUP"),
    ("ict_coordinator", "writes LIKA of own units", "--organiser ORG --school-unit CODE"),
    ("politician", "organiser and area aggregates, suppressed", "--organiser ORG"),
    ("public", "organiser and nation aggregates, suppressed", ""),
    ("ops", "/v1/admin/* (no student data)", ""),
)


def styrkedja_command() -> str:
    """How to call this installation's `styrkedja` from the current folder.

    `make run` starts `.venv/bin/styrkedja` without activating the venv, so a printed `styrkedja token`
    is "command not found" in the newcomer's shell: name the venv's script unless the shell finds it."""
    here = Path(sys.executable).parent / "styrkedja"  # not resolved: the venv's bin, not the system python's
    found = shutil.which("styrkedja")
    if not here.exists() or (found is not None and Path(found).absolute() == here.absolute()):
        return "styrkedja"
    try:
        return str(here.relative_to(Path.cwd()))
    except ValueError:
        return str(here)


def token_help(state_dir: Path, command: str = "styrkedja") -> str:
    """How to get a bearer token per role from the dev issuer (every API call needs one)."""
    lines = [f"  tokens      every request needs one: TOKEN=$({command} token --state-dir {state_dir} --role ROLE ...)",
             "              then curl -H \"Authorization: Bearer $TOKEN\" ...; per role (ORG e.g. 2980 after "
             "`styrkedja demo`):"]
    for role, what, arguments in TOKEN_ROLES:
        lines.append(f"              --role {role:<16}{arguments:<36} {what}")
    return "\n".join(lines)


#: (the variable that moves it, its default) of each port `make run` lets one move
PG_PORT = ("STYRKEDJA_EMBEDDED_PG_PORT", 55432)
KAFKA_PORT = ("STYRKEDJA_EMBEDDED_KAFKA_PORT", 19092)
DEV_ISSUER_PORT = ("STYRKEDJA_DEV_ISSUER_PORT", int(ISSUER_PORT))
DASHBOARD_PORT = ("STYRKEDJA_DASHBOARD_PORT", DASHBOARD.port)


class BadPortSetting(ValueError):
    """A port variable that is no port: said as "cannot start" (exit 2), not int()'s traceback or the socket's
    OverflowError."""


def port_of(setting: tuple[str, int], environ: Mapping[str, str] | None = None) -> int:
    variable, default = setting
    found = port_setting(variable, str(default), environ)
    return default if found is None else found


def port_setting(variable: str, unset: str, environ: Mapping[str, str] | None = None) -> int | None:
    """The port `variable` names, None where it is unset (`unset` says what is used then); `BadPortSetting` for any
    other text than a whole number 1-65535. The one reading of a port variable, for `run` and every script that
    starts a stack (bench/demo.py read its two with a bare `int()`: "abc" was a traceback, "0" a random port, "70000"
    the socket's OverflowError after PostgreSQL had started)."""
    text = (os.environ if environ is None else environ).get(variable)
    if text is None:
        return None
    if re.fullmatch(r"\s*[0-9]{1,5}\s*", text) is None or not 0 < int(text) <= 65535:
        shown = repr(text if len(text) <= 40 else text[:39] + "\u2026")
        raise BadPortSetting(f"{variable}={shown} is not a port: a whole number 1-65535 (unset it for {unset})")
    return int(text)


def ports_wanted(environ: Mapping[str, str] | None = None) -> list[tuple[str, int, str | None]]:
    """(what, port, the variable that moves it) for every port `make run` listens on with this environment."""
    env = os.environ if environ is None else environ
    movable = [("embedded PostgreSQL", PG_PORT)] if not env.get(ENV_POSTGRES) else []
    movable += [("the broker", KAFKA_PORT)] if not env.get(ENV_KAFKA) else []
    movable.append(("the dev OIDC issuer", DEV_ISSUER_PORT))
    wanted: list[tuple[str, int, str | None]] = [(what, port_of(setting, env), setting[0]) for what, setting in movable]
    wanted += [(f"the {spec.name} service", spec.port, None) for spec in SERVICES]
    wanted.append(("the dashboard", port_of(DASHBOARD_PORT, env), DASHBOARD_PORT[0]))
    return wanted


def _taken(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind: TIME_WAIT is no owner
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def taken_ports(environ: dict[str, str] | None = None) -> list[str]:
    """One line per port that something else already holds, saying what to do.

    Checked before anything starts: a broker port held by another stack would otherwise be *answered*
    (our Tansu exits, the connection check reaches theirs and this run writes into another's topics),
    and a service's port shows up only as that service's early exit, after PostgreSQL and the migrations."""
    lines = []
    wanted = ports_wanted(environ)
    first: dict[int, str] = {}
    for what, port, variable in wanted:  # two of ours on one port: the second failed after the first had started
        if port in first:
            lines.append(f"port {port} is wanted by {first[port]} and by {what}: set {variable or 'the other'} to "
                         "another port")
        first.setdefault(port, what)
    for what, port, variable in wanted:
        if _taken(port):
            move = f", or set {variable} to a free port" if variable else " (its port is fixed)"
            lines.append(f"port {port} ({what}) is taken: another `make run` (a second clone?) or a server of "
                         f"yours holds it; stop it (`ss -ltnp 'sport = :{port}'` shows which){move}")
    return lines


def setting_problems() -> list[str]:
    """Why the variables `run` reads would stop it part-way, one line each, checked before anything starts:
    STYRKEDJA_BROKER was read after PostgreSQL had started, STYRKEDJA_WORKERS_* after the migrations, and
    STYRKEDJA_EMBEDDED_BROKER_MEMORY_WARN_MIB after PostgreSQL and the broker had started, outside the `finally`
    that stops them: a ValueError's traceback, and both left running."""
    problems = []
    checks: list[Callable[[], object]] = [ports_wanted, memory_warn_mib]
    checks += [functools.partial(run_workers, spec.name) for spec in SERVICES]
    for check in checks:
        try:
            check()
        except ValueError as error:  # BadPortSetting too
            problems.append(str(error))
    # the broker's kind, and the Apache Kafka node's heap and log level (read after PostgreSQL had started)
    return problems + broker_setting_problems() + service_setting_problems()


def service_setting_problems() -> list[str]:
    """The services' own settings as each will read them from this environment at its start (`<package>.settings`),
    one line per variable refused, naming the services that read it: a bad one (`STYRKEDJA_REBUILD_PASS_PARTS=abc`,
    reporting's since knobs37; `STYRKEDJA_OUTBOX_BATCH_SIZE=0`, every service's) stopped those services alone after
    the migrations — "exited before it was ready (is the port taken?)", the reason a traceback in their logs. Those
    `run` sets itself (the database, the broker, the issuer, the name) are given, not read."""
    import importlib

    from pydantic import ValidationError

    from styrkedja_kit.settings import validation_lines

    readers: dict[str, list[str]] = {}
    for spec in SERVICES:
        settings = getattr(importlib.import_module(f"{spec.package}.settings"), f"{spec.name.capitalize()}Settings")
        try:
            settings(database_url="postgresql://postgres@127.0.0.1:1/x", kafka_bootstrap_servers="127.0.0.1:1",
                     auth_issuer="http://127.0.0.1:1", service_name=spec.name)
        except ValidationError as error:
            for line in validation_lines(error):
                readers.setdefault(line, []).append(spec.name)
    return [f"{line} (read by {', '.join(names)})" for line, names in readers.items()]


def state_dir_problem(state_dir: Path) -> str | None:
    """Why `state_dir` cannot hold the stack's state, or None: checked before anything starts (a file there was
    FileExistsError's traceback after "[1/4] starting")."""
    for folder in (state_dir, *state_dir.parents):
        if folder.exists():
            if not folder.is_dir():
                return f"--state-dir {state_dir} cannot be a folder: {folder} is a file"
            if not os.access(folder, os.W_OK | os.X_OK):
                return f"--state-dir {state_dir} cannot be written: {folder} is not writable by this user"
            return None
    return None


def run(state_dir: Path) -> int:
    started = time.monotonic()
    problem = state_dir_problem(state_dir)
    taken = [problem] if problem else setting_problems()
    taken = taken or taken_ports()
    if taken:
        print("cannot start: " + "\n              ".join(taken), file=sys.stderr, flush=True)
        return 2
    print(f"[1/4] starting PostgreSQL and the broker (state in {state_dir}) ...", flush=True)
    infra = Infrastructure.start(state_dir,
                                 pg_port=port_of(PG_PORT), kafka_port=port_of(KAFKA_PORT))
    memory_watch = BrokerMemoryWatch(infra)
    processes: list[ServiceProcess] = []
    issuer: DevIssuer | None = None
    try:
        issuer = DevIssuer(state_dir, port=port_of(DEV_ISSUER_PORT)).start()
        infra.notes.append(f"dev OIDC issuer on {issuer.url} (key: {issuer.folder / 'key.pem'})")
        for note in infra.notes:
            print(f"      {note}", flush=True)
        print("[2/4] creating databases and running migrations ...", flush=True)
        urls = infra.migrate_all()
        print("[3/4] creating topics ...", flush=True)
        infra.ensure_topics()
        print("[4/4] starting services ...", flush=True)
        for spec in SERVICES:
            processes.append(ServiceProcess(spec, database_url=urls[spec.name],
                                            kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
                                            log_dir=state_dir / "logs", workers=run_workers(spec.name),
                                            extra_env={**infra.service_env,
                                                       "STYRKEDJA_AUTH_ISSUER": issuer.url}).start())
        by_name = {p.spec.name: p for p in processes}
        dashboard_port = port_of(DASHBOARD_PORT)
        processes.append(ServiceProcess(
            DASHBOARD, database_url="", kafka_bootstrap_servers="", port=dashboard_port, log_dir=state_dir / "logs",
            extra_env=dashboard_env(issuer_url=issuer.url, reporting_url=by_name["reporting"].url,
                                    lika_url=by_name["lika"].url, port=dashboard_port)).start())
        for process in processes:
            process.wait_ready()
        print(f"\nStyrkedja is ready after {time.monotonic() - started:.1f} s:", flush=True)
        for process in processes:
            docs = "sign in with the dev issuer's page" if process.spec is DASHBOARD else f"API docs {process.url}/docs"
            workers = f", {process.workers} workers" if process.workers > 1 else ""
            print(f"  {process.spec.name:<11} {process.url}  ({docs}{workers})", flush=True)
        print(f"  kafka       {infra.kafka_bootstrap_servers}\n  postgres    {infra.postgres_url}", flush=True)
        print(f"  logs        {state_dir / 'logs'}", flush=True)
        print(token_help(state_dir, styrkedja_command()) + "\nPress Ctrl-C to stop.", flush=True)
        stop = False

        def on_signal(*_: object) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        while not stop:
            for process in processes:
                if process.process and process.process.poll() is not None:
                    print(f"{process.spec.name} exited ({process.process.returncode}); restarting", flush=True)
                    process.start()
            memory_watch.check()
            time.sleep(0.5)
        print("\nstopping ...", flush=True)
        return 0
    finally:
        for process in reversed(processes):
            process.stop()
        if issuer:
            issuer.stop()
        infra.stop()
        print("stopped.", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="styrkedja_devstack")
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="start PostgreSQL, the broker, the four services and the dashboard")
    run_parser.add_argument("--state-dir", type=Path, default=Path(".styrkedja"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.command == "run":
        return run(args.state_dir.resolve())
    return 2


if __name__ == "__main__":
    sys.exit(main())
