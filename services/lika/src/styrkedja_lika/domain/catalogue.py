"""The LIKA indicator catalogue: models, loader and the rules a catalogue must keep.

A catalogue version is *data*: ``styrkedja_lika/catalogue/lika-<version>.yaml``,
validated against ``catalogue.schema.json`` (JSON Schema) and then against the
rules in :func:`check_catalogue_rules` (which a schema cannot express):

* indicator ids are unique, and their prefix names the school form and area
  (``GR-INF-02`` = grundskola, Infrastruktur);
* every indicator has a descriptor for every level of the scale and at least
  one activity for every level below ``ACHIEVED``;
* activity ids are unique and start with their indicator's id
  (``GR-INF-02-A3``); an activity's ``requires`` name existing activities of
  the same school form, never itself, and the "must come before" relation has
  no cycles;
* 6–10 indicators per school form and area; tags are declared;
* ids are stable across versions: an id that disappears is listed as
  ``retired`` in the next version and is never used again, and a kept id
  keeps its school form and area (:class:`CatalogueLibrary`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from .enums import AREA_ORDER, RATED_SCALE, Area, OwnerRole, Rating, SchoolForm

__all__ = [
    "Activity",
    "Catalogue",
    "CatalogueInvalid",
    "CatalogueLibrary",
    "Indicator",
    "RetiredIndicator",
    "available_versions",
    "catalogue_schema",
    "check_catalogue_rules",
    "load_catalogue",
    "load_catalogues",
    "parse_catalogue",
    "version_key",
]

CATALOGUE_PACKAGE = "styrkedja_lika.catalogue"
SCHEMA_FILE = "catalogue.schema.json"
_FILE_RE = re.compile(r"^lika-(\d{4}\.\d+)\.yaml$")
MIN_INDICATORS_PER_AREA = 6
MAX_INDICATORS_PER_AREA = 10
BELOW_ACHIEVED: tuple[Rating, ...] = RATED_SCALE[:-1]


class CatalogueInvalid(ValueError):
    """A catalogue file breaks its schema or one of the catalogue rules."""

    def __init__(self, problems: Iterable[str], *, version: str | None = None) -> None:
        self.problems: list[str] = list(problems)
        self.version = version
        where = f"catalogue {version}" if version else "catalogue"
        super().__init__(f"{where} is invalid: " + "; ".join(self.problems))


_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Activity(BaseModel):
    """A suggested activity that lifts an indicator from ``from_level`` (aktivitet i handlingsplanen)."""

    model_config = _FROZEN

    id: str
    indicator_id: str
    from_level: Rating
    priority: int = Field(ge=1, le=3)
    owner: OwnerRole
    title: str
    description: str | None = None
    requires: tuple[str, ...] = ()


class Indicator(BaseModel):
    """An indicator (indikator) of one school form and area."""

    model_config = _FROZEN

    id: str
    school_form: SchoolForm
    area: Area
    title: str
    description: str
    levels: Mapping[Rating, str]
    tags: tuple[str, ...] = ()
    activities: tuple[Activity, ...] = ()

    def descriptor(self, rating: Rating) -> str:
        """What ``rating`` looks like in practice for this indicator."""
        return self.levels[rating]

    def activities_for(self, rating: Rating) -> tuple[Activity, ...]:
        """The activities that lift the indicator from ``rating`` (empty for ``ACHIEVED``/``NOT_RELEVANT``)."""
        return tuple(a for a in self.activities if a.from_level is rating)


class RetiredIndicator(BaseModel):
    """An indicator id that existed in an earlier version and is no longer used."""

    model_config = _FROZEN

    id: str
    reason: str
    replaced_by: tuple[str, ...] = ()


class Catalogue(BaseModel):
    """One version of the indicator catalogue, all school forms."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    title: str
    valid_from: date
    previous_version: str | None = None
    scale_labels: Mapping[Rating, str]
    area_labels: Mapping[Area, str]
    school_form_labels: Mapping[SchoolForm, str]
    owner_role_labels: Mapping[OwnerRole, str]
    tags: Mapping[str, str]
    indicators: tuple[Indicator, ...]
    retired: tuple[RetiredIndicator, ...] = ()

    _index_cache: tuple[Any, ...] | None = PrivateAttr(default=None)

    def _indexes(self) -> tuple[dict[str, Indicator], dict[str, Activity], dict[str, int]]:
        # Built lazily and rebuilt when ``indicators`` is another tuple (e.g. after model_copy(update=...)).
        cache = self._index_cache
        if cache is None or cache[0] is not self.indicators:
            indicators = {i.id: i for i in self.indicators}
            activities = {a.id: a for i in self.indicators for a in i.activities}
            positions = {i.id: n for n, i in enumerate(self.indicators)}
            cache = (self.indicators, indicators, activities, positions)
            self._index_cache = cache
        return cache[1], cache[2], cache[3]

    @property
    def _indicator_index(self) -> dict[str, Indicator]:
        return self._indexes()[0]

    @property
    def _activity_index(self) -> dict[str, Activity]:
        return self._indexes()[1]

    @property
    def _position(self) -> dict[str, int]:
        return self._indexes()[2]

    def indicator(self, indicator_id: str) -> Indicator:
        """The indicator with this id; ``KeyError`` if this version has none."""
        return self._indicator_index[indicator_id]

    def has_indicator(self, indicator_id: str) -> bool:
        return indicator_id in self._indicator_index

    def activity(self, activity_id: str) -> Activity:
        return self._activity_index[activity_id]

    def position(self, indicator_id: str) -> int:
        """Position of the indicator in the catalogue (a stable sort key)."""
        return self._position[indicator_id]

    def indicators_for(self, school_form: SchoolForm | str, area: Area | str | None = None) -> tuple[Indicator, ...]:
        """The indicators of one school form (and optionally one area), in catalogue order."""
        form = SchoolForm(school_form)
        wanted_area = Area(area) if area is not None else None
        return tuple(
            i for i in self.indicators if i.school_form is form and (wanted_area is None or i.area is wanted_area)
        )

    def indicator_ids(self, school_form: SchoolForm | str) -> tuple[str, ...]:
        return tuple(i.id for i in self.indicators_for(school_form))

    def activities_for_form(self, school_form: SchoolForm | str) -> tuple[Activity, ...]:
        return tuple(a for i in self.indicators_for(school_form) for a in i.activities)

    @property
    def activity_count(self) -> int:
        return len(self._activity_index)


