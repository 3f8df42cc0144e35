"""Round 35's local campaign: NOT collected in CI (no `test_` file prefix); run it explicitly, e.g.

    python -m pytest tests/campaign35_local.py -q -s -p no:randomly -o timeout=0

Least privilege under fuzzing (tests/scope_fuzz.py): each service in-process (`inprocess.start_service`), reporting's
database fed `scope_world` (two organisers, every id its own), every operation of its OpenAPI document sent
`CAMPAIGN_PER_OPERATION` (default 40) URLs of in-scope and out-of-scope ids with the narrow tokens of every role,
after the head of education of 2999 (its ETags and cursors replayed); then schemathesis (the pinned version, every
phase) with each narrow token, each answer searched likewise. The findings go to $CAMPAIGN_OUT (default
/tmp/styrkedja-campaign35)/<service>.txt. It asserts nothing: it is read. What it found is in
tests/test_hostile_round35.py."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from inprocess import start_service
from scope_fuzz import POOLS, Findings, sweep
from scope_world import A, fed, lika_drafts, narrow_tokens

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

OUT = Path(os.environ.get("CAMPAIGN_OUT", "/tmp/styrkedja-campaign35"))


def mint_all(issuer: Any) -> tuple[dict[str, str], str]:
    tokens = {n.label: issuer.mint(subject=f"scope-{n.label.split()[0]}", ttl_seconds=4 * 3600, **n.claims)
              for n in narrow_tokens()}
    broad = issuer.mint(roles=["organiser_admin"], organisers=[A], subject="scope-head", ttl_seconds=4 * 3600)
    return tokens, broad


def report(name: str, findings: Findings) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    lines = [f"{name}: {findings.sent} requests, {len(findings.wrong)} wrong, {len(findings.echoes)} to read; "
             f"statuses {dict(sorted(findings.statuses.items()))}; by token {dict(findings.by_token)}",
             *findings.wrong, "--- to read", *findings.echoes]
    (OUT / f"{name}.txt").write_text("\n".join(lines) + "\n")
    print(lines[0], flush=True)


@pytest.mark.parametrize("name", ["reporting", "lika", "assessment", "forecast"])
def test_campaign35_scope(name: str, infrastructure: Any, token_issuer: Any) -> None:
    service = start_service(name, infrastructure, token_issuer)
    try:
        if name == "reporting":
            asyncio.run(fed(service.database_url))
        tokens, broad = mint_all(token_issuer)
        findings = Findings()
        with httpx.Client(base_url=service.url, timeout=120) as client:
            document = client.get("/openapi.json", headers={"authorization": f"Bearer {broad}"}).json()
            if name == "lika":
                drafts = list(lika_drafts(client, token_issuer.mint).values())
                for parameter in ("self_assessment_id", "first", "second"):
                    POOLS[parameter] = drafts
            sweep(client, document, tokens, narrow_tokens(), broad,
                  per_operation=int(os.environ.get("CAMPAIGN_PER_OPERATION", "40")), seed=35, findings=findings)
        report(name, findings)
    finally:
        service.stop()
