"""Least privilege under fuzzing (hostile round 35): every operation of a service's OpenAPI document sent with narrow
tokens (`scope_world.narrow_tokens`) and parameters drawn from the ids of `scope_world` — in the token's scope and
out of it — and each answer searched for what the token must never read: another unit's code, a student id, another
organiser's area; for the politician's and the public's, a count of 1-9 students shown.

Each answer is judged by itself: no 5xx; an id outside the scope that the request did not name is a leak in any
answer (an error's body too); one the request named, in a 2xx, is noted for reading (an echo of the parameter, or a
leak). Before the narrow tokens, the organiser's head of education sends every request (its answers kept by the
service's answer cache), and its ETags and next-page cursors are replayed with each narrow token: a 304 to a token
whose own answer differs, or a page of another's cursor, is a leak too. Used by tests/campaign35_local.py (all) and
tests/test_hostile_round35.py (a sample)."""

from __future__ import annotations

import io
import json
import random
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode

import httpx
from scope_world import GROUPS, PERIOD, UNITS, A, B, Narrow

POOLS: dict[str, list[str]] = {
    "organiser_id": [A, B],
    "unit_id": [A, B, "north-q", "south-q", "west-q", *UNITS, *(f"{u}/{g}" for u in UNITS for g in GROUPS),
                "elev-a7A-00", "elev-b7A-00", "elev-d7A-00"],
    "school_unit_code": list(UNITS),
    "area_id": ["north-q", "south-q", "west-q"],
    "level": ["student", "group", "school_unit", "area", "organiser", "nation"],
    "group_id": list(GROUPS),
    "student_id": ["elev-a7A-00", "elev-a7B-01", "elev-b7A-00", "elev-d7A-00"],
    "teacher_id": ["larare-a7A", "larare-b7A", "larare-d7A"],
    "format": ["json", "csv", "xlsx"],
    "school_year": [PERIOD["school_year"]],
    "term": [PERIOD["term"]],
    "subject_code": [PERIOD["subject_code"]],
    "round": ["1", "2"],
    "version": ["1"],
}
#: count fields of an answer that a withheld figure leaves null (the politician's, the public's)
#: (students counted, the base of a figure: a numerator such as `reaching` may be small where its base is not)
COUNT_KEYS = re.compile(r"^(assessed|previous_assessed|students|with_result|students_[a-z_]+|girls|boys|roster_size)$")
#: the directory's structure (units' codes, names, parents) is read by every reading role of the organiser, as in
#: Skolverket's open register; only the roster sizes of what the token reads are shown (`directory.routes`)
AUDIT = "/v1/audit/reads"
STRUCTURE = re.compile(r"^/v1/directory/(organisers/[^/]+/tree|units/[^/?]+)")


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, operation) for path, item in document["paths"].items()
            if path not in ("/readyz", "/healthz", "/metrics") for method, operation in item.items()
            if method in ("get", "post", "put", "patch", "delete")]


def _choices(parameter: dict[str, Any]) -> list[str]:
    name, schema = parameter["name"], parameter.get("schema", {})
    if name in POOLS:
        return POOLS[name]
    for option in [schema, *schema.get("anyOf", [])]:
        if "enum" in option:
            return [str(v) for v in option["enum"]]
        if option.get("type") == "boolean":
            return ["true", "false"]
        if option.get("format") == "uuid":
            return ["00000000-0000-4000-8000-000000000001"]
        if option.get("type") == "integer":
            return [str(max(1, option.get("minimum", 1)))]
        if option.get("format") == "date":
            return ["2026-10-15"]
    example = parameter.get("example", schema.get("example", schema.get("default")))
    return [str(example)] if example is not None else []


def requests_of(method: str, path: str, operation: dict[str, Any], rng: random.Random,
                count: int) -> list[str]:
    """`count` URLs of the operation: each path parameter and each query parameter (required always, an optional
    one two times in three) drawn from its pool."""
    urls: set[str] = set()
    parameters = [p for p in operation.get("parameters", []) if p.get("in") in ("path", "query")]
    for _ in range(count * 3):
        url, query = path, {}
        for parameter in parameters:
            choices = _choices(parameter)
            if not choices:
                continue
            if parameter["in"] == "path":
                url = url.replace("{" + parameter["name"] + "}", rng.choice(choices))
            elif parameter.get("required") or rng.random() < 0.67:
                query[parameter["name"]] = rng.choice(choices)
        if "{" in url:
            continue
        urls.add(url + ("?" + urlencode(query) if query else ""))
        if len(urls) >= count:
            break
    return sorted(urls)


