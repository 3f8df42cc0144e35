"""Hostile round 38: the settings read from the environment by rule, names of look-alike letters, and what
schemathesis found (tests/campaign38_local.py).

- Leftovers of session 37: bench/demo.py read `STYRKEDJA_EMBEDDED_PG_PORT` / `STYRKEDJA_EMBEDDED_KAFKA_PORT` with a
  bare `int()` ("abc" a traceback, "0" a random port, "70000" the socket's OverflowError after PostgreSQL had started);
  now by `make run`'s rule (`port_setting`), one line naming the variable, exit 2. The devstack's Apache Kafka node took
  `STYRKEDJA_KAFKA_HEAP` as it came, split into java's arguments ("512m -XX:OnOutOfMemoryError=..." gave the JVM
  options of its own, "2" a heap of two bytes) and wrote `STYRKEDJA_KAFKA_LOG_LEVEL` into its log4j2.properties as it
  came (a line break wrote properties of its own): now a heap of whole MiB or GiB, 128m-16g, and a Log4j level, each
  refused by `styrkedja run` before anything starts. The test plugin's switches (`STYRKEDJA_TEST_REUSE_DATABASES`,
  `STYRKEDJA_TEST_SHARE_TLS`) were off only for `0`: `false` or `no` left them on; now 1 or 0, else a usage error.
- Names (a unit's, a group's, a duty's, an owner, a tag, a plan's title) took words mixing scripts: "Skоla" (a Cyrillic
  о) is another unit, another row of every report, than "Skola", and looks the same. Now each word of a name is of one
  script by Unicode TS #39's "highly restrictive" level (`no_mixed_scripts`; Latin may join Han and kana, bopomofo or
  hangul), the scripts read from Unicode's Script_Extensions (fontTools' tables, pinned), at every door (the event
  models, LIKA's own text rule), in the events (a tightened validation: the schemas unchanged) and in the SS 12000
  import. Names wholly of one script, and names of words of different scripts ("Modersmål Ελληνικά"), are taken.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from styrkedja_contracts import ContractError, OrganisationUnitUpsertedV1, decode_event, example_bytes
from styrkedja_contracts.door_rules import EVERY_EVENT, HELD
from styrkedja_contracts.envelope import decode_plain
from styrkedja_contracts.identifiers import MIXED_SCRIPT_RULE

ROOT = Path(__file__).resolve().parents[1]
UNIT = "se.styrkedja.organisation.unit_upserted.v1"

#: a word mixing scripts: each looks like a Latin word, or is one letter of another script from being one
MIXED = [("Cyrillic о in a Latin word", "Norra Skоlan"), ("Latin in a Cyrillic word", "Сáмi"),
         ("across a hyphen", "Sk-оla"), ("between dots", "S.k.о.l.a"), ("Armenian օ", "Skօla"),
         ("Cherokee Ꭺ", "Ꭺmerica skola"), ("Greek ο", "Grupp 7Β gο"), ("Cyrillic а at the end", "Klass Skolа")]
#: honest names: Swedish, Sámi, Finnish, Somali, Arabic, Ukrainian, Greek, Japanese, Korean, Vietnamese; words of
#: different scripts side by side (mother-tongue groups), a letter with a combining mark, a Cyrillic group "7А" (one
#: script: whole-script look-alikes are not this rule's, see the report)
HONEST = ["Norra skolan", "Čáhcesullot skuvla", "Ŋuorra Šaŋŋa", "Hyvinkään koulu", "Dugsiga Xamar", "مدرسة النور",
          "Київська школа", "Мар'яна", "Мар\u02bcяна", "Ολυμπία", "東京スクール", "Tシャツ", "서울 학교 A", "Đà Nẵng",
          "İstanbul", "Modersmål Ελληνικά", "Skolan Åäö – العربية", "Ελληνικά – عربي – 中文", "Svenska Українська",
          "x\u0301y", "7А", "Ǆemal"]


# --- names ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("what", "name"), MIXED, ids=[m[0] for m in MIXED])
def test_a_name_with_a_word_of_mixed_scripts_is_refused_naming_field_and_rule(what: str, name: str) -> None:
    """Failed on the old code: each was taken as a name."""
    data = json.loads(example_bytes(UNIT))["data"]
    with pytest.raises(ValidationError) as refused:
        OrganisationUnitUpsertedV1.model_validate({**data, "name": name})
    errors = refused.value.errors()
    assert [(e["loc"], e["type"]) for e in errors] == [(("name",), MIXED_SCRIPT_RULE)], errors
    assert "(no_mixed_scripts)" in errors[0]["msg"]
    from styrkedja_contracts.identifiers import mixes_scripts, name_rule_broken

    assert mixes_scripts(name) and name_rule_broken(name) == MIXED_SCRIPT_RULE


@pytest.mark.parametrize("name", HONEST)
def test_honest_names_of_any_script_are_taken(name: str) -> None:
    from styrkedja_contracts.identifiers import mixes_scripts, name_rule_broken

    assert not mixes_scripts(name) and name_rule_broken(name) is None, name
    data = json.loads(example_bytes(UNIT))["data"]
    assert OrganisationUnitUpsertedV1.model_validate({**data, "name": name}).name == name


def test_latin_1_text_never_mixes_scripts() -> None:
    """Every character up to U+00FF is Latin or of every script: the decode's fast path (plain text: ASCII and the
    Latin-1 letters) judges a name by a pattern alone, which stays right."""
    from styrkedja_contracts.identifiers import mixes_scripts

    text = "".join(chr(c) for c in range(0x20, 0x100) if c != 0x7F and not 0x80 <= c < 0xA0)
    assert not mixes_scripts(text)


def _unit_event(name: str, ensure_ascii: bool) -> bytes:
    document = json.loads(example_bytes(UNIT))
    document["id"] = str(uuid.uuid4())
    document["data"]["name"] = name
    return json.dumps(document, ensure_ascii=ensure_ascii).encode()


@pytest.mark.parametrize("ensure_ascii", [True, False], ids=["escaped", "as UTF-8"])
def test_an_event_naming_a_unit_so_is_refused_by_the_decode_naming_field_and_rule(ensure_ascii: bool) -> None:
    """The live consumer's and the rebuild's decode (`decode_event`): `invalid_data` naming `data.name` and the rule.
    Failed on the old code: the unit was applied, a second "Norra skolan" in every report."""
    raw = _unit_event("Norra Skоlan", ensure_ascii)
    assert decode_plain(raw) is None  # not plain text: never the fast path's
    with pytest.raises(ContractError) as refused:
        decode_event(raw)
    assert refused.value.reason == "invalid_data", refused.value
    assert "data.name" in refused.value.message and "(no_mixed_scripts)" in refused.value.message
    decode_event(_unit_event("Київська школа", ensure_ascii))


def test_the_rebuild_dead_letters_it_too() -> None:
    from styrkedja_contracts.topics import topic_for_event_type
    from styrkedja_reporting.rebuild.bulk import decoded_and_staged

    topic = topic_for_event_type(UNIT).name
    raw = [(topic, 0, n, _unit_event(name, False), 1_796_083_200_000, b"2999", None)
           for n, name in enumerate(["Norra skolan", "Norra Skоlan", "Київська школа"])]
    staged = decoded_and_staged(raw, 0, 64_000, as_text=False)
    assert [(d[0], d[1]) for d in staged.dead] == [(1, "invalid_data")], staged.dead
    assert "no_mixed_scripts" in staged.dead[0][2]


def test_every_door_s_name_rule_is_held_by_every_event() -> None:
    assert HELD[MIXED_SCRIPT_RULE] == (EVERY_EVENT,)


def test_lika_s_owner_and_tag_name_the_rule() -> None:
    """LIKA's door checks an owner and a tag by its own text rule (`text_problems`): failed on the old code (taken;
    the action plan's event then refused by the contract, a 422 naming `event_contract`, not the field's rule)."""
    from styrkedja_lika.text_rules import text_problems

    assert [(p.field, p.rule) for p in text_problems("owner", "Rеktor")] == [("owner", MIXED_SCRIPT_RULE)]
    assert [(p.field, p.rule) for p in text_problems("tags.0", "ІT-plan")] == [("tags.0", MIXED_SCRIPT_RULE)]
    assert text_problems("owner", "Рехтор") == [] and text_problems("note", "Rеktor", multiline=True) == []


def test_a_plan_s_title_names_the_rule_at_the_assessment_door() -> None:
    from styrkedja_assessment.plans.schemas import PlanIn

    body = {"organiser_id": "2999", "school_unit_code": "29990011", "group_id": "7A", "subject_code": "GRGRMAT01",
            "school_year": "2026/27", "term": "HT", "title": "Brаk och procent", "published_on": "2026-09-01"}
    with pytest.raises(ValidationError) as refused:
        PlanIn.model_validate(body)
    assert [(e["loc"], e["type"]) for e in refused.value.errors()] == [(("title",), MIXED_SCRIPT_RULE)]
    PlanIn.model_validate({**body, "title": "Bråk och procent"})


def test_the_ss12000_import_refuses_the_item_naming_its_field_and_rule() -> None:
    """Failed on the old code: the group was planned as any other."""
    from test_import_hostile import BRAND, GROUP, HUV, SU, ZONE, MovedServer

    from styrkedja_cli.ss12000.command import read_and_plan

    mixed = {**GROUP, "id": "6A7B8C9D-0E1F-4A2B-8C3D-4E5F6A7B8C9E", "displayName": "7A Skоla", "groupMemberships": []}
    served = {"organisations": [HUV, BRAND, {**SU, "displayName": "Skolan Ελληνικά"}], "groups": [GROUP, mixed],
              "duties": [], "syllabuses": [], "activities": [], "persons": []}
    plan, _ = read_and_plan(MovedServer(served).source(), since=None, naive_zone=ZONE)
    refused = [(r.entity, r.id, r.reason) for r in plan.refused]
    assert len(refused) == 1 and refused[0][:2] == ("groups", mixed["id"].lower()), refused
    assert refused[0][2].startswith("displayName: ") and "(no_mixed_scripts)" in refused[0][2], refused


# --- settings of the environment -------------------------------------------------------------------------------------


def _env(**variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STYRKEDJA_") or k in ("STYRKEDJA_TEST_BROKERS",)}
    return {**env, **variables}


@pytest.mark.parametrize(("variable", "value"), [("STYRKEDJA_EMBEDDED_PG_PORT", "abc"),
                                                  ("STYRKEDJA_EMBEDDED_KAFKA_PORT", "70000"),
                                                  ("STYRKEDJA_EMBEDDED_PG_PORT", "0")])
def test_bench_demo_stops_on_a_port_variable_that_is_no_port(variable: str, value: str) -> None:
    """One line naming the variable and its rule, exit 2, before anything starts. Failed on the old code: a ValueError's
    traceback ("abc"), or PostgreSQL started on a random port ("0"), or the socket's OverflowError after it ("70000")."""
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "demo.py"), "--students", "10"], cwd=ROOT,
                          env=_env(**{variable: value}), capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert f"{variable}={value!r} is not a port: a whole number 1-65535" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


