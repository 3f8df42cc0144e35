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
A batch (`record_routes`: `POST …/batch`) and reporting's directory writes (`styrkedja_reporting.directory
.idempotency`) keep the request's hash and answer under the key for a day (`define_key_table`, `take_claimed`)."""

from __future__ import annotations

import hashlib
import json
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from .auth import Principal
from .db import Database
from .problems import Problem, field_error

__all__ = ["HEADER", "REPLAYED", "KEY_PATTERN", "MAX_KEY_CHARS", "KEY_RULE", "REUSED_RULE", "IN_PROGRESS_RULE",
           "KEY_LOCK", "key_lock", "KEPT_HOURS", "KEYS_TABLE", "checked_key", "client_of", "keyed_id", "reused", "in_progress",
           "claim", "Claim", "Replayed", "claimed", "take_claimed", "keep_answer", "define_key_table", "request_hash"]

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
#: one request of a key at a time (`claim`): pg_try_advisory_xact_lock(int4, int4) of 64 bits of the SHA-256 of the
#: client, endpoint and key (`key_lock`). Until left26 it was (KEY_LOCK, hashtext(…)): 32 bits, so two keys in flight
#: whose `hashtext` agreed shared a lock and one got a false 409 (a pair is found among ~80,000 keys). The first
#: numbers of the kit's and reporting's own two-int locks (812_001-812_004: KEY_LOCK kept as the range's name) are
#: never a key's first half (`key_lock`), so no key shares a lock with them either
KEY_LOCK = 812_004
_RESERVED_FIRST = range(812_000, 813_000)
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


def key_lock(name: str) -> tuple[int, int]:
    """The two int4 of the advisory lock of the key `name`: the first 64 bits of its SHA-256 (two keys in flight at
    once share one with a chance of 2^-64), the first half moved out of `_RESERVED_FIRST`."""
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).digest()
    first, second = (int.from_bytes(digest[i:i + 4], "big", signed=True) for i in (0, 4))
    if first in _RESERVED_FIRST:
        first ^= 0x4000_0000  # out of the range (its numbers are all below 2^20), the other 62 bits kept
    return first, second


async def claim(session: AsyncSession, name: str) -> None:
    """Claim the key `name` (its client, endpoint and key) for `session`'s transaction, or refuse the request (409
    `in_progress`) when another transaction holds it. Tried, not waited for: a retry racing its first attempt is
    answered at once. The lock is 64 bits of the name's hash (`key_lock`): no false 409 for another key."""
    first, second = key_lock(name)
    taken = (await session.execute(text("SELECT pg_try_advisory_xact_lock(CAST(:first AS int4), "
                                        "CAST(:second AS int4))"),
                                   {"first": first, "second": second})).scalar_one()
    if not taken:
        raise in_progress()


#: how long a batch's key is kept (`define_key_table`): far beyond any client's retries (minutes), short enough that
#: the table stays small (as reporting's directory keys)
KEPT_HOURS = 24
#: at most this many expired keys are pruned by one write (a burst of old ones goes over a few)
PRUNED = 100
#: the table of a service's batch keys (`define_key_table`)
KEYS_TABLE = "idempotency_keys"


def define_key_table(metadata: MetaData) -> Table:
    """The keys of a service's batch writes (`record_routes`), each with the hash of the request it was sent with and,
    once given, the answer: the same request under the key again is that answer, another is refused (`Claim`)."""
    return Table(
        KEYS_TABLE, metadata,
        Column("client", String(64), primary_key=True),  # SHA-256 (hex) of the endpoint and the kit's `client_of`
        Column("idempotency_key", String(200), primary_key=True),
        Column("request_hash", String(64), nullable=False),  # SHA-256 (hex) of the body as validated
        # the first answer, kept once it was given (None: the write committed and its answer was not kept — the
        # process ended between: the request is then written again, `unchanged`)
        Column("status", SmallInteger, nullable=True),
        Column("answer", LargeBinary, nullable=True),
        Column("created", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Index(f"ix_{KEYS_TABLE}_created", "created"),
    )


def request_hash(body: Any) -> str:
    """What a key names: the body as validated (JSON-ready), whatever its spelling on the wire (key order, blanks)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


class Replayed(Exception):
    """The request was made under its key before and answered: that answer again, nothing written (`Claim`)."""

    def __init__(self, status: int, answer: bytes) -> None:
        super().__init__(status)
        self.status, self.answer = status, answer


@dataclass(frozen=True)
class Claim:
    """A key a write path claims in its own transaction (`take_claimed`): its lock's name (client, endpoint and key)
    and, for a batch, where the request's hash and answer are kept (`keys`, `client`, `key`, `digest`)."""

    name: str
    keys: Table | None = None
    client: str = ""
    key: str = ""
    digest: str = ""

    @classmethod
    def of(cls, endpoint: str, principal: Principal, key: str, keys: Table | None = None, body: Any = None) -> Claim:
        client = client_of(principal)
        if keys is None:
            return cls(f"{endpoint}\n{client}\n{key}")
        return cls(f"{endpoint}\n{client}\n{key}", keys,
                   hashlib.sha256(f"{endpoint}\n{client}".encode("utf-8", "surrogatepass")).hexdigest(), key,
                   request_hash(body))


#: the key a write path claims in its own transaction (`writes.WritePath`), set by the route for the one call that
#: writes: a name the write path does not take as a parameter, so that every service's use cases pass it on unchanged
#: (a lock held on a connection of its own beside the write's would be two connections per request, a pool emptied by
#: claims whose writes then wait for a connection)
claimed: ContextVar[Claim | None] = ContextVar("styrkedja_idempotency_claimed", default=None)


async def take_claimed(session: AsyncSession) -> None:
    """In a write's transaction: claim the key set in `claimed`, if any (`claim`: 409 while another request holds it);
    for a batch, look it up: new — kept with the request's hash, committed with the write or not at all (a refused
    write keeps no key); the same request answered before — `Replayed`; another request — `reused` (422)."""
    c = claimed.get()
    if c is None:
        return
    await claim(session, c.name)
    if c.keys is None:
        return
    keys = c.keys
    # rows another writer is pruning are skipped, not waited for: no writer queues behind another's pruning
    await session.execute(text(f"DELETE FROM {keys.name} WHERE ctid IN (SELECT ctid FROM {keys.name} "
                               f"WHERE created < :cutoff LIMIT {PRUNED} FOR UPDATE SKIP LOCKED)"),
                          {"cutoff": datetime.now(UTC) - timedelta(hours=KEPT_HOURS)})
    found = (await session.execute(select(keys.c.request_hash, keys.c.status, keys.c.answer).where(
        keys.c.client == c.client, keys.c.idempotency_key == c.key))).first()
    if found is None:
        await session.execute(insert(keys).values(client=c.client, idempotency_key=c.key, request_hash=c.digest))
    elif found.request_hash != c.digest:
        raise reused()
    elif found.answer is not None:
        raise Replayed(found.status, found.answer)


async def keep_answer(db: Database, c: Claim, status: int, answer: bytes) -> None:
    """The answer a batch's write gave, under its key (`take_claimed` kept the key in the write's transaction; the
    answer is made once that committed). Lost if the process ends between: the request sent again is then written
    again, its records' ids the key's or their content's, so `unchanged`."""
    assert c.keys is not None
    keys = c.keys
    async with db.sessions.begin() as session:
        await session.execute(update(keys).where(keys.c.client == c.client, keys.c.idempotency_key == c.key,
                                                 keys.c.request_hash == c.digest).values(status=status, answer=answer))
