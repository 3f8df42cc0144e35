"""Bearer token verification with PyJWT against any OIDC provider.

Keys come from the issuer's discovery document (`/.well-known/openid-configuration` → `jwks_uri`),
are cached, and are fetched again when a token names a `kid` we do not know — at most once per
`auth_jwks_min_refresh_seconds`, so a stream of made-up kids cannot turn us into a load generator
against the issuer. Only the asymmetric algorithms on the allow-list are accepted; the algorithm
must also match the key's type, which is what stops "HS256 signed with the public key".

A token that verified is remembered (by its exact text, at most `auth_verified_cache_seconds` and
never past its own `exp` + leeway), so a client's every request does not pay for the signature
check again: the same bytes verify the same way, and time (expiry) is checked on every hit. A key
the issuer withdraws stops trusting its tokens within that window (default 60 s).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import httpx
import jwt

from ..settings import MAX_TOKEN_LIFETIME_SECONDS, ServiceSettings

log = logging.getLogger(__name__)

_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC"}


class InvalidToken(Exception):
    """Missing, malformed, unverifiable or expired: 401. `error` is the RFC 6750 error code."""

    def __init__(self, description: str, error: str = "invalid_token", *, claim: str | None = None,
                 rule: str | None = None) -> None:
        super().__init__(description)
        self.description, self.error = description, error
        self.claim, self.rule = claim, rule  # the claim and the rule it broke, where one claim is at fault


class IssuerUnavailable(Exception):
    """The token names a key we do not hold and the issuer's keys could not be fetched: whether the token is good
    cannot be told now (503 with `retry_after_seconds`), which is not the client's fault — a 401 would tell a
    client with a good token to give it up (a bench's dev issuer starved for a few seconds answered a whole
    deadline week's first batches 401 "unknown key id")."""

    def __init__(self, retry_after_seconds: float) -> None:
        super().__init__("the token issuer's keys could not be fetched")
        self.retry_after_seconds = retry_after_seconds


class KeySource:
    """The issuer's signing keys, from its discovery document and JWKS, cached."""

    def __init__(self, issuer: str, *, min_refresh_seconds: float = 30.0, max_age_seconds: float = 3600.0,
                 timeout_seconds: float = 5.0, discovery_url: str | None = None) -> None:
        self.issuer = issuer  # compared exactly with `iss` (OIDC Discovery §4.3): a trailing slash matters
        self.discovery_url = discovery_url or f"{issuer.rstrip('/')}/.well-known/openid-configuration"
        self.min_refresh_seconds, self.max_age_seconds = min_refresh_seconds, max_age_seconds
        self.timeout_seconds = timeout_seconds
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._failures = 0  # fetches failed in a row since the last that succeeded
        self._lock = asyncio.Lock()
        self.fetches = 0

    def _interval(self) -> float:
        """Seconds between two fetches: `min_refresh_seconds`, but after a failed fetch 1, 2, 4 … up to it — an
        issuer that was not up yet when the first request came (a stack starting) is asked again within a second,
        not after half a minute of 401s; an issuer that stays away is still asked at most once per interval."""
        if self._failures:
            return min(self.min_refresh_seconds, 2.0 ** (self._failures - 1))
        return self.min_refresh_seconds

    async def _fetch(self) -> None:
        async with httpx.AsyncClient(timeout=self.timeout_seconds, follow_redirects=False) as http:
            # JSON of another shape than OIDC Discovery and RFC 7517 say (a list, a string, keys that are not
            # objects) raised AttributeError or TypeError out of here: a 500 for every request, not a 401
            discovery = (await http.get(self.discovery_url)).raise_for_status().json()
            if not isinstance(discovery, dict) or discovery.get("issuer") != self.issuer:
                raise RuntimeError("the discovery document names another issuer")
            if not isinstance(discovery.get("jwks_uri"), str):
                raise ValueError("the discovery document names no jwks_uri")
            jwks = (await http.get(discovery["jwks_uri"])).raise_for_status().json()
        entries = jwks.get("keys") if isinstance(jwks, dict) else None
        if not isinstance(entries, list):
            raise ValueError("the JWKS holds no list of keys")
        keys: dict[str, jwt.PyJWK] = {}
        for jwk in entries:
            if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig" or not isinstance(jwk.get("kid"), str) \
                    or jwk.get("kty") not in ("RSA", "EC"):
                continue
            try:
                keys[jwk["kid"]] = jwt.PyJWK(jwk)
            except (jwt.PyJWTError, ValueError, TypeError, KeyError):  # one unusable key, not the others
                log.warning("skipping an unusable key in the issuer's JWKS", extra={"kid": jwk["kid"][:64]})
        self._keys = keys
        self.fetches += 1

    async def key(self, kid: str) -> jwt.PyJWK | None:
        now = time.monotonic()
        stale = self._fetched_at is None or now - self._fetched_at > self.max_age_seconds
        if kid in self._keys and not stale:
            return self._keys[kid]
        async with self._lock:
            now = time.monotonic()
            due = self._fetched_at is None or now - self._fetched_at >= self._interval()
            if (kid not in self._keys or stale) and due:
                self._fetched_at = now  # set first: a failing issuer is also asked at most once per interval
                try:
                    await self._fetch()
                    self._failures = 0
                except (httpx.HTTPError, ValueError, KeyError, RuntimeError) as error:
                    self._failures += 1
                    log.warning("could not fetch the issuer's keys: %s", type(error).__name__)
        found = self._keys.get(kid)
        if found is None and self._failures:
            # the latest fetch failed: an unknown kid may be the issuer's new key, not a forged one
            raise IssuerUnavailable(self._interval())
        return found


class TokenVerifier:
    #: verified tokens remembered at most (least recently used go first)
    CACHE_ENTRIES = 10_000

    def __init__(self, keys: KeySource, *, audience: str, algorithms: list[str], leeway_seconds: int = 30,
                 cache_seconds: float = 60.0, max_lifetime_seconds: int = MAX_TOKEN_LIFETIME_SECONDS) -> None:
        if not algorithms or any(a.startswith(("HS", "none")) or a[:2] not in _KEY_TYPES for a in algorithms):
            raise ValueError("only asymmetric algorithms (RS*, PS*, ES*) may be allowed")
        self.keys, self.audience, self.algorithms, self.leeway = keys, audience, list(algorithms), leeway_seconds
        self.cache_seconds, self.max_lifetime = cache_seconds, max_lifetime_seconds
        # token text → (claims, wall-clock time after which it must be verified again)
        self._verified: OrderedDict[str, tuple[Mapping[str, Any], float]] = OrderedDict()
        self.signature_checks = 0

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> TokenVerifier:
        if not settings.auth_issuer:
            raise RuntimeError("STYRKEDJA_AUTH_ISSUER is not set: a service that requires tokens needs an issuer")
        keys = KeySource(settings.auth_issuer, min_refresh_seconds=settings.auth_jwks_min_refresh_seconds,
                         max_age_seconds=settings.auth_jwks_max_age_seconds,
                         discovery_url=settings.auth_discovery_url)
        return cls(keys, audience=settings.auth_audience, algorithms=list(settings.auth_algorithms),
                   leeway_seconds=settings.auth_leeway_seconds, cache_seconds=settings.auth_verified_cache_seconds,
                   max_lifetime_seconds=settings.auth_max_token_lifetime_seconds)

    async def verify(self, token: str) -> Mapping[str, Any]:
        if len(token) > 16_384:
            raise InvalidToken("token too large")
        cached = self._verified.get(token)
        if cached is not None:
            claims, until = cached
            if time.time() <= until:
                self._verified.move_to_end(token)
                return claims
            del self._verified[token]  # expired, or time to look at the keys again: verify in full
        claims = await self._verify(token)
        if self.cache_seconds > 0:
            self._verified[token] = (claims, min(time.time() + self.cache_seconds,
                                                 float(claims["exp"]) + self.leeway))
            while len(self._verified) > self.CACHE_ENTRIES:
                self._verified.popitem(last=False)
        return claims

    async def _verify(self, token: str) -> Mapping[str, Any]:
        self.signature_checks += 1
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("malformed token") from None
        _plain_header(header)
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in self.algorithms:
            raise InvalidToken("algorithm not allowed")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("token has no key id")
        key = await self.keys.key(kid)
        if key is None:
            raise InvalidToken("unknown key id")
        if key.key_type != _KEY_TYPES[alg[:2]]:
            raise InvalidToken("algorithm does not match the key")
        try:
            claims = jwt.decode(token, key=key.key, algorithms=[alg], audience=self.audience, issuer=self.keys.issuer,
                                leeway=self.leeway, options={"require": ["exp", "iat", "iss", "aud", "sub"]})
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("token not yet valid") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("wrong audience") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("wrong issuer") from None
        except jwt.PyJWTError:
            raise InvalidToken("signature or claims invalid") from None
        _one_reading(token)
        _audiences(claims)
        _numeric_dates(claims)
        _lifetime_within(claims, self.max_lifetime, self.leeway)
        return claims


#: header parameters that bring or point to a key of the token's own choosing (RFC 7515 §4.1.2-4.1.6): the key is
#: the issuer's JWKS's, looked up by `kid`, always. `x5t` / `x5t#S256` (a thumbprint, sent by Azure AD and ADFS next
#: to `kid`) are hints that name no key of their own and stay ignored
KEY_BEARING_HEADERS = ("jku", "jwk", "x5u", "x5c")


def _plain_header(header: Mapping[str, Any]) -> None:
    """A JWS header of a plain signed JWT, refused before any key is looked up (401, "invalid_token"):

    - `crit` (RFC 7515 §4.1.11): a recipient MUST refuse a token whose `crit` lists an extension it does not
      understand, and we understand none — not even `b64` (RFC 7797's unencoded payload, which PyJWT does know and a
      token of ours never is). PyJWT refuses the unknown ones itself today; the rule is ours, not a library version's.
    - `b64` in any value: the same extension, with or without `crit`.
    - `cty` (RFC 7519 §5.2): a nested JWT (`"JWT"`) or any other content type says the payload is to be read as
      something else than these claims — two readings of one token (round 34's rule); an access token has none.
    - `jku`, `jwk`, `x5u`, `x5c` (`KEY_BEARING_HEADERS`): never fetched nor trusted here (the key is the issuer's,
      by `kid`), so honouring them is not the question; refusing them is: no issuer of ours sends them, a token that
      does was built for a reader that trusts its embedded key (CVE-2018-0114's kind) — an attack, or a token meant
      for someone else — and a proxy or a library in front of a service that does honour them must not be handed
      one that passed here. Refused before the key lookup, a made-up `kid` beside them costs no JWKS fetch.
    """
    for name in ("crit", "b64", "cty", *KEY_BEARING_HEADERS):
        if name in header:
            raise InvalidToken(f"header: {name} is not accepted (a plain JWS signed by the issuer's key)")


def _audiences(claims: Mapping[str, Any]) -> None:
    """`aud` as a list (RFC 7519 §4.1.3) holds non-empty strings, each once: PyJWT takes `["", "styrkedja"]` and
    `["styrkedja", "styrkedja"]` when one entry matches. Neither is what an issuer of ours writes, and a reader that
    takes the first entry, or counts them ("one audience: a token for us alone"), reads such a token otherwise."""
    audience = claims.get("aud")
    if isinstance(audience, list) and (any(not isinstance(a, str) or not a for a in audience)
                                       or len(set(audience)) != len(audience)):
        raise InvalidToken("claim aud: a list of distinct non-empty strings (RFC 7519 §4.1.3)", claim="aud",
                           rule="audience_list")


class _KeyTwice(Exception):
    """An object of a token's JSON names a key twice."""


def _each_key_once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({key for key, _ in pairs}) != len(pairs):
        raise _KeyTwice
    return dict(pairs)


def _one_reading(token: str) -> None:
    """The token's header and claims are JSON objects every reader reads alike (RFC 7519 §7.2: UTF-8 JSON; §4: a
    parser either refuses a claim named twice or takes the last): UTF-8 without a byte-order mark, each key once,
    no lone surrogate. PyJWT's parser takes UTF-16 and a BOM and reads a claim named twice by its last value, so
    `"roles": [...], ..., "roles": ["teacher"]` was a teacher here and whatever a gateway or a log that reads the
    first made of it (a gateway's allowed organisers, an audit's roles). Only a signed token gets here (an
    issuer's bug, or a key that leaked): judged after the signature, once per token (the verified cache; one more
    parse of each part: 50-70 us at load 10, where PyJWT's ES256 decode took 620-660 us). No value is repeated."""
    for name, segment in zip(("header", "claims"), token.split(".")[:2], strict=True):
        try:
            text = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)).decode("utf-8")
            if text.startswith("\ufeff"):
                raise ValueError("a byte-order mark")
            document = json.loads(text, object_pairs_hook=_each_key_once)
            if "\\u" in text:  # a lone surrogate comes only from an escape (UTF-8 holds none): no character
                json.dumps(document, ensure_ascii=False).encode("utf-8")
        except _KeyTwice:
            raise InvalidToken(f"{name}: a key is given twice (RFC 7519 §4: each claim once)") from None
        except (ValueError, binascii.Error, RecursionError):
            raise InvalidToken(f"{name}: not a JSON object in UTF-8 (RFC 7519 §7.2)") from None


