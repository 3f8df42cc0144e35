"""The Keycloak realm export (deploy/keycloak) emits exactly what the kit reads: the roles, the
audience and the scope claims; and platform clients are client-credentials only."""

from __future__ import annotations

import json
from pathlib import Path

from styrkedja_kit.auth import Role

REALM = Path(__file__).resolve().parents[3] / "deploy" / "keycloak" / "styrkedja-realm.json"


def test_realm_roles_audience_and_claims_match_the_kit():
    realm = json.loads(REALM.read_text())
    assert {r["name"] for r in realm["roles"]["realm"]} == {r.value for r in Role}
    (scope,) = [s for s in realm["clientScopes"] if s["name"] == "styrkedja"]
    claims = {m["config"].get("claim.name") for m in scope["protocolMappers"]}
    assert claims >= {"roles", "organisers", "areas", "school_units", "groups"}
    audience = [m for m in scope["protocolMappers"] if m["protocolMapper"] == "oidc-audience-mapper"]
    assert audience[0]["config"]["included.custom.audience"] == "styrkedja"
    platforms = [c for c in realm["clients"] if c["clientId"].startswith("platform-")]
    assert len(platforms) >= 3
    for client in platforms:
        assert client["serviceAccountsEnabled"] and not client["standardFlowEnabled"] and not client["publicClient"]
        assert not client["directAccessGrantsEnabled"] and client["secret"].startswith("${")
        account = next(u for u in realm["users"] if u.get("serviceAccountClientId") == client["clientId"])
        assert account["realmRoles"] == ["platform"] and account["attributes"]["organisers"]
    profile = json.loads(realm["components"]["org.keycloak.userprofile.UserProfileProvider"][0]["config"]
                         ["kc.user.profile.config"][0])
    assert profile["unmanagedAttributePolicy"] == "ADMIN_EDIT"  # users cannot widen their own scope


def test_the_realms_tokens_live_within_the_services_maximum_lifetime():
    """The services refuse a token that lives longer than `auth_max_token_lifetime_seconds` (by default
    MAX_TOKEN_LIFETIME_SECONDS): every access-token lifespan the realm sets stays within it."""
    from styrkedja_kit.settings import MAX_TOKEN_LIFETIME_SECONDS

    realm = json.loads(REALM.read_text())
    lifespans = [int(realm["accessTokenLifespan"])]
    lifespans += [int(c["attributes"]["access.token.lifespan"]) for c in realm["clients"]
                  if "access.token.lifespan" in c.get("attributes", {})]
    assert len(lifespans) >= 2
    assert all(0 < s <= MAX_TOKEN_LIFETIME_SECONDS for s in lifespans), lifespans
