"""The committed schemas, AsyncAPI document and examples match the models (the CI check)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from styrkedja_contracts import EVENT_MODELS, TOPICS, example_bytes
from styrkedja_contracts.__main__ import main
from styrkedja_contracts.export import DEFAULT_ROOT, check, export, generate_asyncapi, generate_schemas


def test_check_passes_on_committed_files() -> None:
    assert check(DEFAULT_ROOT) == []


def test_cli_check_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    assert "passed" in capsys.readouterr().out


@pytest.fixture
def copy_root(tmp_path: Path) -> Path:
    root = tmp_path / "contracts"
    for name in ("schemas", "examples"):
        shutil.copytree(DEFAULT_ROOT / name, root / name)
    shutil.copy(DEFAULT_ROOT / "asyncapi.yaml", root / "asyncapi.yaml")
    assert check(root) == []
    return root


def edit_schema(root: Path, event_type: str, fn: Any) -> None:
    path = root / "schemas" / f"{event_type}.json"
    doc = json.loads(path.read_text())
    fn(doc)
    path.write_text(json.dumps(doc, indent=2))


def test_export_writes_everything(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--root", str(tmp_path)]) == 0
    names = {p.name for p in (tmp_path / "schemas").iterdir()}
    assert names == {"envelope.json", *(f"{t}.json" for t in EVENT_MODELS)}
    assert (tmp_path / "asyncapi.yaml").exists()
    for name in names:
        assert (tmp_path / "schemas" / name).read_text() == (DEFAULT_ROOT / "schemas" / name).read_text()
    assert (tmp_path / "asyncapi.yaml").read_text() == (DEFAULT_ROOT / "asyncapi.yaml").read_text()


def test_check_detects_stale_compatible_schema(copy_root: Path) -> None:
    # The committed file lacks the optional 'reason' field: compatible, but not re-exported.
    def drop_reason(doc: dict[str, Any]) -> None:
        del doc["properties"]["reason"]

    edit_schema(copy_root, "se.styrkedja.assessment.retracted.v1", drop_reason)
    problems = check(copy_root)
    assert problems == [
        "schemas/se.styrkedja.assessment.retracted.v1.json: differs from the models (not re-exported); "
        "run `python -m styrkedja_contracts export` and commit the result"
    ]


def test_check_detects_incompatible_change(copy_root: Path) -> None:
    # As if the model had lost 'late' and narrowed 'revision' against the published schema.
    def published_differently(doc: dict[str, Any]) -> None:
        doc["properties"]["late_reason"] = {"type": "string"}
        doc["properties"]["revision"]["minimum"] = 0

    edit_schema(copy_root, "se.styrkedja.forecast.submitted.v1", published_differently)
    problems = check(copy_root)
    name = "schemas/se.styrkedja.forecast.submitted.v1.json"
    assert f"{name}: incompatible change: late_reason: field removed" in problems
    assert f"{name}: incompatible change: revision: constraint narrowed: minimum 0 -> 1" in problems


def test_check_detects_removed_version_and_missing_files(copy_root: Path) -> None:
    (copy_root / "schemas" / "se.styrkedja.assessment.published.v0.json").write_text('{"type": "object"}')
    (copy_root / "schemas" / "envelope.json").unlink()
    (copy_root / "examples" / "se.styrkedja.lika.self_assessment_published.v1.json").unlink()
    (copy_root / "asyncapi.yaml").write_text("asyncapi: 3.0.0\n")
    problems = "\n".join(check(copy_root))
    assert "se.styrkedja.assessment.published.v0.json: published schema is no longer generated" in problems
    assert "schemas/envelope.json: missing" in problems
    assert "examples/se.styrkedja.lika.self_assessment_published.v1.json: missing example" in problems
    assert "asyncapi.yaml: differs" in problems


def test_check_detects_broken_example(copy_root: Path) -> None:
    path = copy_root / "examples" / "se.styrkedja.forecast.withdrawn.v1.json"
    doc = json.loads(path.read_text())
    doc["data"]["revision"] = 1
    path.write_text(json.dumps(doc))
    assert check(copy_root) == [
        "examples/se.styrkedja.forecast.withdrawn.v1.json: invalid_data: data.revision: "
        "Input should be greater than or equal to 2"
    ]


def test_cli_check_fails_with_message(copy_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (copy_root / "asyncapi.yaml").unlink()
    assert main(["check", "--root", str(copy_root)]) == 1
    err = capsys.readouterr().err
    assert "asyncapi.yaml: missing" in err and "1 problem(s)" in err


def test_check_against_git_base_ref(copy_root: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    git = ["git", "-C", str(copy_root), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "published"], check=True)
    assert check(copy_root, base_ref="HEAD") == []

    # Published at HEAD with an extra enum value; then "re-exported" without it: the working tree
    # matches the models, but the change against the base ref is incompatible.
    def add_gender(doc: dict[str, Any]) -> None:
        doc["$defs"]["Gender"]["enum"].append("other")

    edit_schema(copy_root, "se.styrkedja.assessment.published.v1", add_gender)
    subprocess.run([*git, "commit", "-q", "-am", "published with other"], check=True)
    export(copy_root)
    problems = check(copy_root, base_ref="HEAD")
    assert problems == [
        "HEAD:schemas/se.styrkedja.assessment.published.v1.json: incompatible change: "
        "gender: enum value removed: other"
    ]


@pytest.mark.parametrize("event_type", sorted(EVENT_MODELS))
def test_examples_validate_against_committed_json_schema(event_type: str) -> None:
    doc = json.loads(example_bytes(event_type))
    envelope_schema = json.loads((DEFAULT_ROOT / "schemas" / "envelope.json").read_text())
    data_schema = json.loads((DEFAULT_ROOT / "schemas" / f"{event_type}.json").read_text())
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    jsonschema.Draft202012Validator(envelope_schema, format_checker=checker).validate(doc)
    jsonschema.Draft202012Validator(data_schema, format_checker=checker).validate(doc["data"])
    assert doc["dataschema"] == data_schema["$id"]


def test_schemas_are_valid_json_schema() -> None:
    for name, s in generate_schemas().items():
        jsonschema.Draft202012Validator.check_schema(s)
        assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema", name


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_asyncapi_document() -> None:
    doc = yaml.safe_load((DEFAULT_ROOT / "asyncapi.yaml").read_text())
    assert doc == generate_asyncapi()
    assert doc["asyncapi"] == "3.0.0"
    addresses = {c["address"] for c in doc["channels"].values()}
    assert addresses == set(TOPICS)
    for topic in TOPICS.values():
        channel_id = topic.name.removeprefix("styrkedja.")
        for producer in topic.producers:
            assert doc["operations"][f"{producer}_send_{channel_id}"]["action"] == "send"
        for consumer in topic.consumers:
            assert doc["operations"][f"{consumer}_receive_{channel_id}"]["action"] == "receive"
    refs: list[str] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node["$ref"])
            for v in node.values():
                collect(v)
        elif isinstance(node, list):
            for v in node:
                collect(v)

    collect(doc)
    assert refs
    for ref in refs:
        assert ref.startswith("#/")
        assert _resolve(doc, ref) is not None, ref
    messages = {m["name"] for m in doc["components"]["messages"].values()}
    assert messages == set(EVENT_MODELS)


def test_history_catches_a_breaking_change_hidden_behind_a_re_export(tmp_path):
    """A field removed from a published schema fails the check even after `export` rewrote the
    file: every version in the git history is compared, not only the committed one."""
    import json
    import shutil
    import subprocess

    from styrkedja_contracts.export import DEFAULT_ROOT, check

    for part in ("schemas", "examples"):
        shutil.copytree(DEFAULT_ROOT / part, tmp_path / part)
    shutil.copy(DEFAULT_ROOT / "asyncapi.yaml", tmp_path / "asyncapi.yaml")
    name = "se.styrkedja.assessment.published.v1.json"
    current = json.loads((tmp_path / "schemas" / name).read_text())
    published = json.loads(json.dumps(current))
    published["properties"]["legacy_note"] = {"type": "string"}  # a field consumers may rely on

    def commit(message: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), "add", "-A"], check=True)
        subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm",
                        message], check=True)

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "schemas" / name).write_text(json.dumps(published))
    commit("v1 published")
    (tmp_path / "schemas" / name).write_text(json.dumps(current))
    commit("field removed and re-exported")

    assert not [p for p in check(tmp_path) if "incompatible" in p], "without history the re-export hides it"
    problems = [p for p in check(tmp_path, history=True) if "incompatible" in p]
    assert problems and all(name in p for p in problems) and any("legacy_note" in p for p in problems)
