"""`Idempotency-Key` on the new-record writes of a record without a natural key (a support intervention, a plan:
`record_routes.RecordRoutes.keyed`). A client that lost the answer to a write that made a new record (a timeout, a
connection reset, a proxy's 502 after the commit) and sends it again without the id it never saw made a second record
and a second event. With a key, the record's id is the key's (`keyed_id`: per client, endpoint and key), so the
request sent again is the same record again: the write path's `unchanged` (200, the first attempt's id and revision,
no second record or event; `Idempotent-Replayed: true` says so). The same key with another body names a record that
holds something else: a 409 naming the header (`idempotency_key_reused`), nothing stored.

Unlike reporting's directory keys (`styrkedja_reporting.directory.idempotency`: the outcome kept a day in a table of
its own), nothing is stored beside the record: the record is the key's memory, so a key names its record for good (a
new record needs a new key; a UUID per record, or a hash of the platform's own id, does). The rule of a key, the
client it belongs to and the problems naming the header are this module's, used there too (one rule, not two copies
that drift); only what a reused key is answered differs: there a 422 (another request under a stored key, as the
IETF draft on the header answers it), here a 409 (the key's record holds something else: a conflict with what is
stored), each as documented to its clients (docs/platforms.md)."""

from __future__ import annotations

import hashlib
import uuid

from .auth import Principal
from .problems import Problem, field_error

__all__ = ["HEADER", "REPLAYED", "KEY_PATTERN", "MAX_KEY_CHARS", "KEY_RULE", "REUSED_RULE", "checked_key",
           "client_of", "keyed_id", "reused"]

HEADER = "Idempotency-Key"
#: the answer's header saying it is an earlier attempt's record, nothing stored now
REPLAYED = "Idempotent-Replayed"
MAX_KEY_CHARS = 200
#: the rule of a key (`KEY_RULE`) as the OpenAPI document states it
KEY_PATTERN = f"^[!-~]{{1,{MAX_KEY_CHARS}}}$"
KEY_RULE = f"{HEADER}: 1 to {MAX_KEY_CHARS} visible ASCII characters (no blanks), e.g. a UUID or a SHA-256 in hex"
REUSED_RULE = (f"{HEADER}: already used for another record (another body), or the record it made was changed or "
               "removed since; a key names one new record — send a new key for a new record, the same key only to "
               "send the same request again")

#: the namespace of the ids keys make (a UUID of its own: no other name-based id of the services falls on one)
_NAMESPACE = uuid.UUID("0b6f3a52-5c1e-4d0c-9a55-9a3f7d1e2c64")


def checked_key(value: str | None) -> str | None:
    """The header's key, or None when it was not sent; a key breaking `KEY_RULE` is refused (422) naming the header."""
    if value is None:
        return None
    if not 0 < len(value) <= MAX_KEY_CHARS or not all("!" <= c <= "~" for c in value):
        raise Problem(422, "Invalid request", KEY_RULE, [field_error(HEADER, "idempotency_key_invalid", KEY_RULE)])
    return value


def client_of(principal: Principal) -> str:
    """Whose keys: the writer (the token's client id, a platform's OAuth client, else its subject), the organisers it
    writes for and its roles — as reporting's directory keys: one key sent under two scopes is two requests."""
    reach = "\n".join(sorted(principal.organisers)) + "\n\n" + "\n".join(sorted(r.value for r in principal.roles))
    return f"{principal.client_id or principal.subject}\n{hashlib.sha256(reach.encode()).hexdigest()}"


def keyed_id(endpoint: str, principal: Principal, key: str) -> uuid.UUID:
    """The id of the new record `key` names at `endpoint` for this client: the same for every attempt, another for
    another client, endpoint or key."""
    return uuid.uuid5(_NAMESPACE, f"{endpoint}\n{client_of(principal)}\n{key}")


def reused(rule: str = REUSED_RULE, status: int = 409) -> Problem:
    """The key was used for something else: here its record holds another body (or was changed or removed since),
    409; a service keeping requests under keys passes its own `rule` and status (reporting's directory: 422)."""
    return Problem(status, "Conflict" if status == 409 else "Invalid request", rule,
                   [field_error(HEADER, "idempotency_key_reused", rule)])
