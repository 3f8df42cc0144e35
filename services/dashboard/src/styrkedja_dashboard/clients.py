"""The services' public HTTP APIs, one function per endpoint, always with the signed-in user's
token: the services decide scope and suppression, the dashboard only shows what they return.

Figure tables (trend, gender gap, freshness, coverage, drill-down, forecast against outcome,
merit, compliance) come as reporting's table JSON: `figures.figure_table` reads them.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import urlencode

import httpx

from styrkedja_contracts.identifiers import canonical_organiser_id, redact_personal_identity_numbers

from .shapes import flat, text


class UpstreamError(Exception):
    """A service answered with an error (or not at all); `status` is what the page answers with, and
    `retry_after` the seconds a busy or unreachable service (503) is worth waiting, passed on to the person.
    `why` says which 503 it is: `busy` (the service said so), `unreachable` (no connection, or it went away
    mid-answer: starting, restarting), `slow` (no answer within the timeout)."""

    def __init__(self, service: str, status: int, detail: str, retry_after: int | None = None, *,
                 unreadable: bool = False, why: str = "busy", rules: frozenset[str] = frozenset()) -> None:
        super().__init__(f"{service}: {status} {detail}")
        self.service, self.status, self.detail, self.retry_after = service, status, detail, retry_after
        self.unreadable = unreadable  # it answered, but not in the shape it promises (a 502 that says so)
        self.why = why
        #: the rules the service's problem names (its `errors[].rule`): a 403 of `role` refuses the reader's roles,
        #: not the level or place it asked for
        self.rules = rules


#: the wait suggested when a service cannot be reached or did not answer in time: about what a service's
#: restart takes on a busy machine (8-16 s for `make run`'s start)
UNREACHABLE_RETRY_AFTER = 10
#: transport failures after which a GET is sent once more on a fresh connection: the request never reached a
#: handler, or the connection was a pooled one the service had just closed (its keep-alive timer fired as the
#: request went out: "Server disconnected without sending a response"), or the service restarted under it.
#: Not a timeout: a second wait as long as the first helps nobody
RETRIED = (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
#: what a service's gateway (an ingress, a proxy) answers while the service is away: unavailable, for now
GATEWAY_STATUSES = (502, 503, 504)
#: the longest a service's answer (a JSON read, an error's body) may take to arrive whole, and the most it may hold
#: once decoded: an organiser's largest page read (every student at risk, every compliance item) is a few MB;
#: a download (`Api.download`) is passed on as it arrives and is bounded by neither
ANSWER_SECONDS = 60.0
#: the statuses whose body is the answer asked for
OK_STATUSES = (200, 201)
MAX_ANSWER_BYTES = 32 * 2**20


#: the longest wait passed on: a service asking for more is still busy, but a page saying "come back in an
#: hour" (or a header value a hostile upstream chose) helps nobody
MAX_RETRY_AFTER = 300


def retry_after(value: str | None) -> int | None:
    """A service's `Retry-After` as seconds to pass on: digits only (an HTTP date or anything else is
    dropped), at most `MAX_RETRY_AFTER`."""
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 12:
        return None
    return min(int(value), MAX_RETRY_AFTER)


Params = list[tuple[str, str | int | float | bool | None]]


def records(service: str, body: Any) -> list[dict[str, Any]]:
    """The answer of a read that promises a list of records (objects): anything else — an object, a number,
    text, a list holding other things — is nonsense from the service (another version, or a hostile one), a
    502 naming it. Fields inside the records are `shapes`' (missing or retyped: shown as a dash)."""
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        raise UpstreamError(service, 502, "en lista av poster väntades", unreadable=True)
    return body


def record(service: str, body: Any) -> dict[str, Any]:
    """The answer of a read that promises one record (an object), else a 502 naming the service."""
    if not isinstance(body, dict):
        raise UpstreamError(service, 502, "en post väntades", unreadable=True)
    return body


def _params(**kwargs: Any) -> Params:
    out: Params = []
    for key, value in kwargs.items():
        if value is None or value == "":
            continue
        for item in value if isinstance(value, (list, tuple)) else [value]:
            out.append((key, str(item)))
    return out


#: what a path the dashboard sends may hold: the services' paths are ids, codes and names of letters, digits,
#: `-`, `_`, `.` (`%`, `?`, `#`, `\\`, spaces and controls would be decoded, or end the path, on the way)
_PATH = re.compile(r"(/[A-Za-z0-9_.-]+)+")  # matched whole: `$` also takes a final newline


