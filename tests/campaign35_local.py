"""Round 35's local campaign: NOT collected in CI (no `test_` file prefix); run it explicitly, e.g.

    python -m pytest tests/campaign35_local.py -q -s -p no:randomly -o timeout=0

Least privilege under fuzzing (tests/scope_fuzz.py): each service in-process (`inprocess.start_service`), reporting's
database fed `scope_world` (two organisers, every id its own), every operation of its OpenAPI document sent
`CAMPAIGN_PER_OPERATION` (default 40) URLs of in-scope and out-of-scope ids with the narrow tokens of every role,
after the head of education of 2999 (its ETags and cursors replayed). Schemathesis through `judging_proxy`, each
answer searched likewise, is round 38's (tests/campaign38_local.py: every service, every narrow token). The findings go to $CAMPAIGN_OUT (default
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


def report(name: str, findings: Findings, out: Path = OUT) -> None:
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"{name}: {findings.sent} requests, {len(findings.wrong)} wrong, {len(findings.echoes)} to read; "
             f"statuses {dict(sorted(findings.statuses.items()))}; by token {dict(findings.by_token)}",
             *findings.wrong, "--- to read", *findings.echoes]
    (out / f"{name}.txt").write_text("\n".join(lines) + "\n")
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


# --- schemathesis with each narrow token, through a proxy that judges every answer it passes on ---------------------

SCHEMATHESIS_SECONDS = int(os.environ.get("CAMPAIGN_ST_SECONDS", "30"))


def judging_proxy(upstream: str, narrows: dict[str, Any], findings: Findings) -> Any:
    """An ASGI app that forwards each request to `upstream` and judges the answer as the narrow token's it carries."""
    client = httpx.AsyncClient(base_url=upstream, timeout=120)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]
                   if k.lower() not in (b"host", b"content-length", b"transfer-encoding")]
        target = scope["raw_path"].decode("latin-1") + ("?" + scope["query_string"].decode("latin-1")
                                                        if scope["query_string"] else "")
        response = await client.request(scope["method"], target, content=body, headers=headers)
        token = {k.lower(): v for k, v in headers}.get("authorization", "")[7:]
        if token in narrows:
            try:
                findings.judge(narrows[token], scope["method"], target, response, body)
            except Exception as error:  # noqa: BLE001 - the judge's own fault: told, the answer passed on all the same
                findings.wrong.append(f"judge: {type(error).__name__} {error} on {target[:200]}")
        await send({"type": "http.response.start", "status": response.status_code,
                    "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()
                                if k.lower() not in ("content-length", "transfer-encoding", "content-encoding")]
                    + [(b"content-length", str(len(response.content)).encode())]})
        await send({"type": "http.response.body", "body": response.content})

    return app


DASHBOARD_POOLS: dict[str, list[str]] = {
    "huvudman": [A, "3001"], "enhet": ["41110001", "41110002", "43330004", "north-q", "south-q", "west-q",
                                        "41110001/7A", "41110001/7B", "41110002/7A"],
    "niva": ["area", "school_unit", "group"], "lasar": ["2026/27"], "termin": ["HT"], "omgang": ["1", "2"],
    "amne": ["GRGRMAT01"], "status": ["missing", "late", "on_time"], "lista": ["grupper", "elever"],
}


def test_campaign35_dashboard(infrastructure: Any, token_issuer: Any) -> None:
    import random
    import time
    from urllib.parse import urlencode

    from campaign34_local import DASHBOARD_GETS
    from fastapi.testclient import TestClient

    from styrkedja_dashboard.app import create_app
    from styrkedja_dashboard.settings import DashboardSettings
    from styrkedja_dashboard.web.sessions import COOKIE
    from styrkedja_kit.auth import principal_from_claims

    service = start_service("reporting", infrastructure, token_issuer)
    findings = Findings()
    rng = random.Random(35)
    try:
        asyncio.run(fed(service.database_url))
        settings = DashboardSettings(reporting_url=service.url, lika_url="http://127.0.0.1:1",
                                     issuer=token_issuer.url)
        per_page = int(os.environ.get("CAMPAIGN_PER_OPERATION", "40"))
        with TestClient(create_app(settings), base_url="http://127.0.0.1:8100",
                        raise_server_exceptions=False) as client:
            client.app.state.http = httpx.AsyncClient(timeout=120)  # type: ignore[attr-defined]
            for narrow in narrow_tokens():
                token = token_issuer.mint(subject=f"scope-{narrow.label.split()[0]}", ttl_seconds=4 * 3600,
                                          **narrow.claims)
                session = client.app.state.sessions._new()  # type: ignore[attr-defined]
                session.token, session.token_expires_at = token, time.time() + 3600
                session.principal = principal_from_claims({"sub": "scope", **narrow.claims})
                client.cookies.set(COOKIE, session.id)
                for page in DASHBOARD_GETS:
                    if page in ("/logga-in", "/auth/callback", "/healthz") or page.startswith("/lika"):
                        continue
                    for _ in range(per_page // 4):
                        query = {k: rng.choice(v) for k, v in DASHBOARD_POOLS.items() if rng.random() < 0.6}
                        url = page + ("?" + urlencode(query) if query else "")
                        findings.judge(narrow, "GET", url, client.get(url))
        report("dashboard", findings)
    finally:
        service.stop()
