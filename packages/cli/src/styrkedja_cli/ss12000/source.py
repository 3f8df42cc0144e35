"""Reading an SS 12000 source: an API over HTTP (paged lists `{data, pageToken}`, incremental
with `meta.modified.after`, removals from `/deletedEntities?after=`) or a folder of JSON files
of the same shape (`<entity>.json`, or pages `<entity>/*.json`; `deletedEntities.json`).

A page that is not what the specification says (not JSON, not a list) is refused with an error naming the entity
and the page: nothing is imported from a source that could not be read whole. An item on it that breaks the
specification is refused on its own (`_validated`: its id read; an entry of one of its lists alone), the rest read. A server that is busy or failing
(429, 500, 502, 503, 504, no answer in time, a connection reset or closed before the answer) is asked
again after its `Retry-After` (or a growing pause, at most 120 s), a few times (`attempts`), then the
import stops naming the page (a timeout naming which, and its length); a 204 is an empty page (said); any other
answer but 200 (a 401 after some pages, unless a token from `auth` is renewed once) stops it at once, with the
server's error in SS 12000's shape or as `application/problem+json`.
An id on two pages is read once when both say the same, and stops the import when they differ
(`_Once`); a page larger than `max_page_bytes` is refused as it streams in, and its items are validated
as it is parsed (as a folder's file: the items kept are held, not every object of it at once; its bytes are held in
memory, never written to a file, `Body`). Besides the specification's `pageToken`, a `Link: <…>;
rel="next"` header on the same server is followed, and a next page named in the body as other APIs do
(`BODY_NEXT`). Where a page or a file is not JSON is named by line and column, never by its text.

A hostile server is one the importer must survive too: a redirect is not followed (the token would go
along), a compressed page is inflated here in bounded steps (a gzip bomb is refused at `max_page_bytes`
without ever holding more), a page that trickles in for longer than `page_seconds` is refused, JSON that
a lenient parser would read one way and another parser another (a key twice in one object, `NaN`,
`Infinity`) is not JSON, and paging stops at a token seen before or after `max_pages` pages."""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import io
import itertools
import json
import math
import re
import time
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, TypeVar, cast

import httpx
import ijson
from pydantic import ValidationError

from styrkedja_contracts.identifiers import redact_personal_identity_numbers

from ..reach import http_peer, unanswered
from .deadline import Deadline, TooSlow, bounded_client, proxy_of
from .models import ENTITIES, ENTRY_LISTS, OPTIONAL, Compact, Shared, canonical_id
from .oauth import ClientCredentials, TokenError
from .tls import tls_fault

Progress = Callable[[str, int], None]  # entity, items read so far
T = TypeVar("T")
#: the entity read first: a 404 for it most likely means a base URL without the API's version path
FIRST_READ = next(iter(ENTITIES))

#: answers that say "later": asked again after Retry-After (or a growing pause)
RETRIED = frozenset({429, 502, 503, 504})
#: what a source's list is asked again for: besides "later", a 500 (a server's database restarting, a deadlock
#: victim, a worker killed mid-request: on a GET, asking again is safe, and bounded it costs at most `attempts`)
SOURCE_RETRIED = RETRIED | {500}
#: an answer without a body where a page was asked for: read as an empty page (said), not as an error
NO_CONTENT = 204
#: the answers to one entity's GET (`/groups/{id}`) that say the server has no such entity
ABSENT = frozenset({404, NO_CONTENT})
#: what goes wrong on the way and may not the next time, asked again like a busy answer: no answer in time, a
#: connection reset or refused, a server that closed the connection before answering (a restart, a load
#: balancer's idle timeout). Not: a redirect, a malformed URL, a protocol the client cannot speak
TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


#: a bearer token however it was given, as a server may echo its request's header in an error: RFC 6750's b64token of
#: 8 characters or more with a digit or a sign among them (a JWT, an opaque token), not a word ("a Bearer token")
_BEARER = re.compile(r"(?i)\b(bearer)\s+(?=[A-Za-z0-9\-._~+/]*[0-9\-._~+/])[A-Za-z0-9\-._~+/]{8,}=*")
#: characters a secret's text goes on with: a secret is replaced only where it stands whole (a short one is no part
#: of a word)
_SECRET_EDGE = r"A-Za-z0-9\-._~+/="
#: a secret shorter than this is not looked for (a token "1" is in "page 1"): an echo of it gives nothing away
SHORTEST_SECRET = 4


