"""`Idempotency-Key`, one rule for every service that takes it, as the IETF draft on the header answers
(draft-ietf-httpapi-idempotency-key-header, "Error Scenarios"):

- the same key with the same request again: the first attempt's outcome, nothing applied again
  (`Idempotent-Replayed: true` says so);
- the same key with another request (another body): 422 naming the header (`idempotency_key_reused`, `reused`);
- the same key while a request made with it is still being processed: 409 naming the header
  (`idempotency_key_in_progress`, `in_progress`), with a `Retry-After`: sent again once the first is done, it gets
  the first one's outcome. A key is claimed (`claim`) by a transaction-scoped advisory lock that is tried, never waited
  for: a retry racing its first attempt is told so at once instead of holding a connection until it ends.

Where the outcome is remembered differs, not the rule. A record without a natural key (a support intervention, a
plan: `record_routes.RecordRoutes.keyed`) is the key's memory: its id is the key's (`keyed_id`: per client, endpoint
and key), so the request sent again is the same record again, the write path's `unchanged` (200, the first attempt's
id and revision, no second record or event); a key there names its record for good (a new record needs a new key).
Reporting's directory writes (`styrkedja_reporting.directory.idempotency`) keep the request's hash and outcome under
the key for a day."""

from __future__ import annotations

import hashlib
import uuid
from contextvars import ContextVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from .auth import Principal
from .problems import Problem, field_error

__all__ = ["HEADER", "REPLAYED", "KEY_PATTERN", "MAX_KEY_CHARS", "KEY_RULE", "REUSED_RULE", "IN_PROGRESS_RULE",
           "KEY_LOCK", "checked_key", "client_of", "keyed_id", "reused", "in_progress", "claim", "claimed",
           "take_claimed"]

HEADER = "Idempotency-Key"
#: the answer's header saying it is an earlier attempt's record, nothing stored now
REPLAYED = "Idempotent-Replayed"
MAX_KEY_CHARS = 200
#: the rule of a key (`KEY_RULE`) as the OpenAPI document states it
KEY_PATTERN = f"^[!-~]{{1,{MAX_KEY_CHARS}}}$"
KEY_RULE = f"{HEADER}: 1 to {MAX_KEY_CHARS} visible ASCII characters (no blanks), e.g. a UUID or a SHA-256 in hex"
REUSED_RULE = (f"{HEADER}: already used with another request (another body or endpoint), or what it made was "
               "changed or removed since; a key names one request — send a new key for a new request, the same key "
               "only to send the same request again")
IN_PROGRESS_RULE = (f"{HEADER}: a request with this key is still being processed; send it again once it is done "
                    "(then its outcome is answered)")
#: pg_try_advisory_xact_lock(KEY_LOCK, hashtext(client, endpoint and key)): one request of a key at a time (`claim`).
#: Its own first number in every service's database (reporting's locks are 812_001-812_003)
KEY_LOCK = 812_004
#: seconds a client is told to wait before sending a request whose key is in progress again
IN_PROGRESS_RETRY_AFTER = 1

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


def reused() -> Problem:
    """The key was used with another request (or what it made was changed or removed since): 422, as the draft
    answers "an attempt to reuse an idempotency key with a different request payload"; nothing applied."""
    return Problem(422, "Invalid request", REUSED_RULE, [field_error(HEADER, "idempotency_key_reused", REUSED_RULE)])


def in_progress() -> Problem:
    """A request with the key is still being processed: 409, as the draft answers a retry "while the original request
    is still being processed"; nothing applied."""
    return Problem(409, "Conflict", IN_PROGRESS_RULE,
                   [field_error(HEADER, "idempotency_key_in_progress", IN_PROGRESS_RULE)],
                   headers={"Retry-After": str(IN_PROGRESS_RETRY_AFTER)})


async def claim(session: AsyncSession, name: str) -> None:
    """Claim the key `name` (its client, endpoint and key) for `session`'s transaction, or refuse the request (409
    `in_progress`) when another transaction holds it. Tried, not waited for: a retry racing its first attempt is
    answered at once. (Two names whose `hashtext` agree share a lock: at worst a rare 409 that a retry mends.)"""
    taken = (await session.execute(text("SELECT pg_try_advisory_xact_lock(:lock, hashtext(:name))"),
                                   {"lock": KEY_LOCK, "name": name})).scalar_one()
    if not taken:
        raise in_progress()


#: the key a write path claims in its own transaction (`writes.WritePath`), set by the route for the one call that
#: writes: a name the write path does not take as a parameter, so that every service's use cases pass it on unchanged
#: (a lock held on a connection of its own beside the write's would be two connections per request, a pool emptied by
#: claims whose writes then wait for a connection)
claimed: ContextVar[str | None] = ContextVar("styrkedja_idempotency_claimed", default=None)


async def take_claimed(session: AsyncSession) -> None:
    """In a write's transaction: claim the key set in `claimed`, if any (`claim`)."""
    name = claimed.get()
    if name is not None:
        await claim(session, name)
