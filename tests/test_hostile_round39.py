"""Hostile round 39: names of whole-script look-alike words, the settings named as the user gave them, the dashboard's
drill-down without a level or a unit. The fuzz round (tests/campaign38_local.py, 12 s per token and service: 21,378
requests; tests/campaign39_local.py's hand-made cases: 5,634) found no 5xx, no refusal without a field and rule, no read
past a scope and no small group shown: nothing to pin here; the dashboard's probe of every page's parameters found
`/nedbrytning?niva=group` without `enhet` (services/dashboard/tests/test_names.py).

- Names: round 38 refused a word mixing scripts, but a word wholly of another script drawn like a Latin word passed:
  "Klass 7А" (a Cyrillic А) is another group, another row of every report, than "Klass 7A", and looks the same. Now,
  beside Latin words, a word wholly of letters that Unicode's confusables.txt (UTS #39, as the pinned
  confusable-homoglyphs holds it) pairs with ASCII letters or digits is refused (`no_whole_script_confusables`) at every
  door that takes a name (the event models, LIKA's owner and tags, a plan's title, reporting's directory), in the events
  (a tightened validation: the schemas unchanged) and in the SS 12000 import. A name written in that script ("7А",
  "Клас 7А", "Svenska і Українська") is taken, as is a word of another script that does not look Latin ("Modersmål
  Ελληνικά"). The doors, each asked by this rule and round 38's: tests/test_name_doors.py.
- Settings: `STYRKEDJA_TRACEBACK` was read as "is it 1" (`yes`, `true` were off, silently): now by the switches' rule,
  one line naming it, exit 2, before the import starts; so are the test plugin's `STYRKEDJA_TEST_NO_DOCKER` (any text
  was on, `0` too) and `STYRKEDJA_REQUIRE_KAFKA` (asked by round 38's switch test). A bad `STYRKEDJA_REPORTING_URL`
  (or the SS 12000 token from `STYRKEDJA_SS12000_TOKEN`, the demo's `STYRKEDJA_<SERVICE>_URL`) was said to be
  `--reporting-url`'s: now the variable is named.
- The dashboard's `/nedbrytning?enhet=12345678` (no `niva`) was headed "Huvudman 12345678" and listed areas under it:
  now the level is the directory's (a unit it places at one level), else a 422 naming `niva`;
  `niva=organiser&enhet=<not the organiser>` a 422 naming `enhet`.
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

#: `identifiers.LOOK_ALIKE_RULE` (spelt out: the module imports on the old code, whose tests then fail one by one)
LOOK_ALIKE_RULE = "no_whole_script_confusables"

ROOT = Path(__file__).resolve().parents[1]
UNIT = "se.styrkedja.organisation.unit_upserted.v1"
STYRKEDJA = str(Path(sys.executable).parent / "styrkedja")

#: a Latin name with a word wholly of another script's Latin look-alikes
LOOK_ALIKES = [("Cyrillic А of a group", "Klass 7А"), ("Cyrillic capitals", "Grupp АВ"), ("Greek capitals", "Skolan ΟΚ"),
               ("Armenian օ", "Mathias օ"), ("Cherokee Ꭺ first", "Ꭺ skola"), ("Cyrillic З for a 3", "Grupp З"),
               ("a mark on a look-alike", "Skola Ӧ")]
#: honest names: of one script, words of another script that do not look Latin, a look-alike beside a real word of its
#: script; and round 38's honest names, every one
HONEST = ["7А", "Клас 7А", "Рос Сор", "Svenska і Українська", "Modersmål Ελληνικά", "Modersmål Ρομά", "Norra skolan",
          "Čáhcesullot skuvla", "Ŋuorra Šaŋŋa", "Hyvinkään koulu", "Dugsiga Xamar", "مدرسة النور", "Київська школа",
          "Мар'яна", "Ολυμπία", "東京スクール", "Tシャツ", "서울 학교 A", "Đà Nẵng", "İstanbul", "Skolan Åäö – العربية",
          "Ελληνικά – عربي – 中文", "Svenska Українська", "x\u0301y", "Ǆemal"]


# --- names ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("what", "name"), LOOK_ALIKES, ids=[m[0] for m in LOOK_ALIKES])
def test_a_latin_name_with_a_whole_script_look_alike_word_is_refused_naming_field_and_rule(what: str,
                                                                                           name: str) -> None:
    """Failed on the old code: each was taken as a name."""
    data = json.loads(example_bytes(UNIT))["data"]
    with pytest.raises(ValidationError) as refused:
        OrganisationUnitUpsertedV1.model_validate({**data, "name": name})
    errors = refused.value.errors()
    assert [(e["loc"], e["type"]) for e in errors] == [(("name",), LOOK_ALIKE_RULE)], errors
    assert "(no_whole_script_confusables)" in errors[0]["msg"]


@pytest.mark.parametrize("name", HONEST)
def test_honest_names_are_taken(name: str) -> None:
    data = json.loads(example_bytes(UNIT))["data"]
    assert OrganisationUnitUpsertedV1.model_validate({**data, "name": name}).name == name


# --- settings named as given ------------------------------------------------------------------------------------------


def _env(**variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STYRKEDJA_") or k in ("STYRKEDJA_TEST_BROKERS",)}
    return {**env, "COLUMNS": "200", **variables}


def _run(arguments: list[str], **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STYRKEDJA, *arguments], cwd=ROOT, env=_env(**variables), capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.mark.parametrize("value", ["yes", "true", "on", "2"])
def test_styrkedja_traceback_takes_1_or_0_said_in_one_line_before_the_import(tmp_path: Path, value: str) -> None:
    """Failed on the old code: the import ran (the switch silently off; only `1` was read, at a fault)."""
    done = _run(["import", "ss12000", "--dir", str(tmp_path), "--reporting-url", "http://127.0.0.1:1"],
                STYRKEDJA_TRACEBACK=value)
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert done.stderr == f"styrkedja: $STYRKEDJA_TRACEBACK takes 1 (on) or 0 (off), not {value!r}\n", done.stderr
    assert done.stdout == ""


def test_styrkedja_traceback_0_and_1_are_taken() -> None:
    from styrkedja_cli.options import SettingRefused, switch_setting  # (new)

    assert [switch_setting("STYRKEDJA_TRACEBACK", {"STYRKEDJA_TRACEBACK": v}) for v in ("1", " 1 ", "0", "")] == \
        [True, True, False, False]
    assert switch_setting("STYRKEDJA_TRACEBACK", {}) is False
    with pytest.raises(SettingRefused):
        switch_setting("STYRKEDJA_TRACEBACK", {"STYRKEDJA_TRACEBACK": "1\n1"})


@pytest.mark.parametrize(("variable", "option", "value", "arguments"), [
    ("STYRKEDJA_REPORTING_URL", "--reporting-url", "http://", ["import", "ss12000", "--dir", "."]),
    ("STYRKEDJA_REPORTING_URL", "--reporting-url", "http://[::1", ["import", "ss12000", "--dir", "."]),
    ("STYRKEDJA_SS12000_TOKEN", "--token", "a b", ["import", "ss12000", "--url", "http://127.0.0.1:1"]),
    ("STYRKEDJA_REPORTING_TOKEN", "--reporting-token", "tök", ["import", "ss12000", "--dir", "."]),
    ("STYRKEDJA_REPORTING_URL", "--reporting-url", "notaurl", ["demo", "--students", "50"]),
    ("STYRKEDJA_LIKA_URL", "--lika-url", "http://", ["demo", "--students", "50"]),
])
def test_a_bad_value_from_the_environment_is_said_by_the_variable_s_name(variable: str, option: str, value: str,
                                                                         arguments: list[str]) -> None:
    """Failed on the old code: the option was named (`--reporting-url: an http:// or https:// URL ...`), which the
    user never typed."""
    done = _run(arguments, **{variable: value})
    said = " ".join(done.stderr.replace("│", " ").split())
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert variable in said and option not in said, said
    assert "Traceback" not in done.stderr


def test_the_option_given_is_still_named_as_the_option() -> None:
    done = _run(["import", "ss12000", "--dir", ".", "--reporting-url", "http://"], STYRKEDJA_REPORTING_URL="http://x")
    said = " ".join(done.stderr.replace("│", " ").split())
    assert done.returncode == 2 and "--reporting-url: an http:// or https:// URL" in said, said
    assert "STYRKEDJA_REPORTING_URL" not in said
