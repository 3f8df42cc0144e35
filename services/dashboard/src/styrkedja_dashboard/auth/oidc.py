"""OIDC authorization code flow with PKCE (S256) against the configured issuer.

Authlib builds the authorization URL (state, code challenge) and redeems the code; the kit's
`TokenVerifier` then checks the access token exactly as the services will (signature from the
JWKS, issuer, audience, expiry), so the dashboard never shows a page for a token they would refuse.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client

from styrkedja_kit.auth import KeySource, Principal, TokenVerifier, principal_from_claims

from .. import clients
from ..clients import GATEWAY_STATUSES, UNREACHABLE_RETRY_AFTER, UpstreamError, json_of, read_bounded
from ..settings import DashboardSettings
from ..shapes import number

PROVIDER = "inloggningen (identitetsleverantören)"


#: an ID token longer than this is not kept for the sign-out (the services refuse access tokens over 16 KiB alike)
MAX_ID_TOKEN_CHARS = 16_384


def origin_of(url: str) -> str | None:
    """scheme://host[:port] of an http(s) URL, lower-cased; None for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme.lower()}://{parts.hostname.lower()}" + (f":{port}" if port else "")


class SignInFailed(Exception):
    """The provider's answer cannot be used (state mismatch, code refused, token invalid)."""


class OidcClient:
    def __init__(self, settings: DashboardSettings, http: httpx.AsyncClient) -> None:
        self.settings, self.http = settings, http
        self._discovery: dict[str, Any] | None = None
        self.verifier = TokenVerifier(KeySource(settings.issuer, discovery_url=settings.discovery_url),
                                      audience=settings.audience, algorithms=settings.algorithms)

    async def discovery(self) -> dict[str, Any]:
        """The provider's configuration, kept once read. A provider that cannot be reached (or whose gateway says
        so) is a 503 with a Retry-After; one that answers without the two endpoints as text a 502 naming it (it
        was a 500 at every `/logga-in`); nothing is kept then."""
        if self._discovery is None:
            url = self.settings.discovery_url or f"{self.settings.issuer.rstrip('/')}/.well-known/openid-configuration"
            try:
                response = await self.http.send(self.http.build_request("GET", url), stream=True)
            except httpx.TransportError:  # not up yet, restarting, or slow: worth trying again in a moment
                raise UpstreamError(PROVIDER, 503, "ingen förbindelse", UNREACHABLE_RETRY_AFTER,
                                    why="unreachable") from None
            # within a deadline and a size, as every service's answer (a provider dripping its configuration held
            # every /logga-in, one sending gigabytes was read whole)
            response = await read_bounded(PROVIDER, response)
            if response.status_code in GATEWAY_STATUSES:
                raise UpstreamError(PROVIDER, 503, str(response.status_code), UNREACHABLE_RETRY_AFTER,
                                    why="unreachable")
            try:
                response.raise_for_status()
                found = json_of(response)
            except (httpx.HTTPError, ValueError) as error:
                raise UpstreamError(PROVIDER, 502, type(error).__name__) from None
            if not isinstance(found, dict) or not all(isinstance(found.get(k), str) and found[k]
                                                      for k in ("authorization_endpoint", "token_endpoint")):
                raise UpstreamError(PROVIDER, 502, "konfigurationen saknar sina adresser", unreadable=True)
            self._discovery = found
        return self._discovery

    @functools.cached_property
    def _tls(self) -> ssl.SSLContext:
        """The TLS context of every sign-in's client, made once. Each client made its own, loading the CA bundle
        (httpx's default): ~35 ms of CPU, more under load, at every `/logga-in` and every callback — nine tenths of a
        sign-in's CPU here. A context holds no one's data (the CA certificates and the TLS settings only), so one
        serves every sign-in; the clients themselves, which hold a sign-in's token, are still one per sign-in.
        `SSL_CERT_FILE` / `SSL_CERT_DIR` are read as httpx reads them."""
        return httpx.create_ssl_context()

    def _client(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(client_id=self.settings.client_id, client_secret=self.settings.client_secret,
                                 redirect_uri=self.settings.redirect_uri, scope="openid",
                                 code_challenge_method="S256",
                                 token_endpoint_auth_method="client_secret_post" if self.settings.client_secret
                                 else "none", verify=self._tls)

    async def authorization(self) -> tuple[str, dict[str, str]]:
        """(URL to send the browser to, what the session must keep until the callback)."""
        endpoint = (await self.discovery())["authorization_endpoint"]
        verifier = generate_token(64)
        async with self._client() as client:
            url, state = client.create_authorization_url(endpoint, code_verifier=verifier)
        return url, {"state": state, "verifier": verifier}

    async def end_session(self, id_token: str | None) -> str | None:
        """Where to send the browser at sign-out so that the provider's own session ends too (OpenID Connect
        RP-Initiated Logout 1.0), back to the start page after; None: the provider names no `end_session_endpoint`,
        names one on another origin than the issuer's (the pages' `form-action` lets the sign-out form go to the
        issuer's only), or cannot be reached now — the sign-out here happens whatever the provider says. Without
        this, a person signing out on a shared school computer left the provider signed in, and the next person's
        "Logga in" came back as them."""
        try:
            endpoint = (await self.discovery()).get("end_session_endpoint")
        except UpstreamError:
            return None
        if not isinstance(endpoint, str) or origin_of(endpoint) != origin_of(self.settings.issuer):
            return None
        query = {"client_id": self.settings.client_id,
                 "post_logout_redirect_uri": f"{self.settings.public_url.rstrip('/')}/"}
        if id_token:
            query["id_token_hint"] = id_token
        return endpoint + ("&" if urlsplit(endpoint).query else "?") + urlencode(query)

    async def redeem(self, *, code: str, state: str, expected: dict[str, str]) -> tuple[str, float, Principal,
                                                                                         dict[str, Any], str | None]:
        if not expected.get("state") or state != expected["state"]:
            raise SignInFailed("state")
        endpoint = (await self.discovery())["token_endpoint"]
        try:
            # within the deadline of every answer (`clients.ANSWER_SECONDS`): the client's timeout bounds each read
            # only, and a provider dripping its answer held the callback (and the person) for as long as it liked
            async with asyncio.timeout(clients.ANSWER_SECONDS), self._client() as client:
                token = await client.fetch_token(endpoint, code=code, code_verifier=expected["verifier"],
                                                 grant_type="authorization_code")
        except Exception as error:  # Authlib raises its own OAuthError and httpx errors alike; TimeoutError too
            raise SignInFailed(f"token endpoint: {type(error).__name__}") from None
        access = token.get("access_token")
        if not isinstance(access, str):
            raise SignInFailed("no access token")
        try:
            claims = dict(await self.verifier.verify(access))
            principal = principal_from_claims(claims)
        except Exception as error:  # InvalidToken / InvalidClaims: refuse the sign-in
            raise SignInFailed(f"token: {type(error).__name__}") from None
        # the verified token's `exp`; a provider's `expires_in` only without one, and only if it is a number
        lifetime = number(token.get("expires_in"))
        expires_at = float(number(claims.get("exp")) or time.time() + (lifetime if lifetime is not None else 300))
        # the ID token is only handed back to the provider that issued it (`end_session`): not checked, but bounded
        id_token = token.get("id_token")
        kept = id_token if isinstance(id_token, str) and 0 < len(id_token) <= MAX_ID_TOKEN_CHARS else None
        return access, expires_at, principal, claims, kept