#: the latest NumericDate a token may name (9999-12-31T23:59:59Z): beyond it a "date" is a token that never
#: expires, and one past a float's range (an integer of 400 digits) broke the verified-token cache (500)
LATEST_NUMERIC_DATE = 253_402_300_799


def _numeric_dates(claims: Mapping[str, Any]) -> None:
    """`exp`, `iat` and `nbf` as RFC 7519 §2 has them (a JSON number of seconds), not as PyJWT takes them
    (anything `int()` reads: the string "1e9", true), and within `LATEST_NUMERIC_DATE`."""
    for name in ("exp", "iat", "nbf"):
        value = claims.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= LATEST_NUMERIC_DATE:
            raise InvalidToken(f"claim {name} is not a NumericDate within year 9999")


def _lifetime_within(claims: Mapping[str, Any], longest: int, leeway: int) -> None:
    """A validly signed token that lives longer than `longest` is refused: one that leaks (a log, a
    browser's history) would otherwise open the door for years. The lifetime is `exp - iat`; a token
    without `iat` (where a verifier does not require it) is judged by `exp - now`. `leeway` for clocks
    that differ (an issuer whose `iat` is a little behind ours)."""
    issued = claims.get("iat")
    lifetime = claims["exp"] - (issued if issued is not None else time.time())
    if lifetime > longest + leeway:
        raise InvalidToken(f"claim exp: the token lives {int(lifetime)} s, longer than the {longest} s allowed "
                           "(exp - iat, max_token_lifetime)", claim="exp", rule="max_token_lifetime")
