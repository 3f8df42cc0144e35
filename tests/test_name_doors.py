"""Every door that takes a name, asked by each of the names' look-alike rules (hostile rounds 38 and 39): a name the
rule refuses is refused there naming the field and the rule; an honest name of the other script is taken beside it.

- `no_mixed_scripts` (round 38): a word mixing scripts, "Norra Skоlan" (a Cyrillic о) — another unit, another row of
  every report, than "Norra skolan", looking the same.
- `no_whole_script_confusables` (round 39): beside Latin words, a word wholly of another script's Latin look-alikes,
  "Klass 7А" (a Cyrillic А) beside "Klass 7A".

The doors: the event models (so the live consumer's decode and the rebuild's), LIKA's owner and tags, a plan's title at
the assessment door, the SS 12000 import, reporting's directory. Each case failed on the code before its round (taken).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import ValidationError

from styrkedja_contracts import ContractError, decode_event, example_bytes
from styrkedja_contracts.door_rules import EVERY_EVENT, HELD
from styrkedja_contracts.envelope import decode_plain

UNIT = "se.styrkedja.organisation.unit_upserted.v1"


@dataclass(frozen=True)
class LookAlike:
    """One rule's names: `refused` (as a unit's name, an owner, a title, a group's display name), `tag` (a LIKA tag
    it refuses), `latin` (the honest Latin name `refused` looks like), `other_script` (an honest name of the other
    script)."""

    rule: str
    refused: str
    tag: str
    latin: str
    other_script: str


RULES = [LookAlike("no_mixed_scripts", refused="Norra Skоlan", tag="ІT-plan", latin="Norra skolan",
                   other_script="Київська школа"),
         LookAlike("no_whole_script_confusables", refused="Klass 7А", tag="IT-plan ΟΚ", latin="Klass 7A",
                   other_script="Клас 7А")]
each_rule = pytest.mark.parametrize("case", RULES, ids=[r.rule for r in RULES])


def _unit_event(name: str, ensure_ascii: bool) -> bytes:
    document = json.loads(example_bytes(UNIT))
    document["id"] = str(uuid.uuid4())
    document["data"]["name"] = name
    return json.dumps(document, ensure_ascii=ensure_ascii).encode()


def test_the_rules_are_the_contracts_own() -> None:
    from styrkedja_contracts.identifiers import LOOK_ALIKE_RULE, MIXED_SCRIPT_RULE

    assert [r.rule for r in RULES] == [MIXED_SCRIPT_RULE, LOOK_ALIKE_RULE]


@each_rule
def test_the_rule_is_held_by_every_event(case: LookAlike) -> None:
    assert HELD[case.rule] == (EVERY_EVENT,)


@each_rule
@pytest.mark.parametrize("ensure_ascii", [True, False], ids=["escaped", "as UTF-8"])
def test_an_event_naming_a_unit_so_is_refused_by_the_decode_naming_field_and_rule(case: LookAlike,
                                                                                   ensure_ascii: bool) -> None:
    """The live consumer's and the rebuild's decode (`decode_event`): `invalid_data` naming `data.name` and the rule
    (the consumer dead-letters it)."""
    raw = _unit_event(case.refused, ensure_ascii)
    assert decode_plain(raw) is None  # not plain text: never the fast path's
    with pytest.raises(ContractError) as refused:
        decode_event(raw)
    assert refused.value.reason == "invalid_data", refused.value
    assert "data.name" in refused.value.message and f"({case.rule})" in refused.value.message
    decode_event(_unit_event(case.other_script, ensure_ascii))


@each_rule
def test_the_rebuild_dead_letters_it_too(case: LookAlike) -> None:
    from styrkedja_contracts.topics import topic_for_event_type
    from styrkedja_reporting.rebuild.bulk import decoded_and_staged

    topic = topic_for_event_type(UNIT).name
    raw = [(topic, 0, n, _unit_event(name, False), 1_796_083_200_000, b"2999", None)
           for n, name in enumerate([case.latin, case.refused, case.other_script])]
    staged = decoded_and_staged(raw, 0, 64_000, as_text=False)
    assert [(d[0], d[1]) for d in staged.dead] == [(1, "invalid_data")], staged.dead
    assert case.rule in staged.dead[0][2]


@each_rule
def test_lika_s_owner_and_tag_name_the_rule(case: LookAlike) -> None:
    """LIKA's door checks an owner and a tag by its own text rule (`text_problems`); a note (free text) is not a
    name."""
    from styrkedja_lika.text_rules import text_problems

    assert [(p.field, p.rule) for p in text_problems("owner", case.refused)] == [("owner", case.rule)]
    assert [(p.field, p.rule) for p in text_problems("tags.0", case.tag)] == [("tags.0", case.rule)]
    assert text_problems("owner", case.other_script) == []
    assert text_problems("note", case.refused, multiline=True) == []


@each_rule
def test_a_plan_s_title_names_the_rule_at_the_assessment_door(case: LookAlike) -> None:
    from styrkedja_assessment.plans.schemas import PlanIn

    body = {"organiser_id": "2999", "school_unit_code": "29990011", "group_id": "7A", "subject_code": "GRGRMAT01",
            "school_year": "2026/27", "term": "HT", "title": case.refused, "published_on": "2026-09-01"}
    with pytest.raises(ValidationError) as refused:
        PlanIn.model_validate(body)
    assert [(e["loc"], e["type"]) for e in refused.value.errors()] == [(("title",), case.rule)]
    PlanIn.model_validate({**body, "title": case.latin})


@each_rule
def test_the_ss12000_import_refuses_the_item_naming_its_field_and_rule(case: LookAlike) -> None:
    """The group is refused, naming `displayName` and the rule; the others (a unit named in two scripts' words, each
    whole) are planned."""
    from test_import_hostile import BRAND, GROUP, HUV, SU, ZONE, MovedServer

    from styrkedja_cli.ss12000.command import read_and_plan

    alike = {**GROUP, "id": "6A7B8C9D-0E1F-4A2B-8C3D-4E5F6A7B8C9E", "displayName": case.refused,
             "groupMemberships": []}
    served = {"organisations": [HUV, BRAND, {**SU, "displayName": "Skolan Ελληνικά"}], "groups": [GROUP, alike],
              "duties": [], "syllabuses": [], "activities": [], "persons": []}
    plan, _ = read_and_plan(MovedServer(served).source(), since=None, naive_zone=ZONE)
    refused = [(r.entity, r.id, r.reason) for r in plan.refused]
    assert len(refused) == 1 and refused[0][:2] == ("groups", alike["id"].lower()), refused
    assert refused[0][2].startswith("displayName: ") and f"({case.rule})" in refused[0][2], refused


@pytest.mark.integration
@pytest.mark.postgres_only
@each_rule
def test_reporting_s_directory_door_answers_422_naming_field_and_rule(case: LookAlike, reporting: Any,
                                                                     token_issuer: Any) -> None:
    import httpx
    from inprocess import ORGANISER, auth

    base = {**json.loads(example_bytes(UNIT))["data"], "organiser_id": ORGANISER}
    with httpx.Client(base_url=reporting.url, headers=auth(token_issuer), timeout=60) as client:
        answer = client.post("/v1/directory/changes", json={"items": [{"type": UNIT,
                                                                       "data": {**base, "name": case.refused}}]})
        assert answer.status_code == 422, answer.text
        assert [(e["field"], e["rule"]) for e in answer.json()["errors"]] == [("items.0.data.name", case.rule)]
        taken = client.post("/v1/directory/changes", json={"items": [{"type": UNIT,
                                                                      "data": {**base, "name": case.other_script}}]})
        assert taken.status_code == 200, taken.text