def _unsafe_path(path: str) -> str | None:
    """Why `path` (a service path with the user's values filled in) must not be sent, or None: a segment `.` or
    `..` (httpx resolves it: `/school-units/..` is another route, outside what the page may ask for), or a
    character that is no part of a segment. Every value a route puts in a path is checked here, once."""
    if not _PATH.fullmatch(path) or any(segment in (".", "..") for segment in path.split("/")):
        return "sökvägen innehåller ett otillåtet värde (en del får inte vara '.' eller '..' eller ha specialtecken)"
    return None


def json_of(response: httpx.Response) -> Any:
    """The answer's JSON; a ValueError for anything that is none — nested deeper than Python's parser recurses too
    (`[[[[…]]]]` 200,000 deep, a few hundred kB: its RecursionError was no ValueError, and every page reading such an
    answer, or such an error's body, was a 500)."""
    try:
        return response.json()
    except RecursionError:
        raise ValueError("nested too deep") from None


class Api:
    def __init__(self, http: httpx.AsyncClient, name: str, base_url: str, token: str) -> None:
        self.http, self.name, self.base_url, self.token = http, name, base_url.rstrip("/"), token

    async def get(self, path: str, params: Params | None = None) -> Any:
        return self._json(await self._send("GET", path, params=params or []))

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._json(await self._send("POST", path, json=body))

    def _json(self, response: httpx.Response) -> Any:
        try:
            return json_of(response)
        except ValueError:  # a 200 that is no JSON: the service answers nonsense, not the page's fault
            raise UpstreamError(self.name, 502, "svaret var inte JSON", unreadable=True) from None

    async def download(self, path: str, params: Params | None = None) -> httpx.Response:
        """A file of the service's, still open: its body is read by whoever passes it on (`aiter_bytes`), who closes
        it (`aclose`) — a file is not held whole in memory, however large an export is."""
        return await self._send("GET", path, params=params or [], answer_json=False, stream=True)

    async def _send(self, method: str, path: str, *, answer_json: bool = True, stream: bool = False,
                    **request: Any) -> httpx.Response:
        """The request with the user's token. No connection, a connection lost, no answer in time, or a gateway's
        502/504 → `UpstreamError` 503 with a Retry-After (a GET is first sent once more, `RETRIED`); an error
        status → its 4xx with what the service said (a JSON answer's `detail` or `title`); a 503 (busy: its
        database or a gate full) → 503 with its Retry-After, bounded; a 500 → 502. A JSON read whose body is
        no JSON → 502. An answer is read within `ANSWER_SECONDS` and `MAX_ANSWER_BYTES` (`read_bounded`); a `stream`'s
        (a download's) body is left to its reader, once its status says it is no error."""
        unsafe = _unsafe_path(path)
        if unsafe is not None:  # never sent: the user's token would go to another route than the one named
            raise UpstreamError(self.name, 422, unsafe)
        headers = {"Authorization": f"Bearer {self.token}"}
        if answer_json:
            headers["Accept"] = "application/json"
        # only a GET is sent twice (it changes nothing); a POST only when the connection was never made
        retried = RETRIED if method == "GET" else (httpx.ConnectError,)
        for attempt in (1, 2):
            try:
                response = await self.http.send(self.http.build_request(
                    method, self.base_url + path, headers=headers, **request), stream=True)
                if not (stream and response.status_code in OK_STATUSES):
                    # read inside the loop: a connection lost mid-answer is a GET sent once more, as it was when
                    # the whole answer came in one call
                    response = await read_bounded(self.name, response, lost=False)
                break
            except retried:
                if attempt == 2:
                    raise UpstreamError(self.name, 503, "ingen förbindelse", UNREACHABLE_RETRY_AFTER,
                                        why="unreachable") from None
            except httpx.TimeoutException:
                raise UpstreamError(self.name, 503, "inget svar i tid", UNREACHABLE_RETRY_AFTER, why="slow") from None
            except httpx.TransportError:  # went away mid-answer (a POST's fate unknown): unavailable, not nonsense
                raise UpstreamError(self.name, 503, "förbindelsen bröts", UNREACHABLE_RETRY_AFTER,
                                    why="unreachable") from None
            except httpx.HTTPError as error:
                raise UpstreamError(self.name, 502, f"{type(error).__name__}") from None
        if stream and response.status_code in OK_STATUSES:
            return response
        if response.status_code < 400 and response.status_code not in OK_STATUSES:
            # a redirect (or any status that is no answer) is not followed and is no data: a 302 to another host, or
            # with a JSON body of its own, was read as the page's answer, and passed on as the download's file
            raise UpstreamError(self.name, 502, f"svarade med status {response.status_code}", unreadable=True)
        if response.status_code >= 400:
            detail, body = response.text[:300], None
            if answer_json:
                try:
                    body = json_of(response)
                except ValueError:
                    body = None
                if isinstance(body, dict):  # an error body of another shape (a list, a number) keeps its text
                    said = body.get("detail") or body.get("title")
                    detail = (said if isinstance(said, str) else flat(said) if said else detail)[:300]
            # shown on the page: a service repeating a value it refused (or any text of a hostile one) never puts a
            # personal identity number there
            detail = redact_personal_identity_numbers(detail)[0]
            rules = _rules_of(body) if isinstance(body, dict) else frozenset()
            if response.status_code == 503:
                raise UpstreamError(self.name, 503, detail, retry_after(response.headers.get("retry-after")))
            if response.status_code == 429:  # this person's own bound at the service (two downloads at once)
                raise UpstreamError(self.name, 429, detail, retry_after(response.headers.get("retry-after")) or 1)
            if response.status_code in GATEWAY_STATUSES:  # its gateway: the service itself is away for now
                raise UpstreamError(self.name, 503, detail, retry_after(response.headers.get("retry-after"))
                                    or UNREACHABLE_RETRY_AFTER, why="unreachable")
            raise UpstreamError(self.name, response.status_code if response.status_code < 500 else 502, detail,
                                rules=rules)
        return response


