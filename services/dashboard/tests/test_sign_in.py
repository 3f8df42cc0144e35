"""Sign-in over HTTP, no browser: the dashboard (in-process) against the dev issuer (a real
loopback server): authorization code + PKCE, the session cookie, CSRF, and what the issuer refuses."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from styrkedja_dashboard.app import create_app
from styrkedja_dashboard.settings import DashboardSettings
from styrkedja_devstack.issuer import DevIssuer

PUBLIC = "http://127.0.0.1:18100"


@pytest.fixture
def issuer(tmp_path):
    issuer = DevIssuer(tmp_path, port=0).start()
    yield issuer
    issuer.stop()


@pytest.fixture
def dashboard(issuer):
    # reporting and LIKA are not running: pages behind sign-in answer 503 (unreachable), which is all these tests need
    settings = DashboardSettings(public_url=PUBLIC, issuer=issuer.url, reporting_url="http://127.0.0.1:9",
                                 lika_url="http://127.0.0.1:9")
    with TestClient(create_app(settings), base_url=PUBLIC) as client:
        yield client


def authorize(client: TestClient, *, role: str = "organiser_admin", next_url: str = "/lika") -> tuple[str, dict]:
    start = client.get("/logga-in", params={"next": next_url}, follow_redirects=False)
    assert start.status_code == 303
    location = start.headers["location"]
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    page = httpx.get(location)
    assert page.status_code == 200 and 'label for="role"' in page.text
    return location, params


def pick(issuer: DevIssuer, params: dict, **form) -> httpx.Response:
    fields = {"role": "organiser_admin", "organisers": "2120000142", **params, **form}
    return httpx.post(issuer.url + "/authorize", data=fields, follow_redirects=False)


def test_sign_in_with_pkce_gives_an_httponly_session_and_no_token_to_the_browser(dashboard, issuer):
    _, params = authorize(dashboard)
    chosen = pick(issuer, params)
    assert chosen.status_code == 303
    back = urlsplit(chosen.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == PUBLIC + "/auth/callback"
    before = dashboard.cookies.get("styrkedja_session")
    done = dashboard.get(back.path + "?" + back.query, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/lika"
    cookie = done.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "eyJ" not in cookie
    assert dashboard.cookies.get("styrkedja_session") != before  # a new id at sign-in
    page = dashboard.get("/lika")
    assert page.status_code == 503 and "eyJ" not in page.text  # signed in; the service is just not there
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    # the code was used once; a second redemption (a replay of the callback) signs nobody in
    again = dashboard.get(back.path + "?" + back.query, follow_redirects=False)
    assert again.status_code == 400


def test_logout_needs_the_csrf_token(dashboard, issuer):
    _, params = authorize(dashboard)
    back = urlsplit(pick(issuer, params).headers["location"])
    dashboard.get(back.path + "?" + back.query, follow_redirects=False)
    refused = dashboard.post("/logga-ut", data={"csrf": "forged"}, follow_redirects=False)
    assert refused.status_code == 403
    assert dashboard.get("/lika", follow_redirects=False).status_code == 503  # still signed in
    sid = dashboard.cookies.get("styrkedja_session")
    csrf = dashboard.app.state.sessions._sessions[sid].csrf  # what the page's logout form carries
    signed_out = dashboard.post("/logga-ut", data={"csrf": csrf}, follow_redirects=False)
    assert signed_out.status_code == 303
    assert dashboard.get("/lika", follow_redirects=False).status_code == 303  # back to sign-in


def test_pages_need_sign_in_and_next_is_only_a_local_path(dashboard):
    response = dashboard.get("/kedjan?niva=group", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/logga-in?next=%2Fkedjan%3Fniva%3Dgroup"
    assert dashboard.get("/kedjan?omgang=9", follow_redirects=False).status_code == 303


def test_a_forged_state_is_refused(dashboard, issuer):
    _, params = authorize(dashboard)
    back = urlsplit(pick(issuer, {**params, "state": "forged"}).headers["location"])
    assert dashboard.get(back.path + "?" + back.query, follow_redirects=False).status_code == 400


def test_the_issuer_checks_pkce_redirect_and_claims(issuer):
    verifier = "v" * 64
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {"response_type": "code", "client_id": "c", "redirect_uri": "http://127.0.0.1:1/cb", "state": "s",
              "code_challenge": challenge, "code_challenge_method": "S256"}
    assert httpx.get(issuer.url + "/authorize", params={**params, "redirect_uri": "https://evil.example/cb"}
                     ).status_code == 400
    assert httpx.get(issuer.url + "/authorize", params={**params, "code_challenge_method": "plain"}).status_code == 400
    assert pick(issuer, params, role="principal", school_units="not-a-code").status_code == 400
    code = parse_qs(urlsplit(pick(issuer, params).headers["location"]).query)["code"][0]
    token = {"grant_type": "authorization_code", "code": code, "client_id": "c", "redirect_uri": params["redirect_uri"]}
    wrong = httpx.post(issuer.url + "/token", data={**token, "code_verifier": "w" * 64})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    # a refused attempt burns the code too
    assert httpx.post(issuer.url + "/token", data={**token, "code_verifier": verifier}).status_code == 400
    code = parse_qs(urlsplit(pick(issuer, params).headers["location"]).query)["code"][0]
    good = httpx.post(issuer.url + "/token", data={**token, "code": code, "code_verifier": verifier})
    assert good.status_code == 200 and good.json()["token_type"] == "Bearer"
    discovery = httpx.get(issuer.url + "/.well-known/openid-configuration").json()
    assert discovery["code_challenge_methods_supported"] == ["S256"]


def test_an_organiser_outside_the_token_is_refused_before_any_read(dashboard, issuer):
    _, params = authorize(dashboard)
    back = urlsplit(pick(issuer, params, organisers="2120000142").headers["location"])
    dashboard.get(back.path + "?" + back.query, follow_redirects=False)
    refused = dashboard.get("/kedjan", params={"huvudman": "2120000999"})
    assert refused.status_code == 403 and "behörighet" in refused.text
    assert dashboard.get("/kedjan", params={"omgang": "9"}).status_code == 422  # named, not a 500


def signed_in(dashboard: TestClient, issuer: DevIssuer) -> str:
    """Signs in through the dev issuer; the CSRF token the page's sign-out form carries."""
    _, params = authorize(dashboard)
    back = urlsplit(pick(issuer, params).headers["location"])
    dashboard.get(back.path + "?" + back.query, follow_redirects=False)
    return dashboard.app.state.sessions._sessions[dashboard.cookies.get("styrkedja_session")].csrf


