"""The deployment files agree with the code: topics and partitions from the contracts registry,
one database and user per service, ports and probes (see deploy/check_manifests.py)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

CHECKER = Path(__file__).resolve().parents[1] / "deploy" / "check_manifests.py"


def test_manifests_agree_with_the_registry_and_the_services(capsys):
    checker = runpy.run_path(str(CHECKER))
    assert checker["main"]() == 0, capsys.readouterr().out


def test_kafka_connection_options_carry_tls_and_scram_only_when_asked():
    from styrkedja_kit.kafka import connection_options
    from styrkedja_kit.settings import ServiceSettings

    plain = connection_options(ServiceSettings(kafka_bootstrap_servers="k:9092"))
    assert plain == {"bootstrap_servers": "k:9092", "security_protocol": "PLAINTEXT"}
    secure = connection_options(ServiceSettings(
        kafka_bootstrap_servers="k:9093", kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username="assessment", kafka_sasl_password="s3cret"))
    assert secure["sasl_plain_username"] == "assessment" and secure["sasl_plain_password"] == "s3cret"
    assert secure["sasl_mechanism"] == "SCRAM-SHA-512" and secure["ssl_context"] is not None
    assert "s3cret" not in repr(ServiceSettings(kafka_sasl_password="s3cret")), "secrets must not reach logs"


@pytest.mark.parametrize("url", ["postgresql://u:p@db:5432/x", "postgres://u:p@db:5432/x"])
def test_plain_postgres_uris_get_the_asyncpg_driver(url):
    from styrkedja_kit.settings import ServiceSettings

    assert ServiceSettings(database_url=url).database_url == "postgresql+asyncpg://u:p@db:5432/x"


def _strimzi_errors(doc: dict) -> list[str]:
    import json

    import jsonschema

    schema = json.loads((CHECKER.parent / "schemas" / "strimzi-v1.schema.json").read_text())
    return [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(doc)]


def test_the_strimzi_schema_rejects_typos_the_operator_would_ignore():
    import yaml

    topics = [d for d in yaml.safe_load_all((CHECKER.parent / "k8s" / "kafka" / "topics.yaml").read_text()) if d]
    users = [d for d in yaml.safe_load_all((CHECKER.parent / "k8s" / "kafka" / "users.yaml").read_text()) if d]
    assert not _strimzi_errors(topics[0]) and not _strimzi_errors(users[0])
    typo = {**topics[0], "spec": {**topics[0]["spec"], "partitons": 6}}
    assert _strimzi_errors(typo), "an unknown KafkaTopic field must fail"
    no_isr = {**topics[0], "spec": {**topics[0]["spec"], "config": {"retention.ms": "1"}}}
    assert _strimzi_errors(no_isr), "a topic without min.insync.replicas must fail"
    acl = users[0]["spec"]["authorization"]["acls"][0]
    bad_user = {**users[0], "spec": {**users[0]["spec"], "authorization": {
        "type": "simple", "acls": [{**acl, "operations": ["Writ"]}]}}}
    assert _strimzi_errors(bad_user), "an unknown ACL operation must fail"


def test_docker_compose_config_accepts_the_file():
    import shutil
    import subprocess

    docker = shutil.which("docker")
    if not docker or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("no `docker compose` client here (the offline checks above still ran)")
    root = CHECKER.parents[1]
    result = subprocess.run([docker, "compose", "-f", str(root / "docker-compose.yml"), "config", "--quiet"],
                            capture_output=True, text=True, cwd=root)
    assert result.returncode == 0, result.stderr


# -- images: one shared base, one thin Dockerfile per service -------------------------------------------

BASE_DOCKERFILE = "deploy/docker/python-base.Dockerfile"


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments left out."""
    joined, out = text.replace("\\\n", " "), []
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
    return out


def _ignored(path: str, patterns: list[str]) -> bool:
    import fnmatch

    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        bare = pattern.removeprefix("**/")
        for prefix in prefixes:
            if fnmatch.fnmatch(prefix, pattern) or (bare != pattern and fnmatch.fnmatch(prefix.split("/")[-1], bare)):
                return True
    return False