def version_key(version: str) -> tuple[int, ...]:
    """Sort key for versions like ``2026.1`` < ``2026.2`` < ``2026.10``."""
    return tuple(int(p) for p in version.split("."))


# --------------------------------------------------------------------------- loading


@cache
def catalogue_schema() -> dict[str, Any]:
    """The JSON Schema every catalogue file must satisfy."""
    text = resources.files(CATALOGUE_PACKAGE).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def available_versions() -> tuple[str, ...]:
    """The catalogue versions shipped with the package, oldest first."""
    names = (p.name for p in resources.files(CATALOGUE_PACKAGE).iterdir())
    versions = [m.group(1) for n in names if (m := _FILE_RE.match(n))]
    return tuple(sorted(versions, key=version_key))


def read_catalogue_data(version: str) -> dict[str, Any]:
    """The raw (parsed YAML) data of a shipped catalogue version."""
    name = f"lika-{version}.yaml"
    text = resources.files(CATALOGUE_PACKAGE).joinpath(name).read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def schema_problems(data: Any) -> list[str]:
    """Every JSON Schema violation of ``data``, as ``path: message`` strings (sorted)."""
    validator = jsonschema.Draft202012Validator(catalogue_schema())
    problems = []
    for err in validator.iter_errors(data):
        path = "/".join(str(p) for p in err.absolute_path) or "(root)"
        problems.append(f"{path}: {err.message}")
    return sorted(problems)


def parse_catalogue(data: Mapping[str, Any]) -> Catalogue:
    """Validate raw catalogue data (schema, then rules) and build the frozen model.

    Raises :class:`CatalogueInvalid` listing every problem found.
    """
    version = data.get("version") if isinstance(data, Mapping) else None
    problems = schema_problems(data)
    if problems:
        raise CatalogueInvalid(problems, version=version)
    catalogue = _build(data)
    problems = check_catalogue_rules(catalogue)
    if problems:
        raise CatalogueInvalid(problems, version=version)
    return catalogue


def _build(data: Mapping[str, Any]) -> Catalogue:
    indicators = []
    for raw in data["indicators"]:
        activities = tuple(
            Activity(
                id=a["id"],
                indicator_id=raw["id"],
                from_level=Rating(a["from_level"]),
                priority=a["priority"],
                owner=OwnerRole(a["owner"]),
                title=a["title"],
                description=a.get("description"),
                requires=tuple(a.get("requires", ())),
            )
            for a in raw["activities"]
        )
        indicators.append(
            Indicator(
                id=raw["id"],
                school_form=SchoolForm(raw["school_form"]),
                area=Area(raw["area"]),
                title=raw["title"],
                description=raw["description"],
                levels={Rating(k): v for k, v in raw["levels"].items()},
                tags=tuple(raw.get("tags", ())),
                activities=activities,
            )
        )
    return Catalogue(
        version=data["version"],
        title=data["title"],
        valid_from=date.fromisoformat(data["valid_from"]),
        previous_version=data.get("previous_version"),
        scale_labels={Rating(s["id"]): s["label"] for s in data["scale"]},
        area_labels={Area(a["id"]): a["label"] for a in data["areas"]},
        school_form_labels={SchoolForm(f["id"]): f["label"] for f in data["school_forms"]},
        owner_role_labels={OwnerRole(r["id"]): r["label"] for r in data["owner_roles"]},
        tags={t["id"]: t["label"] for t in data["tags"]},
        indicators=tuple(indicators),
        retired=tuple(
            RetiredIndicator(id=r["id"], reason=r["reason"], replaced_by=tuple(r.get("replaced_by", ())))
            for r in data.get("retired", ())
        ),
    )