def test_sign_out_ends_the_providers_session_too_and_comes_back_to_the_start_page(dashboard, issuer):
    """Failed on the old code: sign-out went to "/" only, so the provider (Keycloak in production) kept its own
    session, and on a shared computer the next "Logga in" came back as the person who had signed out."""
    csrf = signed_in(dashboard, issuer)
    page = dashboard.get("/")  # any page: its form-action lets the sign-out form go on to the issuer
    assert f"form-action 'self' {issuer.url}" in page.headers["content-security-policy"]
    signed_out = dashboard.post("/logga-ut", data={"csrf": csrf}, follow_redirects=False)
    assert signed_out.status_code == 303
    to = urlsplit(signed_out.headers["location"])
    assert f"{to.scheme}://{to.netloc}{to.path}" == issuer.url + "/logout"
    query = {k: v[0] for k, v in parse_qs(to.query).items()}
    assert query["post_logout_redirect_uri"] == PUBLIC + "/" and query["client_id"] == "styrkedja-dashboard"
    assert "id_token_hint" not in query  # the dev issuer gives no ID token
    back = httpx.get(signed_out.headers["location"], follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == PUBLIC + "/"
    assert dashboard.get("/lika", follow_redirects=False).status_code == 303  # signed out here


def test_sign_out_without_a_session_or_provider_stays_here(dashboard, issuer):
    """No session: nothing to end at the provider. A provider gone at sign-out: signed out here all the same."""
    start = dashboard.get("/")
    csrf_free = dashboard.post("/logga-ut", data={"csrf": "x"}, follow_redirects=False)
    assert csrf_free.status_code == 403 and start.status_code == 200
    csrf = signed_in(dashboard, issuer)
    dashboard.app.state.oidc._discovery = None
    issuer.stop()
    signed_out = dashboard.post("/logga-ut", data={"csrf": csrf}, follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/"
    assert dashboard.get("/lika", follow_redirects=False).status_code == 303


async def test_the_end_session_address_carries_the_id_token_and_only_goes_to_the_issuers_origin():
    from styrkedja_dashboard.auth.oidc import OidcClient

    settings = DashboardSettings(public_url="https://styrkedja.example.se", issuer="https://idp.example.se/realms/s")
    async with httpx.AsyncClient() as http:
        oidc = OidcClient(settings, http)
        oidc._discovery = {"authorization_endpoint": "https://idp.example.se/a", "token_endpoint": "https://idp.example.se/t",
                           "end_session_endpoint": "https://idp.example.se/realms/s/logout?ui=sv"}
        url = await oidc.end_session("header.payload.signature")
        parts = urlsplit(url or "")
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert parts.netloc == "idp.example.se" and query == {
            "ui": "sv", "client_id": settings.client_id, "id_token_hint": "header.payload.signature",
            "post_logout_redirect_uri": "https://styrkedja.example.se/"}
        for elsewhere in ("https://evil.example/logout", "javascript:alert(1)", "https://idp.example.se:99999/x", 7):
            oidc._discovery["end_session_endpoint"] = elsewhere
            assert await oidc.end_session("t") is None, elsewhere
        del oidc._discovery["end_session_endpoint"]
        assert await oidc.end_session("t") is None


@pytest.mark.parametrize("back", ["https://evil.example/", "javascript:alert(1)", "http://127.0.0.1:99999/", "//x"])
def test_the_dev_issuer_sends_a_sign_out_back_to_this_machine_only(issuer, back):
    """The dev issuer's `/logout` follows `post_logout_redirect_uri` only to a loopback http(s) URL, as `/authorize`
    its redirect_uri: anything else is a 400 page, never a redirect (an open redirector on the sign-out)."""
    refused = httpx.get(issuer.url + "/logout", params={"post_logout_redirect_uri": back}, follow_redirects=False)
    assert refused.status_code == 400 and "location" not in refused.headers
    assert "loopback" in refused.text
    plain = httpx.get(issuer.url + "/logout", follow_redirects=False)  # no way back asked: a page saying so
    assert plain.status_code == 200 and "Utloggad" in plain.text