def _image_problems(root: Path, compose: dict, dockerfiles: dict[str, str]) -> list[str]:
    """What would break `docker compose build` or split the shared layers, read without an engine."""
    problems: list[str] = []
    ignore = [line.strip() for line in (root / ".dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    services = compose["services"]
    base_stages = {args.split()[-1] for word, args in _instructions(dockerfiles[BASE_DOCKERFILE])
                   if word == "FROM" and " AS " in args.upper()}
    for name, service in services.items():
        build = service.get("build")
        if not build:
            continue
        dockerfile = build["dockerfile"]
        if dockerfile == BASE_DOCKERFILE:
            if build.get("target") not in base_stages:
                problems.append(f"{name}: target {build.get('target')!r} is no stage of {BASE_DOCKERFILE}")
            if service.get("deploy", {}).get("replicas") != 0:
                problems.append(f"{name}: a build-only base must have `deploy: {{replicas: 0}}`")
            continue
        if not dockerfile.startswith(f"services/{name}/"):
            problems.append(f"{name}: builds {dockerfile}, not its own services/{name}/Dockerfile")
        contexts = build.get("additional_contexts", {})
        for word, args in _instructions(dockerfiles[dockerfile]):
            if word == "FROM":
                image = args.split()[0]
                if image.startswith("styrkedja-"):
                    ref = contexts.get(image, "")
                    base = services.get(ref.removeprefix("service:"), {}).get("build", {})
                    if not ref.startswith("service:") or base.get("dockerfile") != BASE_DOCKERFILE:
                        problems.append(f"{name}: FROM {image} is not a named context on a base service")
                elif not image.startswith("${"):
                    problems.append(f"{name}: FROM {image}: start from the shared stages instead")
    for path, text in dockerfiles.items():
        stage_args: set[str] = set()
        for word, args in _instructions(text):
            if word == "FROM":
                stage_args = set()
            elif word == "ARG":
                stage_args.add(args.split("=")[0])
            elif word == "RUN" and "pip install" in args and "PIP_INDEX_URL" not in stage_args:
                problems.append(f"{path}: a stage runs pip without ARG PIP_INDEX_URL (a mirror would not reach it)")
            elif word == "COPY" and "--from=" not in args:
                for source in args.split()[:-1]:
                    if not (root / source).exists() or _ignored(source, ignore):
                        problems.append(f"{path}: COPY {source} is missing or excluded by .dockerignore")
    return problems


def test_every_image_builds_on_the_shared_stages_and_copies_only_what_the_context_sends():
    import yaml

    root = CHECKER.parents[1]
    compose = yaml.safe_load((root / "docker-compose.yml").read_text())
    paths = [BASE_DOCKERFILE, *(str(p.relative_to(root)) for p in sorted(root.glob("services/*/Dockerfile")))]
    dockerfiles = {path: (root / path).read_text() for path in paths}
    assert len(dockerfiles) == 6
    assert _image_problems(root, compose, dockerfiles) == []
    built = {name for name, service in compose["services"].items() if service.get("build")}
    assert built == {"base-build", "base-runtime", "assessment", "forecast", "lika", "reporting", "dashboard"}

    # and the check sees what would break the build
    own = "services/lika/Dockerfile"
    broken = {**dockerfiles, own: dockerfiles[own].replace("FROM styrkedja-runtime", "FROM python:3.11-slim")}
    assert _image_problems(root, compose, broken) == [
        "lika: FROM python:3.11-slim: start from the shared stages instead"]
    broken = {**dockerfiles, own: dockerfiles[own].replace("COPY services/lika", "COPY bench")}
    assert _image_problems(root, compose, broken) == [
        f"{own}: COPY bench is missing or excluded by .dockerignore"]
    broken = {**dockerfiles, own: dockerfiles[own].replace("ARG PIP_INDEX_URL\n", "")}
    assert len(_image_problems(root, compose, broken)) == 1
    unordered = yaml.safe_load((root / "docker-compose.yml").read_text())
    del unordered["services"]["lika"]["build"]["additional_contexts"]
    assert _image_problems(root, compose=unordered, dockerfiles=dockerfiles) == [
        "lika: FROM styrkedja-build is not a named context on a base service",
        "lika: FROM styrkedja-runtime is not a named context on a base service"]
