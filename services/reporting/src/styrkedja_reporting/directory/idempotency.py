"""`Idempotency-Key` on the directory writes (`POST /v1/directory/changes`, `/removals`): a client that lost the
answer to a write (a timeout, a connection reset, a proxy's 502 after the write committed) sends it again with the
same key, and gets the outcome of the first attempt instead of having it applied a second time.

Per client (the writer, `rules.writer_of`, with the organisers and roles it writes with: `client_of`), a key names one
request: its endpoint and body as validated, hashed (`request_hash`). The rule is the kit's (`styrkedja_kit.idempotency`,
as the IETF draft answers): in the write's own transaction the key is claimed (a retry racing its first attempt, the
key still taken, is a 409 naming the header at once, `Retry-After` 1 s), then looked up: not there — the write is
applied and its outcome stored with the key, both committed together or neither (a refused or failed write leaves no
key behind, so sending it again applies it); there with the same hash — the stored outcome is the answer, nothing
applied (`Idempotent-Replayed: true` says so); there with another hash — 422 naming the header and the rule. Keys are
kept `KEPT_HOURS`, then forgotten (pruned by later writes)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_kit import idempotency as kit_keys
from styrkedja_kit.auth import Principal
from styrkedja_kit.idempotency import HEADER, KEY_PATTERN, KEY_RULE, MAX_KEY_CHARS, REPLAYED, REUSED_RULE, checked_key

from .rules import writer_of
from .tables import idempotency_keys

# the header, the rule of a key, its check and the answers to a reused key or one in progress are the kit's
# (`styrkedja_kit.idempotency`), as for the keyed records of assessment: one rule for every `Idempotency-Key`
__all__ = ["HEADER", "REPLAYED", "KEY_PATTERN", "MAX_KEY_CHARS", "KEY_RULE", "KEPT_HOURS", "REUSED_RULE",
           "checked_key", "client_of", "request_hash", "stored_outcome", "remember"]

#: how long a key's outcome is kept: far beyond any client's retries (minutes), short enough that the table stays small
KEPT_HOURS = 24


def request_hash(endpoint: str, body: Any) -> str:
    """What a key names: the endpoint and the body as validated, whatever its spelling on the wire (key order,
    blanks, escapes)."""
    canonical = json.dumps([endpoint, body], sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


#: the characters of `client_of` after the writer: "#" and the SHA-256 (hex) of the kit's client
_SCOPE_CHARS = 1 + 64


def client_of(principal: Principal) -> str:
    """Whose keys: the kit's client (`styrkedja_kit.idempotency.client_of`: the writer — the token's client id, else
    its subject, as `rules.writer_of` — the organisers it writes for and its roles), fitted to the table's column:
    the writer's first characters (readable by whoever looks at the table) and the SHA-256 of the whole.
    A removal by source ids acts within the token's organisers only, so one body sent under two scopes is two
    requests: keyed by the client alone (round 22), a platform writing for two organisers with one client id — its key
    a SHA-256 of the body, as docs/platforms.md suggests — had the second organiser's removals answered with the
    first's outcome (`Idempotent-Replayed: true`) and never applied. Its roles likewise (round 24): a removal reaches
    the entities the client wrote, or every entity of the organiser for its organiser admin (`rules.removed_by`), so
    the same body under a token of that client that is also the admin is another request. The whole writer is in the
    hash (round 24c): cut to its first 183 characters as it was, two clients whose ids (up to 255) differ after them
    shared their keys, the second's write answered with the first's outcome and never applied.
    (Two requests where one would do cost nothing: the second compares against what the first published.)"""
    scope = hashlib.sha256(kit_keys.client_of(principal).encode("utf-8", "surrogatepass")).hexdigest()
    return f"{writer_of(principal)[:MAX_KEY_CHARS - _SCOPE_CHARS]}#{scope}"


async def stored_outcome(session: AsyncSession, client: str, key: str, digest: str) -> dict[str, Any] | None:
    """Claim the client's key for the transaction (the kit's `claim`: 409 while another request holds it) and read its
    outcome: None when it is new (the caller applies the write, then `remember`s it), the stored outcome when the same
    request was made with it before; another request made with it is refused (the kit's `reused`: 422). Old keys are
    pruned here, bounded, by the writer that finds them."""
    await kit_keys.claim(session, f"directory\n{client}\n{key}")
    # rows another writer is pruning are skipped, not waited for: no writer queues behind another's pruning
    await session.execute(_PRUNE, {"cutoff": datetime.now(UTC) - timedelta(hours=KEPT_HOURS)})
    found = (await session.execute(select(idempotency_keys.c.request_hash, idempotency_keys.c.outcome).where(
        idempotency_keys.c.client == client, idempotency_keys.c.idempotency_key == key))).first()
    if found is None:
        return None
    if found.request_hash != digest:
        raise kit_keys.reused()
    outcome: dict[str, Any] = found.outcome
    return outcome


async def remember(session: AsyncSession, client: str, key: str, digest: str, outcome: dict[str, Any]) -> None:
    """The write's outcome under its key, in the write's transaction (`stored_outcome` locked the key)."""
    await session.execute(insert(idempotency_keys).values(client=client, idempotency_key=key, request_hash=digest,
                                                          outcome=outcome))


#: at most this many expired keys are pruned by one write (a burst of old ones goes over a few)
PRUNED = 100
_PRUNE = text(f"DELETE FROM {idempotency_keys.name} WHERE ctid IN (SELECT ctid FROM {idempotency_keys.name} "
              f"WHERE created < :cutoff LIMIT {PRUNED} FOR UPDATE SKIP LOCKED)")
