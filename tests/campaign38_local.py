"""Round 38's local campaign: NOT collected in CI (no `test_` file prefix); run it explicitly, e.g.

    CAMPAIGN_ST_SECONDS=180 python -m pytest tests/campaign38_local.py -q -s -p no:randomly -o timeout=0

Schemathesis (the pinned version: examples, coverage, fuzzing and stateful phases) against every service's OpenAPI
document — assessment, forecast, lika, reporting — with the narrow token of every role (tests/scope_world.py), each
service in-process (`inprocess.start_service`, reporting's database fed `scope_world`), through campaign 35's judging
proxy: a 5xx, a read past the token's scope, a small count shown to a suppressed scope (`scope_fuzz.Findings`), and
here also a 400 or 422 without `errors` naming a field and a rule. At most `CAMPAIGN_ST_SECONDS` (default 60) per
token and service (`CAMPAIGN_ST_MODE=positive`: valid data only; `CAMPAIGN_ST_TOKENS=head,platform`: those tokens
alone). The findings go to $CAMPAIGN_OUT (default /tmp/styrkedja-campaign38)/<service>-schemathesis.txt.
It asserts nothing: it is read. What it found is in tests/test_hostile_round38.py."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from campaign35_local import judging_proxy, mint_all
from campaign35_local import report as report35
from inprocess import start_service
from scope_fuzz import Findings, Narrow
from scope_world import fed, lika_drafts, narrow_tokens

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

OUT = Path(os.environ.get("CAMPAIGN_OUT", "/tmp/styrkedja-campaign38"))
SCHEMATHESIS_SECONDS = int(os.environ.get("CAMPAIGN_ST_SECONDS", "60"))
#: schemathesis' generation mode (`all`, `positive`: valid data only, deeper into the handlers; `negative`)
MODE = os.environ.get("CAMPAIGN_ST_MODE", "all")
#: the tokens sent, by the first word of their label (`head,platform`); every narrow token when empty
TOKENS = {word for word in os.environ.get("CAMPAIGN_ST_TOKENS", "").split(",") if word}


class NamingFindings(Findings):
    """`Findings`, and a refusal of a rule (400, 422) whose problem names no field and rule is wrong too."""

    def judge(self, narrow: Narrow, method: str, url: str, response: httpx.Response,
              request_body: bytes | None = None) -> None:
        super().judge(narrow, method, url, response, request_body)
        if response.status_code not in (400, 422):
            return
        what = f"{narrow.label}: {method} {url[:200]} -> {response.status_code}"
        try:
            errors = response.json().get("errors")
        except (ValueError, AttributeError):
            self.wrong.append(f"{what}: no problem+json {response.text[:160]!r}")
            return
        if not errors or not all(isinstance(e, dict) and e.get("field") and e.get("rule") for e in errors):
            self.wrong.append(f"{what}: a refusal naming no field and rule {response.text[:200]!r}")


@pytest.mark.parametrize("name", ["assessment", "forecast", "lika", "reporting"])
def test_campaign38_schemathesis(name: str, infrastructure: Any, token_issuer: Any, tmp_path: Path) -> None:
    import uvicorn

    from styrkedja_devstack.postgres import free_port

    service = start_service(name, infrastructure, token_issuer)
    findings = NamingFindings()
    server = None
    try:
        if name == "reporting":
            asyncio.run(fed(service.database_url))
        tokens, broad = mint_all(token_issuer)
        if name == "lika":
            with httpx.Client(base_url=service.url, timeout=120) as client:
                lika_drafts(client, token_issuer.mint)
        narrows = {tokens[n.label]: n for n in narrow_tokens()}
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(judging_proxy(service.url, narrows, findings), host="127.0.0.1",
                                               port=port, log_level="warning", lifespan="off"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        document = tmp_path / "openapi.json"
        document.write_text(httpx.get(f"{service.url}/openapi.json", headers={"authorization": f"Bearer {broad}"}).text)
        cases = 0
        for narrow in narrow_tokens():
            if TOKENS and narrow.label.split()[0] not in TOKENS:
                continue
            report_path = tmp_path / f"{narrow.label.split()[0]}.json"
            command = [shutil.which("st") or str(Path(sys.executable).parent / "st"), "run", str(document), "--url", f"http://127.0.0.1:{port}",
                       "--checks", "not_a_server_error", "--phases", "examples,coverage,fuzzing,stateful",
                       "--max-examples", "200", "--seed", "38", "--mode", MODE, "--workers", "1", "--request-timeout", "60",
                       "--suppress-health-check", "all", "--report", "json", "--report-json-path", str(report_path),
                       "--no-color", "--continue-on-failure", "--exclude-path", "/readyz", "--exclude-path",
                       "/metrics", "--max-time", str(SCHEMATHESIS_SECONDS),
                       "-H", f"Authorization: Bearer {tokens[narrow.label]}"]
            done = subprocess.run(command, capture_output=True, text=True, timeout=SCHEMATHESIS_SECONDS * 3 + 300,
                                  check=False, cwd=tmp_path)
            if report_path.exists():
                cases += int(json.loads(report_path.read_text()).get("test_cases", {}).get("generated", 0))
            elif done.returncode not in (0, 1):
                findings.wrong.append(f"st run {narrow.label}: {done.stderr[-500:]}")
            print(f"{name} {narrow.label}: {findings.by_token[narrow.label]} answers judged", flush=True)
        findings.echoes.insert(0, f"schemathesis cases generated: {cases}")
        report35(f"{name}-schemathesis" + ("" if MODE == "all" else f"-{MODE}"), findings, OUT)
    finally:
        if server is not None:
            server.should_exit = True
        service.stop()
