"""Round 31's local campaign: NOT collected in CI (no `test_` file prefix); run it explicitly, e.g.

    STYRKEDJA_TEST_BROKERS=embedded CAMPAIGN_EXAMPLES=30 python -m pytest tests/campaign31_local.py -q -s \
        -p no:randomly -o timeout=0 -k reporting

Each service in-process (`inprocess.start_service`, as round 29), given state first (the conformance flows; reporting
fed results, forecasts, support and plans as its consumer would), then schemathesis' own runner (`st run`, a
subprocess against the in-process service) with every check it has (`--checks all`: server errors, response schema,
status codes, content type, headers, negative data rejection, positive data acceptance, use after free, resource
availability, ignored auth, missing required header, unsupported method, Allow, object level authorization) and every
phase (the documents' examples, coverage, fuzzing, stateful: the links the documents give or schemathesis infers),
once per token: each role the system has (`Role`) of the organiser holding the state and of another one, a broad
token, and none. Each run's JSON report is kept under $CAMPAIGN_OUT/<service>/ (default /tmp/styrkedja-campaign31)
and its failures summarised, one line per (operation, check, status, title), in <service>.txt, less what
`NOT_FINDINGS` says is not one (each with its reason); `python tests/campaign31_local.py <out>` counts a kept run
again. The documents held no examples when it ran (each write's body has one since: tests/test_openapi_round31.py),
so its examples phase had none to send: the conformance flows' valid requests, sent first, stood for them. It asserts
nothing: it is read. What it found is in
tests/test_hostile_round31.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from campaign29_local import rich_events
from inprocess import ORGANISER, start_service
from test_api_conformance import Client, assessment_flow, forecast_flow, lika_flow, reporting_flow

from styrkedja_kit.auth.principal import Role

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

#: cases per operation and phase for the broad token; every other token a sixth (its answers are mostly the door's)
N = int(os.environ.get("CAMPAIGN_EXAMPLES", "30"))
SEED = int(os.environ.get("CAMPAIGN_SEED", "20261205"))
#: a bound per run (seconds): fuzzing and stateful repeat until it is spent when given, so it is kept short
MAX_TIME = int(os.environ.get("CAMPAIGN_MAX_TIME", "120"))
OUT = Path(os.environ.get("CAMPAIGN_OUT", "/tmp/styrkedja-campaign31"))
UNIT = "29990011"
OTHER = "2888"
FLOWS = {"assessment": lambda c: assessment_flow(c, 20), "forecast": lambda c: forecast_flow(c, 20),
         "lika": lika_flow, "reporting": reporting_flow}

def _refused(text: str) -> list[dict[str, str]]:
    """The errors (field, rule, message) of the problem a failing case's answer holds (none: not a problem)."""
    found = re.search(r"^\s*`(\{.*\})`\s*$", text, re.M)
    try:
        errors = json.loads(found.group(1)).get("errors") or [] if found else []
    except ValueError:
        return []
    return [{k: str(e.get(k)) for k in ("field", "rule", "message")} for e in errors if isinstance(e, dict)]


def _stated_in_words(text: str, document: str) -> bool:
    """Every rule the 422 names is named in the served document (in backticks, as its descriptions name rules): a
    rule JSON Schema has no keyword for (an integer without a fraction, the text rules, a list or calendar behind a
    pattern, a rule across parameters) that the document says in words. pydantic's generic `value_error` is taken so
    only for a school year (`TEXT_RULES` says it of school years alone)."""
    errors = _refused(text)
    return bool(errors) and all(
        "school year" in e["message"] if e["rule"] == "value_error" else f"`{e['rule']}`" in document
        for e in errors)


#: (check code, predicate over the failing case's text and the served document, reason): what a check reports that
#: is not a finding
NOT_FINDINGS: list[tuple[str, Any, str]] = [
    ("ST202", _stated_in_words,
     "a schema-valid request refused by a rule the document states in words and names as its 422 does: JSON Schema "
     "has no keyword for it"),
]


def ignored(check: str, text: str, document: str) -> str | None:
    """The reason a failing case is no finding, or None."""
    return next((reason for code, judged, reason in NOT_FINDINGS if code == check and judged(text, document)), None)


def tokens(issuer: Any) -> dict[str, str | None]:
    """Each role of the organiser holding the state and of another one, a broad token and none."""
    out: dict[str, str | None] = {
        "broad": issuer.mint(roles=["platform", "principal", "organiser_admin", "ops"], organisers=[ORGANISER],
                             school_units=[UNIT, "12345678"], subject="fuzz", client_id="platform-fuzz",
                             ttl_seconds=6 * 3600)}
    for organiser in (ORGANISER, OTHER):
        unit = UNIT if organiser == ORGANISER else "28880011"
        for role in Role:
            out[f"{role.value}@{organiser}"] = issuer.mint(
                roles=[role.value], organisers=[organiser], school_units=[unit], areas=["area-p29"],
                groups=[f"{unit}/7A", f"{unit}/conform-7A"], subject=f"{role.value}-1",
                client_id=f"{role.value}-client", ttl_seconds=6 * 3600)
    out["none"] = None
    return out


