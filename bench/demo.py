"""Demo benchmark: how long `styrkedja demo` takes to publish Mittköping into a running system.

Starts its own embedded PostgreSQL and broker on free ports (or the external ones named by the
usual environment variables), a dev OIDC issuer, and the four services as processes checking its
tokens, then runs `styrkedja demo` twice as a newcomer would (generate, SS 12000 dump, directory
import, publish with a platform client's and the principals' tokens): the first run stores
everything, the second must store nothing. Writes bench/results/demo.json and prints a summary.
Numbers, never pass/fail.

    .venv/bin/python bench/demo.py [--students 6000] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from typer.testing import CliRunner

from styrkedja_cli.main import app
from styrkedja_demo import generator
from styrkedja_devstack.__main__ import KAFKA_PORT, PG_PORT, BadPortSetting, port_setting
from styrkedja_devstack.issuer import DevIssuer
from styrkedja_devstack.postgres import free_port
from styrkedja_devstack.services import SERVICES, ServiceProcess
from styrkedja_devstack.stack import Infrastructure, broker_setting_problems
from styrkedja_kit.migrations import upgrade

ROOT = Path(__file__).resolve().parents[1]


def run_once(args: argparse.Namespace, urls: dict[str, str], state: Path) -> tuple[float, str]:
    """`styrkedja demo` in this process, as typed; its wall time and what it printed."""
    started = time.monotonic()
    result = CliRunner().invoke(app, [
        "demo", "--seed", str(args.seed), "--students", str(args.students), "--state-dir", str(state),
        "--dump-dir", str(state / "demo" / "ss12000"), "--assessment-url", urls["assessment"],
        "--forecast-url", urls["forecast"], "--lika-url", urls["lika"], "--reporting-url", urls["reporting"]],
        env={"COLUMNS": "200"})
    seconds = time.monotonic() - started
    if result.exit_code != 0:
        raise RuntimeError(f"styrkedja demo failed:\n{result.output[-3000:]}")
    return seconds, result.output


def wait_for_reporting(reporting_url: str, timeout: float = 900) -> float:
    """Seconds until reporting's consumer has no lag left."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:  # busy applying: the metrics may answer slowly
            text = httpx.get(reporting_url + "/metrics", timeout=30).text
        except httpx.TimeoutException:
            continue
        lags = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                if line.startswith("styrkedja_consumer_lag_events{")]
        if lags and not any(lags):
            return time.monotonic() - started
        time.sleep(1)
    raise TimeoutError("reporting did not catch up")


def readme_questions(reporting_url: str, muni: generator.Municipality, headers: dict[str, str]) -> dict:
    """The README's three questions, asked of reporting once it has caught up: the cells that answer them."""
    caught_up = wait_for_reporting(reporting_url)
    story, code = muni.story, muni.organiser_code
    dip, gap = muni.unit_named(story.dip_school).code, muni.unit_named(story.gap_school).code
    answers: dict = {"reporting_caught_up_seconds": round(caught_up, 1)}
    for name, path, params, keep in (
        ("maths_per_round_at_the_dip_school", "/v1/results/assessments",
         {"level": "school_unit", "organiser_id": code, "unit_id": dip, "subject_code": "GRGRMAT01",
          "kind": "assessment"}, ("school_year", "term", "round", "assessed", "share_reaching_pass")),
        ("swedish_by_gender_at_the_gap_school", "/v1/results/assessments",
         {"level": "school_unit", "organiser_id": code, "unit_id": gap, "subject_code": "GRGRSVE01",
          "kind": "assessment", "school_year": story.current_school_year, "split": "gender"},
         ("gender", "assessed", "share_reaching_pass")),
        ("lika_per_school_unit", "/v1/lika/school-units", {"organiser_id": code}, None),
    ):
        cells = httpx.get(reporting_url + path, params=params, headers=headers, timeout=60).json()
        answers[name] = [{k: c.get(k) for k in keep} if keep else _lika_row(c) for c in cells]
    return answers


def _lika_row(unit: dict) -> dict:
    ratings = [r["rating"] for r in unit["ratings"]]
    return {"school_unit_code": unit["school_unit_code"], "respondent_role": unit["respondent_role"],
            "indicators": len(ratings), "achieved": ratings.count("ACHIEVED"),
            "not_planned": ratings.count("NOT_PLANNED")}


def _summary_lines(output: str) -> list[str]:
    """The demo's closing table and verdict, as printed (without the progress bars)."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if "Mittköping, seed" in line), len(lines))
    end = next((i for i, line in enumerate(lines) if line.startswith("The story")), len(lines))
    return [line.rstrip() for line in lines[start:end] if line.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--questions", action="store_true",
                        help="then wait for reporting and ask it the README's three questions")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "demo.json")
    args = parser.parse_args()

    # the variables `make run` reads, by its rules, before anything starts: one line each, exit 2
    problems = broker_setting_problems()
    ports: list[int | None] = []
    for variable, _ in (PG_PORT, KAFKA_PORT):
        try:
            ports.append(port_setting(variable, "a free port"))
        except BadPortSetting as error:
            problems.append(str(error))
    if problems:
        print("bench/demo.py: cannot start: " + "\n  ".join(problems), file=sys.stderr)
        return 2
    state = Path(tempfile.mkdtemp(prefix="styrkedja-bench-demo-"))
    state.chmod(0o755)
    infra = Infrastructure.start(state, pg_port=ports[0] or free_port(), kafka_port=ports[1] or free_port())
    processes: dict[str, ServiceProcess] = {}
    issuer = DevIssuer(state, port=None).start()
    try:
        run = uuid.uuid4().hex[:8]
        for spec in SERVICES:
            url = infra.create_database(f"demo_{spec.name}_{run}")
            upgrade(spec.package, url)
            processes[spec.name] = ServiceProcess(
                spec, database_url=url, kafka_bootstrap_servers=infra.kafka_bootstrap_servers, port=free_port(),
                log_dir=state / "logs", extra_env={"STYRKEDJA_LOG_LEVEL": "WARNING", **infra.service_env,
                                                   "STYRKEDJA_AUTH_ISSUER": issuer.url,
                                                   "STYRKEDJA_CONSUMER_GROUP": f"reporting-demo-{run}"}).start()
        for process in processes.values():
            process.wait_ready(120)
        urls = {name: p.url for name, p in processes.items()}
        muni = generator.generate(args.seed, args.students)
        first_seconds, first_output = run_once(args, urls, state)
        second_seconds, second_output = run_once(args, urls, state)
        admin = {"Authorization": "Bearer " + issuer.mint(roles=["organiser_admin"], organisers=[muni.organiser_code])}
        answers = readme_questions(urls["reporting"], muni, admin) if args.questions else {}
    finally:
        for process in processes.values():
            process.stop()
        issuer.stop()
        infra.stop()
        shutil.rmtree(state, ignore_errors=True)
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"), "machine": platform.machine(),
        "cpus": os.cpu_count(), "students": len(muni.students), "assessments": len(muni.assessments),
        "forecasts": len(muni.forecasts), "lika_self_assessments": len(muni.lika),
        "what": "`styrkedja demo` end to end: generate, SS 12000 dump, directory import, publish (with tokens)",
        "first_run_seconds": round(first_seconds, 1), "second_run_seconds": round(second_seconds, 1),
        "first_run_summary": _summary_lines(first_output), "second_run_summary": _summary_lines(second_output),
        "second_run_changed_nothing": "nothing changed: it was all there already" in second_output,
        "readme_questions": answers,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    json.dump(result, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
