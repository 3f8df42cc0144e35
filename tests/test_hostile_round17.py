"""Hostile inputs, round 17 (probes)."""

from __future__ import annotations

import json
import re

import pytest
from inprocess import auth
from test_hostile_round16 import document, operations, raw, required_query, target

from styrkedja_kit.problems import ECHO_LIMIT, TEXT_LIMITS

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

#: a value no rule of any parameter takes whole, long enough to see whether an answer repeats it
LONG = "Q" * 3000 + "1"
SPACED = "Q " * 3000


def _longest_run(text: str) -> int:
    return max((len(m) for m in re.findall(r"Q+", text)), default=0)


def _too_long(status: int, text: str) -> str | None:
    """What is wrong with an answer to a request holding `LONG` (or `SPACED`): None when nothing is."""
    if _longest_run(text) > ECHO_LIMIT or text.count("Q") > 2 * TEXT_LIMITS["detail"]:
        return f"{status} repeats {_longest_run(text)} (of {text.count('Q')}): " + re.sub("Q{20,}", "Q*", text)[:300]
    return None


def test_no_answer_repeats_a_value_of_the_request_unbounded(running, token_issuer):
    """Failed on the old code: LIKA's `GET /v1/catalogue/{version}` repeated an unknown version whole, in `detail` and
    `message` (3,000 characters sent, 3,000 answered twice), reporting's `format` on every export likewise; an unknown
    parameter's name and a body's unknown key were repeated whole as the `field`."""
    name, service = running
    headers, wrong = auth(token_issuer), []
    for method, path, operation in operations(document(service, token_issuer)):
        base = required_query(operation)
        sent_targets = [target(path, [*base, (LONG, "1")])]
        for parameter in operation.get("parameters", []):
            for value in (LONG, SPACED):
                if parameter["in"] == "query":
                    sent_targets.append(target(path, [*[(k, v) for k, v in base if k != parameter["name"]],
                                                      (parameter["name"], value)]))
                elif parameter["in"] == "path":
                    sent_targets.append(target(path, base, {parameter["name"]: value}))
        for sent in sent_targets:
            status, _, text = raw(service.url, headers, method, sent)
            if said := _too_long(status, text):
                wrong.append(f"{method} {sent[:80]!r}: {said}")
        if "requestBody" in operation:
            for body in ({LONG: 1}, {"items": [{LONG: SPACED}]}, {"version": LONG, "catalogue_version": LONG}):
                status, _, text = raw(service.url, headers, method, target(path, base), json.dumps(body).encode())
                if said := _too_long(status, text):
                    wrong.append(f"{method} {path} {list(body)[0][:10]}: {said}")
    assert not wrong, f"{name}:\n" + "\n".join(wrong[:40])