def without_secrets(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret of `secrets` (a bearer token, a client's secret) and any `Bearer <token>` replaced by
    [REDACTED]: what a server or a token endpoint echoes of them in its error is never said."""
    text = _BEARER.sub(lambda found: f"{found.group(1)} [REDACTED]", text)
    for secret in sorted({s for s in secrets if len(s) >= SHORTEST_SECRET}, key=len, reverse=True):
        text = re.sub(f"(?<![{_SECRET_EDGE}]){re.escape(secret)}(?![{_SECRET_EDGE}])", "[REDACTED]", text)
        text = text.replace(secret, "[REDACTED]") if len(secret) >= 8 else text  # a long one anywhere
    return text


class SourceError(Exception):
    """The source could not be read (whole): names the entity and the page. Its text may quote ids
    from the source: a personal identity number in one is redacted."""

    def __init__(self, message: str) -> None:
        super().__init__(redact_personal_identity_numbers(message)[0])


def retry_after_seconds(value: str | None, attempt: int, *, now: datetime | None = None,
                        longest: float = 120.0) -> float:
    """How long to wait before asking again: the server's `Retry-After` (seconds or an HTTP date),
    else 1, 2, 4, … seconds; never more than `longest`, never less than 0."""
    if value:
        value = value.strip()
        if value.isascii() and value.isdigit():  # `isdigit` alone takes '²' and '٣', which `float` refuses
            return min(float(value), longest)
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, min((when - (now or datetime.now(UTC))).total_seconds(), longest))
    return min(float(2 ** (attempt - 1)), longest)


#: how much one inflating step may produce: a compressed page never grows in memory by more than this
#: before its size is checked against `max_page_bytes`
INFLATE_STEP_BYTES = 1 << 20
#: redirects followed on the same server (301, 302, 303, 307, 308), and how many in a row at most
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
#: the content codings read (inflated here: httpx would inflate a chunk whole), and those asked for
CODINGS = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}
ACCEPT_ENCODING = "gzip, deflate"


#: content codings undone one after another at most (a proxy that compresses again adds one; more is no server's)
MAX_CODINGS = 3


def _inflated(what: str, coding: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """`chunks` inflated by `coding` (of `CODINGS`), at most `INFLATE_STEP_BYTES` a step. Gzip's members one after
    another are one body (RFC 1952 §2.2: a server compressing as it streams, or pages compressed apart and joined,
    sends several; only the first was read, the page cut short); what follows the last is not read."""
    inflater = zlib.decompressobj(CODINGS[coding])
    raw_deflate = coding == "deflate"  # servers send deflate with a zlib header or without (RFC 9110 §8.4.1.2)
    member = coding != "deflate"
    try:
        for chunk in chunks:
            data = chunk
            while data:
                if inflater.eof:  # a member ended: another follows if it begins as one (RFC 1952's ID1 ID2)
                    if not (member and data[:2] in (b"\x1f\x8b", b"\x1f")):
                        break
                    inflater = zlib.decompressobj(CODINGS[coding])
                try:
                    out = inflater.decompress(data, INFLATE_STEP_BYTES)
                except zlib.error:
                    if not raw_deflate:
                        raise
                    raw_deflate, inflater = False, zlib.decompressobj(-zlib.MAX_WBITS)
                    out = inflater.decompress(data, INFLATE_STEP_BYTES)
                raw_deflate = False
                yield out
                data = inflater.unconsumed_tail or (inflater.unused_data if inflater.eof else b"")
        yield inflater.flush()
    except zlib.error:
        raise SourceError(f"{what}: not readable {coding}") from None
    if not inflater.eof:
        raise SourceError(f"{what}: not readable {coding} (cut short)")


class LenientJson(ValueError):
    """JSON that only a lenient parser reads, and two parsers may read differently: the rule it breaks."""


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object with a key twice is read by `json` as its last value, by other parsers as the first: the
    server's checks and ours would see different data (RFC 8259 §4: names SHOULD be unique)."""
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise LenientJson(_twice(key))
            seen.add(key)
    return document


def _twice(key: str) -> str:
    """The rule a key given twice breaks, naming the key (shortened, escaped; a personal identity number in it is
    redacted by `SourceError`)."""
    return f"an object holds the key {key[:40]!r} twice"


def _no_constant(name: str) -> Any:
    raise LenientJson(f"{name} is not a JSON number")  # RFC 8259 has no NaN or Infinity; `json` reads them


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise LenientJson("a number out of a double's range")  # 1e999: `json` makes it infinity
    return value


#: the integers read: 64 bits, as the streaming parser (yajl) reads them; beyond, parsers differ (JavaScript rounds
#: past 2**53, Python's `int` refuses more than 4300 digits, yajl overflows) and no SS 12000 field holds one
INTEGERS = range(-(2 ** 63) + 1, 2 ** 63)  # yajl takes neither -2**63 nor 2**63
BIG_INTEGER = "an integer beyond 64 bits (parsers read it differently)"


def _integer(text: str) -> int:
    if len(text) > 20:  # checked before `int` reads it: 4300 digits and more it refuses, a million takes long
        raise LenientJson(BIG_INTEGER)
    value = int(text)
    if value not in INTEGERS:
        raise LenientJson(BIG_INTEGER)
    return value


def strict_json(body: bytes) -> Any:
    """A page's JSON, by RFC 8259 and nothing more lenient (a byte order mark allowed, as Windows tools write
    it): `LenientJson` naming the rule, or ValueError (RecursionError, UnicodeDecodeError) for what is not JSON."""
    if b"\\u" in body and _unpaired_surrogate(body, final=True, started=True) is not None:
        raise LenientJson(UNPAIRED)
    return json.loads(body.decode("utf-8-sig"), object_pairs_hook=_reject_duplicate_keys,
                      parse_constant=_no_constant, parse_float=_finite, parse_int=_integer)


def _where(body: bytes, error: Exception) -> str:
    """Where in a page it stops being JSON, and by which rule (the parser's words, never the page's text)."""
    if isinstance(error, json.JSONDecodeError):
        return f" at line {error.lineno}, column {error.colno}: {error.msg}"
    if isinstance(error, UnicodeDecodeError):
        text = bytes(error.object)  # the page after a byte order mark, which is no column
        before = text[:error.start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1:].decode("utf-8", "replace")) + 1
        return f": not UTF-8 (byte {text[error.start:error.start + 1].hex().upper()} at line {line}, column {column})"
    return ""


#: the answers a server gives a query parameter it has no use for (`expand` on a server without the expansion): 400
#: as the specification has it (`400_invalid_parameter`), and as other servers do — 422 (a framework's validation),
#: 403 (a client not allowed the expansion), 404 (a route that takes no such query), 405, 501 (not implemented).
#: Each is asked again without it: what was refused is the expansion, not the list
EXPAND_REFUSED = frozenset({400, 403, 404, 405, 422, 501})
#: the filter an incremental run asks a list's first page with (SS 12000's `meta.modified.after`). A server may not
#: take it: one ignoring it answers the whole list (read as changed, nothing lost), one refusing it as it refuses a
#: parameter it lacks (`EXPAND_REFUSED`) stopped the run, blaming `--page-size`. Asked again without it, said: the
#: whole list is a superset of what changed (reporting answers what did not `unchanged`), and an incremental run
#: removes only what /deletedEntities names
CHANGED_AFTER = "meta.modified.after"
#: how much earlier than `--since` a change counts as after it — asked of the server (`meta.modified.after`,
#: `/deletedEntities?after=`) and checked by the importer (`command.changed_since`). Servers differ on both sides of
#: the bound: Skolverket's reference API has the filter "on or after", others `>`; and many store whole seconds
#: (MySQL's DATETIME, a Java `LocalDateTime` cut to seconds), so a change at 12:00:00.7 reads 12:00:00 — after a
#: `--since` of 12:00:00 or 12:00:00.5 (the last run's start) it was skipped by an exclusive server, and for ever: the
#: next run's `--since` is later still. Anything within a second of the bound either way is read (again, at worst:
#: reporting answers it `unchanged`; a deletion named again removes nothing more)
SINCE_SLACK = timedelta(seconds=1)


def asked_after(since: datetime) -> str:
    """`--since` as the filter asks it: `SINCE_SLACK` earlier, in RFC 3339."""
    return (since - SINCE_SLACK).isoformat()
#: the charsets (as `codecs` names them) a page is read in when its content-type declares one and it is not UTF-8:
#: what servers on Windows and older Java stacks send (RFC 8259 §8.1 has JSON in UTF-8; RFC 9110 §8.3.2 has the
#: receiver read a body by its declared charset)
DECLARED_CHARSETS = frozenset({"iso8859-1", "cp1252", "iso8859-15", "utf-16", "utf-16-le", "utf-16-be", "utf-32",
                               "utf-32-le", "utf-32-be"})


def _is_utf8(body: BinaryIO, step: int = 1 << 20) -> bool:
    """Whether `body` is UTF-8, read a slice at a time (a large page is not copied whole into a text)."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        while block := body.read(step):
            decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


#: what a page or file over the limit may be read with: a server that ignores `limit` answers a whole list in one page
#: (a large organiser's persons, hundreds of MB); its bytes are held in memory while it is parsed
LARGER_HINT = " (--max-page-mib raises the limit)"


class Body:
    """An answer's bytes as they came (inflated), in memory (at most the page limit, `max_page_bytes`), read by
    `reader`s, each from the start at a position of its own. Never written to a file: any page may carry a civic
    number — a person's record, and free text of any entity (a group's or a duty's name typed with one), which the
    import refuses item by item only once it has parsed the page. Round 36: a page of groups over 4 MiB was spooled
    to a temporary file (unnamed, the user's alone, removed once read: written to a disk all the same)
    and only persons and `expand` answers were held in memory."""

    def __init__(self) -> None:
        # dropped by `close` once the page is parsed (or when collected, when a refusal drops it)
        self.file = io.BytesIO()
        self.size = 0

    @classmethod
    def of(cls, data: bytes) -> Body:
        body = cls()
        body.write(data)
        return body

    def write(self, chunk: bytes) -> None:
        self.file.seek(0, io.SEEK_END)
        self.file.write(chunk)
        self.size += len(chunk)

    def reader(self) -> BinaryIO:
        return cast(BinaryIO, io.BufferedReader(_BodyReader(self.file), buffer_size=64 * 1024))

    def head(self, count: int) -> bytes:
        return self.reader().read(count)

    def whole(self) -> bytes:
        """All of it, in memory: for what is small (an entity, an error) or parsed whole anyway (`LOCATED_BYTES`)."""
        return self.head(self.size)

    def small(self) -> bytes:
        """All of it when it is no larger than an error is read (`SAID_BYTES`), else its start, one byte more than
        that (too large to be read as an error: `server_said` says nothing of it, as of the whole)."""
        return self.head(SAID_BYTES + 1)

    def close(self) -> None:
        self.file.close()


def _recoded(what: str, declared: str, name: str, body: Body) -> Body:
    """`body`, in the charset `name` its content-type declares (`declared`), as UTF-8: a slice at a time."""
    decoder = codecs.getincrementaldecoder(name)("strict")
    out, reader, done, pending = Body(), body.reader(), 0, 0
    try:
        while True:
            block = reader.read(1 << 20)
            pending = len(decoder.getstate()[0])  # the start of a character the previous slice ended in
            out.write(decoder.decode(block, final=not block).encode("utf-8"))
            if not block:
                return out
            done += len(block)
    except UnicodeDecodeError as error:
        out.close()
        at = done - pending + error.start
        raise SourceError(f"{what}: neither UTF-8 nor {declared[:40]} as its content-type says (byte "
                          f"{error.object[error.start:error.start + 1].hex().upper()} at byte {at})") from None
    finally:
        body.close()


class _BodyReader(io.RawIOBase):
    """A `Body`'s bytes from the start, at a position of its own (a parse and the look for where it failed read the
    one file): never closes the file."""

    def __init__(self, file: Any) -> None:
        super().__init__()
        self._file, self._at = file, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._file.seek(self._at)
        count = self._file.readinto(buffer)
        self._at += count
        return count

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._at
        elif whence == io.SEEK_END:
            self._file.seek(0, io.SEEK_END)
            offset += self._file.tell()
        self._at = max(0, offset)
        return self._at

    def tell(self) -> int:
        return self._at


#: what an error of the HTTP client means, said after its name (the rest are named alone: a protocol error)
HTTP_ERRORS: dict[type[Exception], str] = {
    httpx.DecodingError: ": the body is not in the content-encoding its header says (gzip, deflate)",
    httpx.UnsupportedProtocol: ": a URL that is not http:// or https://",
}
#: where a proxy the import goes through comes from (said with what went wrong there, the proxy named without its
#: credentials: `deadline.proxy_of`)
PROXY_HINT = " (from HTTP_PROXY, HTTPS_PROXY or ALL_PROXY; NO_PROXY lists the hosts reached directly)"


def _proxy_status(error: httpx.ProxyError) -> str:
    """The status a proxy refused a tunnel with (`407`), from httpcore's words for it: the code alone — the reason
    phrase after it is the proxy's own text, said by no message."""
    found = re.match(r"\s*([1-5][0-9]{2})\b", str(error))
    return f" (HTTP {found.group(1)})" if found else ""


#: what the last attempt's failure means, said after httpx's name for it (session 35: the name alone, "ReadError (6
#: attempts)", said nothing of what happened to an operator)
TRANSPORT_SAID: tuple[tuple[type[Exception], str], ...] = (
    (httpx.ConnectError, ": no connection to --url's host and port (refused, the host not found, or no route)"),
    (httpx.ReadError, ": the connection broke while the answer was read (reset by the server, or on the way)"),
    (httpx.WriteError, ": the connection broke while the request was sent"),
    (httpx.RemoteProtocolError, ": the server closed the connection before a whole answer, or answered other than "
                                "HTTP/1.1"),
)
#: the answers of a server that has no /deletedEntities (no route, no such method, not implemented): an incremental run
#: cannot learn what the source removed from it, so it stops, and says what does
NO_DELETIONS = frozenset({404, 405, 501})
NO_DELETIONS_HINT = ("; the server seems not to serve /deletedEntities, without which an incremental run (--since) "
                     "would remove nothing the source deleted: import without --since (a full import removes what the "
                     "source no longer has)")
#: SS 12000's 503 (`503_overload`) also means "the answer is too large for the server", which asking again with
#: the same limit does not mend
OVERLOAD_HINT = "; the specification's 503 also means a page too large for the server: try a smaller --page-size"
#: a 401 on a later page: the token ran out while the source was read (SS 12000 tokens live minutes to an hour),
#: which a retry with the same token does not mend; what was read is dropped whole
EXPIRED_HINT = ("; the server no longer takes the token (expired during the run?): nothing was sent, import again "
                "with a new token")
REFUSED_HINT = "; the server does not take the token (--token, STYRKEDJA_SS12000_TOKEN)"
#: a 401 to a request that carried no token: the server wants one (it was "does not take the token", of none given)
NO_TOKEN_HINT = ("; the server asks for a token and none was given: --token (STYRKEDJA_SS12000_TOKEN), or --token-url "
                 "with --client-id and --client-secret")
#: a 403: the token was taken (who the client is is known) and reading this list is not allowed to it
FORBIDDEN_HINT = ("; the server takes the token but does not let it read {path} (the token's scope, or the client's "
                  "rights at the server)")
#: a 401 to a token asked for after an earlier page's 401, within its first minute: not renewed again
RENEWED_AGAIN_HINT = ("; the server refused the token --token-url issued after its last 401 too, {seconds:.0f} s after "
                      "it was issued ({issued} tokens this run): not renewed again, as the server takes no token for "
                      "long (its clock, or a token cache?); nothing was sent")
#: a 401 to a token just issued by --token-url (renewed once already for this page): its client or scope
RENEWED_HINT = ("; the server does not take a token just issued by --token-url either (the client's rights, "
                "--scope?): nothing was sent")
#: how much of a server's error code and message an error repeats (a message is for people, not for a log)
SAID_CODE, SAID_MESSAGE = 40, 200
SAID_BYTES = 64 * 1024


def one_line(text: str) -> str:
    return "".join(c if c.isprintable() else " " for c in text)


def _small_json(body: bytes) -> Any:
    """The JSON of an error-sized body, or None when it is larger than `SAID_BYTES` or not JSON."""
    if len(body) > SAID_BYTES:
        return None
    try:
        return strict_json(body)
    except (ValueError, RecursionError):
        return None


def server_said(body: bytes) -> str:
    """The error a server gave with its answer, as SS 12000 shapes it (`{"code", "message"}`; Skolverket's
    reference API nests it under `error` with a numeric code), or as RFC 9457's problem (`{"type", "title",
    "detail"}`): " (code: message)" or " (title: detail: type …)", shortened and on one line
    (a personal identity number in it is redacted by `SourceError`), or "" when the body is no such error. An
    error's body larger than `SAID_BYTES` is not read: an error is a few lines, and every object of a large body
    would be built at once (a 500 with 256 MiB of `{}` is some 6 GB)."""
    document = _small_json(body)
    if isinstance(document, dict) and isinstance(document.get("error"), dict):
        document = document["error"]
    # FastAPI's HTTPException nests the error under `detail` (an SS 12000 `{code, message}` given as its detail, as
    # Python servers of the specification raise it), and its own validation answers a list of what it refused
    # (`{"detail": [{"loc": ["query", "limit"], "msg": …}]}`: which parameter, by which rule): said as such, not as
    # "a body, no SS 12000 error" — which parameter the server refused is what mends the run
    if isinstance(document, dict) and set(document) == {"detail"}:
        detail = document["detail"]
        if isinstance(detail, list) and detail and isinstance(detail[0], dict):
            first = detail[0]
            where = ".".join(str(part) for part in first.get("loc", ()) if isinstance(part, (str, int)))
            message = first.get("msg")
            document = {"code": where or "detail", **({"message": message} if isinstance(message, str) else {})}
        elif isinstance(detail, dict):
            document = detail
    if not isinstance(document, dict):
        return ""
    if not any(isinstance(document.get(key), (str, int)) for key in ("code", "message")):
        # RFC 9457 (application/problem+json): its title, its detail, and its type when it is not about:blank
        kind = document.get("type")
        parts = [one_line(str(document[key])[:limit]) for key, limit in
                 (("title", SAID_CODE * 2), ("detail", SAID_MESSAGE)) if isinstance(document.get(key), str)]
        if isinstance(kind, str) and kind.strip() and kind.strip() != "about:blank":
            parts.append(f"type {one_line(kind.strip()[:SAID_MESSAGE])}")
        return f" ({': '.join(parts)})" if parts else ""
    parts = [one_line(str(document[key])[:limit]) for key, limit in
             (("code", SAID_CODE), ("message", SAID_MESSAGE)) if isinstance(document.get(key), (str, int))]
    return f" ({': '.join(parts)})" if parts else ""


#: RFC 6750 §3: the parameters of a bearer token's refusal (`WWW-Authenticate: Bearer error="invalid_token",
#: error_description="…"`), where a server says why it refused the token when its body says nothing (often none)
_CHALLENGE = re.compile(r'\b(error|error_description|scope)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))', re.IGNORECASE)


def refused_said(response: httpx.Response, body: bytes) -> str:
    """What a server said with an answer that is no page: its error (`server_said`); else why it refused the token
    (a 401's `WWW-Authenticate`: " (invalid_token: the token expired)"); else what the body is, so that an HTML
    page from a proxy or a login form is told from an empty answer (" (a text/html body, no SS 12000 error)")."""
    said = server_said(body)
    if said:
        return said
    if response.status_code in (401, 403):  # RFC 6750 §3.1: a 403 says insufficient_scope and the scope needed
        found = {name.lower(): quoted if quoted is not None and quoted != "" else bare or ""
                 for name, quoted, bare in _CHALLENGE.findall(response.headers.get("www-authenticate", ""))}
        parts = [one_line(found[key][:limit]) for key, limit in (("error", SAID_CODE), ("error_description",
                                                                                          SAID_MESSAGE),
                                                                 ("scope", SAID_MESSAGE))
                 if found.get(key)]
        if parts:
            return f" ({': '.join(parts)})"
    if not body.strip():
        return ""
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()[:60]
    if kind in ("", "text/plain") and len(body) <= SAID_BYTES:
        try:  # a line of text ("Token expired"): said as a message is, shortened and on one line
            text = " ".join(body.decode("utf-8-sig").split())
        except UnicodeDecodeError:
            text = ""
        if text and not text.startswith("<"):
            return f" ({one_line(text[:SAID_MESSAGE])})"
    return f" (a {kind or 'body without a content-type'}{' body' if kind else ''}, no SS 12000 error)"


def error_instead(body: bytes) -> str:
    """The error a 200 carries instead of what was asked (a gateway's or a framework's error page with the wrong
    status): `server_said` of a small JSON object that has no `data` nor `id`, else ""."""
    document = _small_json(body)
    if not isinstance(document, dict) or "data" in document or "id" in document:
        return ""
    return server_said(body)


def _items(entity: str, page: int, body: Any, shared: Shared) -> tuple[list[Any], str | None]:
    if isinstance(body, list):
        raw, token = body, None
    elif isinstance(body, dict) and isinstance(body.get("data"), list):
        raw, token = body["data"], body.get("pageToken")
    elif isinstance(body, dict) and "data" in body and body["data"] is None:  # an empty page, serialised as null
        raw, token = [], body.get("pageToken")
    else:
        raise SourceError(f"{entity}, page {page}: expected a list or an object with a 'data' list")
    if token is not None and not isinstance(token, str):
        raise SourceError(f"{entity}, page {page}: pageToken must be a string")
    validated = (_validated(entity, f"page {page}", n, item, shared) for n, item in enumerate(raw))
    return [item for item in validated if item is not None], token or None


def _validated(entity: str, page: str, n: int, item: Any, shared: Shared, place: str | None = None) -> Compact | None:
    """The item validated by its entity's model, and kept compact (`Compact`: the model itself is dropped); None when
    it is refused on its own. An item that breaks the specification is refused alone when its id can be read
    (`Shared.refused`: the plan refuses it, and a full import keeps what came of it before), an entry of one of its
    lists alone (`ENTRY_LISTS`, `Shared.faults`: the item read without it); an item whose id cannot be read (none,
    not an object) stops the import: refused, a full import would read it as deleted — nothing names what it was.
    `place`: where a refusal says the item stood, if not "<page>, item <n>" (one asked by its id)."""
    model = ENTITIES[entity]
    try:
        return shared.compact(model.model_validate(item))
    except ValidationError as error:
        errors = error.errors()
    if not isinstance(item, dict) or any(not e["loc"] or e["loc"][0] == "id" for e in errors):
        first = next(e for e in errors if not e["loc"] or e["loc"][0] == "id") if isinstance(item, dict) else errors[0]
        # the item's own id, when it has one, finds it at the source (its position alone does not, once paged)
        ident = item.get("id") if isinstance(item, dict) else None
        named = f" (the item's id: {one_line(ident[:80])})" if isinstance(ident, str) and ident.strip() \
            and first["loc"][:1] != ("id",) else ""
        raise SourceError(f"{entity}, {page}, item {n}: {_said_fault(item, first)}{named}")
    ident = canonical_id(item["id"])  # (valid: no error is the id's)
    place = place or f"{page}, item {n}"
    entries, own = _entry_faults(entity, errors)
    if own:  # a fault of the item's own: refused alone, named by its first such fault and its place
        shared.refused[(entity, ident)] = f"{_said_fault(item, own[0])} ({place})"
        return None
    try:
        valid = model.model_validate(_without_entries(item, entries))
    except ValidationError as again:  # (none expected: the entries' faults were all said at once)
        shared.refused[(entity, ident)] = f"{_said_fault(item, again.errors()[0])} ({place})"
        return None
    said = [_said_fault(item, fault) for _, fault in sorted(entries.items())[:FAULTS_SAID]]
    if len(entries) > FAULTS_SAID:
        said.append(f"{len(entries) - FAULTS_SAID} more entries refused so (the first {FAULTS_SAID} said)")
    shared.faults[(entity, ident)] = said
    return shared.compact(valid)


#: the most entries of one item whose faults are said one by one (`_validated`), the rest counted: a group of 10,000
#: memberships a server wrote all wrong was 10,000 lines of one rule
FAULTS_SAID = 10


def _entry_faults(entity: str, errors: list[Any]) -> tuple[dict[tuple[Any, ...], Any], list[Any]]:
    """`errors` split: (list path, index) → the first fault of each entry of `ENTRY_LISTS` they fault, and the faults
    of the item's own (any other)."""
    lists = ENTRY_LISTS.get(entity, ())
    entries: dict[tuple[Any, ...], Any] = {}
    own = []
    for fault in errors:
        loc = tuple(fault["loc"])
        at = next((loc[:len(path) + 1] for path in lists
                   if loc[:len(path)] == path and len(loc) > len(path) and isinstance(loc[len(path)], int)), None)
        if at is None:
            own.append(fault)
        else:
            entries.setdefault(at, fault)
    return entries, own


def _without_entries(item: dict[str, Any], entries: Collection[tuple[Any, ...]]) -> dict[str, Any]:
    """A copy of `item` without `entries` ((list path, index): the lists copied where an entry goes, nothing else)."""
    dropped: dict[tuple[Any, ...], set[int]] = {}
    for at in entries:
        dropped.setdefault(at[:-1], set()).add(at[-1])
    out = dict(item)
    for path, indices in dropped.items():
        holder = out
        for key in path[:-1]:  # (`_embedded`: copied, so the item as read is unchanged)
            holder[key] = dict(holder[key])
            holder = holder[key]
        holder[path[-1]] = [entry for k, entry in enumerate(holder[path[-1]]) if k not in indices]
    return out


def _said_fault(item: Any, fault: Any) -> str:
    """A fault of an item as a refusal names it: "<path>: <rule>" (`teachers[2].duty: Field required`), only where and
    which rule — the input may hold personal data (a civic number)."""
    loc = tuple(fault["loc"])
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    hint = _near_key(item, loc) if fault["type"] == "missing" else ""
    # pydantic's words for a value that is no object name its own classes ("instance of Ref")
    rule = (NOT_AN_OBJECT.format(found=_json_kind(fault["input"])) if fault["type"] in OBJECT_EXPECTED
            else ID_RULE if fault["type"] == "string_pattern_mismatch" and loc[-1:] == ("id",)
            else fault["msg"])
    # an item that is no object at all (`null`, `""`: an empty row) has no field to name
    return f"{where + ': ' if where else ''}{rule}{hint}"


#: pydantic's error types for a value that is no object where one is expected (an item, a reference `{"id": …}`)
OBJECT_EXPECTED = frozenset({"model_type", "model_attributes_type", "dict_type"})
NOT_AN_OBJECT = "must be a JSON object, not {found}"
#: the rule an id breaks that is no UUID and has other characters than these (pydantic would quote the pattern)
ID_RULE = ("must be letters, digits and . _ : - only (SS 12000's ids are UUIDs; other ids are taken if made of "
           "these)")


def _json_kind(value: Any) -> str:
    """What a JSON value is, as JSON names it (never the value: it may be personal data)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, (list, tuple)) else "another value"


def _near_key(item: Any, loc: tuple[Any, ...]) -> str:
    """For a field missing from an item: a key it has that differs from the field's only in case or blanks
    (`DisplayName`, `displayName `, from a hand-made or converted file). Keys are the specification's names, as
    JSON's are exact: said, not taken. The key is quoted only then, so it is one of the specification's names."""
    *path, name = loc
    for step in path:
        if isinstance(item, dict) and isinstance(step, str):
            item = item.get(step)
        elif isinstance(item, list) and isinstance(step, int) and 0 <= step < len(item):
            item = item[step]
        else:
            return ""
    if not isinstance(item, dict) or not isinstance(name, str):
        return ""
    near = [key for key in item if isinstance(key, str) and key != name
            and "".join(key.split()).casefold() == name.casefold()]
    return f" (the item has {near[0]!r}: the names are case- and blank-sensitive)" if near else ""


class _Once:
    """The items of one entity's pages, each id once. A server's pages are read one after another while the
    source may change: an item inserted before the page being read pushes the one at its end onto the next page
    (read twice, alike), and an item changed or deleted and made again between two pages stands on both with
    other content — two versions of one entity in one import, the older one's memberships and links kept
    beside the newer's. The same item again is read once; the same id with other content stops the import,
    naming the pages, before anything is sent (the rule: an import is of one state of the source, whole, or
    nothing). An id refused on one page (`Shared.refused`: it broke the specification) and read on another is two
    contents alike (session 35: it was both sent and kept back as refused); refused on both, it is refused once."""

    def __init__(self, entity: str, shared: Shared) -> None:
        self.entity = entity
        self.seen: dict[str, tuple[Compact, str]] = {}
        self.refused = shared.refused
        self.counted = len(self.refused)  # the refusals looked at: those after are of the pages since

    def new(self, page: str, items: Iterable[Compact]) -> list[Compact]:
        """`items` of `page` not read before (consumed here, or already: the refusals they made are looked at)."""
        out = []
        for item in items:
            ident = getattr(item, "id", None)
            if not isinstance(ident, str):
                out.append(item)
                continue
            refused = self.refused.get((self.entity, ident))
            if refused is not None:
                raise SourceError(f"{self.entity}, {page}: item {ident} was refused where it stood before ({refused}), "
                                  f"and is read here: {CHANGED_WHILE_READ}")
            before = self.seen.get(ident)
            if before is None:
                self.seen[ident] = (item, page)
                out.append(item)
            elif before[0] != item:
                raise SourceError(f"{self.entity}, {page}: item {ident} is on {before[1]} too, with other "
                                  f"content: {CHANGED_WHILE_READ}")
        # the ids refused since (`_validated` adds them as the items are parsed): one read before is two contents
        for entity, ident in itertools.islice(reversed(self.refused), len(self.refused) - self.counted):
            if entity == self.entity and ident in self.seen:
                raise SourceError(f"{self.entity}, {page}: item {ident} is on {self.seen[ident][1]} too, read there, "
                                  f"and refused here ({self.refused[(entity, ident)]}): {CHANGED_WHILE_READ}")
        self.counted = len(self.refused)
        return out


#: why an id on two pages with two contents stops the import (`_Once`)
CHANGED_WHILE_READ = ("the source changed while it was read (or serves one id for two items); nothing imported, import "
                      "again")


#: the kinds of /deletedEntities the importer reads nothing of (the specification's DeletedEntities lists, and
#: EndPointsEnum's names for a flat list's `type`): their ids are skipped as they are parsed, never kept. Persons'
#: ids are kept apart, never sent (`_DeletedIds.person_ids`). Any other kind (organisations, groups, duties, activities — the specification spells it
#: `activitites` — or one a server names its own way) is kept: an id the directory does not hold removes nothing
NOT_READ_DELETED = frozenset(kind.casefold() for kind in (
    "persons", "person", "absences", "absence", "attendanceEvents", "attendanceEvent", "attendances", "attendance",
    "grades", "grade", "calendarEvents", "calendarEvent", "attendanceSchedules", "attendanceSchedule", "resources",
    "resource", "rooms", "room", "placements", "placement", "studyPlans", "studyPlan", "programmes", "programme",
    "syllabuses", "syllabus", "schoolUnitOfferings", "schoolUnitOffering", "aggregatedAttendances"))


#: the kinds of /deletedEntities that are persons: counted (`_DeletedIds.persons`), their ids kept apart
PERSON_KINDS = frozenset({"persons", "person"})


class _DeletedIds:
    """The ids of one /deletedEntities page (or `deletedEntities.json` file) from its parse events, as they stream
    by: `{data: {organisations: [ids], …}, pageToken}` as the specification has it, the object without `data`, or
    a flat list `{data: [{id, type}]}` (or `[…]` alone); ids as strings or `{id}` objects, a kind's list as null
    when empty (servers differ). What is held is the ids kept (a page of a million absences' ids holds none), not
    the page's objects."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.kept: dict[bool, list[str]] = {True: [], False: []}  # under `data`, or in an object without it
        self.data_seen = False
        self.token: str | None = None
        self.bad_kind: str | None = None  # a kind that is no list, outside `data`: an error if there is no `data`
        self.item: dict[str, Any] | None = None  # the `{id, type}` object being read
        self.item_kind = ""
        self.item_depth = 0
        self.in_data = False
        self.listed = 0  # ids the page lists, of every kind (those not read too): a page listing none is empty
        #: persons the page names: a person deleted at the source leaves memberships behind that came from its groups
        #: (`command.read_and_plan` reads the groups whole then)
        self.persons = 0
        #: their ids, under `data` or not as `kept`: never returned as removals (reporting holds nothing by a person's
        #: id), only to leave out what a list still states of them this run (`mapping.plan`: deleted wins)
        self.person_ids: dict[bool, set[str]] = {True: set(), False: set()}

    def _wrong(self, kind: str) -> SourceError:
        return SourceError(f"deletedEntities, {self.what}: '{kind or 'data'}' holds an id that is not a string")

    def _keep_person(self, in_data: bool, kind: str, ident: Any) -> None:
        if not isinstance(ident, str) or not ident:
            raise self._wrong(kind)
        self.person_ids[in_data].add(canonical_id(ident))

    def _keep(self, in_data: bool, kind: str, ident: Any) -> None:
        if not isinstance(ident, str) or not ident:
            raise self._wrong(kind)
        self.kept[in_data].append(canonical_id(ident))  # as the entities' own ids are read

    def read(self, events: Iterator[tuple[str, str, Any]]) -> tuple[list[str], str | None]:
        slots: list[Any] = []  # per open container: its current key (an object) or None (a list)
        for _, event, value in events:
            if event == "map_key":
                slots[-1] = value
                continue
            if event in ("end_map", "end_array"):
                slots.pop()
                if self.item is not None and len(slots) < self.item_depth:
                    item, self.item = self.item, None
                    own = str(item.get("type", item.get("entityType", "")) or "")
                    # (an `{id}` in a kind's list is that kind's, counted as it opened)
                    self.persons += own.casefold() in PERSON_KINDS and self.item_kind.casefold() not in PERSON_KINDS
                    kind = (own or self.item_kind).casefold()
                    if kind in PERSON_KINDS:
                        self._keep_person(self.in_data, self.item_kind, item.get("id"))
                    elif kind not in NOT_READ_DELETED:
                        self._keep(self.in_data, self.item_kind, item.get("id"))
                continue
            self._value(tuple(slots), event, value)
            if event in ("start_map", "start_array"):
                slots.append("" if event == "start_map" else None)
        if not self.data_seen and self.bad_kind is not None:
            raise SourceError(f"deletedEntities, {self.what}: '{self.bad_kind}' must be a list")
        return self.kept[self.data_seen], self.token

    def _value(self, path: tuple[Any, ...], event: str, value: Any) -> None:
        """A value (or a container opening) at `path`: the keys and list positions (None) above it."""
        container = event in ("start_map", "start_array")
        if self.item is not None:  # inside an `{id, type}` object: its own scalar keys only
            if len(path) == self.item_depth and path[-1] in ("id", "type", "entityType") and not container:
                self.item[path[-1]] = value
            return
        if path == ():
            if event not in ("start_map", "start_array"):
                raise SourceError(f"deletedEntities, {self.what}: expected an object of id lists")
            if event == "start_array":  # a flat list alone: as `data`
                self.data_seen = True
            return
        if path == ("data",):
            if event not in ("start_map", "start_array", "null"):
                raise SourceError(f"deletedEntities, {self.what}: expected an object of id lists")
            self.data_seen = True
            return
        if path == ("pageToken",):
            if event == "string":
                self.token = value or None
            elif event != "null":
                raise SourceError(f"deletedEntities, {self.what}: pageToken must be a string")
            return
        in_data = path[0] == "data" or path[0] is None
        kinds = path[1:] if path[0] == "data" else path
        if len(kinds) == 1 and kinds[0] is not None:  # a kind's list
            if event not in ("start_array", "null"):
                if in_data:
                    raise SourceError(f"deletedEntities, {self.what}: '{kinds[0]}' must be a list")
                self.bad_kind = self.bad_kind or str(kinds[0])
            return
        kind = "" if kinds[0] is None else str(kinds[0])
        if path[0] == "data" and kind == "pageToken":  # a token inside `data`, as some servers put it
            if len(kinds) == 1 and event == "string":
                self.token = value or None
            return
        at_item = (len(kinds) == 1 and kind == "") or (len(kinds) == 2 and kinds[1] is None)
        if at_item and event in ("string", "start_map"):
            self.listed += 1
            self.persons += kind.casefold() in PERSON_KINDS
        if (kind.casefold() in NOT_READ_DELETED and kind.casefold() not in PERSON_KINDS) or not at_item:
            return  # a kind not read, or deeper than an item
        if event == "start_map":
            self.item, self.item_kind, self.item_depth, self.in_data = {}, kind, len(path) + 1, in_data
        elif container or event == "null" or event != "string":
            raise self._wrong(kind)
        elif kind.casefold() in PERSON_KINDS:
            self._keep_person(in_data, kind, value)
        else:
            self._keep(in_data, kind, value)


#: the longest pageToken taken: it goes back in the next page's URL, and a server's URL limit is some 8 KB (nginx's
#: default line buffer); every token is kept until the entity is read (to tell a loop), so without a bound a server
#: sending new tokens of a megabyte each would fill memory before `max_pages`
MAX_TOKEN_CHARS = 8192


#: where APIs other than SS 12000 put the next page in a page's body, as the streaming parser names the path: a link
#: (JSON:API's `links.next`, HAL's `_links.next.href`, OData's `@odata.nextLink`, Django REST's `next`, …) or a token
#: under another name (`nextPageToken`, `meta.pageToken`). A server paging so and not by `pageToken` had its first
#: page read as the whole list: the rest was lost unsaid, and a full run removed it from the directory. Followed
#: (a link on the same server only, a token as the pageToken), said once per entity; `pageToken` or a `Link` header
#: go first. In this order when a page has several
BODY_NEXT_LINKS = ("links.next", "links.next.href", "_links.next.href", "@odata.nextLink", "nextLink", "next",
                   "meta.next", "meta.nextLink", "paging.next")
BODY_NEXT_TOKENS = ("nextPageToken", "meta.pageToken", "meta.nextPageToken", "paging.pageToken", "nextToken",
                    "page_token", "next_page_token", "meta.page_token", "meta.next_page_token")
BODY_NEXT = frozenset(BODY_NEXT_LINKS + BODY_NEXT_TOKENS)
#: the tokens of `BODY_NEXT_TOKENS` spelled in snake case: asked back as `page_token`, the spelling of their server
#: (which would read a `pageToken` it does not know as no token at all: the first page again, a loop)
SNAKE_TOKENS = frozenset(name for name in BODY_NEXT_TOKENS if "_" in name)
#: what a key's name holds (case, `_` and `-` aside) when it may name a next page or say there is one (`cursor`,
#: `next_cursor`, `continuationToken`, `hasMore`, `nextPage`): a page whose body has such a key, with a value, and no
#: next page the importer knows how to ask for stops the import — read as the last page, the rest of the list was
#: lost unsaid, and a full run removed it from the directory
MAY_PAGE_ON = ("token", "cursor", "continuation", "next", "more")


def may_page_on(prefix: str) -> bool:
    """Whether the body's `prefix` (outside its data) may name a next page (`MAY_PAGE_ON`)."""
    name = re.sub(r"[^a-z0-9]", "", prefix.rsplit(".", 1)[-1].casefold())
    return any(word in name for word in MAY_PAGE_ON)


#: what a response header's name holds (case and `-` aside) when it may carry a next page's cursor or say one follows
#: (`X-Next-Page-Token`, `X-Continuation`, `X-Cursor`, `X-Has-More`): the importer follows a `Link` header alone
PAGING_HEADER_WORDS = ("pagetoken", "nextpage", "cursor", "continuation", "hasmore")
#: a header's values that say no page follows
NO_MORE = frozenset({"", "false", "0", "null", "none", "no"})


def _no_next_in_headers(what: str, response: httpx.Response) -> None:
    """Stops the import when a page without a next page the importer reads has a header that may name one: read as
    the list's last, the rest of it was lost unsaid (and a full run removed it from the directory)."""
    for name, value in response.headers.items():
        if any(word in re.sub(r"[^a-z]", "", name.lower()) for word in PAGING_HEADER_WORDS) \
                and value.strip().lower() not in NO_MORE:
            raise SourceError(f"{what}: no pageToken, but the header {one_line(name[:60])!r} may say that a next "
                              "page follows, in a way the importer does not read (SS 12000 pages by pageToken, or a "
                              "Link header): stopped rather than take this page as the list's last; nothing imported")


#: where a page states how many items its whole list holds (a header, or its body as other APIs do): a list whose
#: pages held fewer ended without the rest — paged in a way the importer does not read (or changed while read) — and a
#: full run would have removed what was not read
TOTAL_HEADERS = ("x-total-count",)
BODY_TOTALS = frozenset({"totalCount", "total_count", "totalItems", "@odata.count", "meta.totalCount",
                         "meta.total_count", "meta.totalItems"})
TOTAL_MARK = "#"  # an `elsewhere` key of a total (no next page's name begins so)


def _stated_total(response: httpx.Response, elsewhere: dict[str, str]) -> tuple[int, str] | None:
    """The list's size the page states (`TOTAL_HEADERS`, `BODY_TOTALS`), and where; the body's totals taken out of
    `elsewhere` (what is left there is a next page's name)."""
    found: tuple[int, str] | None = None
    for key in [key for key in elsewhere if key.startswith(TOTAL_MARK)]:
        value = elsewhere.pop(key)
        if found is None and value.isdigit() and len(value) < 16:
            found = (int(value), f"'{key[len(TOTAL_MARK):]}' in the body")
    for name in TOTAL_HEADERS:
        value = response.headers.get(name, "").strip()
        if found is None and value.isascii() and value.isdigit() and len(value) < 16:
            found = (int(value), f"its header {name}")
    return found


class _Cursors:
    """The page tokens (or next links) of one entity seen so far, as digests: a repeat is a loop."""

    def __init__(self, entity: str) -> None:
        self.entity, self.seen = entity, set[bytes]()
        self.last: bytes | None = None  # the cursor the page being read was asked with

    def ended(self, page: int, cursor: str, *, is_token: bool, empty: bool) -> bool:
        """Whether `cursor` ends the entity: an empty page answering with the very token it was asked with (a
        cursor API's "nothing after this", which asking again would answer alike). Any other repeat is a loop
        (not only the last one: A, B, A, B, … went on for ever) and stops the import."""
        if is_token and len(cursor) > MAX_TOKEN_CHARS:
            raise SourceError(f"{self.entity}, page {page}: a pageToken longer than {MAX_TOKEN_CHARS} characters")
        digest = hashlib.sha256(cursor.encode("utf-8", "surrogatepass")).digest()
        if digest in self.seen:
            if empty and digest == self.last:
                return True
            raise SourceError(f"{self.entity}, page {page}: the server repeated a pageToken")
        self.seen.add(digest)
        self.last = digest
        return False


#: pages in a row that bring no new item (empty, or only items read already) while the server still hands out a new
#: pageToken or next link: a server paging without progress (a cursor that never advances under new names), stopped
#: long before `max_pages`. A server filtering a scan after paging it (`meta.modified.after` over windows of its
#: table) may answer many empty pages in a row honestly: `--max-empty-pages` raises it
MAX_EMPTY_PAGES = 100


class _Idle:
    """Pages in a row without a new item, while paging goes on: `step` stops the import at `limit` of them, naming
    the endpoint and how it may be asked to go on."""

    def __init__(self, entity: str, path: str, limit: int) -> None:
        self.entity, self.path, self.limit, self.idle = entity, path, limit, 0

    def step(self, page: int, new: int) -> None:
        self.idle = 0 if new else self.idle + 1
        if self.idle >= self.limit:
            raise SourceError(
                f"{self.entity}, page {page}: {self.idle} pages in a row without a new item, each with a new "
                f"pageToken or next link: the server's GET {self.path} makes no progress (a paging loop at the "
                f"server; --max-empty-pages if its pages may be empty so long)")


def next_link(response: httpx.Response) -> str | None:
    """The target of the `Link` header's link whose relation types hold "next" (RFC 8288 §3.3: a space-separated list,
    compared case-insensitively; the parameter's name is case-insensitive too, §3.4). httpx keys its links by the `rel`
    value whole and exact: `rel="next last"`, `rel="Next"` or `REL="next"` were no next link, and the first page was
    read as the whole list, the rest lost unsaid."""
    for link in response.links.values():
        rel = next((value for key, value in link.items() if key.lower() == "rel"), "")
        if "next" in rel.casefold().split() and link.get("url"):
            return link["url"]
    return None


def _kept_query(target: str, asked: httpx.URL) -> str:
    """A redirect's target with what the request asked that its Location leaves out (a base path moved, the query
    dropped): without it a page's pageToken was lost — the first page again, "the server repeated a pageToken" — and
    its `expand` and filter too. What the Location names itself goes as it says."""
    url = httpx.URL(target)
    missing = [(key, value) for key, value in asked.params.multi_items() if key not in url.params]
    if not missing:
        return target
    return str(url.copy_with(params=httpx.QueryParams([*url.params.multi_items(), *missing])))


class Ask(NamedTuple):
    """What a list's page is asked with (`path`, `params`), and what instead when the server refuses what was
    `added` to its own query (`EXPAND_REFUSED`): `instead` (path, params), or None when nothing was added."""

    path: str
    params: dict[str, Any] | None
    added: tuple[str, ...] = ()
    instead: tuple[str, dict[str, Any] | None] | None = None
    on_link: bool = False  # `added` to a next link (its refusal: the link is asked as given from then on)


def same_query(path: str, query: dict[str, Any], expanding: dict[str, Any], *, token: str | None,
               link: str | None, as_given: bool = False, token_param: str = "pageToken") -> Ask:
    """What a list's page at `path` is asked with. The first page: `query` (`limit`, the filter) and `expanding`
    (`expand`). A page after a pageToken: the token, `limit` and `expanding` — SS 12000 answers a filter beside a
    pageToken with 400 (`400_invalid_filter`: "kan inte kombineras med pageToken", the token carries it), but
    `expand` is no filter, and a server honouring it per request answered the pages after the first without it (their
    persons stating no memberships). A next link: what the link's own query lacks of them (a link carrying a
    `pageToken` not the filter) added to it — a server's link may be its path and cursor alone — unless the server
    refused that once (`as_given`). Instead: without `expand`, or the link as given."""
    if link is not None:
        url = httpx.URL(link)
        present = set(url.params.keys())
        wanted = {**({"limit": query["limit"]} if present & {"pageToken", "page_token"} else query), **expanding}
        added = {} if as_given else {key: value for key, value in wanted.items() if key not in present}
        if not added:
            return Ask(link, None)
        # merged here: httpx replaces a URL's query with `params` rather than adding to it
        return Ask(str(url.copy_merge_params(added)), None, tuple(added), (link, None), on_link=True)
    plain = {"limit": query["limit"], token_param: token} if token is not None else query
    if not expanding:
        return Ask(path, plain)
    return Ask(path, {**plain, **expanding}, tuple(expanding), (path, plain))


class HttpSource:
    def __init__(self, url: str, token: str | None = None, *, page_size: int = 100,
                 client: httpx.Client | None = None, attempts: int = 6, max_page_bytes: int = 256 * 1024 * 1024,
                 page_seconds: float = 600.0, max_pages: int = 100_000, max_empty_pages: int = MAX_EMPTY_PAGES,
                 timeout: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 on_retry: Callable[[str, float], None] | None = None, auth: ClientCredentials | None = None,
                 on_note: Callable[[str], None] | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._token = token  # never said (`secrets`)
        # each page's answer, headers and body, must be in by `page_seconds` (`_request`): the client's reads end by it
        self.deadline = Deadline(clock)
        self.client = client or bounded_client(self.deadline, base_url=url.rstrip("/"), headers=headers,
                                               timeout=timeout, follow_redirects=False)
        self.url = url  # as --url gave it: named when the server does not answer
        self.page_size = page_size
        self.attempts, self.max_page_bytes, self.sleep = attempts, max_page_bytes, sleep
        # a page must be in within `page_seconds` (the client's timeout is per read: a server sending a byte a
        # minute would never end), and an entity within `max_pages` pages (a server inventing tokens for ever)
        self.page_seconds, self.max_pages, self.clock = page_seconds, max_pages, clock
        self.max_empty_pages = max_empty_pages  # pages in a row without a new item while paging goes on (`_Idle`)
        self.on_retry = on_retry  # (what, seconds): said before each pause
        self.auth = auth  # OAuth 2.0 client credentials: each request's token, a new one on a 401 (once)
        self.notes: list[str] = []  # what was read otherwise than asked (a 204 as an empty page), said by the import
        self.on_note = on_note  # said as it happens (the progress of a long import)
        self.held_back: dict[str, int] = {}  # an optional entity the server did not serve → its status
        self.persons_deleted = 0  # persons /deletedEntities named (`_DeletedIds.persons`)
        self.persons_deleted_ids: set[str] = set()  # their ids (`_DeletedIds.person_ids`), held for the run only
        self._next_link: str | None = None
        self._expand_refused = self._link_as_given = False  # what the server refused of a page's query (`read`)
        self._filter_refused = False  # the first page's `CHANGED_AFTER` refused: the list read whole (`read`)
        self._token_param = "pageToken"  # the query parameter a token goes back in (`SNAKE_TOKENS`)
        self._total: tuple[int, str] | None = None  # the list's size a page states, and where (`_stated_total`)
        self._charsets_said: set[str] = set()
        self._paged_elsewhere: set[str] = set()  # entities paged by a next page in the body (`BODY_NEXT`), said
        self._token_urls_said = False  # a pageToken that is a URL, followed as a link (`_token_or_link`), said once
        #: how old the token the server refused was, when it was itself renewed after a 401 and not renewed again
        #: (`ClientCredentials.renew_after_refusal`): said with the 401
        self._refused_young: float | None = None
        self.shared = Shared()  # the values the import's items hold alike, held once

    def read(self, entity: str, since: datetime | None, progress: Progress,
             expand: str | None = None, *, expand_quietly: bool = False) -> list[Compact]:
        """An entity's items, page by page (`_read`)."""
        with self._secrets_kept():
            return self._read(entity, since, progress, expand, expand_quietly=expand_quietly)

    def one(self, entity: str, ident: str) -> Any | None:
        """One entity by its id (`_one`)."""
        with self._secrets_kept():
            return self._one(entity, ident)

    def deleted(self, since: datetime) -> list[str]:
        """The ids /deletedEntities names after `since` (`_deleted`)."""
        with self._secrets_kept():
            return self._deleted(since)

    def secrets(self) -> list[str]:
        """What is never said: the bearer token, the client's secret and every token --token-url issued."""
        found = [self._token or ""]
        if self.auth is not None:
            found += [self.auth.client_secret, *self.auth.tokens]
        return found

    @contextlib.contextmanager
    def _secrets_kept(self) -> Iterator[None]:
        """A refusal's text without a secret (`secrets`, `without_secrets`): a server's error may echo the token it
        was given (`{"message": "token eyJ… expired"}`), a token endpoint's the client's secret."""
        try:
            yield
        except SourceError as error:
            text = str(error)
            kept = without_secrets(text, self.secrets())
            if kept == text:
                raise
            raise SourceError(kept) from None

    def _note(self, text: str) -> None:
        text = without_secrets(text, self.secrets())
        self.notes.append(text)
        if self.on_note is not None:
            self.on_note(text)

    def _fetch(self, what: str, path: str, params: dict[str, Any] | None) -> tuple[httpx.Response, Body]:
        """One answer and its body, asking again while the server says "later" (or a 500: see `SOURCE_RETRIED`).
        With `auth`, a 401 is asked again once with a new token: a second 401 is the answer."""
        renewed = False
        attempt = 0
        while attempt < self.attempts:
            attempt += 1
            try:
                response, body = self._request(what, path, params, last=attempt == self.attempts)
                if response.status_code == 401 and self.auth is not None and not renewed:
                    renewed = True
                    self._refused_young = self.auth.renew_after_refusal()
                    if self._refused_young is not None:  # (a loop of renewals: the 401 is the answer)
                        return response, body
                    self._note(f"{what}: HTTP 401, a new token asked for and the page asked again")
                    attempt -= 1  # the token's fault, not the server's: no attempt spent
                    continue
                if response.status_code in SOURCE_RETRIED and attempt < self.attempts:
                    pause = retry_after_seconds(response.headers.get("retry-after"), attempt)
                    why = f"HTTP {response.status_code}"
                else:
                    return response, body
            except TRANSIENT as error:
                tls = tls_fault(error)
                if tls:  # the same certificate, the same protocol next time: asking again mends nothing
                    raise SourceError(f"{what}: {tls}") from None
                if attempt == self.attempts:
                    raise SourceError(f"{what}: {self._unanswered(error, attempt)}") from None
                pause = retry_after_seconds(None, attempt)
                why = type(error).__name__  # no answer: a name that does not resolve, a port nobody listens on
            except TokenError as error:
                raise SourceError(f"{what}: {error}") from None
            except httpx.ProxyError as error:  # the proxy's refusal to reach --url's host (CONNECT: 407, 403, 502)
                raise SourceError(f"{what}: ProxyError: the proxy {self._proxy() or '(unnamed)'}{PROXY_HINT} did "
                                  f"not connect to --url's host{_proxy_status(error)}") from None
            except httpx.HTTPError as error:
                raise SourceError(f"{what}: {type(error).__name__}{HTTP_ERRORS.get(type(error), '')}") from None
            if self.on_retry is not None:
                self.on_retry(f"{what}: {why}", pause)
            self.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover

    def _unanswered(self, error: httpx.TransportError, attempts: int) -> str:
        """The last attempt's failure: a server that kept silent in the words of every command's (`styrkedja_kit.reach`:
        which server, its URL, after how long, what sets that wait and its address), else its kind."""
        if isinstance(error, httpx.TimeoutException):
            said = unanswered(http_peer("the SS 12000 server", self.url, "--url"), error, self.client.timeout,
                              bound_by="--timeout", attempts=attempts, outcome=None)
            if said is not None:
                return str(said)
        meaning = next((words for kind, words in TRANSPORT_SAID if isinstance(error, kind)), "")
        proxy = self._proxy()
        if proxy is not None:  # the connection is the proxy's: --url's host may be fine (round 36)
            via = f"the proxy {proxy}{PROXY_HINT}"
            meaning = (f": no connection to {via}, or none through it to --url's host"
                       if isinstance(error, httpx.ConnectError) else f"{meaning}, through {via}")
        return f"{type(error).__name__} ({attempts} attempts){self._timed_out(error)}{meaning}"

    def _proxy(self) -> str | None:
        """The proxy the source is read through, named without its credentials (`deadline.proxy_of`), or None."""
        return proxy_of(self.client, self.url)

    def _timed_out(self, error: Exception) -> str:
        """Which time ran out, and the flag that sets it: ": <what> within N s (--timeout)", or "" for no timeout."""
        timeouts = self.client.timeout
        said: tuple[str, float | None] | None = {
            httpx.ConnectTimeout: ("no connection", timeouts.connect),
            httpx.ReadTimeout: ("nothing received for", timeouts.read),
            httpx.WriteTimeout: ("the request not sent within", timeouts.write),
            httpx.PoolTimeout: ("no free connection within", timeouts.pool)}.get(type(error))  # type: ignore[arg-type]
        if said is None:
            return ""
        words, seconds = said
        within = "" if words.endswith(("for", "within")) else " within"
        return f": {words}{within} {seconds:g} s (--timeout)" if seconds is not None else f": {words}"

    def _request(self, what: str, path: str, params: dict[str, Any] | None, *, last: bool
                 ) -> tuple[httpx.Response, Body]:
        """One answer, following a redirect on the same server (a base path moved, a trailing slash added, http
        made https) at most `MAX_REDIRECTS` times; one to another server is refused, never followed: the token
        would go along. A busy answer's body is not read unless it is the `last` attempt."""
        self.deadline.at = self.clock() + self.page_seconds  # redirects and all: one page's answer
        try:
            return self._redirected(what, path, params, last=last)
        except TooSlow:
            raise SourceError(self._too_slow(what)) from None
        finally:
            self.deadline.at = None

    def _too_slow(self, what: str) -> str:
        return f"{what}: the page took longer than {self.page_seconds:g} s to arrive (--page-seconds)"

    def _redirected(self, what: str, path: str, params: dict[str, Any] | None, *, last: bool
                    ) -> tuple[httpx.Response, Body]:
        url, query = path, params
        for _ in range(MAX_REDIRECTS + 1):
            headers = {"Accept-Encoding": ACCEPT_ENCODING}
            if self.auth is not None:
                headers["Authorization"] = self.auth.header()
                while self.auth.notes:  # how the endpoint took the client's credentials, when not the first way
                    self._note(self.auth.notes.pop(0))
            with self.client.stream("GET", url, params=query, follow_redirects=False, headers=headers) as response:
                location = response.headers.get("location")
                if response.status_code in REDIRECTS and location:
                    url, query = _kept_query(self._redirect(what, response, location), response.request.url), None
                    continue
                if response.status_code in SOURCE_RETRIED and not last:
                    return response, Body()
                return response, self._body(what, response)
        raise SourceError(f"{what}: more than {MAX_REDIRECTS} redirects")

    def _redirect(self, what: str, response: httpx.Response, location: str) -> str:
        """Where a redirect points, if it is the server asked (the same host and port, or the same host made
        https from http on the default ports): else the import stops naming the host, the token never sent."""
        try:
            target = response.url.join(location.strip())
        except httpx.InvalidURL:
            raise SourceError(f"{what}: HTTP {response.status_code} to a location that is not a URL") from None
        here = response.url
        same = (target.scheme, target.host, target.port) == (here.scheme, here.host, here.port)
        upgraded = (here.scheme, target.scheme) == ("http", "https") and target.host == here.host \
            and here.port in (None, 80) and target.port in (None, 443)
        if not (same or upgraded):
            raise SourceError(f"{what}: HTTP {response.status_code} redirects to another server "
                              f"({target.scheme}://{target.host[:80]}{f':{target.port}' if target.port else ''}): "
                              "not followed, the token would go along; give that server's URL to --url if it is "
                              "the source")
        return str(target)

    def _body(self, what: str, response: httpx.Response) -> Body:
        """The answer's body, in memory (`Body`): its size and the time it takes checked as it arrives."""
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_page_bytes:
            raise SourceError(f"{what}: the page is larger than {self.max_page_bytes} bytes{LARGER_HINT}")
        deadline = self.deadline.at if self.deadline.at is not None else self.clock() + self.page_seconds
        body = Body()
        try:
            for chunk in self._decoded(what, response):
                if body.size + len(chunk) > self.max_page_bytes:
                    raise SourceError(f"{what}: the page is larger than {self.max_page_bytes} bytes{LARGER_HINT}")
                if self.clock() > deadline:  # (a test's client has no `bounded_client` to stop it sooner)
                    raise SourceError(self._too_slow(what))
                try:
                    body.write(chunk)
                except MemoryError:  # the limit is more than this machine holds: said as such, with the flag
                    raise SourceError(f"{what}: the page ({body.size + len(chunk)} bytes so far) could not be held "
                                      f"in memory while read (--max-page-mib lowers the limit, "
                                      f"{self.max_page_bytes // (1024 * 1024)} MiB)") from None
        except BaseException:
            body.close()
            raise
        return body

    @staticmethod
    def _decoded(what: str, response: httpx.Response) -> Iterator[bytes]:
        """The body as sent, inflated here (gzip or deflate) at most `INFLATE_STEP_BYTES` at a time, so that its
        size is checked as it grows (httpx inflates each chunk whole: 200 KB of gzip made 450 MB at once). Codings
        listed one after another (RFC 9110 §8.4: "gzip, gzip", as a proxy compressing again adds its own) are undone
        from the last; `identity` is none (RFC 9110 names it for Accept-Encoding alone, servers send it anyway)."""
        if response.is_stream_consumed:  # read whole already (a test's transport answering with bytes)
            yield response.content
            return
        codings = [c for c in (part.strip().lower() for part in response.headers.get("content-encoding", "").split(
            ",")) if c and c != "identity"]
        unknown = next((c for c in codings if c not in CODINGS), None)
        if unknown is not None:
            raise SourceError(f"{what}: content-encoding {unknown[:40]!r} is not one of {', '.join(CODINGS)} (the "
                              f"codings asked for: {ACCEPT_ENCODING})")
        if len(codings) > MAX_CODINGS:
            raise SourceError(f"{what}: content-encoding of {len(codings)} codings, one after another: more than "
                              f"{MAX_CODINGS}")
        chunks: Iterator[bytes] = response.iter_raw()
        for coding in reversed(codings):
            chunks = _inflated(what, coding, chunks)
        yield from chunks

    @staticmethod
    def _same_server(link: str, page: httpx.URL) -> str | None:
        """A next link, if it points at the server asked (a bearer token never goes elsewhere). A relative link
        is relative to the page it came with (RFC 8288 §3.2: `<?pageToken=x>` is that page's path with another
        query), not to the base URL."""
        try:
            url = page.join(link.strip())
        except httpx.InvalidURL:
            return None
        if (url.scheme, url.host, url.port) != (page.scheme, page.host, page.port):
            return None
        return str(url)

    def _answer(self, entity: str, page: int, path: str, params: dict[str, Any] | None,
                ask: Ask | None = None, *, quiet: bool = False) -> tuple[httpx.Response, Body] | None:
        """A page's answer and body, or None for an optional entity the server holds back. `ask`: the page's query
        when it adds to the server's own (`same_query`: an `expand`, or what a next link lacked), its `instead`
        asked when the server refuses that (`EXPAND_REFUSED`), said (a refused `expand` unless `quiet`)."""
        what = f"{entity}, page {page}"
        response, body = self._fetch(what, path, params)
        if ask is not None and ask.instead is not None and response.status_code in EXPAND_REFUSED:
            refused_filter = None
            if ask.added == (CHANGED_AFTER,):
                # said once the list answers without it (else that answer is said, as any list's)
                self._filter_refused = True
                refused_filter = f"HTTP {response.status_code} to the filter {CHANGED_AFTER}{server_said(body.small())}"
            elif not ask.on_link:
                self._expand_refused = True
                beside_token = any(key in (params or {}) for key in ("pageToken", "page_token"))
                if beside_token:  # the first page's expansion was taken: its token carries it, as it does a filter
                    self._note(f"{what}: HTTP {response.status_code} to expand={(params or {}).get('expand')} beside "
                               f"the pageToken{server_said(body.small())}: asked with the token alone from now on (it "
                               "carries the first page's expand)")
                elif not quiet:
                    self._note(f"{what}: HTTP {response.status_code} to expand={(params or {}).get('expand')}"
                               f"{server_said(body.small())}: asked again without it (what persons would state of "
                               "their groups is not read)")
            else:  # what was added to a next link: the server's link asked as it gave it, from now on
                self._link_as_given = True
                self._note(f"{what}: HTTP {response.status_code} to the next link with {', '.join(ask.added)} "
                           f"added{server_said(body.small())}: asked again as the server gave it")
            body.close()
            response, body = self._fetch(what, *ask.instead)
            if refused_filter is not None and response.status_code == 200:
                self._note(f"{what}: {refused_filter}: asked again without it, the whole list read (what did not "
                           "change since is sent too, and reporting answers it unchanged)")
        if page == 1 and entity in OPTIONAL and response.status_code in (403, 404):
            self.held_back[entity] = response.status_code  # said by the command: what the import then lacks
            return None  # held back by the server (e.g. no right to read persons)
        if response.status_code == NO_CONTENT:
            # "nothing here": some servers' answer to a list with no items (or none after a token); no body, so no
            # pageToken — the entity ends here, as after an empty last page (a next link, if any, is followed)
            self._note(f"{what}: HTTP 204 No Content, read as an empty page")
            link = next_link(response)
            self._next_link = self._same_server(link, response.url) if link else None
            return response, Body.of(b'{"data": []}')

        if response.status_code != 200:
            small = body.small()
            # RFC 6750 §3.1: to a request without a token a server SHOULD say no error code (a token was sent, or
            # the server says what was wrong with one: the token's refusal); a 403 whose body says nothing is told
            no_token = "authorization" not in response.request.headers and "error=" not in response.headers.get(
                "www-authenticate", "").replace(" ", "").lower()
            hint = {503: OVERLOAD_HINT, 401: RENEWED_AGAIN_HINT.format(
                        seconds=self._refused_young, issued=self.auth.issued) if self.auth and self._refused_young
                    is not None else RENEWED_HINT if self.auth else EXPIRED_HINT if page > 1 else
                    NO_TOKEN_HINT if no_token else REFUSED_HINT,
                    403: "" if small.strip() else FORBIDDEN_HINT.format(path=f"/{entity}"),
                    404: self._base_hint() if page == 1 and entity == FIRST_READ else ""}.get(response.status_code, "")
            if entity == "deletedEntities" and page == 1 and response.status_code in NO_DELETIONS:
                hint = NO_DELETIONS_HINT
            if response.status_code == 429:  # still "too many requests" after every attempt and its pauses
                hint = (f" (asked {self.attempts} times, after its Retry-After each time: import later)"
                        if response.headers.get("retry-after") else
                        f" (asked {self.attempts} times, after pauses of our own, as it gave no Retry-After: import "
                        "later)")
            elif response.status_code in REDIRECTS:  # one with a Location was followed or refused
                hint = " without a Location to follow"
            elif response.status_code == 407:  # the proxy's own answer (RFC 9110 §15.5.8), not the SS 12000 server's
                hint = f" from the proxy {self._proxy() or '(unnamed)'}{PROXY_HINT}: it wants credentials of its own"
            elif response.status_code in (400, 422) and page == 1 and "after" in response.request.url.params:
                # /deletedEntities' filter (--since) is asked beside the limit: either may be what the server refuses
                # (it was said as the limit alone, "--page-size", for a server refusing the time's form)
                query = response.request.url.params
                hint = (f"; the page was asked with after={query['after'][:40]} (--since less a second, as an RFC 3339 "
                        f"time) and limit={query.get('limit', '')[:12]} (--page-size): the server may refuse either")
            elif response.status_code in (400, 422) and page == 1 and "limit" in response.request.url.params:
                # a server whose largest page is smaller may refuse a larger `limit` rather than give fewer items
                hint = (f"; the page was asked with limit={response.request.url.params['limit'][:12]}: a server whose "
                        "largest page is smaller may refuse it (--page-size)")
            raise SourceError(f"{what}: HTTP {response.status_code}{refused_said(response, small)}{hint}")
        link = next_link(response)
        self._next_link = self._same_server(link, response.url) if link else None
        if link and self._next_link is None:
            try:
                response.url.join(link.strip())
            except httpx.InvalidURL:
                raise SourceError(f"{what}: the next page's link (Link: rel=\"next\") is not a URL") from None
            raise SourceError(f"{what}: the next page's link points at another server")
        return response, self._in_utf8(what, response, body)

    def _in_utf8(self, what: str, response: httpx.Response, body: Body) -> Body:
        """The body as UTF-8: as it came, unless its content-type declares a charset of `DECLARED_CHARSETS` and the
        body is in it (not UTF-8; for UTF-16 and -32, NUL bytes or a byte order mark among its first bytes): then
        decoded by it and said, once per charset. A body that is UTF-8 is read as UTF-8 whatever is declared (a
        server labelling UTF-8 as ISO-8859-1 is common), one that is neither is refused where it is not UTF-8."""
        declared = response.charset_encoding or ""
        try:
            name = codecs.lookup(declared).name if declared else ""
        except LookupError:
            return body  # a charset no one knows: read as JSON is (refused where it is not UTF-8)
        start = body.head(4)
        if name not in DECLARED_CHARSETS or start.startswith(codecs.BOM_UTF8):  # the mark says UTF-8, whatever is declared
            return body
        if name.startswith("utf-"):
            if b"\x00" not in start and not any(start.startswith(mark) for mark, _ in OTHER_ENCODINGS):
                return body
        elif _is_utf8(body.reader()):
            return body
        text = _recoded(what, declared, name, body)
        if name not in self._charsets_said:
            self._charsets_said.add(name)
            self._note(f"{what}: read as {declared[:40]}, as its content-type says (JSON is UTF-8, RFC 8259 §8.1; "
                       "said once)")
        return text

    def _base_hint(self) -> str:
        """A list the specification has answered 404: most likely --url is not the API's base (SS 12000's servers
        serve it under a version, `…/v2.0`): said when the URL names none."""
        path = self.client.base_url.path.rstrip("/")
        if re.search(r"/v[0-9]+(\.[0-9]+)?$", path):
            return ""
        return (f"; is --url the API's base? SS 12000 servers serve it under its version, e.g. "
                f"{self.client.base_url.copy_with(query=None, fragment=None).join('v2.0')}")

    def _read(self, entity: str, since: datetime | None, progress: Progress,
             expand: str | None = None, *, expand_quietly: bool = False) -> list[Compact]:
        """An entity's items, page by page. Every page is asked with the same query (`same_query`): `expand`
        (`groupMemberships` of /persons) on each, as a server may honour it per request; the filter on the first
        (a pageToken carries it) and on a next link that does not. A server refusing `expand` (one that has no such
        expansion, `EXPAND_REFUSED`) is asked again without it, said — unless `expand_quietly` (it was asked only in
        case: nothing is lost without it) — and not asked it again."""
        out: list[Compact] = []
        token: str | None = None
        link: str | None = None
        page = 0
        cursors = _Cursors(entity)
        once = _Once(entity, self.shared)
        idle = _Idle(entity, f"/{entity}", self.max_empty_pages)
        query: dict[str, Any] = {"limit": self.page_size,
                                 **({"meta.modified.after": asked_after(since)} if since is not None else {})}
        expanding: dict[str, Any] = {"expand": expand} if expand else {}
        self._link_as_given, self._token_param = False, "pageToken"
        served, total = 0, None  # items the pages held (a repeat too), and the list's size the server last stated
        while True:
            page += 1
            ask = same_query(f"/{entity}", query, expanding, token=token, link=link, as_given=self._link_as_given,
                             token_param=self._token_param)
            if ask.instead is None and ask.params is not None and CHANGED_AFTER in ask.params:
                # the first page with the filter: asked again without it when the server refuses it
                ask = ask._replace(added=(CHANGED_AFTER,), instead=(ask.path, {
                    key: value for key, value in ask.params.items() if key != CHANGED_AFTER}))
            self._expand_refused = self._filter_refused = False
            self._total = None
            items, token = self._page(entity, page, self._answer(entity, page, ask.path, ask.params, ask,
                                                                 quiet=expand_quietly))
            if self._expand_refused:
                expanding = {}  # the server has no such expansion: not asked again on every later page
            if self._filter_refused:
                # nor the filter: not added to a next link that lacks it either (`same_query`)
                query = {key: value for key, value in query.items() if key != CHANGED_AFTER}
            link = None if token else self._next_link
            new = once.new(f"page {page}", items)
            out += new
            served += len(items)
            total = self._total or total
            progress(entity, len(out))
            cursor = token or link
            if not cursor or cursors.ended(page, cursor, is_token=bool(token), empty=not items):
                # (a read with a filter is not compared: a server may state the size of its whole list beside it)
                if total is not None and served < total[0] and since is None:
                    raise SourceError(
                        f"{entity}, page {page}: the server says the list holds {total[0]} items ({total[1]}), and "
                        f"its pages held {served}: pages the importer does not follow, or the list changed while it "
                        "was read; nothing imported")
                return out
            idle.step(page, len(new))
            if page >= self.max_pages:
                # a valid list may be this long: a server answering fewer items a page than asked (its own largest
                # page, one item a page) serves a municipality's 100,000 persons in as many pages. Said with the
                # flag and what the pages held, so that such a server is told from one inventing pages for ever
                raise SourceError(f"{entity}, page {page}: more than {self.max_pages} pages ({len(out)} items read, "
                                  f"{served / page:.1f} a page where --page-size asked {self.page_size}); --max-pages "
                                  "reads more, if the server's pages are this small")

    def _page(self, entity: str, page: int, answer: tuple[httpx.Response, Body] | None
              ) -> tuple[list[Compact], str | None]:
        """A list page's items and its pageToken, each item validated as the page is parsed (as a folder's file):
        what is held is the page's bytes and the items, not every object of the page at once (a page of 32 MiB
        of `{}` became 11 million dicts, 770 MB; a page may be up to `max_page_bytes`)."""
        if answer is None:
            return [], None
        token: list[str] = []
        elsewhere: dict[str, str] = {}

        def items(events: Iterator[tuple[str, str, Any]]) -> list[Compact]:
            return list(_page_items(entity, f"page {page}", events, self.shared))

        try:
            found = self._parsed(f"{entity}, page {page}", *answer, items, data_only=True, token=token,
                                 elsewhere=elsewhere)
        finally:
            answer[1].close()
        self._total = _stated_total(answer[0], elsewhere)
        if token and token[-1]:
            return found, self._token_or_link(f"{entity}, page {page}", answer[0], token[-1])
        if elsewhere and self._next_link is None:
            return found, self._next_in_body(entity, page, answer[0], elsewhere)
        if self._next_link is None:
            _no_next_in_headers(f"{entity}, page {page}", answer[0])
        return found, None

    def _token_or_link(self, what: str, response: httpx.Response, token: str) -> str | None:
        """A pageToken as it is, or None when it is the next page's URL on the server asked (as some servers put it
        there): then followed as a next link (`_next_link`), said once. Sent back as a token, a URL was a 400 ("invalid
        token") or the first page again; one to another server stays an opaque token (never followed)."""
        if not token.startswith(("http://", "https://")):
            return token
        link = self._same_server(token, response.url)
        if link is None:
            return token
        self._next_link = link
        if not self._token_urls_said:
            self._token_urls_said = True
            self._note(f"{what}: the pageToken is the next page's URL on the server: followed as a link")
        return None

    def _next_in_body(self, entity: str, page: int, response: httpx.Response, elsewhere: dict[str, str]
                      ) -> str | None:
        """The next page a page names in its body otherwise than by `pageToken` (`BODY_NEXT`): a token returned, a
        link put in `_next_link` (on the server asked only, as a `Link` header's); said once per entity."""
        what = f"{entity}, page {page}"
        name = next((n for n in (*BODY_NEXT_LINKS, *BODY_NEXT_TOKENS) if n in elsewhere), None)
        if name is None:  # only keys that may name a next page by a name not read (`MAY_PAGE_ON`)
            unknown = next(iter(elsewhere))
            raise SourceError(f"{what}: no pageToken, but '{one_line(unknown[:60])}' in the body may say that a next "
                              "page follows, in a way the importer does not read (SS 12000 pages by pageToken): "
                              "stopped rather than take this page as the list's last; nothing imported")
        value = elsewhere[name].strip()
        if not value:  # `"next": ""`: the last page, as an empty pageToken is
            return None
        if name in SNAKE_TOKENS:
            self._token_param = "page_token"
        if entity not in self._paged_elsewhere:
            self._paged_elsewhere.add(entity)
            self._note(f"{what}: no pageToken, the next page named by '{name}' in the body (not SS 12000's "
                       "pageToken): followed")
        if name in BODY_NEXT_TOKENS:
            return value
        self._next_link = self._same_server(value, response.url)
        if self._next_link is None:
            try:
                response.url.join(value)
            except httpx.InvalidURL:
                raise SourceError(f"{what}: the next page's link ('{name}' in the body) is not a URL") from None
            raise SourceError(f"{what}: the next page's link ('{name}' in the body) points at another server")
        return None

    @staticmethod
    def _parsed(what: str, response: httpx.Response, body: Body, consume: Callable[[Iterator[tuple[str, str, Any]]], T],
                *, data_only: bool, token: list[str] | None = None, elsewhere: dict[str, str] | None = None) -> T:
        """`consume` of a page's parse events (`_page_events`): where the page is not JSON said by line and column."""
        unreadable = f"not JSON (content-type {response.headers.get('content-type', 'none')[:60]})"
        checked: _CheckedBytes | None = None
        try:
            checked = _CheckedBytes(body.reader(), what, body.size, body.reader,
                                    lambda found: f"{what}: {unreadable}: not UTF-8 ({found})")
            return consume(_page_events(what, checked, data_only=data_only, unreadable=unreadable,
                                        token=[] if token is None else token, elsewhere=elsewhere))
        except SourceError:
            said = error_instead(body.small())
            if said:  # an error answered with 200: the server's words, not our reading of its shape
                raise SourceError(f"{what}: HTTP 200 with an error instead of the page{said}") from None
            raise
        except ijson.JSONError:
            start = body.small().lstrip(codecs.BOM_UTF8).strip()
            if not start:  # "line 1, column 1: Expecting value" said nothing of a body with nothing in it
                raise SourceError(f"{what}: HTTP 200 with an empty body, which is no page (an empty list is "
                                  "{\"data\": []}, or a 204)") from None
            markup = start[:1] == b"<" or "html" in response.headers.get("content-type", "").lower()
            hint = "; a page of HTML or XML (a proxy's, a login's or a portal's: is --url the API's base?)" \
                if markup else ""
            if checked is None:
                raise SourceError(f"{what}: {unreadable}{hint}") from None
            raise SourceError(_json_fault(what, unreadable, body.size, body.whole, checked) + hint) from None

    def _one(self, entity: str, ident: str) -> Any | None:
        """One entity by id (`/<entity>/{id}`), or None when the server does not have it: a 404, or a 204 (No
        Content: no entity to send, as some servers answer an id they do not have; said) — what names it is refused
        naming it, the import goes on. A UUID is asked in lower case, as it is read, then in upper case: a server
        that keeps its ids as text (and wrote this one in upper case) answers only its own spelling."""
        is_uuid = canonical_id(ident.upper()) != ident.upper()  # (any other id is exact: asked as it is)
        for spelling in dict.fromkeys([ident, ident.upper()] if is_uuid else [ident]):
            response, body = self._fetch(f"{entity} {ident}", f"/{entity}/{spelling}", None)
            if response.status_code not in ABSENT:
                break
        if response.status_code in ABSENT:
            if response.status_code == NO_CONTENT:
                self._note(f"{entity} {ident}: HTTP 204 No Content, read as absent")
            return None
        if response.status_code != 200:
            raise SourceError(f"{entity} {ident}: HTTP {response.status_code}{refused_said(response, body.small())}")
        whole = self._in_utf8(f"{entity} {ident}", response, body).whole()  # one entity: parsed whole
        try:
            document = strict_json(whole)
        except LenientJson as error:
            raise SourceError(f"{entity} {ident}: not JSON by RFC 8259: {error}") from None
        except (UnicodeDecodeError, ValueError, RecursionError) as error:
            raise SourceError(f"{entity} {ident}: not JSON{_where(whole, error)}") from None
        if not isinstance(document, dict):
            raise SourceError(f"{entity} {ident}: expected the entity (a JSON object), not a "
                              f"{'list' if isinstance(document, list) else type(document).__name__}")
        said = error_instead(whole)
        if said:
            raise SourceError(f"{entity} {ident}: HTTP 200 with an error instead of the entity{said}")
        # refused on its own (None, `Shared.refused`): what names it says so
        return _validated(entity, "page 1", 0, document, self.shared, place=f"asked by its id, /{entity}/{ident}")

    def _deleted(self, since: datetime) -> list[str]:
        """The ids /deletedEntities names after `since`, page by page (a pageToken or a next link, as the lists),
        each page streamed (`_DeletedIds`). Its `entities` filter is not sent: servers read it differently (the
        reference API takes one value split on commas, OpenAPI's default repeats the parameter), and a filter
        misread drops removals unsaid; the kinds not read are skipped here instead."""
        ids: list[str] = []
        token: str | None = None
        link: str | None = None
        cursors = _Cursors("deletedEntities")
        idle = _Idle("deletedEntities", "/deletedEntities", self.max_empty_pages)
        page = 0
        self._link_as_given, self._token_param = False, "pageToken"
        while True:
            page += 1
            # as for the lists: `after` is a filter, which the spec does not let go along with a pageToken
            # a next link lacking it gets the filter too (`same_query`): the server's own link may be its cursor alone
            ask = same_query("/deletedEntities", {"after": asked_after(since), "limit": self.page_size}, {},
                             token=token, link=link, as_given=self._link_as_given, token_param=self._token_param)
            answer = self._answer("deletedEntities", page, ask.path, ask.params, ask)
            assert answer is not None  # deletedEntities is no optional entity: any answer but 200 stopped
            listing = _DeletedIds(f"page {page}")
            elsewhere: dict[str, str] = {}
            try:
                found, token = self._parsed(f"deletedEntities, page {page}", *answer, listing.read, data_only=False,
                                            elsewhere=elsewhere)
            finally:
                answer[1].close()
            self.persons_deleted += listing.persons
            self.persons_deleted_ids |= listing.person_ids[listing.data_seen]
            _stated_total(answer[0], elsewhere)  # (not compared: a page's kinds not read are not counted here)
            if token:
                token = self._token_or_link(f"deletedEntities, page {page}", answer[0], token)
            if not token and elsewhere and self._next_link is None:
                token = self._next_in_body("deletedEntities", page, answer[0], elsewhere)
            if not token and self._next_link is None:
                _no_next_in_headers(f"deletedEntities, page {page}", answer[0])
            ids += found
            link = None if token else self._next_link
            cursor = token or link
            # a repeated token is a loop here, empty page or not (`found` holds only the kinds read: a page of
            # absences alone is no empty page)
            if not cursor or cursors.ended(page, cursor, is_token=bool(token), empty=False):
                return ids
            idle.step(page, listing.listed)  # every id the page lists counts, of a kind read or not
            if page >= self.max_pages:
                raise SourceError(f"deletedEntities, page {page}: more than {self.max_pages} pages ({len(ids)} ids "
                                  "kept); --max-pages reads more, if the server's pages are this small")


#: containers inside one another at most in a folder file (an SS 12000 item nests a few levels)
MAX_FOLDER_DEPTH = 64
_SCALARS = frozenset({"null", "boolean", "integer", "double", "number", "string"})


#: ijson's C parser hands over the events of a whole chunk at once, each with its path prefix: a chunk of
#: nothing but `[` costs the square of its size before the depth check sees the first event (64 KiB: 7.5 s
#: of CPU here, and 90 s in a CI run; 4 KiB: 0.09 s; reading 200,000 items is no slower)
PARSE_CHUNK_BYTES = 4096


#: byte order marks of the encodings a JSON file is not in (RFC 8259 §8.1: UTF-8), longest first: UTF-32's LE
#: mark begins with UTF-16's. What Windows PowerShell 5.1 writes with `>` or `Out-File` is UTF-16 LE with its mark
OTHER_ENCODINGS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
                   (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))
NOT_UTF8 = "not UTF-8 ({found}; JSON is UTF-8, RFC 8259 §8.1: save the file as UTF-8)"


def _position(reopen: Callable[[], BinaryIO], offset: int) -> str:
    """Where byte `offset` of a file or page is, as an editor shows it: "line L, column C" (a column counts
    characters: the bytes before `offset` were read as UTF-8 already). Reads it once more: only counts are held."""
    line, column, done = 1, 1, 0
    with reopen() as handle:
        if handle.read(len(codecs.BOM_UTF8)) != codecs.BOM_UTF8:
            handle.seek(0)
        else:
            done = len(codecs.BOM_UTF8)
        while done < offset:
            block = handle.read(min(1 << 20, offset - done))
            if not block:
                break
            done += len(block)
            newline = block.rfind(b"\n")
            if newline >= 0:
                line += block.count(b"\n")
                column = 1
                block = block[newline + 1:]
            column += len(block) - sum(0x80 <= b < 0xC0 for b in block)  # continuation bytes are no characters
    return f"line {line}, column {column}"


#: RFC 8259 §8.2: a string escaping half a UTF-16 surrogate pair (`"\\ud800"` alone) is read by each parser its own
#: way — yajl (the streaming parser) made it "?" (a name silently changed) or bytes no UTF-8 decoder takes (a
#: traceback), Python's `json` a string no UTF-8 encoder takes — so a page holding one is not JSON here
UNPAIRED = "a string escapes half a UTF-16 surrogate pair (\\uD800-\\uDFFF alone), which parsers read differently"
_SURROGATE_ESCAPE = re.compile(rb"(\\+)u([dD][89a-fA-F][0-9a-fA-F]{2})")
_HIGH = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}")
_LOW = re.compile(rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}")
#: the bytes of one read kept for the next: a surrogate pair's escapes (12 bytes) and the backslashes before them
SURROGATE_CARRY = 32


def _unpaired_surrogate(data: bytes, *, final: bool, started: bool) -> int | None:
    """Where in `data` the first escape of an unpaired surrogate is, or None. `data` is the end of the previous read
    (`SURROGATE_CARRY` bytes, unless the text `started` with it) and the new one: an escape at the end, whose pair may
    follow in the next read, waits for it unless this is the `final` read. A backslash doubled is no escape
    (`"\\\\ud800"` is text)."""
    for found in _SURROGATE_ESCAPE.finditer(data):
        if len(found.group(1)) % 2 == 0:
            continue
        at = found.end(1) - 1  # the escape's own backslash
        if int(found.group(2), 16) < 0xDC00:  # a high half: its low half must come next
            follows = data[found.end():found.end() + 6]
            if _LOW.fullmatch(follows) or (len(follows) < 6 and not final and b"\\u"[:len(follows)] == follows[:2]):
                continue
            return at
        if at >= 6 and _HIGH.fullmatch(data, at - 6, at):
            continue
        if at < 6 and not started:
            continue  # read with the bytes before it last time
        return at
    return None


class _CheckedBytes:
    """A folder file or a server's page for the streaming parser: its bytes as they are, less a leading byte order
    mark, each read checked to be UTF-8 (an incremental decoder, so a character split between two reads is
    whole) and counted against the limit. A text in UTF-16 or UTF-32 (a byte order mark, or NUL bytes among its
    first characters, as RFC 4627 §3 tells them) is refused as such; a byte that is not UTF-8 is named by its
    line and column. `reopen` reads it again from its start (to tell a line and column); `not_utf8` says the
    rule broken, given what was found."""

    def __init__(self, file: BinaryIO, what: str, limit: int, reopen: Callable[[], BinaryIO],
                 not_utf8: Callable[[str], str] | None = None) -> None:
        self.file, self.what, self.limit, self.reopen = file, what, limit, reopen
        self.not_utf8 = not_utf8 or (lambda found: f"{what}: " + NOT_UTF8.format(found=found))
        self.size = self.last = 0
        self.carry = b""  # the end of what was read: an escape split between two reads (`_unpaired_surrogate`)
        self.decoder = codecs.getincrementaldecoder("utf-8")("strict")
        start = file.read(4)
        for mark, name in OTHER_ENCODINGS:
            if start.startswith(mark):
                raise SourceError(self.not_utf8(f"{name}, by its byte order mark"))
        if b"\x00" in start:
            raise SourceError(self.not_utf8("UTF-16 or UTF-32 without a byte order mark: NUL bytes among its "
                                            "first characters"))
        self.skipped = len(codecs.BOM_UTF8) if start.startswith(codecs.BOM_UTF8) else 0
        file.seek(self.skipped)

    def read(self, size: int = -1) -> bytes:
        chunk = self.file.read(size)
        if size == 0:  # the parser's look at what the file gives (bytes or text)
            return chunk
        self.size += len(chunk)
        self.last = len(chunk)
        if self.size > self.limit:
            raise SourceError(f"{self.what}: the file is larger than {self.limit} bytes{LARGER_HINT}")
        pending = len(self.decoder.getstate()[0])  # the start of a character the previous read ended in
        try:
            self.decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as error:
            offset = self.skipped + self.size - len(chunk) - pending + error.start
            bad = (error.object[error.start:error.start + 1] or b"?").hex().upper()
            raise SourceError(self.not_utf8(f"byte {bad} at {_position(self.reopen, offset)}")) from None
        if b"\\u" in chunk or b"\\" in self.carry[-12:]:  # (an escape left waiting for its pair has a backslash)
            data = self.carry + chunk
            at = _unpaired_surrogate(data, final=not chunk, started=self.size == len(chunk))
            if at is not None:
                offset = self.skipped + self.size - len(data) + at
                raise SourceError(f"{self.what}: not JSON by RFC 8259: {UNPAIRED} at {_position(self.reopen, offset)}")
        self.carry = (self.carry + chunk)[-SURROGATE_CARRY:]
        return chunk

    def where_parsing_stopped(self) -> str:
        """The bytes the parser was reading when it stopped (it reads `PARSE_CHUNK_BYTES` at a time)."""
        start = self.skipped + self.size - self.last
        return f"in bytes {start}-{self.skipped + self.size} (from {_position(self.reopen, start)})"


#: a file no larger than this that the streaming parser refuses is parsed again whole, for the line and column
#: of the fault and its rule (the standard library's `json` names both, never the text around them)
LOCATED_BYTES = 16 * 1024 * 1024


def _json_fault(what: str, unreadable: str, size: int, whole: Callable[[], bytes], checked: _CheckedBytes) -> str:
    """Where a file or page is not JSON, and why, as far as that can be told without holding a large one whole:
    the refusal, `unreadable` ("not readable JSON", "not JSON (content-type …)") saying what it is not."""
    if size <= LOCATED_BYTES:
        try:
            strict_json(whole())
        except json.JSONDecodeError as error:
            return f"{what}: {unreadable} at line {error.lineno}, column {error.colno}: {error.msg}"
        except LenientJson as error:
            return f"{what}: not JSON by RFC 8259: {error}"
        except (ValueError, RecursionError):
            pass
    return f"{what}: {unreadable} {checked.where_parsing_stopped()}"


def _page_events(what: str, checked: _CheckedBytes, *, data_only: bool, unreadable: str,
                 token: list[str], elsewhere: dict[str, str] | None = None) -> Iterator[tuple[str, str, Any]]:
    """A page's parse events (prefix, event, value), refusals as `SourceError`s naming `what`: an object holding a
    key twice (`strict_json`'s rule for the API's pages: a parser that takes the first and one that takes the last
    would read different data), a number out of a double's range, nesting deeper than `MAX_FOLDER_DEPTH`.
    `data_only`: of a page `{"data": [items], "pageToken": …}` only the events of its data list (the shape and
    the pageToken checked on the way, the pageToken put in `token`: a key "data.item" or a `data` object are not
    the data); of a page `[items]` all. `elsewhere` gets the page's next link or token where other APIs put one
    (`BODY_NEXT`), outside the data. Python sees each event once, in this one loop (each generator between
    the parser and the items costs a fifth of the reading); ijson's C code builds the items."""
    shape = f"{what}: expected a list or an object with a 'data' list"
    open_maps: list[set[str]] = []
    depth = 0
    first = True
    whole = not data_only  # every event is the caller's
    data_seen = inside = False
    for prefix, event, value in ijson.parse(checked, buf_size=PARSE_CHUNK_BYTES, use_float=True):
        if first:
            first = False
            if data_only and event not in ("start_map", "start_array"):
                raise SourceError(shape)
            whole = whole or event == "start_array"
        if event == "map_key":
            keys = open_maps[-1]
            if value in keys:
                raise SourceError(f"{what}: not JSON by RFC 8259: {_twice(value)}")
            keys.add(value)
            if not whole and depth == 1 and value == "data":
                if data_seen:
                    raise SourceError(f"{what}: 'data' twice")
                data_seen = True
        elif event == "start_map" or event == "start_array":
            if event == "start_map":
                open_maps.append(set())
            depth += 1
            if depth > MAX_FOLDER_DEPTH:
                raise SourceError(f"{what}: {unreadable} (nested deeper than {MAX_FOLDER_DEPTH})")
            if not whole and depth == 2:
                if prefix == "data":
                    if event != "start_array":
                        raise SourceError(shape)
                    inside = True
                elif prefix == "pageToken":
                    raise SourceError(f"{what}: pageToken must be a string")
        elif event == "end_map" or event == "end_array":
            if event == "end_map":
                open_maps.pop()
            depth -= 1
            if inside and depth == 1:
                inside = False
                yield prefix, event, value
                continue
        else:
            if event == "number" and isinstance(value, float) and not math.isfinite(value):
                raise SourceError(f"{what}: not JSON by RFC 8259: a number out of a double's range")  # `_finite`
            if elsewhere is not None and not inside and event == "string" and prefix in BODY_NEXT:
                elsewhere.setdefault(prefix, value)
            elif elsewhere is not None and not inside and event == "number" and prefix in BODY_TOTALS:
                elsewhere.setdefault(TOTAL_MARK + prefix, str(value))  # taken out by `_stated_total`
            elif elsewhere is not None and not inside and event in ("string", "number", "boolean") and value \
                    and (value is True or not isinstance(value, bool)) and str(value).strip() \
                    and prefix.split(".", 1)[0] not in ("data", "item") and may_page_on(prefix):
                elsewhere.setdefault(prefix, str(value))  # a next page by a name the importer does not read
            if not whole and depth == 1:
                if prefix == "data" and event != "null":  # null: an empty page, as servers serialise one
                    raise SourceError(shape)
                if prefix == "pageToken":
                    if event == "string":
                        token.append(value)
                    elif event != "null":
                        raise SourceError(f"{what}: pageToken must be a string")
        if whole or inside:
            yield prefix, event, value
    if first or not (whole or data_seen):
        raise SourceError(shape)


def _page_items(entity: str, page: str, events: Iterator[tuple[str, str, Any]], shared: Shared
                ) -> Iterator[Compact]:
    """The items of one page's events (`_page_events`, data only), each validated as it is read."""
    first = next(events, None)
    if first is None:  # `{"data": null}`: an empty page (any other shape was refused already)
        return
    inside = f"{first[0]}.item" if first[0] else "item"
    for n, item in enumerate(ijson.items(itertools.chain([first], events), inside, use_float=True)):
        valid = _validated(entity, page, n, item, shared)
        if valid is not None:  # (refused on its own: `Shared.refused`)
            yield valid


class FolderSource:
    """An SS 12000 dump in a folder: `<entity>.json`, or `<entity>/*.json` one page per file. Each file
    is read as the API's pages are: UTF-8 with or without a byte order mark (as Windows tools save
    it), at most `max_page_bytes`, nested no deeper than `MAX_FOLDER_DEPTH`; a file that breaks one of
    these stops the import naming the file and the rule, never its content. A file is streamed (ijson):
    each item is validated as it is read, so a file's own size does not count in memory, only the items
    kept."""

    def __init__(self, path: Path, *, max_page_bytes: int = 256 * 1024 * 1024) -> None:
        if not path.is_dir():
            raise SourceError(f"{path}: not a folder")
        self.path, self.max_page_bytes = path, max_page_bytes
        self.held_back: dict[str, str] = {}  # an optional entity the folder has no file of → what it lacks
        self.persons_deleted = 0  # persons deletedEntities.json named (`_DeletedIds.persons`)
        self.persons_deleted_ids: set[str] = set()  # their ids (`_DeletedIds.person_ids`), held for the run only
        self.shared = Shared()  # the values the import's items hold alike, held once

    def _files(self, entity: str) -> list[Path]:
        """The page files of `entity`: `<entity>.json`, or every `<entity>/*.json` in natural order (2.json before
        10.json). A folder without either says nothing about the entity — unlike `{"data": []}`, which says it has
        none — so a required entity's absence stops the import (as the API's 404 does) rather than read as
        "everything removed"; both at once, or a file in `<entity>/` that is no `.json` page (a download cut short,
        `1.json.part`, a `2.JSON`), stop it too: which pages are the dump would be a guess."""
        single, pages = self.path / f"{entity}.json", self.path / entity
        if single.exists() and pages.exists():
            raise SourceError(f"{entity}: both {entity}.json and {entity}/ in the folder: keep the one that is the "
                              "dump")
        if single.exists():
            if not single.is_file():  # a named pipe would be waited on for ever, a device read without end
                raise SourceError(f"{entity}: {entity}.json is not a file")
            return [single]
        if not pages.is_dir():
            return []
        # hidden files are a desktop's own (.DS_Store); everything else in the folder is meant as a page
        found = [f for f in pages.iterdir() if not f.name.startswith(".")]
        strays = sorted(f.name for f in found if f.suffix != ".json" or not f.is_file())
        if strays:
            raise SourceError(f"{entity}/{strays[0][:80]}: not a page ({len(strays)} such; every file in {entity}/ "
                              "is a page, a .json file): remove it or finish the download")
        return sorted(found, key=lambda f: [int(part) if part.isdigit() else part
                                            for part in re.split(r"([0-9]+)", f.name)])

    def _missing(self, entity: str) -> str:
        """The rule a folder without `entity` breaks, with what it holds under a near name (`Groups.json`)."""
        wanted = {f"{entity}.json", entity}
        near = sorted(f.name for f in self.path.iterdir() if f.name.strip().casefold() in wanted)
        # --dir given the folder above the dump (an unpacked archive's own folder inside)
        below = sorted(f.parent.name for f in self.path.glob(f"*/{entity}.json"))
        return (f"{entity}: neither {entity}.json nor {entity}/ in the folder (a dump holds every entity it is "
                f"of; one with none is {{\"data\": []}})"
                + (f"; found {near[0][:80]!r}: the names are the API's paths, lower case" if near else
                   f"; found it in {below[0][:80]}/: give that folder to --dir" if below else ""))

    def _events(self, entity: str, file: Path, *, data_only: bool) -> Iterator[tuple[str, str, Any]]:
        """The file's parse events (`_page_events`), refusals as `SourceError`s naming the file."""
        what = f"{entity}, page {file.name}"
        checked: _CheckedBytes | None = None
        try:
            if file.stat().st_size > self.max_page_bytes:
                raise SourceError(f"{what}: the file is larger than {self.max_page_bytes} bytes{LARGER_HINT}")
            with file.open("rb") as handle:
                checked = _CheckedBytes(handle, what, self.max_page_bytes, lambda: file.open("rb"))
                yield from _page_events(what, checked, data_only=data_only, unreadable="not readable JSON",
                                        token=[])
        except OSError:
            raise SourceError(f"{what}: not readable") from None
        except ijson.JSONError:
            if checked is None:
                raise SourceError(f"{what}: not readable JSON") from None
            raise SourceError(_json_fault(what, "not readable JSON", file.stat().st_size, file.read_bytes,
                                          checked)) from None

    def _items(self, entity: str, file: Path) -> Iterator[Compact]:
        """The items of one page file, each validated as it is read: `[items]` or `{"data": [items], …}`."""
        return _page_items(entity, f"page {file.name}", self._events(entity, file, data_only=True), self.shared)

    def read(self, entity: str, since: datetime | None, progress: Progress,
             expand: str | None = None, *, expand_quietly: bool = False) -> list[Compact]:
        """`expand` is the API's: a file holds what it holds (a person's `_embedded.groupMemberships` read alike)."""
        try:
            files = self._files(entity)
        except OSError as error:  # a folder of pages the user may not list
            raise SourceError(f"{entity}: the folder cannot be listed ({error.strerror})") from None
        if not files:
            if entity not in OPTIONAL:
                raise SourceError(self._missing(entity))
            self.held_back[entity] = f"no {entity}.json nor {entity}/ in the folder"
        out: list[Compact] = []
        once = _Once(entity, self.shared)  # a dump saved page by page from a server's API: its pages as the API's
        for file in files:
            out += once.new(f"page {file.name}", _ticking(self._items(entity, file), entity, len(out), progress))
            progress(entity, len(out))
        return out

    def deleted(self, since: datetime) -> list[str]:
        if not self._files("deletedEntities"):  # an incremental run without it would remove nothing, unsaid
            raise SourceError(self._missing("deletedEntities"))
        ids: list[str] = []
        for file in self._files("deletedEntities"):
            listing = _DeletedIds(file.name)
            ids += listing.read(self._events("deletedEntities", file, data_only=False))[0]
            self.persons_deleted += listing.persons
            self.persons_deleted_ids |= listing.person_ids[listing.data_seen]
        return ids


#: a large file says how far it has been read every so many items (a national dump's file is millions)
PROGRESS_ITEMS = 10_000


def _ticking(items: Iterator[Compact], entity: str, before: int, progress: Progress) -> Iterator[Compact]:
    for n, item in enumerate(items, 1):
        if n % PROGRESS_ITEMS == 0:
            progress(entity, before + n)
        yield item