def run_schemathesis(document: Path, url: str, token: str | None, label: str, out: Path, n: int,
                     seconds: int) -> dict[str, Any]:
    report = out / f"{label}.json"
    command = [shutil.which("st") or "st", "run", str(document), "--url", url, "--checks", "all",
               "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", str(n), "--seed", str(SEED),
               "--workers", "1", "--request-timeout", "60", "--suppress-health-check", "all",
               "--report", "json", "--report-json-path", str(report), "--no-color", "--continue-on-failure",
               "--output-truncate", "false",
               "--exclude-path", "/readyz", "--exclude-path", "/metrics", "--max-time", str(seconds)]
    if token is not None:
        command += ["-H", f"Authorization: Bearer {token}"]
    # its working directory the report's: `st` keeps a `.schemathesis` folder of its own there
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds * 3 + 300, check=False, cwd=out)
    (out / f"{label}.log").write_text(done.stdout[-200_000:] + "\n--- stderr\n" + done.stderr[-20_000:])
    if not report.exists():
        return {"error": done.stderr[-2000:] or done.stdout[-2000:]}
    result: dict[str, Any] = json.loads(report.read_text())
    return result


_OPERATION = re.compile(r"^_{3,} (.+?) _{3,}$", re.M)
_CASE = re.compile(r"^\d+\. Test Case ID: \S+$", re.M)
_CHECK = re.compile(r"^- (ST\d+|[A-Za-z ]+?) (.+)$", re.M)
_STATUS = re.compile(r"^\[(\d{3})\]", re.M)


def summarise(log: str) -> list[tuple[str, str, str]]:
    """[(key, check, text)] of one run's output: each failing case under its operation's heading, each check it
    failed, keyed by (operation, check code, status) so that one cause met by many tokens is one line."""
    found: list[tuple[str, str, str]] = []
    body = log.split("=== WARNINGS ===")[0].split("=== SUMMARY ===")[0]
    headings = list(_OPERATION.finditer(body))
    for n, heading in enumerate(headings):
        section = body[heading.end(): headings[n + 1].start() if n + 1 < len(headings) else len(body)]
        for case in _CASE.split(section)[1:]:
            status = _STATUS.search(case)
            for check in _CHECK.finditer(case):
                key = f"{heading.group(1)} | {check.group(1)} {check.group(2)} | {status.group(1) if status else '-'}"
                found.append((key, check.group(1), case.strip()))
    return found


@pytest.mark.parametrize("name", ["assessment", "forecast", "lika", "reporting"])
def test_campaign(name: str, infrastructure: Any, token_issuer: Any) -> None:
    service = start_service(name, infrastructure, token_issuer)
    out = OUT / name
    out.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    try:
        if name == "reporting":
            from test_hostile_round13 import feed
            asyncio.run(feed(service.database_url, rich_events()))
        client = Client(name, service, token_issuer)
        try:
            FLOWS[name](client)
        except AssertionError as stopped:
            lines.append(f"flow stopped: {stopped}"[:2000])
        lines += [f"CONFORMANCE {w[:600]}" for w in client.wrong]
        document = out / "openapi.json"
        document.write_text(httpx.get(f"{service.url}/openapi.json", headers=client.headers).text)
        operations = sum(1 for path, item in json.loads(document.read_text())["paths"].items()
                         if path not in ("/readyz", "/metrics") for m in item if m in (
                             "get", "put", "post", "patch", "delete"))
        seen: dict[str, set[str]] = {}
        not_findings: dict[str, int] = {}
        texts: dict[str, str] = {}
        total = 0
        only = os.environ.get("CAMPAIGN_TOKENS")  # while iterating: a comma-separated few of `tokens`' labels
        for label, token in tokens(token_issuer).items():
            if only and label not in only.split(","):
                continue
            report = run_schemathesis(document, service.url, token, label.replace("@", "-"), out,
                                      N if label == "broad" else max(3, N // 6),
                                      MAX_TIME if label == "broad" else max(15, MAX_TIME // 5))
            if "error" in report:
                lines.append(f"RUN {label}: {report['error']}")
                continue
            cases = int(report.get("test_cases", {}).get("generated", 0))
            total += cases
            for key, check, text in summarise((out / f"{label.replace('@', '-')}.log").read_text()):
                if (reason := ignored(check, text, document.read_text())) is not None:
                    not_findings[reason] = not_findings.get(reason, 0) + 1
                    continue
                seen.setdefault(key, set()).add(label)
                texts.setdefault(key, text)
            print(f"{name} {label}: {cases} cases, {len(seen)} distinct so far", flush=True)
        lines.insert(0, f"{name}: {operations} operations, {total} cases, {len(seen)} distinct findings, seed {SEED}")
        lines += [f"NOT A FINDING x{count}: {reason}" for reason, count in not_findings.items()]
        for key in sorted(seen):
            lines.append(f"=== {key}\n  tokens: {', '.join(sorted(seen[key]))}\n  {texts[key][:1500]}")
    finally:
        service.stop()
        (OUT / f"{name}.txt").write_text("\n".join(lines) + "\n")
        print(lines[0] if lines else "", file=sys.stderr)


def tally(out: Path) -> None:
    """A kept run's numbers again, judged by the present `NOT_FINDINGS` against each service's document as that run
    served it: `python tests/campaign31_local.py /tmp/styrkedja-campaign31`."""
    for service in sorted(p for p in out.iterdir() if p.is_dir()):
        document = (service / "openapi.json").read_text()
        cases = 0
        for report in (r for r in service.glob("*.json") if r.name != "openapi.json"):
            with contextlib.suppress(ValueError):  # a run still writing it
                cases += int(json.loads(report.read_text()).get("test_cases", {}).get("generated", 0))
        kept: dict[str, set[str]] = {}
        dropped = 0
        for log in sorted(service.glob("*.log")):
            for key, check, text in summarise(log.read_text()):
                if ignored(check, text, document) is None:
                    kept.setdefault(key, set()).add(log.stem)
                else:
                    dropped += 1
        print(f"{service.name}: {cases} cases, {len(kept)} distinct findings, {dropped} failing cases not findings")
        for key in sorted(kept):
            print(f"  {key}  [{len(kept[key])} tokens]")


if __name__ == "__main__":
    tally(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