HEAPS_REFUSED = ["512m -XX:OnOutOfMemoryError=touch /tmp/x", "2", "64m", "32g", "0m", "abc", "512mb", "1.5g", "-1g"]
LEVELS_REFUSED = ["WARN\nappender.other.type = File", "LOUD", "warn,info"]


@pytest.mark.parametrize("heap", HEAPS_REFUSED)
def test_styrkedja_run_refuses_a_kafka_heap_that_is_no_jvm_size(monkeypatch: pytest.MonkeyPatch, heap: str) -> None:
    """Failed on the old code: no line (the text went to java as its arguments, after PostgreSQL had started)."""
    from styrkedja_devstack.__main__ import setting_problems

    monkeypatch.delenv("STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("STYRKEDJA_BROKER", "kafka")
    monkeypatch.setenv("STYRKEDJA_KAFKA_HEAP", heap)
    lines = [line for line in setting_problems() if "STYRKEDJA_KAFKA" in line]
    assert lines == [f"STYRKEDJA_KAFKA_HEAP={heap!r} is not a Java heap size: whole MiB or GiB from 128m to 16g, "
                     "e.g. 512m or 2g (unset it for 512m)"], lines


@pytest.mark.parametrize("level", LEVELS_REFUSED)
def test_styrkedja_run_refuses_a_kafka_log_level_log4j_does_not_know(monkeypatch: pytest.MonkeyPatch,
                                                                     level: str) -> None:
    """Failed on the old code: written into the node's log4j2.properties as it came."""
    from styrkedja_devstack.__main__ import setting_problems

    monkeypatch.delenv("STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("STYRKEDJA_BROKER", "kafka")
    monkeypatch.setenv("STYRKEDJA_KAFKA_LOG_LEVEL", level)
    lines = [line for line in setting_problems() if "STYRKEDJA_KAFKA" in line]
    assert len(lines) == 1 and lines[0].startswith(f"STYRKEDJA_KAFKA_LOG_LEVEL={level!r} is not a Log4j level"), lines


def test_the_kafka_node_s_settings_taken() -> None:
    from styrkedja_devstack.apache_kafka import kafka_heap, kafka_log_level  # (new: refused as unknown before)

    assert [kafka_heap({"STYRKEDJA_KAFKA_HEAP": h}) for h in ("512m", " 2G ", "128m", "16g", "")] == \
        ["512m", "2g", "128m", "16g", "512m"]
    assert kafka_heap({}) == "512m" and kafka_log_level({}) == "WARN"
    assert [kafka_log_level({"STYRKEDJA_KAFKA_LOG_LEVEL": v}) for v in ("info", " DEBUG", "off")] == \
        ["INFO", "DEBUG", "OFF"]


def test_the_embedded_broker_s_run_reads_no_kafka_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from styrkedja_devstack.__main__ import setting_problems

    monkeypatch.delenv("STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("STYRKEDJA_BROKER", "embedded")
    monkeypatch.setenv("STYRKEDJA_KAFKA_HEAP", "2")
    assert not [line for line in setting_problems() if "STYRKEDJA_KAFKA" in line]


@pytest.mark.parametrize("value", ["false", "no"])
def test_a_test_switch_takes_1_or_0_only(tmp_path: Path, value: str) -> None:
    """Failed on the old code: the session ran, the databases reused (only `0` was off)."""
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", "-p",
                           "styrkedja_devstack.pytest_plugin", str(tmp_path / "test_nothing.py")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300,
                          env=_env(STYRKEDJA_TEST_REUSE_DATABASES=value, STYRKEDJA_TEST_BROKERS="embedded"),
                          check=False)
    assert done.returncode == 4, (done.returncode, done.stdout[-1000:], done.stderr[-1000:])
    assert f"$STYRKEDJA_TEST_REUSE_DATABASES takes 1 (on) or 0 (off), not {value!r}" in done.stderr + done.stdout



@pytest.mark.integration
@pytest.mark.postgres_only
def test_reporting_s_directory_door_answers_422_naming_field_and_rule(reporting: Any, token_issuer: Any) -> None:
    """Failed on the old code: "Norra Skоlan" was published beside "Norra skolan" (a 200)."""
    import httpx
    from inprocess import ORGANISER, auth

    base = {**json.loads(example_bytes(UNIT))["data"], "organiser_id": ORGANISER}
    with httpx.Client(base_url=reporting.url, headers=auth(token_issuer), timeout=60) as client:
        answer = client.post("/v1/directory/changes", json={"items": [{"type": UNIT,
                                                                       "data": {**base, "name": "Norra Skоlan"}}]})
        assert answer.status_code == 422, answer.text
        assert [(e["field"], e["rule"]) for e in answer.json()["errors"]] == [("items.0.data.name", MIXED_SCRIPT_RULE)]
        taken = client.post("/v1/directory/changes", json={"items": [{"type": UNIT,
                                                                      "data": {**base, "name": "Київська школа"}}]})
        assert taken.status_code == 200, taken.text