# --------------------------------------------------------------------------- rules


def check_catalogue_rules(catalogue: Catalogue) -> list[str]:
    """Every rule violation of one catalogue version (empty when it is valid)."""
    problems: list[str] = []
    problems += _check_labels(catalogue)
    problems += _check_indicators(catalogue)
    problems += _check_activities(catalogue)
    problems += _check_counts(catalogue)
    cycle = find_dependency_cycle(catalogue)
    if cycle:
        problems.append(f"{cycle[0]}: dependency cycle: {' -> '.join(cycle)}")
    return problems


def _check_labels(cat: Catalogue) -> list[str]:
    problems = []
    for enum, labels, what in (
        (Rating, cat.scale_labels, "scale"),
        (Area, cat.area_labels, "areas"),
        (SchoolForm, cat.school_form_labels, "school_forms"),
        (OwnerRole, cat.owner_role_labels, "owner_roles"),
    ):
        missing = [m.value for m in enum if m not in labels]
        if missing:
            problems.append(f"{what}: no label for {', '.join(missing)}")
    return problems


def _check_indicators(cat: Catalogue) -> list[str]:
    problems = []
    seen: set[str] = set()
    retired = {r.id for r in cat.retired}
    for ind in cat.indicators:
        if ind.id in seen:
            problems.append(f"{ind.id}: indicator id is not unique")
        seen.add(ind.id)
        prefix = f"{ind.school_form.code}-{ind.area.code}-"
        if not ind.id.startswith(prefix):
            problems.append(f"{ind.id}: id must start with {prefix} (school form {ind.school_form}, area {ind.area})")
        if ind.id in retired:
            problems.append(f"{ind.id}: indicator is listed as retired but still present")
        for rating in RATED_SCALE:
            if not ind.levels.get(rating, "").strip():
                problems.append(f"{ind.id}: no descriptor for level {rating}")
        if Rating.NOT_RELEVANT in ind.levels:
            problems.append(f"{ind.id}: NOT_RELEVANT must not have a descriptor")
        for tag in ind.tags:
            if tag not in cat.tags:
                problems.append(f"{ind.id}: tag {tag!r} is not declared in tags")
        if len(set(ind.tags)) != len(ind.tags):
            problems.append(f"{ind.id}: duplicate tag")
        for rating in BELOW_ACHIEVED:
            if not ind.activities_for(rating):
                problems.append(f"{ind.id}: no activity for level {rating}")
        for act in ind.activities:
            if act.from_level not in BELOW_ACHIEVED:
                problems.append(f"{act.id}: from_level must be below ACHIEVED, got {act.from_level}")
    for r in cat.retired:
        for new_id in r.replaced_by:
            if not cat.has_indicator(new_id):
                problems.append(f"{r.id}: replaced_by names unknown indicator {new_id}")
    return problems


def _check_activities(cat: Catalogue) -> list[str]:
    problems = []
    seen: set[str] = set()
    form_of = {a.id: ind.school_form for ind in cat.indicators for a in ind.activities}
    for ind in cat.indicators:
        for act in ind.activities:
            if act.id in seen:
                problems.append(f"{act.id}: activity id is not unique")
            seen.add(act.id)
            if not act.id.startswith(ind.id + "-A"):
                problems.append(f"{act.id}: activity id must start with {ind.id}-A")
            for req in act.requires:
                if req == act.id:
                    problems.append(f"{act.id}: requires itself")
                elif req not in form_of:
                    problems.append(f"{act.id}: requires unknown activity {req}")
                elif form_of[req] is not ind.school_form:
                    problems.append(f"{act.id}: requires {req} of another school form")
            if len(set(act.requires)) != len(act.requires):
                problems.append(f"{act.id}: duplicate entry in requires")
    return problems


