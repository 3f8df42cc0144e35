"""A small OIDC issuer on loopback for the embedded default and the tests: a discovery document
and a JWKS over HTTP, `mint()` to sign tokens with its key, and — for the dashboard's sign-in — the
authorization code flow with PKCE (S256 only): `/authorize` shows a local page to pick a role,
organiser, areas, school units and groups, and `/token` redeems the code once.

The key (EC P-256, ES256) is generated on first start and kept in `<state dir>/issuer/`, so tokens
minted by `styrkedja token` stay valid across restarts of `make run`. `issuer.json` next to it
records the issuer URL for the CLI. This is for one machine only: anyone who can read the state
dir can mint tokens. Production points `STYRKEDJA_AUTH_ISSUER` at a real provider (Keycloak in
docker-compose), and nothing in the services knows the difference.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import secrets
import threading
import time
import uuid
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

AUDIENCE = "styrkedja"
# 8100 is the dashboard's
DEFAULT_PORT = 8090
CODE_SECONDS = 60
# the sign-in page is for this machine only: codes go only to loopback redirect URIs
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action http: https:; frame-ancestors 'none'"


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


_DIGITS_AS_LETTERS = str.maketrans("0123456789", "ghijklmnop")


def dev_subject() -> str:
    """A random pseudonymous user id for a token minted without one: 12 hex digits written with letters
    only (0-9 as g-p), so that no run of digits in it can ever read as a personnummer, which the
    services refuse in `sub` (a CI run once drew `dev-` + a run that did)."""
    return "dev-" + uuid.uuid4().hex[:12].translate(_DIGITS_AS_LETTERS)

class TokenMinter:
    """Signs tokens with the dev issuer's key (no server needed: the CLI uses this directly)."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, issuer: str, audience: str = AUDIENCE) -> None:
        self.key, self.issuer, self.audience = key, issuer.rstrip("/"), audience
        public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
        # RFC 7638 thumbprint as the key id: stable for one key, different for the next
        self.kid = _thumbprint(public)
        self.public_jwk = {**public, "kid": self.kid, "use": "sig", "alg": "ES256"}

    @classmethod
    def from_state_dir(cls, state_dir: Path) -> TokenMinter:
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
            "iss": self.issuer, "aud": self.audience, "sub": subject or dev_subject(),
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


