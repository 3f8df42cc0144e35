"""Hostile round 31: what the stateful schemathesis campaign (tests/campaign31_local.py: every check, every phase,
each role of two organisers and no token) found in the four services.

- A method a path does not answer, sent with a body, was judged by its body first: `GET /v1/forecasts` (POST only)
  with a JSON body was a 400 `no_body` (a GET takes none), `DELETE /v1/calendars/{organiser_id}` the same, and a
  POST with a body no route reads as JSON to a GET-only path a 415 — where without a body each is a 405 with its
  `Allow`. The method is refused whatever the body: the `RequestGuard` now leaves a request whose path does not
  answer its method to routing (405, or 404 for a path of none), and judges bodies only of methods the path answers.
"""

from __future__ import annotations

import httpx
import pytest
from inprocess import auth

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_VALUES = {"organiser_id": "2999", "school_unit_code": "29990011"}


def _concrete(template: str) -> str:
    for part in [p for p in template.split("/") if p.startswith("{")]:
        template = template.replace(part, _VALUES.get(part[1:-1], "00000000-0000-4000-8000-000000000001"))
    return template


def test_a_method_the_path_does_not_answer_is_a_405_whatever_the_body(running, token_issuer):
    """Every path of the document, every method it does not document, with a JSON body and with a body of a type
    no route reads: a 405 problem whose `Allow` lists what the document lists, as without a body. Failed before
    (the check reverted in `RequestGuard`): 400 `no_body` on GET and DELETE, 415 on POST, PUT and PATCH with
    text/plain."""
    name, service = running
    wrong = []
    with httpx.Client(base_url=service.url, headers=auth(token_issuer), timeout=60) as client:
        paths = client.get("/openapi.json").json()["paths"]
        for template, item in paths.items():
            documented = {m.upper() for m in item}
            allow = [m for m in _METHODS if m in documented]
            allow = allow[:1] + ["HEAD"] + allow[1:] if "GET" in allow else allow
            for method in (m for m in _METHODS if m not in documented):
                for body, media in ((b'{"revision": 1}', "application/json"), (b"x", "text/plain")):
                    response = client.request(method, _concrete(template), content=body,
                                              headers={"Content-Type": media})
                    got = (response.status_code, response.headers.get("allow"),
                           response.headers.get("content-type", "").split(";")[0])
                    if got != (405, ", ".join(allow), "application/problem+json"):
                        wrong.append(f"{method} {template} ({media}): {got} {response.text[:200]}")
    assert not wrong, f"{name}:\n" + "\n".join(wrong)


def test_a_body_on_a_get_the_path_answers_is_still_refused(running, token_issuer):
    """What the guard judged stays judged where the path answers the method: a body on a GET is a 400 naming
    `body` and `no_body`, a POST's body in text/plain a 415."""
    name, service = running
    with httpx.Client(base_url=service.url, headers=auth(token_issuer), timeout=60) as client:
        response = client.request("GET", "/healthz", content=b"{}", headers={"Content-Type": "application/json"})
        assert response.status_code == 400, response.text
        assert [(e["field"], e["rule"]) for e in response.json()["errors"]] == [("body", "no_body")]
        paths = client.get("/openapi.json").json()["paths"]
        template = next(t for t, item in paths.items() if "post" in item)
        response = client.post(_concrete(template), content=b"x", headers={"Content-Type": "text/plain"})
        assert response.status_code == 415, (name, template, response.text)
