"""Subjects and the year-9 rules, as data. Change the data here, not the code in merit.py.

Sources:
* Betygsvärden and meritvärde: Skolförordningen (2011:185) / Gymnasieförordningen (2010:2039)
  7 kap. 21–22 §§ via Skolverket ("Så räknar du ut ditt meritvärde"): A 20, B 17.5, C 15, D 12.5,
  E 10, F 0; the 16 best subjects, plus the grade in a modern language (moderna språk som
  språkval) as a 17th where the student has one ("utöver de 16 bästa betygen i övrigt", Skolverket,
  Meritpoäng för gymnasiestudier). Points per grade: `styrkedja_contracts.scales`.
* Behörighet: Skollagen (2010:800) 16 kap. 30 § (yrkesprogram: godkända betyg i svenska eller
  svenska som andraspråk, engelska, matematik och minst fem andra ämnen) and 16 kap. 31 §
  (högskoleförberedande program: de tre ämnena och minst nio andra, bland dem de
  programspecifika ämnena).
* Subject codes: Skolverket's ämneskoder for grundskolan (GRGR… + the betygskatalog's subject
  abbreviation, e.g. IDH Idrott och hälsa, M1/M2 + language for moderna språk). Their names are the
  contracts' subject list (`styrkedja_contracts.subjects.subject_name`), not kept here.
"""

from __future__ import annotations

from dataclasses import dataclass

SWEDISH = "GRGRSVE01"
SWEDISH_SECOND_LANGUAGE = "GRGRSVA01"
ENGLISH = "GRGRENG01"
MATHEMATICS = "GRGRMAT01"

# Modern languages. Only the språkval language (M2; the bare syllabus code is taken as språkval, the
# usual case) is the 17th merit subject, outside the 16; a modern language as elevens val (M1) "gives
# no extra points" (Skolverket, Meritpoäng för gymnasiestudier) and counts as an ordinary subject.
# Modersmål is never the 17th.
MODERN_LANGUAGE_PREFIXES: tuple[str, ...] = ("GRGRM1", "GRGRM2", "GRGRMSP")
LANGUAGE_CHOICE_PREFIXES: tuple[str, ...] = ("GRGRM2", "GRGRMSP")  # språkval: the 17th

MERIT_BEST_SUBJECTS = 16  # the 16 best; a modern language comes on top as the 17th
MERIT_YEAR = 9  # meritvärde is computed from the year-9 term grades
ALL_PASS_YEARS = range(6, 10)  # "share reaching the pass level in all subjects": years 6–9 (graded years)


def is_modern_language(subject_code: str) -> bool:
    return subject_code.startswith(MODERN_LANGUAGE_PREFIXES)


def is_language_choice(subject_code: str) -> bool:
    """A modern language as språkval: the one grade that counts as a 17th for the merit value."""
    return subject_code.startswith(LANGUAGE_CHOICE_PREFIXES)


@dataclass(frozen=True)
class EligibilityRule:
    """Behörighet to a group of national upper-secondary programmes."""

    name: str
    core: tuple[frozenset[str], ...]  # each needs a pass in one of its subjects
    other_subjects: int  # passes needed in subjects outside the core …
    required_among_others: frozenset[str] = frozenset()  # … among them these, every one


CORE = (frozenset({SWEDISH, SWEDISH_SECOND_LANGUAGE}), frozenset({ENGLISH}), frozenset({MATHEMATICS}))

ELIGIBILITY_RULES: dict[str, EligibilityRule] = {
    # Skollagen 16 kap. 30 §
    "vocational": EligibilityRule("Yrkesprogram", CORE, 5),
    # Skollagen 16 kap. 31 §: ekonomi-, humanistiska och samhällsvetenskapsprogrammet
    "preparatory_ek_hu_sa": EligibilityRule(
        "Högskoleförberedande: Ekonomi, Humanistiska, Samhällsvetenskap", CORE, 9,
        frozenset({"GRGRGEO01", "GRGRHIS01", "GRGRREL01", "GRGRSAM01"})),
    # Skollagen 16 kap. 31 §: naturvetenskaps- och teknikprogrammet
    "preparatory_na_te": EligibilityRule(
        "Högskoleförberedande: Naturvetenskap, Teknik", CORE, 9, frozenset({"GRGRBIO01", "GRGRFYS01", "GRGRKEM01"})),
    # Skollagen 16 kap. 31 §: estetiska programmet (no programme-specific subjects)
    "preparatory_es": EligibilityRule("Högskoleförberedande: Estetiska", CORE, 9),
}
