"""A token for an SS 12000 server by OAuth 2.0's client credentials grant (RFC 6749 §4.4), as the
specification's servers issue them (minutes to an hour): asked of `--token-url` with the client's id and secret
(HTTP Basic, §2.3.1; else as `WAYS` has it), asked again shortly before it expires (`expires_in`), and once more when the server
answers 401 (a token revoked or a clock off): `HttpSource` asks a page again once with the new token, and a
401 to that stops the import. An endpoint busy or failing (429, 5xx, no answer) is asked again a few times
(`ATTEMPTS`, after its Retry-After in seconds or 1, 2, 4 s, at most `LONGEST_PAUSE`): a renewal mid-import meeting an
identity provider's hiccup stopped an import of an hour. Neither the secret nor a token is ever said; the
endpoint's own error (`invalid_client`, `invalid_scope`) is."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

import httpx

from ..reach import http_peer, unanswered
from .deadline import Deadline, TooSlow, bounded_client
from .tls import tls_fault

#: a token is asked again this long before the server would stop taking it (a page on the way, clocks apart)
EARLY_SECONDS = 30.0
#: the length of a grant's own error description repeated (it is for people, and may be long)
SAID = 200
#: how often the endpoint is asked while it is busy or failing, and the longest pause between
ATTEMPTS, LONGEST_PAUSE = 4, 30.0
#: the longest a token's answer may take to arrive, whole (httpx's timeout is per read: an endpoint trickling a byte
#: at a time held the import for as long as it chose)
ANSWER_SECONDS = 120.0
#: the largest token answer read (inflated): an endpoint answering without end was read whole into memory
ANSWER_BYTES = 1024 * 1024
#: a token asked for after a 401 that the server refuses again within this many seconds of its issue is not renewed
#: again: a server dropping each new token after a page or two (its clock, a token cache, a revocation list) had the
#: endpoint asked for a token per page, the run going on — one renewal, not a loop (`renew_after_refusal`)
RENEWED_LIFE_SECONDS = 60.0
BUSY = frozenset({429, 500, 502, 503, 504})
#: how the client's id and secret go to the endpoint, in the order tried: HTTP Basic with them as given (what most
#: endpoints read), HTTP Basic with them form-encoded first as RFC 6749 §2.3.1 has it (Spring Authorization Server and
#: Keycloak decode them: a secret holding `+`, `/`, `%` or `=` was theirs another secret, `invalid_client`), and in
#: the form (`client_secret_post`, §2.3.1's alternative, which some endpoints take alone). A refusal of the client
#: (`REFUSED_CLIENT`) is asked the next way; the way taken is kept for the run, and said
WAYS = ("HTTP Basic", "HTTP Basic, form-encoded (RFC 6749 §2.3.1)", "the form (client_secret_post)")
#: the answers by which an endpoint refuses the client's credentials (or their way): RFC 6749 §5.2's 401 (or 400)
#: with `invalid_client`, a 400 `invalid_request` (no credentials where it reads them), a 401 with no body; and a
#: 400 or 422 without RFC 6749's `error` at all — a web framework's own answer that the form lacks a field it
#: requires (FastAPI's 422 `{"detail": [{"loc": ["body", "client_id"], …}]}`, as an SS 12000 demo server reading
#: `client_id` and `client_secret` only from the form answers HTTP Basic): no grant's answer, so not the last word
REFUSED_CLIENT = frozenset({"invalid_client", "invalid_request", "unauthorized_client"})


class TokenError(Exception):
    """The token endpoint did not give a token: what it said, never the secret."""


class ClientCredentials:
    def __init__(self, token_url: str, client_id: str, client_secret: str, *, scope: str | None = None,
                 client: httpx.Client | None = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] | None = None, timeout: float = 60.0) -> None:
        self.token_url, self.client_id, self.client_secret, self.scope = token_url, client_id, client_secret, scope
        # an answer must be in within `ANSWER_SECONDS`, not only each read within `timeout` (`deadline`)
        self.deadline = Deadline()
        self.client = client or bounded_client(self.deadline, timeout=timeout, follow_redirects=False)
        self.clock = clock
        self.sleep = sleep if sleep is not None else lambda seconds: time.sleep(seconds)  # time.sleep when called
        self._token: str | None = None
        self._expires: float | None = None
        self._early = EARLY_SECONDS
        self._issued_at: float | None = None  # when the token held was issued (`clock`)
        self._after_refusal = False  # the token held was asked for after a 401 (`renew_after_refusal`)
        self.issued = 0  # tokens asked for this run (said by the import)
        self.tokens: list[str] = []  # the tokens issued this run: never said (`HttpSource.secrets`)
        self._way: int | None = None  # of `WAYS`, the one the endpoint took (None: none asked yet)
        self.notes: list[str] = []  # what to say (the way taken, when not the first): taken by `HttpSource`

    def header(self) -> str:
        """`Bearer <token>`: the one held, or a new one when none is held or it expires within `EARLY_SECONDS`."""
        if self._token is None or (self._expires is not None and self.clock() >= self._expires - self._early):
            self.refresh()
        return f"Bearer {self._token}"

    def renew_after_refusal(self) -> float | None:
        """A new token after the server answered 401 to the one held: None when one was asked for, else how long
        ago the one held was issued — itself asked for after a 401, and refused within `RENEWED_LIFE_SECONDS`: then
        none is asked for (the refusal is the answer)."""
        if self._after_refusal and self._issued_at is not None:
            age = self.clock() - self._issued_at
            if age < RENEWED_LIFE_SECONDS:
                return age
        self.refresh()
        self._after_refusal = True
        return None

    def refresh(self) -> None:
        """A new token from the endpoint (the one held is dropped)."""
        self._token = None
        self._after_refusal = False
        form = {"grant_type": "client_credentials", **({"scope": self.scope} if self.scope else {})}
        ways = [self._way] if self._way is not None else [
            way for way in range(len(WAYS)) if way != 1 or self._encoded() != (self.client_id, self.client_secret)]
        for way in ways:
            response = self._ask(form, way)
            body = _json(response)
            if way == ways[-1] or not _refuses_client(response, body):
                break
        if self._way is None and response.status_code == 200:
            self._way = way
            if way:
                self.notes.append(f"token endpoint: the client's id and secret taken by {WAYS[way]}, refused by "
                                  f"{WAYS[0]}: sent so from now on")
        if response.status_code != 200:
            said = [str(body[key])[:SAID] for key in ("error", "error_description") if isinstance(body.get(key), str)]
            if not said and isinstance(body.get("detail"), str):  # a web framework's (FastAPI's) own words
                said = [" ".join(body["detail"].split())[:SAID]]
            raise TokenError(f"token endpoint: HTTP {response.status_code}" + (f" ({': '.join(said)})" if said else ""))
        token, kind, lifetime = body.get("access_token"), body.get("token_type", "Bearer"), body.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(kind, str) or kind.casefold() != "bearer":
            raise TokenError("token endpoint: the answer holds no bearer access_token")
        if not all("!" <= c <= "~" for c in token):
            # a bearer token goes in a header (RFC 6750 §2.1: b64token, visible ASCII): a letter beyond ASCII was a
            # UnicodeEncodeError out of httpx (a traceback), a line end would have begun another header; never quoted
            raise TokenError("token endpoint: the access_token holds a character no HTTP header takes (a bearer token "
                             "is visible ASCII, RFC 6750 §2.1): not used")
        self._token = token
        self.tokens.append(token)
        self._issued_at = self.clock()
        # expires_in is RECOMMENDED, a number of seconds (some endpoints write it as text)
        seconds = _seconds(lifetime)
        self._expires = None if seconds is None else self.clock() + seconds
        # renewed early, but never so early that every request asks for one (a token of 20 s was renewed each time)
        self._early = EARLY_SECONDS if seconds is None else min(EARLY_SECONDS, seconds / 2)
        self.issued += 1

    def _posted(self, form: dict[str, str], basic: tuple[str, str] | None) -> httpx.Response:
        """The endpoint's answer to the form, its body read up to `ANSWER_BYTES` (`_bounded`)."""
        with self.client.stream("POST", self.token_url, data=form, headers={"Accept": "application/json"},
                                auth=basic if basic is not None else httpx.USE_CLIENT_DEFAULT) as response:
            return _bounded(response)

    def _encoded(self) -> tuple[str, str]:
        return quote_plus(self.client_id), quote_plus(self.client_secret)

    def _ask(self, form: dict[str, str], way: int = 0) -> httpx.Response:
        """The endpoint's answer, the client's credentials sent the `way` of `WAYS`, asked again while it is busy or
        failing (`BUSY`, no answer) at most `ATTEMPTS` times; the last answer whatever it is, or a TokenError naming
        the failure."""
        basic = (self.client_id, self.client_secret) if way == 0 else self._encoded() if way == 1 else None
        if basic is None:
            form = {**form, "client_id": self.client_id, "client_secret": self.client_secret}
        for attempt in range(1, ATTEMPTS + 1):
            after = ""
            self.deadline.at = self.deadline.clock() + ANSWER_SECONDS
            try:
                response = self._posted(form, basic)
            except TooSlow:
                raise TokenError(f"token endpoint: its answer took longer than {ANSWER_SECONDS:g} s to arrive "
                                 "(a token's answer is a few hundred bytes)") from None
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as error:
                tls = tls_fault(error)
                if tls:  # asking again mends no certificate
                    raise TokenError(f"token endpoint: {tls}") from None
                if attempt == ATTEMPTS:
                    # a silent endpoint in every command's words (`styrkedja_kit.reach`): where, after how long
                    said = unanswered(http_peer("the token endpoint", self.token_url, "--token-url"), error,
                                      self.client.timeout, bound_by="--timeout", attempts=attempt, outcome=None
                                      ) if isinstance(error, httpx.TimeoutException) else None
                    raise TokenError(str(said) if said is not None
                                     else f"token endpoint: {type(error).__name__} ({attempt} attempts)") from None
            except httpx.HTTPError as error:
                raise TokenError(f"token endpoint: {type(error).__name__}") from None
            else:
                if response.status_code not in BUSY or attempt == ATTEMPTS:
                    return response
                after = response.headers.get("retry-after", "").strip()
            finally:
                self.deadline.at = None
            self.sleep(min(float(after) if after.isascii() and after.isdigit() else 2.0 ** (attempt - 1),
                           LONGEST_PAUSE))
        raise AssertionError("unreachable")  # pragma: no cover


def _bounded(response: httpx.Response) -> httpx.Response:
    """`response` (streamed) read whole, if it is no larger than `ANSWER_BYTES` (inflated): else a TokenError."""
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > ANSWER_BYTES:
            raise TokenError(f"token endpoint: its answer is larger than {ANSWER_BYTES} bytes (a token's answer is a "
                             "few hundred bytes)")
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in ("content-encoding",
                                                                                      "content-length")]
    return httpx.Response(response.status_code, headers=headers, content=bytes(body), request=response.request)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _refuses_client(response: httpx.Response, body: dict[str, Any]) -> bool:
    """Whether the endpoint refused the client's credentials (or the way they came): asked the next way."""
    if response.status_code not in (400, 401, 422):
        return False
    error = body.get("error")
    return error in REFUSED_CLIENT or (error is None and response.status_code in (401, 422)) or (
        error is None and response.status_code == 400 and "detail" in body)


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and value > 0:
        return float(value)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return float(value.strip())
    return None
