"""Authorization headers that must all be refused with 401 — for the token-attack tests of every
service (`for name, header in attack_authorizations(token_issuer).items(): ...` on every route).

Each one is built by hand on purpose: a maintained library refuses to produce most of them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterable

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .issuer import DevIssuer


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def attack_authorizations(issuer: DevIssuer, *, organisers: Iterable[str] = ("2999",)) -> dict[str, str | None]:
    """name → `Authorization` header value (None: no header). The claims are the most powerful a
    token can carry, so that only the attack, not the scope, decides the answer."""
    if issuer.minter is None:
        raise RuntimeError("start the issuer first")
    minter, orgs = issuer.minter, list(organisers)
    everything = ["organiser_admin", "ops", "platform", "principal", "teacher", "area_manager"]
    good = issuer.mint(roles=everything, organisers=orgs)
    header, payload, signature = good.split(".")
    claims = jwt.decode(good, options={"verify_signature": False})
    stranger = ec.generate_private_key(ec.SECP256R1())
    public_pem = minter.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)
    hs_head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": minter.kid}).encode())
    body = b64(json.dumps(claims).encode())
    hs_sig = b64(hmac.new(public_pem, f"{hs_head}.{body}".encode(), hashlib.sha256).digest())
    none_head = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": minter.kid}).encode())
    rs_head = b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": minter.kid}).encode())
    tampered = b64(json.dumps({**claims, "organisers": [*orgs, "0000"]}).encode())
    es256 = jwt.get_algorithm_by_name("ES256")
    es_head = {"alg": "ES256", "typ": "JWT", "kid": minter.kid}

    def signed(payload: bytes, head: bytes | None = None) -> str:
        """Signed by the issuer's own key over JSON written by hand: what PyJWT reads, but not as every reader."""
        signing = f"{b64(head or json.dumps(es_head).encode())}.{b64(payload)}"
        return f"Bearer {signing}.{b64(es256.sign(signing.encode(), minter.key))}"

    plain = json.dumps(claims)
    public_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(minter.key.public_key()))

    def headed(**extra: object) -> str:
        """The plain claims signed by the issuer's own key under a header with `extra` parameters (round 35)."""
        return signed(plain.encode(), json.dumps({**es_head, **extra}).encode())

    def audience(values: list[str]) -> str:
        return signed(json.dumps({**claims, "aud": values}).encode())

    nested = issuer.mint(roles=everything, organisers=orgs)
    # each key once, the same values: only the spelling is the attack (round 34)
    twice = plain[:-1] + ", " + json.dumps("roles") + ": " + json.dumps(claims["roles"]) + "}"
    return {
        "missing": None,
        "not bearer": f"Basic {b64(b'user:password')}",
        "garbage": "Bearer not.a.jwt",
        "alg none": f"Bearer {none_head}.{body}.",
        "HS256 with the public key": f"Bearer {hs_head}.{body}.{hs_sig}",
        "alg RS256 on an EC key": f"Bearer {rs_head}.{payload}.{signature}",
        "unknown kid": "Bearer " + jwt.encode(claims, stranger, algorithm="ES256", headers={"kid": "unknown-kid"}),
        "forged signature": "Bearer " + jwt.encode(claims, stranger, algorithm="ES256", headers={"kid": minter.kid}),
        "tampered payload": f"Bearer {header}.{tampered}.{signature}",
        "wrong issuer": "Bearer " + issuer.mint(roles=everything, organisers=orgs,
                                                extra={"iss": "http://127.0.0.1:1/evil"}),
        "wrong audience": "Bearer " + issuer.mint(roles=everything, organisers=orgs, extra={"aud": "another-api"}),
        "expired": "Bearer " + issuer.mint(roles=everything, organisers=orgs, ttl_seconds=-120),
        "not yet valid": "Bearer " + issuer.mint(roles=everything, organisers=orgs,
                                                 extra={"nbf": int(time.time()) + 3600}),
        "no expiry": "Bearer " + jwt.encode({k: v for k, v in claims.items() if k != "exp"}, minter.key,
                                            algorithm="ES256", headers={"kid": minter.kid}),
        # validly signed, but alive for fifty years: a token that leaks must not open the door for good
        "lives fifty years": "Bearer " + issuer.mint(roles=everything, organisers=orgs, ttl_seconds=50 * 365 * 86400),
        "malformed scope claims": "Bearer " + issuer.mint(roles=everything, organisers=orgs,
                                                          school_units=["19800101-1234"]),
        # an organiser "2999\n" passed a pattern ending in `$`; a client that is a list was read as no client
        "scope claim ending in a newline": "Bearer " + issuer.mint(roles=everything, organisers=[o + "\n" for o in orgs]),
        "client claim not a string": "Bearer " + issuer.mint(roles=everything, organisers=orgs, extra={"azp": ["web"]}),
        # validly signed JSON that readers read differently (round 34): a claim named twice (PyJWT takes the last, a
        # gateway may take the first), not UTF-8, a BOM, a lone surrogate, the header's key twice
        "a claim given twice": signed(twice.encode()),
        "claims with a byte-order mark": signed(b"\xef\xbb\xbf" + plain.encode()),
        "claims in UTF-16": signed(plain.encode("utf-16")),
        "a lone surrogate in a claim": signed((plain[:-1] + ', "name": "\\ud800"}').encode()),
        "a header key given twice": signed(plain.encode(), (json.dumps(es_head)[:-1] + ', "kid": '
                                                            + json.dumps(minter.kid) + "}").encode()),
        # round 35: JWS header parameters a plain token of ours never has (`auth.tokens._plain_header`), each signed
        # by the issuer's key: an extension the reader does not understand (RFC 7515 §4.1.11), RFC 7797's unencoded
        # payload, a nested JWT (RFC 7519 §5.2), keys brought by the token (never fetched nor trusted)
        "crit naming an unknown extension": headed(crit=["x-styrkedja"], **{"x-styrkedja": 1}),
        "crit empty": headed(crit=[]),
        "crit b64 with b64 true": headed(crit=["b64"], b64=True),
        "b64 false under crit": signed(plain.encode(), json.dumps({**es_head, "b64": False, "crit": ["b64"]}).encode()),
        "b64 false without crit": headed(b64=False),
        "cty JWT over plain claims": headed(cty="JWT"),
        "cty JWT over a nested token": signed(json.dumps(nested).encode(), json.dumps({**es_head, "cty": "JWT"}).encode()),
        "jku": headed(jku="http://127.0.0.1:1/jwks.json"),
        "jwk embedded (the issuer's own public key)": headed(jwk=public_jwk),
        "x5u": headed(x5u="http://127.0.0.1:1/cert.pem"),
        "x5c": headed(x5c=["MIIBszCCAVmgAwIBAgIU"]),
        # `aud` lists PyJWT takes when one entry matches (`auth.tokens._audiences`)
        "aud listed twice": audience([claims["aud"], claims["aud"]]),
        "aud with an empty string": audience(["", claims["aud"]]),
        "aud with an empty string after": audience([claims["aud"], ""]),
        "iss a list of itself twice": signed(json.dumps({**claims, "iss": [claims["iss"], claims["iss"]]}).encode()),
        "iss empty": signed(json.dumps({**claims, "iss": ""}).encode()),
    }
