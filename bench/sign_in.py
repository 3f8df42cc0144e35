"""CPU of the dashboard's sign-in steps: a TLS context per sign-in client (before) against one shared (after).

`OidcClient.authorization` (what `/logga-in` does) and the client `redeem` makes (the callback) are timed in one
process, before and after alternated pass by pass; process CPU (time.process_time) per call, medians. "before" is the
same client made as it was: without `verify`, so httpx loads the CA bundle into a new TLS context each time.

    .venv/bin/python bench/sign_in.py --pairs 5 --calls 100 --out bench/results/sign_in18.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from typing import Any

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client

from styrkedja_dashboard.auth.oidc import OidcClient
from styrkedja_dashboard.settings import DashboardSettings


class Before(OidcClient):
    def _client(self) -> AsyncOAuth2Client:  # as before session 18: no `verify`, a TLS context per client
        return AsyncOAuth2Client(client_id=self.settings.client_id, client_secret=self.settings.client_secret,
                                 redirect_uri=self.settings.redirect_uri, scope="openid", code_challenge_method="S256",
                                 token_endpoint_auth_method="none")


async def per_call(oidc: OidcClient, calls: int) -> dict[str, float]:
    started = time.process_time()
    for _ in range(calls):
        await oidc.authorization()
    authorization = (time.process_time() - started) / calls
    started = time.process_time()
    for _ in range(calls):
        async with oidc._client():
            pass
    return {"authorization_ms": 1000 * authorization, "redeem_client_ms": 1000 * (time.process_time() - started) / calls}


async def main(pairs: int, calls: int) -> dict[str, Any]:
    settings = DashboardSettings(issuer="http://issuer.test")
    discovery = {"authorization_endpoint": "http://issuer.test/authorize", "token_endpoint": "http://issuer.test/token"}
    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    async with httpx.AsyncClient() as http:
        for _ in range(pairs):
            for name, kind in (("before", Before), ("after", OidcClient)):
                oidc = kind(settings, http)
                oidc._discovery = discovery
                runs[name].append(await per_call(oidc, calls))
    medians = {name: {key: round(statistics.median(r[key] for r in rs), 3) for key in rs[0]} for name, rs in runs.items()}
    return {"pairs": pairs, "calls": calls, "load_average": os.getloadavg(), "medians_ms_cpu": medians, "runs": runs}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--out")
    args = parser.parse_args()
    result = asyncio.run(main(args.pairs, args.calls))
    text = json.dumps(result, indent=1)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text + "\n")
    print(json.dumps({"load_average": result["load_average"], "medians_ms_cpu": result["medians_ms_cpu"]}))
