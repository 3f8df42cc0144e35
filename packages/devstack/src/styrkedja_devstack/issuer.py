"""A small OIDC issuer on loopback for the embedded default and the tests: a discovery document
and a JWKS over HTTP, and `mint()` to sign tokens with its key.

The key (EC P-256, ES256) is generated on first start and kept in `<state dir>/issuer/`, so tokens
minted by `styrkedja token` stay valid across restarts of `make run`. `issuer.json` next to it
records the issuer URL for the CLI. This is for one machine only: anyone who can read the state
dir can mint tokens. Production points `STYRKEDJA_AUTH_ISSUER` at a real provider (Keycloak in
docker-compose), and nothing in the services knows the difference.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

AUDIENCE = "styrkedja"
DEFAULT_PORT = 8100


def _load_or_create_key(path: Path) -> ec.EllipticCurvePrivateKey:
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise RuntimeError(f"{path} is not an EC private key")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return key


class TokenMinter:
    """Signs tokens with the dev issuer's key (no server needed: the CLI uses this directly)."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, issuer: str, audience: str = AUDIENCE) -> None:
        self.key, self.issuer, self.audience = key, issuer.rstrip("/"), audience
        public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
        # RFC 7638 thumbprint as the key id: stable for one key, different for the next
        self.kid = _thumbprint(public)
        self.public_jwk = {**public, "kid": self.kid, "use": "sig", "alg": "ES256"}

    @classmethod
    def from_state_dir(cls, state_dir: Path) -> "TokenMinter":
        folder = state_dir / "issuer"
        info = folder / "issuer.json"
        if not info.exists():
            raise FileNotFoundError(f"no dev issuer in {state_dir}: start it with `styrkedja run` first")
        issuer = json.loads(info.read_text())["issuer"]
        return cls(_load_or_create_key(folder / "key.pem"), issuer)

    def mint(self, *, roles: Iterable[str], subject: str | None = None, organisers: Iterable[str] = (),
             areas: Iterable[str] = (), school_units: Iterable[str] = (), groups: Iterable[str] = (),
             client_id: str | None = None, ttl_seconds: int = 3600, extra: dict[str, Any] | None = None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": self.audience, "sub": subject or f"dev-{uuid.uuid4().hex[:12]}",
            "iat": now, "nbf": now, "exp": now + ttl_seconds, "jti": uuid.uuid4().hex,
            "roles": list(roles), "organisers": list(organisers), "areas": list(areas),
            "school_units": list(school_units), "groups": list(groups),
        }
        if client_id:
            claims["azp"] = client_id
        claims.update(extra or {})
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": self.kid})


def _thumbprint(jwk: dict[str, Any]) -> str:
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


class DevIssuer:
    """Discovery + JWKS on 127.0.0.1 in a daemon thread of the calling process."""

    def __init__(self, state_dir: Path, port: int | None = DEFAULT_PORT, host: str = "127.0.0.1") -> None:
        self.folder = state_dir / "issuer"
        self.host, self.port = host, port or 0
        self._server: ThreadingHTTPServer | None = None
        self.minter: TokenMinter | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "DevIssuer":
        key = _load_or_create_key(self.folder / "key.pem")
        documents: dict[str, bytes] = {}

        class Handler(BaseHTTPRequestHandler):
            server_version = "styrkedja-dev-issuer"
            sys_version = ""

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                body = documents.get(self.path.split("?", 1)[0])
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "max-age=60")
                self.end_headers()
                self.wfile.write(body or b'{"error": "not found"}')

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.minter = TokenMinter(key, self.url)
        documents["/.well-known/openid-configuration"] = json.dumps({
            "issuer": self.url, "jwks_uri": f"{self.url}/jwks.json",
            "id_token_signing_alg_values_supported": ["ES256"], "response_types_supported": ["token"],
            "subject_types_supported": ["public"], "claims_supported": [
                "sub", "azp", "roles", "organisers", "areas", "school_units", "groups"],
        }).encode()
        documents["/jwks.json"] = json.dumps({"keys": [self.minter.public_jwk]}).encode()
        (self.folder / "issuer.json").write_text(json.dumps({"issuer": self.url, "audience": AUDIENCE}))
        threading.Thread(target=self._server.serve_forever, name="dev-issuer", daemon=True).start()
        return self

    def mint(self, **kwargs: Any) -> str:
        if self.minter is None:
            raise RuntimeError("start the issuer first")
        return self.minter.mint(**kwargs)

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
