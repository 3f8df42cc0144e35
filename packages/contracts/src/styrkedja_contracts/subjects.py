"""Skolverket's subject codes (ämneskoder) as a versioned data file, not code.

The list lives in ``data/subject_codes.json`` (its ``version`` and ``source`` say where it comes
from). ``KnownSubjectCode`` is ``SubjectCode`` plus the rule ``unknown_subject_code``: the code
must be on the list. ``subject_name`` is the one source of the subjects' display names (reporting's
tables, the dashboard, the demo's SS 12000 dump).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from .identifiers import SubjectCode

__all__ = ["Subject", "SubjectList", "subject_list", "subject_name", "is_known_subject_code", "KnownSubjectCode",
           "UNKNOWN_SUBJECT_RULE"]

UNKNOWN_SUBJECT_RULE = "unknown_subject_code"


@dataclass(frozen=True)
class Subject:
    code: str
    name: str
    school_form: str


@dataclass(frozen=True)
class SubjectList:
    version: str
    source: str
    subjects: dict[str, Subject]
    #: code prefix → display name, for codes not on the list (e.g. `GRGRM2` for `GRGRM2SPA`); names only
    name_prefixes: dict[str, str] = field(default_factory=dict)


@cache
def subject_list() -> SubjectList:
    """The subject code list shipped with this package (read once)."""
    raw = resources.files(__package__).joinpath("data/subject_codes.json").read_text(encoding="utf-8")
    doc = json.loads(raw)
    subjects = {s["code"]: Subject(s["code"], s["name"], s["school_form"]) for s in doc["subjects"]}
    prefixes = {p["prefix"]: p["name"] for p in doc.get("name_prefixes", [])}
    return SubjectList(version=str(doc["version"]), source=str(doc["source"]), subjects=subjects,
                       name_prefixes=prefixes)


def subject_name(code: str) -> str:
    """A subject code's display name: its name on the list, else the name of the longest of the list's
    `name_prefixes` it begins with (Betygskatalogen's `GRGRM2SPA`), else the code itself."""
    found = subject_list()
    if code in found.subjects:
        return found.subjects[code].name
    for prefix in sorted(found.name_prefixes, key=len, reverse=True):
        if code.startswith(prefix):
            return found.name_prefixes[prefix]
    return code


def is_known_subject_code(code: str) -> bool:
    return code in subject_list().subjects


def _known(code: str) -> str:
    if not is_known_subject_code(code):
        raise PydanticCustomError(
            UNKNOWN_SUBJECT_RULE, "not a subject code of Skolverket's list (version {version})",
            {"version": subject_list().version})
    return code


KnownSubjectCode = Annotated[SubjectCode, AfterValidator(_known)]
"""A ``SubjectCode`` that is on the shipped subject list (rule ``unknown_subject_code``)."""
