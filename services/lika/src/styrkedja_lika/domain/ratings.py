"""Self-assessments (värderingar) and their validation against a catalogue version.

A self-assessment rates every indicator of one school form in one catalogue
version on the scale :class:`~.enums.Rating` (or marks it ``NOT_RELEVANT``),
each with an optional comment. :func:`validate_self_assessment` checks raw
input (e.g. an API body) or a model against a catalogue and raises
:class:`SelfAssessmentInvalid` carrying *every* problem, each naming the
indicator (or field) and the rule it breaks.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from styrkedja_contracts.identifiers import OrganiserId, SchoolUnitCode, contains_personal_identity_number

from .catalogue import Catalogue
from .enums import AssessmentStatus, Rating, RespondentRole, SchoolForm

__all__ = [
    "MAX_COMMENT_LENGTH",
    "Problem",
    "RatingEntry",
    "Rule",
    "SelfAssessment",
    "SelfAssessmentInvalid",
    "validate_self_assessment",
]

MAX_COMMENT_LENGTH = 2000
_PIN_MESSAGE = "the comment contains a personal identity number (personnummer/samordningsnummer); remove it"


class Rule(StrEnum):
    """The rules a self-assessment is checked against (used as ``rule`` in problems)."""

    MISSING_FIELD = "missing_field"
    INVALID_FIELD = "invalid_field"
    CATALOGUE_VERSION_MISMATCH = "catalogue_version_mismatch"
    PUBLISHED_AT_REQUIRED = "published_at_required"
    RATING_MISSING = "rating_missing"
    UNKNOWN_INDICATOR = "unknown_indicator"
    #: named as the import door names it (`unique_indicator`, at the repeated `indicator_id`): the save named it
    #: `duplicate_rating` at the rating, one mistake with two answers
    DUPLICATE_RATING = "unique_indicator"
    NOT_ON_SCALE = "not_on_scale"
    #: the contracts' `PIN_RULE`, the one name every door of every service gives it (it was this domain's own word,
    #: `personal_identity_number`: a client acting on the rule missed it on LIKA's save)
    PERSONAL_IDENTITY_NUMBER = "no_personal_identity_number"
    COMMENT_TOO_LONG = "comment_too_long"
    INVALID_COMMENT = "invalid_comment"


def not_on_scale_message(value: object) -> str:
    """What a rating off the scale is told: at a save (this domain's check) and at the import door alike."""
    return f"{value!r} is not on the scale ({', '.join(r.value for r in Rating)})"


class Problem(BaseModel):
    """One broken rule: which indicator (or field), which rule, and a message for people."""

    model_config = ConfigDict(frozen=True)

    field: str
    rule: Rule
    message: str
    indicator_id: str | None = None


class SelfAssessmentInvalid(ValueError):
    """A self-assessment breaks one or more rules; ``problems`` lists them all."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        lines = [f"{p.indicator_id or p.field}: {p.rule}: {p.message}" for p in self.problems]
        super().__init__("self-assessment is invalid: " + "; ".join(lines))


def _check_comment(value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) > MAX_COMMENT_LENGTH:
        raise ValueError(f"comment is longer than {MAX_COMMENT_LENGTH} characters")
    if contains_personal_identity_number(value):
        raise ValueError(_PIN_MESSAGE)
    return value


class RatingEntry(BaseModel):
    """The rating of one indicator, with an optional comment (kommentar)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    indicator_id: str
    rating: Rating
    comment: str | None = None

    @field_validator("comment")
    @classmethod
    def _comment_ok(cls, value: str | None) -> str | None:
        return _check_comment(value)


class SelfAssessment(BaseModel):
    """One self-assessment of a school unit against one catalogue version.

    ``ratings`` is keyed by indicator id; it also accepts a list of entries or
    ``{indicator_id: "STARTED"}`` / ``{indicator_id: {"rating": ..., "comment": ...}}``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    assessment_id: str = Field(min_length=1, max_length=64)
    organiser_id: OrganiserId
    school_unit_code: SchoolUnitCode
    school_form: SchoolForm
    catalogue_version: str = Field(pattern=r"^\d{4}\.\d+$")
    respondent_role: RespondentRole
    status: AssessmentStatus = AssessmentStatus.DRAFT
    assessed_on: date
    published_at: datetime | None = None
    comment: str | None = None
    ratings: Mapping[str, RatingEntry] = Field(default_factory=dict)

    @field_validator("comment")
    @classmethod
    def _comment_ok(cls, value: str | None) -> str | None:
        return _check_comment(value)

    @field_validator("ratings", mode="before")
    @classmethod
    def _normalise_ratings(cls, value: Any) -> Any:
        return _normalise(value)

    @model_validator(mode="after")
    def _consistent(self) -> SelfAssessment:
        for key, entry in self.ratings.items():
            if key != entry.indicator_id:
                raise ValueError(f"ratings key {key!r} differs from its indicator_id {entry.indicator_id!r}")
        if self.status is AssessmentStatus.PUBLISHED and self.published_at is None:
            raise ValueError("a published self-assessment needs published_at")
        return self

    def rating_of(self, indicator_id: str) -> Rating | None:
        """The rating of an indicator, ``None`` if it is not rated (yet)."""
        entry = self.ratings.get(indicator_id)
        return entry.rating if entry is not None else None


def _normalise(value: Any) -> Any:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(item, (str, Rating)):
                out[key] = {"indicator_id": key, "rating": item}
            elif isinstance(item, Mapping) and "indicator_id" not in item:
                out[key] = {"indicator_id": key, **item}
            else:
                out[key] = item
        return out
    if isinstance(value, (list, tuple)):
        out = {}
        for item in value:
            key = item.indicator_id if isinstance(item, RatingEntry) else item.get("indicator_id")
            if key in out:
                raise ValueError(f"indicator {key} is rated more than once")
            out[key] = item
        return out
    return value


# --------------------------------------------------------------------------- validation

def validate_self_assessment(
    catalogue: Catalogue,
    data: SelfAssessment | Mapping[str, Any],
    *,
    require_complete: bool | None = None,
) -> SelfAssessment:
    """Check a self-assessment against ``catalogue`` and return it as a model.

    Rules: header fields present and well-formed; ``catalogue_version`` is this
    catalogue's; every rated indicator exists in the catalogue for the
    assessment's school form and is rated once; every value is on the scale
    (``NOT_RELEVANT`` included); no comment contains a personal identity number
    or exceeds :data:`MAX_COMMENT_LENGTH`; and — when ``require_complete`` (by
    default: whenever the status is not ``DRAFT``) — every indicator is rated
    or marked ``NOT_RELEVANT``.

    Raises :class:`SelfAssessmentInvalid` listing every problem (header first,
    then ratings in input order, then missing ratings in catalogue order).
    """
    raw: Mapping[str, Any]
    if isinstance(data, SelfAssessment):
        raw = data.model_dump(mode="python")
    elif isinstance(data, Mapping):
        raw = data
    else:
        raise SelfAssessmentInvalid(
            [Problem(field="(root)", rule=Rule.INVALID_FIELD, message="a self-assessment must be an object")]
        )
    problems: list[Problem] = []
    header = _check_header(catalogue, raw, problems)
    school_form = header.get("school_form")
    status = header.get("status", AssessmentStatus.DRAFT)
    if require_complete is None:
        require_complete = status is not AssessmentStatus.DRAFT

    entries = _check_ratings(catalogue, school_form, raw.get("ratings", {}), problems)

    if require_complete and school_form is not None:
        for ind in catalogue.indicators_for(school_form):
            if ind.id not in entries and not any(p.indicator_id == ind.id for p in problems):
                problems.append(
                    Problem(
                        field=f"ratings[{ind.id}]",
                        indicator_id=ind.id,
                        rule=Rule.RATING_MISSING,
                        message=f"indicator {ind.id} ({ind.title}) must be rated or marked NOT_RELEVANT",
                    )
                )
    if problems:
        raise SelfAssessmentInvalid(problems)
    try:
        return SelfAssessment.model_validate({**{k: raw[k] for k in raw if k != "ratings"}, "ratings": entries})
    except ValidationError as exc:  # pragma: no cover - every rule is checked above
        raise SelfAssessmentInvalid(_pydantic_problems(exc)) from exc


_ASSESSMENT_ID = Annotated[str, StringConstraints(min_length=1, max_length=64)]
_CATALOGUE_VERSION = Annotated[str, StringConstraints(pattern=r"^\d{4}\.\d+$")]
_HEADER_TYPES: dict[str, TypeAdapter[Any]] = {
    "assessment_id": TypeAdapter(_ASSESSMENT_ID),
    "organiser_id": TypeAdapter(OrganiserId),
    "school_unit_code": TypeAdapter(SchoolUnitCode),
    "school_form": TypeAdapter(SchoolForm),
    "catalogue_version": TypeAdapter(_CATALOGUE_VERSION),
    "respondent_role": TypeAdapter(RespondentRole),
    "status": TypeAdapter(AssessmentStatus),
    "assessed_on": TypeAdapter(date),
    "published_at": TypeAdapter(datetime | None),
}
_OPTIONAL_HEADER = frozenset({"status", "published_at"})
_BODY_FIELDS = frozenset({"comment", "ratings"})


def _pydantic_problems(exc: ValidationError, prefix: str = "") -> list[Problem]:
    problems = []
    for err in exc.errors():
        field = ".".join([prefix, *(str(p) for p in err["loc"])] if prefix else [str(p) for p in err["loc"]])
        rule = Rule.MISSING_FIELD if err["type"] == "missing" else Rule.INVALID_FIELD
        problems.append(Problem(field=field or "(root)", rule=rule, message=err["msg"]))
    return problems


def _check_header(catalogue: Catalogue, raw: Mapping[str, Any], problems: list[Problem]) -> dict[str, Any]:
    """Validate the header fields one by one, so that a bad field does not hide the others."""
    valid: dict[str, Any] = {}
    for name, adapter in _HEADER_TYPES.items():
        if name not in raw:
            if name not in _OPTIONAL_HEADER:
                problems.append(Problem(field=name, rule=Rule.MISSING_FIELD, message=f"{name} is required"))
            continue
        try:
            valid[name] = adapter.validate_python(raw[name])
        except ValidationError as exc:
            problems.extend(_pydantic_problems(exc, prefix=name))
    for name in sorted(set(raw) - set(_HEADER_TYPES) - _BODY_FIELDS):
        problems.append(Problem(field=str(name), rule=Rule.INVALID_FIELD, message=f"unknown field {name!r}"))
    version = valid.get("catalogue_version")
    if version is not None and version != catalogue.version:
        problems.append(
            Problem(
                field="catalogue_version",
                rule=Rule.CATALOGUE_VERSION_MISMATCH,
                message=f"the self-assessment is for catalogue {version}, validated against {catalogue.version}",
            )
        )
    if valid.get("status") is AssessmentStatus.PUBLISHED and raw.get("published_at") is None:
        problems.append(
            Problem(
                field="published_at",
                rule=Rule.PUBLISHED_AT_REQUIRED,
                message="a published self-assessment needs published_at",
            )
        )
    problems.extend(_comment_problems(raw.get("comment"), field="comment", indicator_id=None))
    return valid


def _comment_problems(comment: Any, *, field: str, indicator_id: str | None) -> list[Problem]:
    if comment is None:
        return []
    if not isinstance(comment, str):
        return [Problem(field=field, indicator_id=indicator_id, rule=Rule.INVALID_COMMENT, message="a comment must be text")]
    problems = []
    if contains_personal_identity_number(comment):
        problems.append(
            Problem(field=field, indicator_id=indicator_id, rule=Rule.PERSONAL_IDENTITY_NUMBER, message=_PIN_MESSAGE)
        )
    if len(comment) > MAX_COMMENT_LENGTH:
        problems.append(
            Problem(
                field=field,
                indicator_id=indicator_id,
                rule=Rule.COMMENT_TOO_LONG,
                message=f"the comment has {len(comment)} characters, at most {MAX_COMMENT_LENGTH} are allowed",
            )
        )
    return problems


def _raw_entries(ratings: Any, problems: list[Problem]) -> list[tuple[str, dict[str, Any]]] | None:
    """Normalise the accepted input shapes to ``[(field, {indicator_id, rating, comment})]``."""
    out: list[tuple[str, dict[str, Any]]] = []
    if isinstance(ratings, Mapping):
        for key, item in ratings.items():
            if isinstance(item, RatingEntry):
                item = item.model_dump()
            elif not isinstance(item, Mapping):
                item = {"rating": item}
            out.append((f"ratings[{key}]", {"indicator_id": key, **{k: v for k, v in item.items() if k != "indicator_id"}}))
            if isinstance(ratings[key], Mapping) and ratings[key].get("indicator_id", key) != key:
                problems.append(
                    Problem(
                        field=f"ratings[{key}].indicator_id",
                        indicator_id=str(key),
                        rule=Rule.INVALID_FIELD,
                        message=f"key {key!r} differs from indicator_id {ratings[key]['indicator_id']!r}",
                    )
                )
        return out
    if isinstance(ratings, (list, tuple)):
        for n, item in enumerate(ratings):
            if isinstance(item, RatingEntry):
                item = item.model_dump()
            if not isinstance(item, Mapping):
                problems.append(
                    Problem(field=f"ratings[{n}]", rule=Rule.INVALID_FIELD, message="a rating must be an object")
                )
                continue
            out.append((f"ratings[{n}]", dict(item)))
        return out
    problems.append(Problem(field="ratings", rule=Rule.INVALID_FIELD, message="ratings must be a list or an object"))
    return None


def _check_ratings(
    catalogue: Catalogue, school_form: SchoolForm | None, ratings: Any, problems: list[Problem]
) -> dict[str, RatingEntry]:
    entries: dict[str, RatingEntry] = {}
    raw_entries = _raw_entries(ratings, problems)
    if raw_entries is None:
        return entries
    seen: set[str] = set()
    for field, item in raw_entries:
        indicator_id = item.get("indicator_id")
        if not isinstance(indicator_id, str) or not indicator_id:
            problems.append(
                Problem(field=f"{field}.indicator_id", rule=Rule.MISSING_FIELD, message="indicator_id is required")
            )
            continue
        ok = True
        unknown = set(item) - {"indicator_id", "rating", "comment"}
        if unknown:
            ok = False
            problems.append(
                Problem(
                    field=field,
                    indicator_id=indicator_id,
                    rule=Rule.INVALID_FIELD,
                    message=f"unknown field(s): {', '.join(sorted(unknown))}",
                )
            )
        if indicator_id in seen:
            ok = False
            problems.append(
                Problem(
                    field=f"{field}.indicator_id",
                    indicator_id=indicator_id,
                    rule=Rule.DUPLICATE_RATING,
                    message=f"indicator {indicator_id} is rated more than once",
                )
            )
        seen.add(indicator_id)
        if not catalogue.has_indicator(indicator_id) or (
            school_form is not None and catalogue.indicator(indicator_id).school_form is not school_form
        ):
            ok = False
            form = f" for {school_form}" if school_form is not None else ""
            problems.append(
                Problem(
                    field=f"{field}.indicator_id",
                    indicator_id=indicator_id,
                    rule=Rule.UNKNOWN_INDICATOR,
                    message=f"catalogue {catalogue.version} has no indicator {indicator_id}{form}",
                )
            )
        value = item.get("rating")
        try:
            if not isinstance(value, str):  # a rating is one of the scale's words, never a number
                raise ValueError(value)
            rating = Rating(value)
        except ValueError:
            ok = False
            problems.append(
                Problem(
                    field=f"{field}.rating",
                    indicator_id=indicator_id,
                    rule=Rule.NOT_ON_SCALE,
                    message=not_on_scale_message(value),
                )
            )
        comment_problems = _comment_problems(item.get("comment"), field=f"{field}.comment", indicator_id=indicator_id)
        if comment_problems:
            ok = False
            problems.extend(comment_problems)
        if ok:
            entries[indicator_id] = RatingEntry(indicator_id=indicator_id, rating=rating, comment=item.get("comment"))
    return entries
