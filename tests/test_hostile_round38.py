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
  The doors, each asked by this rule and round 39's: tests/test_name_doors.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from styrkedja_contracts import OrganisationUnitUpsertedV1, example_bytes
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


@pytest.mark.parametrize(("variable", "value"), [("STYRKEDJA_TEST_REUSE_DATABASES", "false"),
                                               ("STYRKEDJA_TEST_REUSE_DATABASES", "no"),
                                               # round 39: any text was on (`=0` too), the session ran
                                               ("STYRKEDJA_TEST_NO_DOCKER", "yes"), ("STYRKEDJA_REQUIRE_KAFKA", "yes")])
def test_a_test_switch_takes_1_or_0_only(tmp_path: Path, variable: str, value: str) -> None:
    """Failed on the old code: the session ran, the databases reused (only `0` was off)."""
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", "-p",
                           "styrkedja_devstack.pytest_plugin", str(tmp_path / "test_nothing.py")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300,
                          env=_env(**{variable: value, "STYRKEDJA_TEST_BROKERS": "embedded"}), check=False)
    assert done.returncode == 4, (done.returncode, done.stdout[-1000:], done.stderr[-1000:])
    assert f"${variable} takes 1 (on) or 0 (off), not {value!r}" in done.stderr + done.stdout