def _rules_of(body: dict[str, Any]) -> frozenset[str]:
    """The rules a problem's `errors` name (the kit's problem body); anything of another shape names none."""
    errors = body.get("errors")
    if not isinstance(errors, list):
        return frozenset()
    return frozenset(e["rule"] for e in errors[:50] if isinstance(e, dict) and isinstance(e.get("rule"), str))

async def read_bounded(service: str, response: httpx.Response, *, lost: bool = True) -> httpx.Response:
    """The answer read whole (and closed) within `ANSWER_SECONDS` and at most `MAX_ANSWER_BYTES` as decoded. The
    client's timeout bounds each read only: a service (or anything posing as one) sending a byte every few
    seconds held the page — and a worker's connection — for as long as it liked, and one sending gigabytes
    (or a small gzip that inflates to them) was read whole into memory. Too slow → 503 (`slow`), too large
    or undecodable → 502 naming the service. A connection lost mid-answer is a 503 (`unreachable`), or, with
    `lost=False`, its httpx error for the caller to send the request again."""
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(ANSWER_SECONDS):
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise UpstreamError(service, 502, f"svaret var större än {MAX_ANSWER_BYTES // 2**20} MB",
                                        unreadable=True)
                chunks.append(chunk)
    except (TimeoutError, httpx.TimeoutException):
        raise UpstreamError(service, 503, "inget svar i tid", UNREACHABLE_RETRY_AFTER, why="slow") from None
    except httpx.DecodingError:
        raise UpstreamError(service, 502, "svaret kunde inte avkodas", unreadable=True) from None
    except httpx.TransportError:
        if not lost:
            raise
        raise UpstreamError(service, 503, "förbindelsen bröts", UNREACHABLE_RETRY_AFTER,
                            why="unreachable") from None
    finally:
        await response.aclose()
    # decoded already: the headers that described the bytes on the wire no longer do
    headers = [(k, v) for k, v in response.headers.multi_items()
               if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
    return httpx.Response(response.status_code, headers=headers, content=b"".join(chunks),
                          request=response.request)


def next_after(service: str, response: httpx.Response, after: str | None, what: str) -> str | None:
    """The `after` the answer's `Link: rel="next"` names, None where it names no next page. A next page naming no
    `after`, or the page just read again, is nonsense from the service (a client following it would never end): a 502
    naming the service."""
    following = response.links.get("next", {}).get("url")
    if not following:
        return None
    try:
        step = httpx.URL(following).params.get("after")
    except (httpx.InvalidURL, ValueError):
        step = None
    if not step or step == after:
        raise UpstreamError(service, 502, f"nästa sida av {what} saknar after eller är samma sida igen",
                            unreadable=True)
    return step


#: the alert page's rows a screen (reporting's default is 500: a table of 500 forms is no page to read)
ALERT_PAGE = 100
#: a read of every alert (a download, a unit's report) asks pages of reporting's largest
ALERT_LARGEST_PAGE = 5000
#: and at most this many (500,000 alerts of one choice: no organiser's)
ALERT_MAX_PAGES = 100


class Reporting(Api):
    #: the session's kept directory names (`names.SessionNames`), where the page's client was made for a session
    names: Any = None

    async def assessment_results(self, *, level: str, organiser_id: str | None = None, unit_id: str | None = None,
                                 subject_code: str | None = None, school_year: str | None = None,
                                 term: str | None = None, round: int | None = None,
                                 split: list[str] | None = None) -> list[dict[str, Any]]:
        """GET /v1/results/assessments: share reaching the pass level per unit of a level."""
        return records(self.name, await self.get("/v1/results/assessments", _params(
            level=level, organiser_id=organiser_id, unit_id=unit_id, subject_code=subject_code,
            school_year=school_year, term=term, round=round, split=split)))

    async def forecast_results(self, *, level: str, organiser_id: str | None = None, unit_id: str | None = None,
                               school_year: str | None = None, term: str | None = None,
                               split: list[str] | None = None) -> list[dict[str, Any]]:
        """GET /v1/results/forecasts: share the teachers forecast to reach the pass level."""
        return records(self.name, await self.get("/v1/results/forecasts", _params(
            level=level, organiser_id=organiser_id, unit_id=unit_id, school_year=school_year, term=term,
            split=split)))

    async def lika_school_units(self, *, organiser_id: str, school_unit_code: str | None = None) -> list[dict[str, Any]]:
        """GET /v1/lika/school-units: the newest published self-assessment of each unit (of one, when named)."""
        return records(self.name, await self.get("/v1/lika/school-units", _params(
            organiser_id=organiser_id, school_unit_code=school_unit_code)))


    async def figure(self, name: str, *, level: str, school_year: str, organiser_id: str,
                     term: str | None = None, round: int | None = None, unit_id: str | None = None,
                     subject_code: str | None = None, **extra: Any) -> Any:
        """GET /v1/figures/{name} (trend, history, gender-gap, freshness, coverage, drill-down,
        forecast-outcome, merit): a table as JSON."""
        return await self.get(f"/v1/figures/{name}", _params(
            level=level, school_year=school_year, term=term if round is None else None, round=round,
            organiser_id=organiser_id, unit_id=unit_id, subject_code=subject_code, format="json", **extra))

    async def alert_page(self, *, after: str | None = None, limit: int = ALERT_PAGE,
                         **filters: Any) -> tuple[list[dict[str, Any]], str | None]:
        """GET /v1/alerts: one page of dip alerts, newest change first, and the `after` of the next page (None on
        the last). Reporting pages the list by keyset (`limit`, `after`, `Link: rel="next"`): a client reading it
        once sees its first page only."""
        response = await self._send("GET", "/v1/alerts", params=_params(**filters, after=after, limit=limit))
        found = records(self.name, self._json(response))
        return found, next_after(self.name, response, after, "larmen")

    async def alerts(self, **filters: Any) -> list[dict[str, Any]]:
        """Every dip alert of the filters, newest change first: page after page at the service's largest, at most
        `ALERT_MAX_PAGES` (more is nonsense from the service, a 502 naming it, never a list cut short unsaid)."""
        found: list[dict[str, Any]] = []
        after: str | None = None
        for _ in range(ALERT_MAX_PAGES):
            page, after = await self.alert_page(after=after, limit=ALERT_LARGEST_PAGE, **filters)
            found.extend(page)
            if after is None:
                return found
        raise UpstreamError(self.name, 502, f"larmen fortsatte efter {ALERT_MAX_PAGES} sidor", unreadable=True)

    async def acknowledge(self, alert_id: str, comment: str) -> dict[str, Any]:
        """POST /v1/alerts/{id}/acknowledge with the comment."""
        return record(self.name, await self.post(f"/v1/alerts/{alert_id}/acknowledge", {"comment": comment}))

    async def students_at_risk(self, school_unit_code: str, *, school_year: str, term: str) -> list[dict[str, Any]]:
        return records(self.name, await self.get(f"/v1/school-units/{school_unit_code}/students-at-risk",
                              _params(school_year=school_year, term=term)))

    async def compliance(self, organiser_id: str, *, school_year: str, term: str,
                         school_unit_code: str | None = None, list: str | None = None) -> Any:
        """GET /v1/compliance/organisers/{o}/school-units[/{unit}]: the window's reporting rate."""
        path = f"/v1/compliance/organisers/{organiser_id}/school-units"
        if school_unit_code:
            path += f"/{school_unit_code}"
        return await self.get(path, _params(school_year=school_year, term=term, list=list, format="json"))

    async def compliance_items(self, organiser_id: str, school_unit_code: str, *, school_year: str,
                               term: str) -> Any:
        return await self.get(f"/v1/compliance/organisers/{organiser_id}/school-units/{school_unit_code}/items",
                              _params(school_year=school_year, term=term, format="json"))

    async def unit_names(self, organiser_id: str) -> dict[tuple[str, str], str]:
        """GET /v1/directory/organisers/{o}/tree: the names the directory knows, by (unit type, unit id) — the
        organiser (by the id the page asked with), areas, school units (also by school unit code) and groups (by
        `<school unit code>/<group id>`, the chain's id of a group: a group id is only unique within its unit).
        A unit without a name is left out (the page shows the fallback, `names.UnitNames`)."""
        tree = records(self.name, await self.get(f"/v1/directory/organisers/{organiser_id}/tree"))
        names: dict[tuple[str, str], str] = {}
        stack = list(tree)
        while stack:
            unit = stack.pop()
            kind, unit_id, name = text(unit.get("unit_type")), text(unit.get("unit_id")), text(unit.get("name"))
            code = text(unit.get("school_unit_code"))
            if unit_id and name and name.strip():
                name = " ".join(name.split())  # a name is one line (a newline or tab from the source is a space)
                if kind in ("area", "school_unit"):
                    names.setdefault((kind, unit_id), name)
                if kind == "school_unit" and code:
                    names.setdefault((kind, code), name)
                if kind == "organiser" and canonical_organiser_id(unit_id) == canonical_organiser_id(organiser_id):
                    names.setdefault((kind, unit_id), name)
                if kind == "group" and code:
                    names.setdefault((kind, f"{code}/{unit_id}"), name)
            children = unit.get("children")
            if isinstance(children, list):
                stack.extend(c for c in children if isinstance(c, dict))
        return names

    async def support_summary(self, *, level: str, unit_id: str, organiser_id: str) -> dict[str, Any]:
        return record(self.name, await self.get("/v1/support/summary", _params(level=level, unit_id=unit_id,
                                                             organiser_id=organiser_id)))


#: a unit's self-assessments are read a page of this many at a time (the LIKA service's largest page)
LIKA_PAGE = 1000
#: and at most this many pages for one dashboard page (100,000 self-assessments of one unit: no real unit's)
LIKA_MAX_PAGES = 100


class Lika(Api):
    async def self_assessments(self, *, organiser_id: str, school_unit_code: str) -> list[dict[str, Any]]:
        """GET /v1/self-assessments: a unit's self-assessments, every page — the page offers the newest two to
        compare, and the list is oldest first. The first page asked as a client that never pages asks it (a LIKA
        service from before the list paged refuses `limit`, and names no next page); each next by the `after` its
        `Link: rel="next"` names, at the service's largest page. A next page naming no `after`, the same again,
        or more than `LIKA_MAX_PAGES` pages: nonsense from the service, a 502 naming it."""
        found: list[dict[str, Any]] = []
        after: str | None = None
        for _ in range(LIKA_MAX_PAGES):
            params = _params(organiser_id=organiser_id, school_unit_code=school_unit_code, after=after,
                             limit=LIKA_PAGE if after else None)
            response = await self._send("GET", "/v1/self-assessments", params=params)
            found.extend(records(self.name, self._json(response)))
            step = next_after(self.name, response, after, "självskattningarna")
            if step is None:
                return found
            after = step
        raise UpstreamError(self.name, 502, f"självskattningarna fortsatte efter {LIKA_MAX_PAGES} sidor",
                            unreadable=True)

    async def catalogue(self, version: str, *, school_form: str) -> dict[str, Any]:
        """GET /v1/catalogue/{version}: areas, indicators and the rating scale with Swedish labels."""
        return record(self.name, await self.get(f"/v1/catalogue/{version}", _params(school_form=school_form)))

    async def self_assessment(self, self_assessment_id: str) -> dict[str, Any]:
        return record(self.name, await self.get(f"/v1/self-assessments/{self_assessment_id}"))

    async def compare(self, first: str, second: str) -> dict[str, Any]:
        """GET /v1/self-assessments/compare: radar data per area and the discussion points."""
        return record(self.name, await self.get("/v1/self-assessments/compare", _params(first=first, second=second)))

    async def action_plan(self, self_assessment_id: str, *, status: str | None = None,
                          priority: int | None = None) -> dict[str, Any]:
        return record(self.name, await self.get(f"/v1/self-assessments/{self_assessment_id}/action-plan",
                              _params(status=status, priority=priority)))

    async def export(self, self_assessment_id: str, *, action_plan: bool = False) -> httpx.Response:
        """The LIKA service's own xlsx (comments kept)."""
        tail = "action-plan/export.xlsx" if action_plan else "export.xlsx"
        return await self.download(f"/v1/self-assessments/{self_assessment_id}/{tail}")


def query_string(**kwargs: Any) -> str:
    return urlencode(_params(**kwargs))