#: (level, unit) of 2999 outside the narrow tokens' own unit 41110001 and area north, at each level
ELSEWHERE = [("group", "41110002/7A"), ("school_unit", "41110002"), ("area", "south-q"), ("organiser", A),
             ("student", "elev-b7A-00")]


def targeted_requests(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    """The operation asked about each place of `ELSEWHERE` (organiser 2999, school unit 41110002, the first value of
    every other parameter's pool, `json`): what a narrow token of 41110001 or of north must not read."""
    urls: set[str] = set()
    parameters = [p for p in operation.get("parameters", []) if p.get("in") in ("path", "query")]
    for level, unit in ELSEWHERE:
        given = {"level": level, "unit_id": unit, "school_unit_code": "41110002", "organiser_id": A, "format": "json",
                 "area_id": "south-q", "group_id": "7A", "student_id": "elev-b7A-00"}
        url, query = path, {}
        for parameter in parameters:
            choices = _choices(parameter)
            value = given.get(parameter["name"], choices[0] if choices else None)
            if value is None:
                continue
            if parameter["in"] == "path":
                url = url.replace("{" + parameter["name"] + "}", value)
            else:
                query[parameter["name"]] = value
        if "{" not in url:
            urls.add(url + ("?" + urlencode(query) if query else ""))
    return sorted(urls)


def answer_text(response: httpx.Response) -> str:
    """What a reader reads of the answer: its headers and body, an xlsx's sheets and shared strings unpacked."""
    head = json.dumps({k: v for k, v in response.headers.items() if k not in ("date", "etag")})
    content = response.content
    if content[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as book:
                return head + "".join(book.read(n).decode("utf-8", "replace") for n in book.namelist()
                                      if n.endswith(".xml"))
        except zipfile.BadZipFile:
            pass
    return head + content.decode("utf-8", "replace")


def small_counts(value: Any, where: str = "") -> list[str]:
    """Counts of 1-9 shown in a JSON answer, at the keys that carry students counted."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, int) and not isinstance(item, bool) and 1 <= item <= 9 and COUNT_KEYS.match(key):
                found.append(f"{where}.{key}={item}")
            else:
                found.extend(small_counts(item, f"{where}.{key}"))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            found.extend(small_counts(item, f"{where}[{n}]"))
    return found


@dataclass
class Findings:
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)
    #: ids the request named, found in a 2xx answer: an echo or a leak, read by hand
    echoes: list[str] = field(default_factory=list)
    by_token: Counter[str] = field(default_factory=Counter)

    def judge(self, narrow: Narrow, method: str, url: str, response: httpx.Response,
              request_body: bytes | None = None) -> None:
        self.sent += 1
        self.by_token[narrow.label] += 1
        self.statuses[response.status_code] += 1
        what = f"{narrow.label}: {method} {url} -> {response.status_code}"
        if response.status_code >= 500:
            self.wrong.append(f"{what} {response.text[:200]!r}")
            return
        text = answer_text(response)
        needles = narrow.forbidden
        if STRUCTURE.match(url) and response.status_code == 200:
            needles = tuple(n for n in needles if n.startswith("elev-"))  # students: never in the structure
            self.wrong.extend(f"{what}: a roster size outside the scope: {sized}"
                              for sized in _sized_nodes(response.json(), narrow.forbidden))
        if url.startswith(AUDIT) and response.status_code == 200:
            needles = ()  # the reads of the organiser's readers, each as it was asked (`what`): what they named
        answer = text[len(json.dumps({k: v for k, v in response.headers.items() if k not in ("date", "etag")})):]
        # what the request named itself (a refusal may say it again; an unknown unit's empty figures name it)
        named = unquote(url) + (request_body or b"").decode("utf-8", "replace")
        for needle in needles:
            at = text.find(needle)
            if at < 0:
                continue
            context = text[max(0, at - 80):at + 80]
            if needle not in named:
                self.wrong.append(f"{what}: {needle!r} read in {context!r}")
            elif response.status_code < 300 and needle in answer:  # not only the file's name: what was asked
                at = answer.find(needle)
                self.echoes.append(f"{what}: {needle!r} (named) in {answer[max(0, at - 80):at + 80]!r}")
        if (narrow.suppressed and response.status_code == 200
                and response.headers.get("content-type", "").startswith("application/json")):
            small = small_counts(response.json())
            if small:
                self.wrong.append(f"{what}: small counts shown {small[:6]}")
        if method != "GET" and response.status_code < 300:
            outside = [n for n in (*narrow.forbidden, f'"{B}"', f"/{B}") if n in named]
            if outside and narrow.writes_outside is False:
                self.wrong.append(f"{what}: a write outside the scope ({outside}) taken {response.text[:160]!r}")
            else:
                self.echoes.append(f"{what}: a write taken {response.text[:160]!r}")


def _sized_nodes(value: Any, forbidden: tuple[str, ...]) -> list[str]:
    """Nodes of a directory answer outside the scope (their id or code forbidden) that show a roster size."""
    found: list[str] = []
    if isinstance(value, dict):
        place = f"{value.get('unit_id')} {value.get('school_unit_code')}"
        if value.get("roster_size") is not None and any(n in place for n in forbidden):
            found.append(f"{place}: {value['roster_size']}")
        for item in value.values():
            found.extend(_sized_nodes(item, forbidden))
    elif isinstance(value, list):
        for item in value:
            found.extend(_sized_nodes(item, forbidden))
    return found


def body_of(operation: dict[str, Any], organiser: str, unit: str) -> bytes | None:
    """The operation's documented example with every organiser id set to `organiser` and every school unit code to
    `unit` (a write for them)."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    example = content.get("example")
    if example is None:
        example = next((e["value"] for e in content.get("examples", {}).values() if "value" in e), {})
    text = json.dumps(example)
    text = re.sub(r'("organiser_id":\s*)"[^"]*"', lambda m: m.group(1) + json.dumps(organiser), text)
    return re.sub(r'("school_unit_code":\s*)"[^"]*"', lambda m: m.group(1) + json.dumps(unit), text).encode()


def sweep(client: httpx.Client, document: dict[str, Any], tokens: dict[str, str], narrows: list[Narrow],
          broad: str, *, per_operation: int, seed: int, findings: Findings, targeted: bool = False) -> None:
    """Every operation of `document`: `per_operation` URLs, first with the broad token (the head of education of
    2999: its answers kept, its ETags and cursors taken), then with each narrow one, and the ETags and cursors
    replayed. `targeted`: `targeted_requests` besides."""
    rng = random.Random(seed)
    for method, path, operation in operations(document):
        urls = requests_of(method, path, operation, rng, per_operation)
        if targeted:
            urls = sorted(set(urls) | set(targeted_requests(method, path, operation)))
        for url in urls:
            # a write for the other organiser, or for another unit of the narrow tokens' own (41110002)
            body = body_of(operation, *rng.choice([(B, "43330004"), (A, "41110002")])) if method != "GET" else None
            headers = {"content-type": "application/json"} if body is not None else {}
            first = client.request(method, url, content=body if method != "GET" else None,
                                   headers={**headers, "authorization": f"Bearer {broad}"})
            etag = first.headers.get("etag")
            cursor = _next_page(first)
            for narrow in narrows:
                auth = {"authorization": f"Bearer {tokens[narrow.label]}"}
                own = client.request(method, url, content=body, headers={**headers, **auth})
                findings.judge(narrow, method, url, own, body)
                if method == "GET" and etag:
                    replayed = client.get(url, headers={**auth, "if-none-match": etag})
                    findings.sent += 1
                    if replayed.status_code == 304 and own.headers.get("etag") != etag:
                        findings.wrong.append(f"{narrow.label}: GET {url}: 304 to the head of education's ETag, "
                                              f"its own answer {own.status_code} {own.headers.get('etag')}")
                if cursor:
                    paged = client.get(cursor, headers=auth)
                    findings.judge(narrow, "GET", cursor, paged)


def _next_page(response: httpx.Response) -> str | None:
    link = response.headers.get("link", "")
    found = re.search(r'<([^>]+)>;\s*rel="?next', link)
    if found:
        return found.group(1)
    if response.headers.get("content-type", "").startswith("application/json"):
        try:
            body = response.json()
        except ValueError:
            return None
        if isinstance(body, dict):
            for key in ("next", "next_url", "next_page"):
                if isinstance(body.get(key), str) and body[key].startswith("/"):
                    return str(body[key])
    return None
