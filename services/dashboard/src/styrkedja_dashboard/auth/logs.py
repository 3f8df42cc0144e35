"""The sign-in's secrets stay out of the logs: the identity provider sends the browser back to `/auth/callback`
with the authorization `code` and the `state` in the query string, and uvicorn's access line logs every query
string as sent. A code is redeemable (once, with the session's PKCE verifier) until it expires, and the state
ties a browser to its sign-in: neither belongs in a log file that ops, a log shipper and its search index read."""

from __future__ import annotations

import logging
import re

#: the query parameters of an OIDC/OAuth redirect that carry a secret (`session_state`: Keycloak's session id);
#: matched as whole names (`school_unit_code=` is no `code=`)
_SECRET = re.compile(r"(?<=[?&])(code|state|session_state)=[^&#\s\"]*")
REDACTED = "[REDACTED]"


def without_callback_secrets(value: str) -> str:
    """`/auth/callback?code=abc&state=xyz` → `/auth/callback?code=[REDACTED]&state=[REDACTED]`."""
    return _SECRET.sub(lambda m: f"{m.group(1)}={REDACTED}", value) if "=" in value else value


class CallbackSecrets(logging.Filter):
    """On uvicorn's access logger: the code and state of every request line are redacted (the arguments one by
    one, as the kit's filter does, so a formatter that unpacks them sees the redacted text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(without_callback_secrets(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str) and not record.args:
            record.msg = without_callback_secrets(record.msg)
        return True


def redact_callback_secrets() -> None:
    """Put the filter on uvicorn's access logger, once however many apps are created (tests create many)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, CallbackSecrets) for f in access.filters):
        access.addFilter(CallbackSecrets())
