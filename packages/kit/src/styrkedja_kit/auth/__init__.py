"""Access control: OIDC bearer tokens (tokens), who is calling (principal), what each role may do
(policy, pure), and the FastAPI wiring (web)."""

from .policy import (
                     GRANTS,
                     AccessDenied,
                     Node,
                     Write,
                     may_read,
                     may_read_own_write,
                     may_write,
                     readable_levels,
                     require_read,
                     require_role,
                     require_write,
)
from .principal import GroupRef, InvalidClaims, Level, Principal, Role, principal_from_claims
from .tokens import InvalidToken, KeySource, TokenVerifier
from .web import (
                     OPEN_PATHS,
                     Guard,
                     RouteInfo,
                     TokenMiddleware,
                     api_routes,
                     authorize,
                     authorize_read,
                     authorize_write,
                     routes_without_guard,
)

__all__ = ["GRANTS", "OPEN_PATHS", "AccessDenied", "Guard", "GroupRef", "InvalidClaims", "InvalidToken", "KeySource",
           "Level", "Node", "Principal", "RouteInfo", "api_routes", "Role", "TokenMiddleware", "TokenVerifier", "Write", "authorize",
           "authorize_read", "authorize_write", "may_read", "may_read_own_write", "may_write", "principal_from_claims",
           "readable_levels", "require_read", "require_role", "require_write", "routes_without_guard"]
