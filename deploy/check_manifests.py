"""Check that docker-compose.yml and deploy/k8s agree with the code they deploy.

    .venv/bin/python deploy/check_manifests.py

The topic list, the partition counts, who produces and who consumes which topic live in the
contracts registry (packages/contracts/.../topics.py); the services, their packages and ports in
the devstack (packages/devstack/.../services.py). The manifests repeat some of that, because
YAML cannot import Python: this script fails when they drift apart. It needs no cluster and no
Docker engine, only the project's venv (PyYAML and the project's packages).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import jsonschema
import yaml

from styrkedja_contracts import TOPICS, dead_letter_topic
from styrkedja_devstack.apache_kafka import kafka_version
from styrkedja_devstack.services import SERVICES
from styrkedja_kit.outbox import marker_group

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
STRIMZI_SCHEMA = ROOT / "deploy" / "schemas" / "strimzi-v1.schema.json"
CONSUMER_GROUP = "reporting"  # reporting's STYRKEDJA_CONSUMER_GROUP in compose and k8s

failures: list[str] = []


def check(condition: bool, message: str) -> None:
    if not condition:
        failures.append(message)


def load_all(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def k8s_resources() -> list[tuple[Path, dict]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = [K8S / p for p in kustomization["resources"]]
    on_disk = {p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml" and "examples" not in p.parts}
    for path in sorted(on_disk - set(listed)):
        check(False, f"k8s: {path.relative_to(ROOT)} is not listed in kustomization.yaml")
    resources = []
    for path in listed:
        check(path.exists(), f"k8s: kustomization.yaml lists missing {path.relative_to(ROOT)}")
        if path.exists():
            resources += [(path, doc) for doc in load_all(path)]
    return resources


def check_topics(by_kind: dict[str, list[dict]]) -> None:
    expected = {name: topic.partitions for name, topic in TOPICS.items()}
    expected[dead_letter_topic(CONSUMER_GROUP)] = 1
    declared = {t["spec"].get("topicName", t["metadata"]["name"]): t["spec"]["partitions"]
                for t in by_kind.get("KafkaTopic", [])}
    check(declared == expected, f"k8s: KafkaTopics {declared} != registry {expected}")
    for t in by_kind.get("KafkaTopic", []):
        check(t["spec"].get("replicas") == 3, f"k8s: topic {t['metadata']['name']} must have 3 replicas")

    # reporting's autoscaler: no more members than a consumed topic has partitions
    hpa = next((h for h in by_kind.get("HorizontalPodAutoscaler", [])
                if h["spec"]["scaleTargetRef"]["name"] == "reporting"), None)
    check(hpa is not None, "k8s: no HorizontalPodAutoscaler for reporting")
    if hpa:
        ceiling = min(t.partitions for t in TOPICS.values() if "reporting" in t.consumers)
        check(hpa["spec"]["maxReplicas"] <= ceiling,
              f"k8s: reporting maxReplicas {hpa['spec']['maxReplicas']} > partitions per topic {ceiling}")


def check_strimzi_schema(resources: list[tuple[Path, dict]]) -> None:
    """Every Strimzi resource (the base and the example cluster) against the schema shipped in the repo."""
    import json

    validator = jsonschema.Draft202012Validator(json.loads(STRIMZI_SCHEMA.read_text()))
    examples = [(p, d) for p in sorted((K8S / "examples").glob("*.yaml")) for d in load_all(p)]
    for path, doc in resources + examples:
        if not str(doc.get("apiVersion", "")).startswith("kafka.strimzi.io/"):
            continue
        for error in validator.iter_errors(doc):
            where = "/".join(str(p) for p in error.absolute_path)
            check(False, f"k8s: {path.relative_to(ROOT)} {doc['kind']} {doc['metadata'].get('name')} "
                         f"at {where or '/'}: {error.message}")
    for t in [d for _, d in resources if d.get("kind") == "KafkaTopic"]:
        check(int(t["spec"]["config"]["min.insync.replicas"]) < t["spec"]["replicas"],
              f"k8s: topic {t['metadata']['name']}: min.insync.replicas must be below replicas "
              "(one broker may be down without stopping acks=all producers)")


def acl_ops(user: dict) -> dict[tuple[str, str, str], set[str]]:
    ops: dict[tuple[str, str, str], set[str]] = {}
    for acl in user["spec"]["authorization"]["acls"]:
        r = acl["resource"]
        key = (r["type"], r["name"], r.get("patternType", "literal"))
        ops.setdefault(key, set()).update(acl["operations"])
    return ops


def check_users(by_kind: dict[str, list[dict]]) -> None:
    users = {u["metadata"]["name"]: u for u in by_kind.get("KafkaUser", [])}
    for spec in SERVICES:
        user = users.get(f"styrkedja-{spec.name}")
        check(user is not None, f"k8s: no KafkaUser styrkedja-{spec.name}")
        if not user:
            continue
        ops = acl_ops(user)
        may_write = {n for (kind, n, pattern), o in ops.items() if kind == "topic" and "Write" in o}
        may_read = {n for (kind, n, pattern), o in ops.items() if kind == "topic" and "Read" in o}
        must_write = {n for n, t in TOPICS.items() if spec.name in t.producers}
        must_read = {n for n, t in TOPICS.items() if spec.name in t.consumers}
        if must_read:
            must_write.add(dead_letter_topic(CONSUMER_GROUP))
            check("Read" in ops.get(("group", CONSUMER_GROUP, "literal"), set()),
                  f"k8s: styrkedja-{spec.name} needs Read on group {CONSUMER_GROUP}")
        if must_write:
            group = marker_group(spec.name)
            check("Read" in ops.get(("group", group, "literal"), set()),
                  f"k8s: styrkedja-{spec.name} needs Read on group {group} (outbox relay markers)")
        check(may_write == must_write, f"k8s: styrkedja-{spec.name} writes {sorted(may_write)}, "
                                       f"the registry says {sorted(must_write)}")
        check(may_read == must_read, f"k8s: styrkedja-{spec.name} reads {sorted(may_read)}, "
                                     f"the registry says {sorted(must_read)}")
        check(user["spec"]["authentication"]["type"] == "scram-sha-512",
              f"k8s: styrkedja-{spec.name} must authenticate with scram-sha-512")


def named(by_kind: dict[str, list[dict]], kind: str, name: str) -> dict | None:
    return next((d for d in by_kind.get(kind, []) if d["metadata"]["name"] == name), None)


def secret_refs(pod_spec: dict) -> set[str]:
    refs = set()
    for container in pod_spec.get("initContainers", []) + pod_spec["containers"]:
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                refs.add(ref["name"])
    return refs


#: text compared in code point order by memcmp, not libc's strcoll (PostgreSQL 17+; CNPG's initdb fields): the
#: devstack's databases are made so too (styrkedja_devstack.postgres.BUILTIN_COLLATION)
BUILTIN_COLLATION = {"localeProvider": "builtin", "builtinLocale": "C.UTF-8"}
COMPOSE_COLLATION = "TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER builtin BUILTIN_LOCALE 'C.UTF-8'"


def check_service_resources(by_kind: dict[str, list[dict]]) -> None:
    for spec in SERVICES:
        name, package = spec.name, spec.package
        cluster = named(by_kind, "Cluster", f"{name}-db")
        check(cluster is not None, f"k8s: no CNPG Cluster {name}-db")
        if cluster:
            initdb = cluster["spec"]["bootstrap"]["initdb"]
            check(initdb == {"database": package, "owner": package, **BUILTIN_COLLATION},
                  f"k8s: {name}-db must create database and owner {package}, collated by the builtin C.UTF-8")
            check(cluster["spec"]["instances"] == 3, f"k8s: {name}-db must have 3 instances")

        deployment = named(by_kind, "Deployment", name)
        job = named(by_kind, "Job", f"{name}-migrate")
        service = named(by_kind, "Service", name)
        pdb = named(by_kind, "PodDisruptionBudget", name)
        for kind, doc in (("Deployment", deployment), ("Job", job), ("Service", service),
                          ("PodDisruptionBudget", pdb)):
            check(doc is not None, f"k8s: no {kind} for {name}")
        if not (deployment and job and service and pdb):
            continue
        pod = deployment["spec"]["template"]["spec"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        for what, selector in (("Service", service["spec"]["selector"]),
                               ("PodDisruptionBudget", pdb["spec"]["selector"]["matchLabels"]),
                               ("Deployment", deployment["spec"]["selector"]["matchLabels"])):
            check(selector.items() <= labels.items(), f"k8s: {name} {what} selector does not match its pods")
        job_labels = job["spec"]["template"]["metadata"]["labels"]
        check(not service["spec"]["selector"].items() <= job_labels.items(),
              f"k8s: {name} Service would also select the migration Job's pod")
        check(secret_refs(pod) == {f"{name}-db-app", f"styrkedja-{name}"},
              f"k8s: {name} Deployment secrets {sorted(secret_refs(pod))}")
        check(secret_refs(job["spec"]["template"]["spec"]) == {f"{name}-db-app"},
              f"k8s: {name}-migrate must read only {name}-db-app")
        images = {c["image"].split(":")[0] for c in pod["containers"] + pod.get("initContainers", [])}
        images |= {c["image"].split(":")[0] for c in job["spec"]["template"]["spec"]["containers"]}
        check(images == {f"styrkedja/{name}"}, f"k8s: {name} uses images {sorted(images)}")
        check(job["spec"]["template"]["spec"]["containers"][0]["command"][-2:] == ["migrate", package],
              f"k8s: {name}-migrate must run `migrate {package}`")
        expected_replicas = None if name == "reporting" else 2  # reporting: the HPA decides
        check(deployment["spec"].get("replicas") == expected_replicas,
              f"k8s: {name} replicas {deployment['spec'].get('replicas')}")
        for container in pod["containers"]:
            probes = {p: container.get(p, {}).get("httpGet", {}).get("path")
                      for p in ("startupProbe", "livenessProbe", "readinessProbe")}
            wanted = {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
            check(probes == wanted, f"k8s: {name} probes {probes}")
            # /metrics on a port of its own (round 30o): the ServiceMonitor's, never the API's
            ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
            check(ports == {"http": 8000, "metrics": 9100}, f"k8s: {name} container ports {ports}")
            check(container["securityContext"].get("readOnlyRootFilesystem") is True,
                  f"k8s: {name} must run with a read-only root filesystem")
        check({p["name"] for p in service["spec"]["ports"]} == {"http", "metrics"},
              f"k8s: {name} Service must name its ports `http` and `metrics`")
        check(pod["securityContext"].get("runAsNonRoot") is True, f"k8s: {name} must run as non-root")


def check_compose() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    init_sql = (ROOT / "deploy" / "compose" / "postgres-init.sql").read_text()
    for spec in SERVICES:
        name, package = spec.name, spec.package
        svc, migrate = services.get(name), services.get(f"migrate-{name}")
        check(svc is not None and migrate is not None, f"compose: {name} or migrate-{name} missing")
        if not (svc and migrate):
            continue
        check(any(str(p).endswith(f":{spec.port}:8000") for p in svc.get("ports", [])),
              f"compose: {name} must publish host port {spec.port}")
        condition = svc["depends_on"].get(f"migrate-{name}", {}).get("condition")
        check(condition == "service_completed_successfully", f"compose: {name} must wait for migrate-{name}")
        check(migrate["command"][-2:] == ["migrate", package],
              f"compose: migrate-{name} must migrate {package}")
        check(svc["image"] == migrate["image"], f"compose: migrate-{name} must use {name}'s image")
        url_pattern = rf"postgresql\+asyncpg://{package}:[^@]+@postgres:5432/{package}"
        for env in (svc["environment"], migrate["environment"]):
            check(re.fullmatch(url_pattern, env["STYRKEDJA_DATABASE_URL"]) is not None,
                  f"compose: {name} database URL must use user and database {package}")
        check(f"CREATE DATABASE {package} OWNER {package}\n    {COMPOSE_COLLATION};" in init_sql,
              f"compose: postgres-init.sql must create {package} owned by {package}, collated by the builtin C.UTF-8")
    kafka = services.get("kafka", {})
    image = str(kafka.get("image", ""))
    check(image == f"apache/kafka:{kafka_version()}",
          f"compose: kafka image {image!r} must be apache/kafka:{kafka_version()}, the devstack's pinned version")
    env = kafka.get("environment", {})
    check(env.get("KAFKA_PROCESS_ROLES") == "broker,controller", "compose: kafka must be one KRaft broker+controller")
    check(str(env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE")) == "false",
          "compose: kafka must not auto-create topics (the devstack's Apache Kafka does not either)")
    topic_init = services.get("topic-init", {})
    check(topic_init.get("command", [])[-3:] == ["topics", "--dead-letter-group", CONSUMER_GROUP],
          "compose: topic-init must create the registry's topics and reporting's dead-letter topic")


def check_metrics(by_kind: dict[str, list[dict]]) -> None:
    """/metrics where Prometheus scrapes it and nowhere else (round 30o): the services serve it on the port the shared
    settings name (the containers' `metrics` port), the ServiceMonitor scrapes that port, the API's none."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    common = {literal.partition("=")[0]: literal.partition("=")[2]
              for generator in kustomization.get("configMapGenerator", []) if generator["name"] == "styrkedja-common"
              for literal in generator.get("literals", [])}
    check(common.get("STYRKEDJA_METRICS_PORT") == "9100" and "STYRKEDJA_METRICS_ON_APP_PORT" not in common,
          "k8s: styrkedja-common must set STYRKEDJA_METRICS_PORT=9100 (the containers' `metrics` port), not "
          "STYRKEDJA_METRICS_ON_APP_PORT")
    endpoints = [e.get("port") for m in by_kind.get("ServiceMonitor", []) for e in m["spec"]["endpoints"]]
    check(endpoints == ["metrics"], f"k8s: the ServiceMonitor scrapes ports {endpoints}, not `metrics` alone")
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env = compose["x-service-env"]
    check(str(env.get("STYRKEDJA_METRICS_PORT")) == "9100" and "STYRKEDJA_METRICS_ON_APP_PORT" not in env,
          "compose: the services' metrics belong on STYRKEDJA_METRICS_PORT, never the published API port")
    # several uvicorn workers share their metrics through files (kit `workers_metrics`): in a directory each
    # supervisor's start makes afresh under STYRKEDJA_METRICS_DIR (default /tmp/styrkedja-metrics), which needs a
    # writable /tmp on a read-only root; a PROMETHEUS_MULTIPROC_DIR of the manifests would be one no start wipes
    for spec in SERVICES:
        service = compose["services"].get(spec.name, {})
        environment = service.get("environment", {})
        check("PROMETHEUS_MULTIPROC_DIR" not in environment,
              f"compose: {spec.name} must not set PROMETHEUS_MULTIPROC_DIR (nothing wipes it between starts; the "
              "workers make their own directory under STYRKEDJA_METRICS_DIR)")
        if int(environment.get("WEB_CONCURRENCY", 1)) > 1 and service.get("read_only"):
            check("/tmp" in service.get("tmpfs", []) and str(environment.get("STYRKEDJA_METRICS_DIR", "/tmp"))
                  .startswith("/tmp"), f"compose: {spec.name} runs several workers on a read-only root: their metrics "
                  "files need the /tmp tmpfs (STYRKEDJA_METRICS_DIR under it)")
    for deployment in by_kind.get("Deployment", []):
        for container in deployment["spec"]["template"]["spec"].get("containers", []):
            values = {e["name"]: e.get("value") for e in container.get("env", [])}
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            check("PROMETHEUS_MULTIPROC_DIR" not in values and "PROMETHEUS_MULTIPROC_DIR" not in common,
                  f"k8s: {container['name']} must not set PROMETHEUS_MULTIPROC_DIR")
            if int(values.get("WEB_CONCURRENCY") or 1) > 1:
                check("/tmp" in mounts, f"k8s: {container['name']} runs several workers: their metrics files need "
                      "/tmp mounted (an emptyDir)")


def main() -> int:
    resources = k8s_resources()
    by_kind: dict[str, list[dict]] = {}
    for _, doc in resources:
        by_kind.setdefault(doc["kind"], []).append(doc)
    check_strimzi_schema(resources)
    check_topics(by_kind)
    check_users(by_kind)
    check_service_resources(by_kind)
    check_metrics(by_kind)
    check_compose()
    for failure in failures:
        print(f"FAIL {failure}")
    print(f"{len(resources)} Kubernetes resources and docker-compose.yml checked: "
          f"{'OK' if not failures else f'{len(failures)} problem(s)'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
