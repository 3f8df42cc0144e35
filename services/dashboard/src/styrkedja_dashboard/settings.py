"""Settings from the environment (`STYRKEDJA_DASHBOARD_*`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DashboardSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STYRKEDJA_DASHBOARD_")

    public_url: str = Field(default="http://127.0.0.1:8100", description="Where browsers reach the dashboard.")
    reporting_url: str = "http://127.0.0.1:8104"
    lika_url: str = "http://127.0.0.1:8103"
    # the OIDC provider: the dev issuer in the embedded default, Keycloak in compose
    issuer: str = "http://127.0.0.1:8090"
    discovery_url: str | None = None
    client_id: str = "styrkedja-dashboard"
    client_secret: str | None = None  # public client with PKCE unless a provider insists on a secret
    audience: str = "styrkedja"
    algorithms: list[str] = ["RS256", "ES256"]
    # Secure cookies need https; the embedded default runs on http://127.0.0.1. A public URL on https
    # marks them Secure whatever this says (see `secure_cookies`)
    cookie_secure: bool = False
    session_seconds: int = Field(default=8 * 3600, gt=60)
    upstream_timeout_seconds: float = Field(default=15.0, gt=0)
    # prints the quality report to PDF (Debian's package; the page prints from the browser too)
    chromium: str = "/usr/bin/chromium"

    @property
    def secure_cookies(self) -> bool:
        """Secure when asked for, and always when browsers reach the dashboard over https: a deployment
        behind https that forgot `COOKIE_SECURE` sent the session id on any plain-http request to the host."""
        return self.cookie_secure or self.public_url.lower().startswith("https://")

    @property
    def redirect_uri(self) -> str:
        return f"{self.public_url.rstrip('/')}/auth/callback"