def _check_counts(cat: Catalogue) -> list[str]:
    problems = []
    for form in SchoolForm:
        for area in AREA_ORDER:
            n = len(cat.indicators_for(form, area))
            if not MIN_INDICATORS_PER_AREA <= n <= MAX_INDICATORS_PER_AREA:
                problems.append(
                    f"{form.code}-{area.code}: {n} indicators, expected "
                    f"{MIN_INDICATORS_PER_AREA}–{MAX_INDICATORS_PER_AREA}"
                )
    return problems


def find_dependency_cycle(catalogue: Catalogue) -> list[str] | None:
    """A cycle in the "must come before" relation as ``[a, b, ..., a]``, or ``None``.

    Deterministic: activities are visited in sorted id order.
    """
    graph = {a.id: sorted(set(a.requires)) for i in catalogue.indicators for a in i.activities}
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(graph, WHITE)
    for start in sorted(graph):
        if colour[start] != WHITE:
            continue
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(graph[start]))]
        path = [start]
        colour[start] = GREY
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = BLACK
                stack.pop()
                path.pop()
            elif child not in graph:
                continue
            elif colour[child] == GREY:
                return path[path.index(child):] + [child]
            elif colour[child] == WHITE:
                colour[child] = GREY
                stack.append((child, iter(graph[child])))
                path.append(child)
    return None


# --------------------------------------------------------------------------- versions


class CatalogueLibrary(Mapping[str, Catalogue]):
    """All known catalogue versions, keyed by version, checked for id stability across versions."""

    def __init__(self, catalogues: Iterable[Catalogue]) -> None:
        ordered = sorted(catalogues, key=lambda c: version_key(c.version))
        self._by_version: dict[str, Catalogue] = {}
        for c in ordered:
            if c.version in self._by_version:
                raise CatalogueInvalid([f"version {c.version} given twice"])
            self._by_version[c.version] = c
        if not self._by_version:
            raise CatalogueInvalid(["no catalogue versions"])
        problems = check_version_stability(ordered)
        if problems:
            raise CatalogueInvalid(problems)

    def __getitem__(self, version: str) -> Catalogue:
        return self._by_version[version]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_version)

    def __len__(self) -> int:
        return len(self._by_version)

    @property
    def latest(self) -> Catalogue:
        return next(reversed(self._by_version.values()))

    def __repr__(self) -> str:
        return f"CatalogueLibrary({list(self._by_version)})"


def check_version_stability(catalogues: Iterable[Catalogue]) -> list[str]:
    """Rules across consecutive versions (oldest first): ids are stable and never reused."""
    ordered = sorted(catalogues, key=lambda c: version_key(c.version))
    problems: list[str] = []
    ever_retired: dict[str, str] = {}
    for prev, cur in zip([None, *ordered], ordered, strict=False):
        if prev is None:
            if cur.previous_version is not None and len(ordered) > 1:
                problems.append(f"{cur.version}: first version must not name a previous_version")
            for r in cur.retired:
                ever_retired.setdefault(r.id, cur.version)
            continue
        if cur.previous_version != prev.version:
            problems.append(f"{cur.version}: previous_version must be {prev.version}, got {cur.previous_version}")
        known_before = {i.id for c in ordered[: ordered.index(cur)] for i in c.indicators}
        for r in cur.retired:
            ever_retired.setdefault(r.id, cur.version)
            if r.id not in known_before:
                problems.append(f"{r.id}: listed as retired in {cur.version} but never existed before")
        declared = {r.id for r in cur.retired}
        for ind in prev.indicators:
            if cur.has_indicator(ind.id):
                new = cur.indicator(ind.id)
                if (new.school_form, new.area) != (ind.school_form, ind.area):
                    problems.append(f"{ind.id}: changed school form or area between {prev.version} and {cur.version}")
            elif ind.id not in declared:
                problems.append(f"{ind.id}: dropped in {cur.version} without being listed as retired")
        prev_acts = {a.id: a for i in prev.indicators for a in i.activities}
        for ind in cur.indicators:
            for act in ind.activities:
                old = prev_acts.get(act.id)
                if old is not None and old.indicator_id != act.indicator_id:
                    problems.append(f"{act.id}: moved to another indicator in {cur.version}")
        for ind in cur.indicators:
            if ind.id in ever_retired:
                problems.append(f"{ind.id}: id was retired in {ever_retired[ind.id]} and must not be reused")
    return problems


def load_catalogue(version: str) -> Catalogue:
    """Load and validate one shipped catalogue version."""
    return _load_cached(version)


@cache
def _load_cached(version: str) -> Catalogue:
    return parse_catalogue(read_catalogue_data(version))


@cache
def load_catalogues() -> CatalogueLibrary:
    """All shipped catalogue versions, validated (each version and across versions)."""
    return CatalogueLibrary(load_catalogue(v) for v in available_versions())
