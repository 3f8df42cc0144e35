"""Hostile inputs, round 17: what an answer repeats and how much of it, the characters between C0 and Latin-1, and the
ops CLI's arguments.

Found and fixed (each test failed on the old code, as said at it):
- An echoed value was repeated whole: LIKA's `GET /v1/catalogue/{version}` put an unknown version of 3,000 characters
  in `detail` and `message` (60 kB as the path allows), reporting's `format` on every export the same, an unknown
  parameter's name and a body's unknown key became a `field` of that length. One rule in the kit's `problem_response`
  (`bounded`): a run without blanks or '/' is cut at `ECHO_LIMIT` (100) characters, each text of a problem at its
  own bound; redacted before and after the cut (a cut may end a digit run where a personnummer then ends).
- A problem listed every error: a batch of 1,000 empty items (3 KB) was answered with 15,000 errors (1.1 MB), one
  item of 300,000 unknown keys (3.5 MB) with 300,015 (29 MB). Now at most `MAX_ERRORS` (1,000: one for each item of
  a full batch) and one `more_errors` saying how many more (the kit; docs/platforms.md).
- C1 control characters (U+0080-U+009F: NEL splits a line for Python and log viewers, CSI starts a terminal escape,
  `Ã` + U+0085 is "Å" in UTF-8 read as Latin-1) passed the contracts' `check_text`, so every input and event but
  LIKA's own text rule took them. Now refused as `no_control_characters` (packages/contracts/tests).
- The ops CLI (`styrkedja migrate|replay|topics`, `python -m styrkedja_kit`): `migrate ../x`, `os`, `os.path` or `""`
  raised importlib's own errors (a traceback); `--wait nan|inf|-5` were taken; `replay --since` a time UTC cannot
  hold (0001-01-01T00:00+14:00) was an OverflowError traceback; `--since 19121212-1212` (read as 1912-12-12T12:12)
  repeated the number four times in its advice, `--topic` once; `--since 2026-01-01` advised `2026-01-01+01:00`,
  no time either; `topics --dead-letter-group 'a b'` was a ValueError traceback. Now usage errors naming the argument
  and the rule, redacted (packages/kit/tests/test_cli_arguments.py).
- Token claims: `areas` and `groups` holding a personal identity number were taken (`sub`, `azp` and `organisers`
  were refused), so `styrkedja token --group 12345678/19121212-1212` minted a token every service read; now
  refused by the same text rules (packages/kit/tests/test_auth_policy.py).
- The dashboard's sign-in `next` (and the alert's return address) kept `/.//evil.example` and `/x/..//evil.example`,
  which a browser resolves to the path `//evil.example` (same host, but a proxy or a later redirect reading the path
  takes it for another host); dot segments, encoded too, now give the default (services/dashboard/tests).

Tried and held (here or in a probe; see the report): `grgrmat01`, a fullwidth or zero-width subject code, `6Ａ`,
`6A` + ZWJ, NFD letters in ids (all refused by the ids' ASCII patterns; `6A` and `6a` are two group ids, as the
contracts document ids as given), names in NFD (kept in NFC), bidi overrides and isolates (refused); school years
`2026/28`, `2026/2027`, `0001/02` (refused naming the rule), dates outside 1900-2199 in every body and event, an
envelope `time` outside 2000-2199 (refused) and inside it (freshness and alerts judge at the consumer's clock, never
the envelope's); calendar weeks above 52 (refused: week 53 is not in every year); the LIKA self-assessment with
every indicator and the longest comments (below); the pagination `limit`s at their bounds (the OpenAPI fuzz);
the dashboard's callback replayed (400), a forged or overlong `state` (400/422 page), a session cookie of another
secret, 5,000 characters or two of them (sign-in again), `next` as `//evil`, `/\\evil`, `javascript:`, a tab or a CRLF
(the default); the CLI's `token` given a personnummer as subject or organiser, a huge or fullwidth `--ttl`,
a state dir that is /dev/zero, a fifo or a file (each a usage error naming it).
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from inprocess import ORGANISER, auth
from test_hostile_round16 import document, operations, raw, required_query, target

from styrkedja_kit.problems import ECHO_LIMIT, MAX_ERRORS, TEXT_LIMITS

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


def _client(service: Any, token_issuer: Any) -> httpx.Client:
    return httpx.Client(base_url=service.url, headers=auth(token_issuer), timeout=300)


def test_a_batch_of_empty_items_is_answered_with_at_most_max_errors(running, token_issuer):
    """Failed on the old code: 1,000 empty items (3 KB sent) were answered with 15,000 errors (1.1 MB); one item of
    300,000 unknown keys (3.5 MB) with 300,015 errors (29 MB, a minute of CPU here). One more item than the limit
    is refused by the same rule (the items' errors first, as before)."""
    name, service = running
    if name != "assessment":
        pytest.skip("the write door is the kit's, alike in every service: one is asked")
    with _client(service, token_issuer) as client:
        for count in (1000, 1001):
            answer = client.post("/v1/assessments/batch", json={"items": [{}] * count})
            errors = answer.json()["errors"]
            assert answer.status_code == 422 and len(errors) == MAX_ERRORS + 1, (count, len(errors))
            assert errors[-1]["rule"] == "more_errors" and len(answer.content) < 200_000
        answer = client.post("/v1/assessments/batch", json={"items": [{}] * 3})
        assert len(answer.json()["errors"]) == 3 * 15  # every one below the bound


def test_c1_control_characters_are_refused_like_the_c0_ones(running, token_issuer):
    """Failed on the old code: NEL (U+0085) and CSI (U+009B) passed every text rule but LIKA's own, into events,
    tables, exports and logs."""
    name, service = running
    if name != "assessment":
        pytest.skip("the rule is the contracts' `check_text`, alike in every service: one door is asked")
    body = {"organiser_id": ORGANISER, "school_unit_code": "29990011", "group_id": "7A", "student_id": "stu-c1",
            "teacher_id": "t-1", "gender": "female", "year": 7, "subject_code": "GRGRMAT01", "kind": "assessment",
            "scale": "AF", "value": "F", "school_year": "2026/27", "term": "HT", "round": 1,
            "assessed_on": "2026-11-02"}
    with _client(service, token_issuer) as client:
        for text in ("Tal\x85uppfattning", "\x9b31mTaluppfattning", "\u00c3\u0085sa"):
            answer = client.post("/v1/assessments", json={**body, "unmet_criteria": [text]})
            assert answer.status_code == 422, answer.text
            assert [(e["field"], e["rule"]) for e in answer.json()["errors"]] == [
                ("unmet_criteria.0", "no_control_characters")], answer.text


def test_a_lika_self_assessment_with_every_indicator_and_the_longest_comments_is_kept_whole(running, token_issuer):
    """Held: every indicator of the compulsory school rated with a comment of 2,000 characters of four UTF-8 bytes
    each (224 kB of event) is saved, published and exported; 10,000 characters are refused at each comment (2,000 are
    kept, none cut); a comment of 1 MB is a body over the limit (413)."""
    name, service = running
    if name != "lika":
        pytest.skip("LIKA's own")
    with _client(service, token_issuer) as client:
        catalogue = client.get("/v1/catalogue/2026.2").json()
        ids = [i["id"] for area in catalogue["areas"] for i in area["indicators"] if i["school_form"] == "grundskola"]
        created = client.post("/v1/self-assessments", json={
            "organiser_id": ORGANISER, "school_unit_code": "29990011", "school_form": "grundskola",
            "respondent_role": "rektor", "catalogue_version": "2026.2"})
        assert created.status_code == 201, created.text
        path = f"/v1/self-assessments/{created.json()['self_assessment_id']}"

        def save(comment: str) -> httpx.Response:
            return client.patch(f"{path}/ratings", json={"ratings": [
                {"indicator_id": i, "rating": "ACHIEVED", "comment": comment} for i in ids]})

        too_long = save("ord " * 2500)
        assert too_long.status_code == 422 and {e["field"] for e in too_long.json()["errors"]} == {
            f"ratings.{n}.comment" for n in range(len(ids))}, too_long.text[:300]
        assert save("x" * 1_000_000).status_code == 413
        longest = "\U0001f600" * 2000
        assert save(longest).status_code == 200
        published = client.post(f"{path}/publish")
        assert published.status_code == 200, published.text[:300]
        assert {r["comment"] for r in published.json()["ratings"]} == {longest} and len(published.json()["ratings"]) == len(ids)
        assert client.get(f"{path}/export.xlsx").status_code == 200