class _Server(ThreadingHTTPServer):
    """A client that goes away mid-answer (a browser tab closed, a CLI stopped) is its own business: socketserver
    would print that as a traceback into `styrkedja run`'s terminal."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


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

    def start(self) -> DevIssuer:
        key = _load_or_create_key(self.folder / "key.pem")
        documents: dict[str, bytes] = {}

        codes: dict[str, dict[str, Any]] = {}
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "styrkedja-dev-issuer"
            sys_version = ""

            def _send(self, status: int, body: bytes, content_type: str = "application/json",
                      headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def _form(self) -> dict[str, list[str]]:
                length = int(self.headers.get("Content-Length") or 0)
                if length > 64 * 1024:
                    return {}
                return parse_qs(self.rfile.read(length).decode("utf-8", "replace"), keep_blank_values=True)

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                path, _, query = self.path.partition("?")
                if path == "/authorize":
                    params = {k: v[0] for k, v in parse_qs(query).items()}
                    problem = _authorization_problem(params)
                    if problem:
                        self._send(400, _page("Felaktig begäran", f"<p>{html.escape(problem)}</p>"),
                                   "text/html; charset=utf-8", {"Content-Security-Policy": PAGE_CSP})
                        return
                    self._send(200, _sign_in_page(params), "text/html; charset=utf-8",
                               {"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-store",
                                "X-Frame-Options": "DENY"})
                    return
                if path == "/logout":  # RP-initiated logout: no session of its own to end, only the way back
                    params = {k: v[0] for k, v in parse_qs(query).items()}
                    back = params.get("post_logout_redirect_uri")
                    if back is None:
                        self._send(200, _page("Utloggad", "<h1>Utloggad</h1><p>Du är utloggad.</p>"),
                                   "text/html; charset=utf-8", {"Content-Security-Policy": PAGE_CSP})
                    elif _loopback_url(back):
                        self._send(303, b"", "text/plain", {"Location": back})
                    else:
                        self._send(400, _page("Felaktig begäran", "<p>post_logout_redirect_uri must be a loopback "
                                              "http(s) URL: this issuer is for one machine only</p>"),
                                   "text/html; charset=utf-8", {"Content-Security-Policy": PAGE_CSP})
                    return
                body = documents.get(path)
                self._send(200 if body else 404, body or b'{"error": "not found"}',
                           headers={"Cache-Control": "max-age=60"})

            def do_POST(self) -> None:  # noqa: N802
                path = self.path.split("?", 1)[0]
                form = dict(self._form())
                one = {k: v[0] for k, v in form.items()}
                if path == "/authorize":
                    problem = _authorization_problem(one)
                    claims = None if problem else _claims_from_form(form)
                    if problem or isinstance(claims, str):
                        message = problem or str(claims)
                        self._send(400, _page("Felaktig begäran", f"<p>{html.escape(message)}</p>"),
                                   "text/html; charset=utf-8", {"Content-Security-Policy": PAGE_CSP})
                        return
                    code = secrets.token_urlsafe(32)
                    codes[code] = {"client_id": one["client_id"], "redirect_uri": one["redirect_uri"],
                                   "challenge": one["code_challenge"], "claims": claims,
                                   "expires": time.time() + CODE_SECONDS}
                    target = one["redirect_uri"] + ("&" if "?" in one["redirect_uri"] else "?") + urlencode(
                        {"code": code, "state": one.get("state", "")})
                    self._send(303, b"", "text/plain", {"Location": target})
                    return
                if path == "/token":
                    status, answer = _redeem(codes, one, issuer)
                    self._send(status, json.dumps(answer).encode(),
                               headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
                    return
                self._send(404, b'{"error": "not found"}')

            def log_message(self, *args: Any) -> None:
                pass

        self._server = _Server((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        self.minter = TokenMinter(key, self.url)
        documents["/.well-known/openid-configuration"] = json.dumps({
            "issuer": self.url, "jwks_uri": f"{self.url}/jwks.json",
            "authorization_endpoint": f"{self.url}/authorize", "token_endpoint": f"{self.url}/token",
            "end_session_endpoint": f"{self.url}/logout",
            "id_token_signing_alg_values_supported": ["ES256"], "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"], "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
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


# -- the authorization code flow (local use only) ---------------------------------------------------

_ROLES = (("organiser_admin", "Huvudmannens förvaltning (organiser_admin)"),
          ("area_manager", "Verksamhetschef (area_manager)"), ("principal", "Rektor (principal)"),
          ("ict_coordinator", "IT-samordnare (ict_coordinator)"),
          ("teacher", "Lärare (teacher)"), ("politician", "Politiker (politician)"), ("public", "Allmänheten (public)"))
_CARRIED = ("response_type", "client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method", "scope")


def _loopback_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and parts.hostname in LOOPBACK_HOSTS and parts.port != 0
    except ValueError:  # a port out of range or not a number
        return False


def _authorization_problem(params: dict[str, str]) -> str | None:
    if params.get("response_type") != "code":
        return "response_type must be code"
    if not params.get("client_id"):
        return "client_id is missing"
    if not _loopback_url(params.get("redirect_uri", "")):
        return "redirect_uri must be a loopback http(s) URL: this issuer is for one machine only"
    if params.get("code_challenge_method") != "S256" or not 43 <= len(params.get("code_challenge", "")) <= 128:
        return "PKCE is required: code_challenge with code_challenge_method=S256"
    return None


def _split(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.replace(";", ",").split(",") if part.strip()]


def _claims_from_form(form: dict[str, list[str]]) -> dict[str, Any] | str:
    """The picked role and scope as token claims, checked as the services will check them."""
    from styrkedja_kit.auth import InvalidClaims, principal_from_claims

    claims = {"sub": (form.get("sub") or [""])[0].strip() or dev_subject(),
              "roles": [r for r in form.get("role", []) if r], "organisers": _split(form.get("organisers", [])),
              "areas": _split(form.get("areas", [])), "school_units": _split(form.get("school_units", [])),
              "groups": _split(form.get("groups", []))}
    try:
        principal_from_claims(claims)
    except InvalidClaims as error:
        return str(error)
    return claims


def _redeem(codes: dict[str, dict[str, Any]], form: dict[str, str], issuer: DevIssuer) -> tuple[int, dict[str, Any]]:
    if form.get("grant_type") != "authorization_code":
        return 400, {"error": "unsupported_grant_type"}
    entry = codes.pop(form.get("code", ""), None)  # one use only, whatever happens next
    if entry is None or entry["expires"] < time.time():
        return 400, {"error": "invalid_grant", "error_description": "unknown, used or expired code"}
    if form.get("client_id") != entry["client_id"] or form.get("redirect_uri", entry["redirect_uri"]) != entry[
            "redirect_uri"]:
        return 400, {"error": "invalid_grant", "error_description": "client_id or redirect_uri differs"}
    verifier = form.get("code_verifier", "")
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    if not 43 <= len(verifier) <= 128 or not secrets.compare_digest(challenge, entry["challenge"]):
        return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
    claims = entry["claims"]
    ttl = 3600
    token = issuer.mint(roles=claims["roles"], subject=claims["sub"], organisers=claims["organisers"],
                        areas=claims["areas"], school_units=claims["school_units"], groups=claims["groups"],
                        client_id=entry["client_id"], ttl_seconds=ttl)
    return 200, {"access_token": token, "token_type": "Bearer", "expires_in": ttl, "scope": "openid"}


def _page(title: str, body: str) -> bytes:
    return f"""<!doctype html><html lang="sv"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;color:#1b1b1b;max-width:40rem;margin:2rem auto;padding:0 1rem}}
