"""Generate the committed artefacts (JSON Schemas, AsyncAPI) and check them in CI.

``python -m styrkedja_contracts export`` writes

* ``schemas/<type>.json`` – JSON Schema (draft 2020-12) of each event's ``data``;
* ``schemas/envelope.json`` – the CloudEvents envelope;
* ``asyncapi.yaml`` – AsyncAPI 3.0 document of topics, producers and consumers.

``python -m styrkedja_contracts check`` regenerates them in memory and reports
(a) committed files that differ from the generated ones, (b) incompatible
changes of a published schema (see ``compat.compare_schemas``), (c) registry,
topic and example problems. With ``--base-ref REF`` the generated schemas are
also compared with the schemas committed at a git ref (e.g. the target
branch); with ``--history`` with every version of them in the git history
(what `make test` and CI run), so that an incompatible change cannot hide
behind a re-export.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from .compat import compare_schemas
from .envelope import Envelope, decode_event
from .errors import ContractError
from .registry import REGISTRY, SCHEMA_BASE_URI, EventRegistry, schema_uri
from .topics import TOPICS, Topic

__all__ = [
    "DEFAULT_ROOT",
    "ENVELOPE_SCHEMA_FILE",
    "JSON_SCHEMA_DIALECT",
    "generate_schemas",
    "generate_asyncapi",
    "render_json",
    "render_yaml",
    "export",
    "check",
]

DEFAULT_ROOT = Path(__file__).resolve().parents[2]
"""``packages/contracts`` (the package's source checkout)."""
ENVELOPE_SCHEMA_FILE = "envelope.json"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_FILE = "asyncapi.yaml"
_KAFKA_BINDING = "0.5.0"
_PACKAGE_VERSION = "0.1.0"


def render_json(doc: dict[str, Any]) -> str:
    """Stable, human-readable JSON used for every committed file."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render_yaml(doc: dict[str, Any]) -> str:
    return str(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100))


def generate_schemas(registry: EventRegistry = REGISTRY) -> dict[str, dict[str, Any]]:
    """File name → JSON Schema, for the envelope and every registered event type."""
    out: dict[str, dict[str, Any]] = {
        ENVELOPE_SCHEMA_FILE: {
            "$schema": JSON_SCHEMA_DIALECT,
            "$id": f"{SCHEMA_BASE_URI}{ENVELOPE_SCHEMA_FILE}",
            **Envelope.model_json_schema(),
        }
    }
    for event_type in sorted(registry.models):
        model = registry.models[event_type]
        out[f"{event_type}.json"] = {
            "$schema": JSON_SCHEMA_DIALECT,
            "$id": schema_uri(event_type),
            "x-event-type": event_type,
            **model.model_json_schema(),
        }
    return out


def _component_schemas(registry: EventRegistry) -> tuple[dict[str, Any], dict[str, str]]:
    components: dict[str, Any] = {}
    names: dict[str, str] = {}

    def add(name: str, schema: dict[str, Any]) -> None:
        if name in components and components[name] != schema:
            raise ValueError(f"two different schemas are both called {name!r}")
        components[name] = schema

    template = "#/components/schemas/{model}"
    envelope = Envelope.model_json_schema(ref_template=template)
    for name, sub in envelope.pop("$defs", {}).items():
        add(name, sub)
    add("CloudEvent", envelope)
    for event_type in sorted(registry.models):
        model = registry.models[event_type]
        schema = model.model_json_schema(ref_template=template)
        for name, sub in schema.pop("$defs", {}).items():
            add(name, sub)
        add(model.__name__, schema)
        names[event_type] = model.__name__
    return components, names


def generate_asyncapi(
    registry: EventRegistry = REGISTRY, topics: dict[str, Topic] = TOPICS
) -> dict[str, Any]:
    """AsyncAPI 3.0 document generated from the registry and the topic registry."""
    schemas, names = _component_schemas(registry)
    messages: dict[str, Any] = {}
    for event_type, name in names.items():
        model = registry.models[event_type]
        summary = (model.__doc__ or name).strip().splitlines()[0]
        messages[name] = {
            "name": event_type,
            "title": name,
            "summary": summary,
            "contentType": "application/cloudevents+json",
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/CloudEvent"},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": event_type},
                            "dataschema": {"const": schema_uri(event_type)},
                            "data": {"$ref": f"#/components/schemas/{name}"},
                        },
                    },
                ]
            },
            "bindings": {
                "kafka": {
                    "key": {"type": "string", "description": "organiser_id (huvudman) of the data"},
                    "bindingVersion": _KAFKA_BINDING,
                }
            },
        }

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in topics.values():
        channel_id = topic.name.removeprefix("styrkedja.")
        channel_messages = {
            names[t]: {"$ref": f"#/components/messages/{names[t]}"} for t in topic.event_types if t in names
        }
        channels[channel_id] = {
            "address": topic.name,
            "description": f"Keyed by {topic.key}. Producers: {', '.join(topic.producers)}; "
            f"consumers: {', '.join(topic.consumers) or 'none yet'}.",
            "messages": channel_messages,
            "bindings": {
                "kafka": {
                    "topic": topic.name,
                    "partitions": topic.partitions,
                    "bindingVersion": _KAFKA_BINDING,
                }
            },
        }
        refs = [{"$ref": f"#/channels/{channel_id}/messages/{m}"} for m in channel_messages]
        for action, services in (("send", topic.producers), ("receive", topic.consumers)):
            for service in services:
                operations[f"{service}_{action}_{channel_id}"] = {
                    "action": action,
                    "channel": {"$ref": f"#/channels/{channel_id}"},
                    "summary": f"{service} {'publishes to' if action == 'send' else 'consumes'} {topic.name}",
                    "messages": refs,
                }

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Styrkedja events",
            "version": _PACKAGE_VERSION,
            "description": "Event contracts between the Styrkedja services "
            "(CloudEvents 1.0, structured JSON mode). "
            "Generated by `python -m styrkedja_contracts export`; do not edit by hand. "
            "Every topic has a dead-letter topic per consumer group: styrkedja.dlq.<consumer_group>.",
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def export(root: Path = DEFAULT_ROOT, registry: EventRegistry = REGISTRY) -> list[Path]:
    """Write the schemas and the AsyncAPI document under ``root``; return the written paths."""
    schema_dir = root / "schemas"
    schema_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    generated = generate_schemas(registry)
    for name, schema in generated.items():
        path = schema_dir / name
        path.write_text(render_json(schema), encoding="utf-8")
        written.append(path)
    for stale in sorted(schema_dir.glob("*.json")):
        if stale.name not in generated:
            print(f"warning: {stale} is not generated any more (a published version was removed?)")
    path = root / ASYNCAPI_FILE
    path.write_text(render_yaml(generate_asyncapi(registry)), encoding="utf-8")
    written.append(path)
    return written


def _git_base_schemas(root: Path, base_ref: str) -> tuple[dict[str, dict[str, Any]], list[str]]:
    schema_dir = (root / "schemas").resolve()
    try:
        top = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        rel = schema_dir.relative_to(Path(top).resolve()).as_posix()
        listing = subprocess.run(
            ["git", "-C", top, "ls-tree", "--name-only", f"{base_ref}:{rel}"], capture_output=True, text=True
        )
    except (OSError, subprocess.CalledProcessError, ValueError) as exc:
        return {}, [f"cannot read schemas at {base_ref}: {exc}"]
    if listing.returncode != 0:  # no schemas at the base ref yet: nothing published
        return {}, []
    out: dict[str, dict[str, Any]] = {}
    for name in listing.stdout.split():
        if name.endswith(".json"):
            blob = subprocess.run(
                ["git", "-C", top, "show", f"{base_ref}:{rel}/{name}"], capture_output=True, text=True
            )
            if blob.returncode == 0:
                out[name] = json.loads(blob.stdout)
    return out, []


def _git_schema_history(root: Path) -> tuple[list[tuple[str, dict[str, dict[str, Any]]]], list[str]]:
    """Every commit that changed `schemas/`, with the schemas as they were committed there.

    A schema once committed to main is published; each later version must stay compatible
    with every earlier one, even when the files were re-exported in between."""
    try:
        top = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, check=True).stdout.strip()
        rel = (root / "schemas").resolve().relative_to(Path(top).resolve()).as_posix()
        commits = subprocess.run(["git", "-C", top, "log", "--format=%H", "--", rel], capture_output=True,
                                 text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError, ValueError) as exc:
        return [], [f"schema history not checked: not in a git checkout ({exc})"]
    history = []
    for commit in commits:
        schemas, errors = _git_base_schemas(root, commit)
        if errors:
            return [], errors
        history.append((commit[:12], schemas))
    return history, []


def _compare_published(
    published: dict[str, dict[str, Any]], generated: dict[str, Any], where: str
) -> list[str]:
    problems: list[str] = []
    for name, old in sorted(published.items()):
        if name not in generated:
            problems.append(f"{where}/{name}: published schema is no longer generated (version removed)")
            continue
        for issue in compare_schemas(old, generated[name]):
            problems.append(f"{where}/{name}: incompatible change: {issue}")
    return problems


def _check_registry(registry: EventRegistry, topics: dict[str, Topic]) -> list[str]:
    problems: list[str] = []
    carried = {t for topic in topics.values() for t in topic.event_types}
    for event_type in sorted(registry.models):
        if event_type not in carried:
            problems.append(f"registry: {event_type} is not carried by any topic")
    for name, topic in topics.items():
        for t in topic.event_types:
            if t not in registry.models:
                problems.append(f"topics: {name} lists unregistered event type {t}")
    return problems


def _check_examples(root: Path, registry: EventRegistry) -> list[str]:
    problems: list[str] = []
    example_dir = root / "examples"
    for event_type in sorted(registry.models):
        path = example_dir / f"{event_type}.json"
        if not path.exists():
            problems.append(f"examples/{path.name}: missing example for {event_type}")
            continue
        try:
            event = decode_event(path.read_bytes(), registry=registry)
        except ContractError as exc:
            problems.append(f"examples/{path.name}: {exc}")
            continue
        if event.type != event_type:
            problems.append(f"examples/{path.name}: has type {event.type}, expected {event_type}")
    return problems


def check(
    root: Path = DEFAULT_ROOT,
    *,
    base_ref: str | None = None,
    history: bool = False,
    registry: EventRegistry = REGISTRY,
    topics: dict[str, Topic] = TOPICS,
) -> list[str]:
    """All problems found; an empty list means the contracts are consistent and compatible."""
    problems: list[str] = []
    generated = generate_schemas(registry)
    schema_dir = root / "schemas"
    committed: dict[str, dict[str, Any]] = {}
    for path in sorted(schema_dir.glob("*.json")) if schema_dir.is_dir() else []:
        try:
            committed[path.name] = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            problems.append(f"schemas/{path.name}: not valid JSON ({exc})")
    hint = "run `python -m styrkedja_contracts export` and commit the result"
    for name, schema in generated.items():
        if name not in committed:
            problems.append(f"schemas/{name}: missing; {hint}")
        elif committed[name] != schema:
            problems.append(f"schemas/{name}: differs from the models (not re-exported); {hint}")
    problems.extend(_compare_published(committed, generated, "schemas"))

    asyncapi_path = root / ASYNCAPI_FILE
    if not asyncapi_path.exists():
        problems.append(f"{ASYNCAPI_FILE}: missing; {hint}")
    else:
        try:
            committed_asyncapi = yaml.safe_load(asyncapi_path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            committed_asyncapi = None
            problems.append(f"{ASYNCAPI_FILE}: not valid YAML ({exc})")
        if committed_asyncapi is not None and committed_asyncapi != generate_asyncapi(registry, topics):
            problems.append(f"{ASYNCAPI_FILE}: differs from the models and topics; {hint}")

    if base_ref:
        base, errors = _git_base_schemas(root, base_ref)
        problems.extend(errors)
        problems.extend(_compare_published(base, generated, f"{base_ref}:schemas"))
    if history:
        versions, errors = _git_schema_history(root)
        problems.extend(errors)
        for commit, schemas in versions:
            problems.extend(_compare_published(schemas, generated, f"{commit}:schemas"))

    problems.extend(_check_registry(registry, topics))
    problems.extend(_check_examples(root, registry))
    return problems
