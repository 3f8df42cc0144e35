"""An issuer whose discovery document or JWKS has another shape than OIDC Discovery and RFC 7517 say (another
JSON type, keys that are not objects, a key whose numbers are not base64url), and first requests all at once:
the keys are fetched once, an unusable key is skipped (the good ones kept), and a token is a 401, never a 500.
The issuer is an `httpx.MockTransport` handler."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from styrkedja_devstack.issuer import TokenMinter
from styrkedja_kit.auth import tokens
from styrkedja_kit.auth.tokens import InvalidToken, IssuerUnavailable, KeySource, TokenVerifier

ISSUER = "https://issuer.example"
MINTER = TokenMinter(ec.generate_private_key(ec.SECP256R1()), ISSUER)
DISCOVERY = {"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks"}


def serving(monkeypatch: pytest.MonkeyPatch, discovery: Any, jwks: Any) -> list[str]:
    asked: list[str] = []

    async def handle(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        await asyncio.sleep(0.01)  # others arrive while the first fetch is under way
        body = discovery if request.url.path.endswith("openid-configuration") else jwks
        return httpx.Response(200, content=json.dumps(body).encode(), headers={"content-type": "application/json"})

    real = httpx.AsyncClient
    factory: Callable[..., httpx.AsyncClient] = lambda **kw: real(transport=httpx.MockTransport(handle), **kw)  # noqa: E731
    monkeypatch.setattr(tokens, "httpx", SimpleNamespace(AsyncClient=factory, HTTPError=httpx.HTTPError))
    return asked


def verifier() -> TokenVerifier:
    return TokenVerifier(KeySource(ISSUER, min_refresh_seconds=3600), audience="styrkedja", algorithms=["ES256"])


GOOD = MINTER.public_jwk
BROKEN = {**GOOD, "kid": "broken", "x": "!!not base64url!!"}


@pytest.mark.parametrize("discovery, jwks", [
    ([DISCOVERY], {"keys": [GOOD]}),
    ("issuer", {"keys": [GOOD]}),
    ({**DISCOVERY, "jwks_uri": ["x"]}, {"keys": [GOOD]}),
    (DISCOVERY, [GOOD]),
    (DISCOVERY, {"keys": {"a": GOOD}}),
    (DISCOVERY, {"keys": ["a", 1, None]}),
    (DISCOVERY, None),
], ids=["discovery-list", "discovery-string", "jwks_uri-list", "jwks-list", "keys-object", "keys-not-objects",
        "jwks-null"])
async def test_an_issuer_of_another_shape_means_a_503_never_a_500(monkeypatch, discovery, jwks) -> None:
    """Failed on the old code but for `jwks_uri-list`: AttributeError or TypeError out of the key fetch (a 500 for
    every request). The issuer's keys could not be read: the token cannot be judged, which is not the client's
    fault (IssuerUnavailable: a 503, not the 401 it was)."""
    serving(monkeypatch, discovery, jwks)
    # keys that are not objects: the JWKS was read and holds none of ours, an unknown kid (401) as for any key set
    expected = InvalidToken if jwks == {"keys": ["a", 1, None]} else IssuerUnavailable
    with pytest.raises(expected):
        await verifier().verify(MINTER.mint(roles=["ops"]))


async def test_one_unusable_key_is_skipped_and_the_good_one_kept(monkeypatch) -> None:
    """A key whose coordinates are not base64url, one whose kid is a number: skipped, the good one taken
    (already so: PyJWT raises its own error for the coordinates; the per-key check now also takes ValueError,
    TypeError and KeyError, which other malformed keys may raise)."""
    serving(monkeypatch, DISCOVERY, {"keys": [BROKEN, {**GOOD, "kid": 7}, GOOD]})
    assert (await verifier().verify(MINTER.mint(roles=["ops"])))["roles"] == ["ops"]


async def test_first_requests_all_at_once_fetch_the_keys_once(monkeypatch) -> None:
    asked = serving(monkeypatch, DISCOVERY, {"keys": [GOOD]})
    checking = verifier()
    claims = await asyncio.gather(*(checking.verify(MINTER.mint(roles=["ops"])) for _ in range(50)))
    assert all(c["roles"] == ["ops"] for c in claims)
    assert checking.keys.fetches == 1 and len(asked) == 2
