"""Compatibility check between a published JSON Schema and a new one.

A new schema is compatible with a published one when every event that was
valid under the old schema is still valid under the new one, and no field
disappears. Breaking changes:

* a field removed;
* a new required field, or an optional field made required;
* a type changed (an old type no longer accepted);
* an enum value removed (or an enum/const added to a free value);
* a constraint narrowed: a higher ``minimum``/``minLength``/``minItems``, a
  lower ``maximum``/``maxLength``/``maxItems``, a new or changed ``pattern``/
  ``format``/``multipleOf``, ``uniqueItems`` switched on, additional
  properties no longer allowed.

Compatible: adding an optional field, adding an enum value, widening a
constraint or a type, changing titles, descriptions and defaults.

Local ``$ref`` (``#/$defs/...``) are resolved against each schema's own root.
"""

from __future__ import annotations

from typing import Any

__all__ = ["compare_schemas"]

_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_EXACT = ("pattern", "format", "multipleOf")
_MAX_DEPTH = 64


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class _Comparer:
    def __init__(self, old_root: dict[str, Any], new_root: dict[str, Any]) -> None:
        self.roots = (old_root, new_root)

    # -- schema helpers -------------------------------------------------
    def _resolve(self, schema: Any, side: int) -> dict[str, Any]:
        if schema is True or schema is None:
            return {}
        if schema is False:
            return {"not": {}}
        seen = 0
        while "$ref" in schema or ("allOf" in schema and len(schema) >= 1):
            seen += 1
            if seen > _MAX_DEPTH:
                break
            if "$ref" in schema:
                ref = schema["$ref"]
                target = self._pointer(ref, side)
                rest = {k: v for k, v in schema.items() if k != "$ref"}
                schema = {**target, **rest}
            else:
                merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
                for part in schema["allOf"]:
                    part = self._resolve(part, side)
                    for k, v in part.items():
                        merged.setdefault(k, v)
                schema = merged
        resolved: dict[str, Any] = schema
        return resolved

    def _pointer(self, ref: str, side: int) -> dict[str, Any]:
        if not ref.startswith("#"):
            raise ValueError(f"only local $ref are supported, got {ref!r}")
        node: Any = self.roots[side]
        for part in ref[1:].split("/"):
            if part:
                node = node[part.replace("~1", "/").replace("~0", "~")]
        target: dict[str, Any] = node
        return target

    def _branches(self, schema: Any, side: int) -> list[dict[str, Any]]:
        schema = self._resolve(schema, side)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                out: list[dict[str, Any]] = []
                for branch in schema[key]:
                    out.extend(self._branches(branch, side))
                return out
        if isinstance(schema.get("type"), list):
            return [{**schema, "type": t} for t in schema["type"]]
        return [schema]

    @staticmethod
    def _types(schema: dict[str, Any]) -> set[str] | None:
        if "type" in schema:
            t = schema["type"]
            return set(t) if isinstance(t, list) else {t}
        if "const" in schema:
            return {_json_type(schema["const"])}
        if "enum" in schema:
            return {_json_type(v) for v in schema["enum"]}
        if "properties" in schema:
            return {"object"}
        return None

    @staticmethod
    def _covers(new: set[str] | None, old: set[str] | None) -> bool:
        if new is None:
            return True
        if old is None:
            return False
        return all(t in new or (t == "integer" and "number" in new) for t in old)

    @staticmethod
    def _enum(schema: dict[str, Any]) -> list[Any] | None:
        if "const" in schema:
            return [schema["const"]]
        if "enum" in schema:
            return list(schema["enum"])
        return None

    # -- comparison -----------------------------------------------------
    def node(self, old: Any, new: Any, path: str, depth: int = 0) -> list[str]:
        if depth > _MAX_DEPTH:
            return []
        old_branches = self._branches(old, 0)
        new_branches = self._branches(new, 1)
        if len(old_branches) == 1 and len(new_branches) == 1:
            return self.single(old_branches[0], new_branches[0], path, depth)
        problems: list[str] = []
        for ob in old_branches:
            ot = self._types(ob)
            candidates = [nb for nb in new_branches if self._covers(self._types(nb), ot)]
            if not candidates:
                problems.append(f"{path}: type changed: {_fmt_types(ot)} is no longer accepted")
                continue
            fewest: list[str] | None = None
            for nb in candidates:
                found = list(self.single(ob, nb, path, depth))
                if fewest is None or len(found) < len(fewest):
                    fewest = found
            problems.extend(fewest or [])
        return problems

    def single(self, old: dict[str, Any], new: dict[str, Any], path: str, depth: int) -> list[str]:
        ot, nt = self._types(old), self._types(new)
        if not self._covers(nt, ot):
            return [f"{path}: type changed from {_fmt_types(ot)} to {_fmt_types(nt)}"]
        problems: list[str] = []

        old_enum, new_enum = self._enum(old), self._enum(new)
        if new_enum is not None:
            if old_enum is None:
                problems.append(f"{path}: constraint narrowed: enum/const added")
            else:
                removed = [v for v in old_enum if v not in new_enum]
                if removed:
                    problems.append(f"{path}: enum value removed: {', '.join(map(str, removed))}")

        for key in _LOWER_BOUNDS:
            if key in new and (key not in old or new[key] > old[key]):
                problems.append(f"{path}: constraint narrowed: {key} {old.get(key)} -> {new[key]}")
        for key in _UPPER_BOUNDS:
            if key in new and (key not in old or new[key] < old[key]):
                problems.append(f"{path}: constraint narrowed: {key} {old.get(key)} -> {new[key]}")
        for key in _EXACT:
            if key in new and new[key] != old.get(key):
                problems.append(f"{path}: constraint narrowed: {key} {old.get(key)!r} -> {new[key]!r}")
        if new.get("uniqueItems") and not old.get("uniqueItems"):
            problems.append(f"{path}: constraint narrowed: uniqueItems switched on")

        if "properties" in old or "properties" in new or "required" in new:
            problems.extend(self._object(old, new, path, depth))
        if "items" in old or "items" in new:
            problems.extend(self.node(old.get("items", True), new.get("items", True), f"{path}[]", depth + 1))
        for i, (o, n) in enumerate(zip(old.get("prefixItems", []), new.get("prefixItems", []), strict=False)):
            problems.extend(self.node(o, n, f"{path}[{i}]", depth + 1))
        return problems

    def _object(self, old: dict[str, Any], new: dict[str, Any], path: str, depth: int) -> list[str]:
        problems: list[str] = []
        old_props = old.get("properties", {})
        new_props = new.get("properties", {})
        for name, old_schema in old_props.items():
            child = f"{path}.{name}" if path else name
            if name not in new_props:
                problems.append(f"{child}: field removed")
            else:
                problems.extend(self.node(old_schema, new_props[name], child, depth + 1))
        old_required = set(old.get("required", []))
        for name in new.get("required", []):
            if name in old_required:
                continue
            child = f"{path}.{name}" if path else name
            if name in old_props:
                problems.append(f"{child}: optional field became required")
            else:
                problems.append(f"{child}: new required field")
        old_ap = old.get("additionalProperties", True)
        new_ap = new.get("additionalProperties", True)
        if new_ap is False and old_ap is not False:
            where = path or "<root>"
            problems.append(f"{where}: constraint narrowed: additional properties no longer allowed")
        elif isinstance(new_ap, dict) and old_ap is not False:
            problems.extend(self.node(old_ap, new_ap, f"{path}.*" if path else "*", depth + 1))
        return problems


def _fmt_types(types: set[str] | None) -> str:
    return "any" if types is None else "|".join(sorted(types))


def compare_schemas(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Breaking changes from the published schema ``old`` to ``new``; an empty list means compatible.

    Each problem is one line ``"<field path>: <what broke>"``.
    """
    comparer = _Comparer(old, new)
    return [p if not p.startswith(":") else f"<root>{p}" for p in comparer.node(old, new, "")]