label{{display:block;margin:.75rem 0 .2rem;font-weight:600}}input,select{{font:inherit;width:100%;padding:.3rem;
border:1px solid #767676}}button{{font:inherit;margin-top:1rem;padding:.5rem 1rem;background:#005a9c;color:#fff;
border:0}}.hint{{color:#4a4a4a;font-size:.9rem;margin:0}}:focus-visible{{outline:3px solid #ffbf47}}</style>
</head><body><main>{body}</main></body></html>""".encode()


def _sign_in_page(params: dict[str, str]) -> bytes:
    hidden = "".join(f'<input type="hidden" name="{k}" value="{html.escape(params.get(k, ""))}">' for k in _CARRIED)
    options = "".join(f'<option value="{value}">{html.escape(text)}</option>' for value, text in _ROLES)
    field = ('<label for="{id}">{label}</label><p class="hint" id="{id}-hint">{hint}</p>'
             '<input id="{id}" name="{id}" aria-describedby="{id}-hint" autocomplete="off">')
    body = (f"<h1>Utvecklingsinloggning</h1><p>Endast för lokal användning: välj vem du vill vara. "
            f"Klienten <strong>{html.escape(params.get('client_id', ''))}</strong> får en token med de här "
            f"uppgifterna.</p><form method=\"post\" action=\"/authorize\">{hidden}"
            f'<label for="role">Roll</label><select id="role" name="role">{options}</select>'
            + field.format(id="organisers", label="Huvudman", hint="Kommunkod (demokommunen: 2980) eller "
                           "organisationsnummer (NNNNNN-NNNN), flera med komma")
            + field.format(id="areas", label="Verksamhetsområden", hint="Områdes-id, flera med komma (valfritt)")
            + field.format(id="school_units", label="Skolenheter", hint="Skolenhetskoder (8 siffror), flera med komma")
            + field.format(id="groups", label="Grupper", hint="SKOLENHETSKOD/GRUPP, flera med komma (lärare)")
            + field.format(id="sub", label="Användar-id", hint="Valfritt; annars ett slumpat dev-id")
            + '<button type="submit">Logga in</button></form>')
    return _page("Logga in – Styrkedja (utveckling)", body)
