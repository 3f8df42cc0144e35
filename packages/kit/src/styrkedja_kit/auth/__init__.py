"""Access control: OIDC bearer tokens (tokens), who is calling (principal), what each role may do
(policy, pure), and the FastAPI wiring (web).

Switching a service on:
1. `create_service_app(..., require_token=True)` in its `main.py`; `STYRKEDJA_AUTH_ISSUER` must then
   be set (the app refuses to start without it).
2. Every route declares a guard: `principal: Principal = authorize_write(Write.ASSESSMENTS)`,
   `authorize_read()` or `authorize(Role.OPS)`; inside, `require_write(principal, kind, organiser_id)`
   / `require_read(principal, Node(...))` before anything is stored or read.
3. A test asserts `routes_without_guard(app) == []`, and runs `attack_authorizations(token_issuer)`
   (styrkedja_devstack.token_attacks) on every route of `api_routes(app)`.
4. Tests set `STYRKEDJA_AUTH_ISSUER=token_issuer.url` and send `token_issuer.mint(...)` tokens;
   processes started by the devstack get the same variable through `ServiceProcess(extra_env=...)`.
"""

from .policy import (
                     GRANTS,
                     ROLE_RULE,
                     AccessDenied,
                     Node,
                     Topic,
                     Write,
                     may_read,
                     may_read_own_write,
                     may_write,
                     readable_levels,
                     reading,
                     require_read,
                     require_role,
                     require_write,
                     require_write_each,
)
from .principal import GroupRef, InvalidClaims, Level, Principal, Role, principal_from_claims
from .tokens import InvalidToken, IssuerUnavailable, KeySource, TokenVerifier
from .web import (
                     OPEN_PATHS,
                     Guard,
                     RouteInfo,
                     TokenMiddleware,
                     api_routes,
                     authorize,
                     authorize_read,
                     authorize_write,
                     document_security,
                     routes_without_guard,
)

__all__ = [
    "GRANTS", "OPEN_PATHS", "ROLE_RULE", "AccessDenied", "Guard", "GroupRef", "InvalidClaims", "InvalidToken", "IssuerUnavailable",
    "KeySource", "Level", "Node", "Principal", "RouteInfo", "api_routes", "Role", "Topic", "TokenMiddleware", "TokenVerifier",
    "Write", "authorize", "authorize_read", "authorize_write", "may_read", "may_read_own_write", "may_write",
    "principal_from_claims", "readable_levels", "reading", "require_read", "require_role", "require_write", "require_write_each",
    "routes_without_guard", "document_security",
]
