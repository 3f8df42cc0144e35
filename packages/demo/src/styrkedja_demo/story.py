"""Every parameter of Mittköping and of its story, as data, in one place.

Mittköping is fictional. Its organiser id is the municipality code ``2980``: Swedish
municipality codes are the county (01–25) followed by two digits, so ``29xx`` belongs to no
municipality. Change the story here, not in the generator.

The story (what a head of education should find in the figures):

* **the dip** — ``dip_school`` (a 7–9 school): its mathematics results fall this term
  (``current_round``) against the round before; the trend and (once alerts exist) an alert show it;
* **the gender gap** — ``gap_school``: boys reach the pass level in Swedish far less often than girls;
* **stale results** — ``stale_school``: its platform stopped sending after the first round of the
  previous school year, so its newest assessment is more than 8 months old (red);
* **the silent team** — ``silent_team``: the teacher team (arbetslag) of one stage at one school has
  not reported any forecast in the current window, so the compliance list names them;
* **forecasts early and late** — the service flags a forecast late by when it receives it, so the
  demo's forecasts for past windows are late; ``early_schools`` also forecast the coming window
  (``early_window``), on time;
* **LIKA** — ``lika_ahead`` is far ahead (mostly *uppnådd*), ``lika_behind`` far behind
  (mostly *ej planerad*); ``lika_two_raters`` is rated by both the principal and a teacher team;
  ``lika_drafts`` have only a draft; every other unit has published its self-assessment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

# Skolverket subject codes (ämneskoder); names in styrkedja_reporting.figures.subjects
SVE, SVA, ENG, MAT = "GRGRSVE01", "GRGRSVA01", "GRGRENG01", "GRGRMAT01"
BIL, BIO, FYS, GEO, HIS, HKK = "GRGRBIL01", "GRGRBIO01", "GRGRFYS01", "GRGRGEO01", "GRGRHIS01", "GRGRHKK01"
IDH, KEM, MUS, REL, SAM, SLJ, TEK = ("GRGRIDR01", "GRGRKEM01", "GRGRMUS01", "GRGRREL01", "GRGRSAM01", "GRGRSLJ01",
                                     "GRGRTEK01")
#: modern languages as språkval (M2 + language), from year 6
# Moderna språk (språkval): one subject code in Skolverket's list; the language itself is not a separate code
LANGUAGES = ("GRGRMSP01",)

SO = (GEO, HIS, REL, SAM)
NO = (BIO, FYS, KEM)


def timetable(year: int) -> tuple[str, ...]:
    """The subjects a student reads in a year (timplanen, Lgr22, simplified): everything but home
    economics (hem- och konsumentkunskap, from year 4) and a modern language (from year 6) from
    year 1; nothing graded in förskoleklass (year 0). Swedish or Swedish as a second language and
    the language are chosen per student."""
    if year == 0:
        return ()
    subjects = (SVE, ENG, MAT, BIL, IDH, MUS, SLJ, TEK, *SO, *NO)
    return subjects + ((HKK,) if year >= 4 else ())


#: Who teaches what, per stage (stadium): bundles of subjects one teacher teaches a group, and how
#: many groups one such teacher takes. The first bundle of each stage is the class teacher's.
TEACHING_BUNDLES: dict[str, tuple[tuple[tuple[str, ...], int], ...]] = {
    "F-3": (((SVE, SVA, MAT, TEK, *SO, *NO), 1), ((ENG,), 4), ((IDH,), 8), ((MUS,), 8), ((BIL, SLJ), 8)),
    "4-6": (((SVE, SVA, *SO), 1), ((MAT, TEK, *NO), 2), ((ENG, *LANGUAGES), 4), ((IDH,), 8), ((MUS,), 8),
            ((BIL, SLJ), 8), ((HKK,), 8)),
    "7-9": (((SVE, SVA), 3), ((MAT, TEK), 3), ((*NO,), 4), ((ENG,), 4), ((*SO,), 3), (LANGUAGES, 6),
            ((IDH,), 8), ((MUS,), 8), ((BIL, SLJ), 8), ((HKK,), 8)),
}


def stage(year: int) -> str:
    return "F-3" if year <= 3 else "4-6" if year <= 6 else "7-9"


#: Kinds of school unit and the years they have; the anpassad grundskola has years 1–9.
KIND_YEARS: dict[str, tuple[int, ...]] = {
    "F-6": tuple(range(7)), "7-9": tuple(range(7, 10)), "F-9": tuple(range(10)),
    "anpassad": tuple(range(1, 10)),
}


@dataclass(frozen=True)
class School:
    name: str
    kind: str  # a key of KIND_YEARS
    area: str


@dataclass(frozen=True)
class Round:
    """A publication round (bedömningsomgång) of assessments."""

    school_year: str
    term: str
    round: int
    assessed_on: date


@dataclass(frozen=True)
class Story:
    organiser_code: str = "2980"
    organiser_name: str = "Mittköpings kommun"
    areas: tuple[str, ...] = ("Norr", "Centrum", "Söder", "Väster")
    schools: tuple[School, ...] = (
        School("Björkhagens skola", "F-6", "Norr"), School("Ekbackens skola", "F-6", "Norr"),
        School("Lindåsens skola", "F-6", "Norr"), School("Norrbergsskolan", "7-9", "Norr"),
        School("Tallbackens skola", "F-9", "Norr"),
        School("Domkyrkoskolan", "F-6", "Centrum"), School("Torgskolan", "F-6", "Centrum"),
        School("Centralskolan", "7-9", "Centrum"), School("Parkskolan", "F-9", "Centrum"),
        School("Solbackens skola", "F-6", "Söder"), School("Sjöängens skola", "F-6", "Söder"),
        School("Ängsskolan", "F-6", "Söder"), School("Söderportskolan", "7-9", "Söder"),
        School("Hagaskolan", "F-9", "Söder"), School("Mittköpings anpassade grundskola", "anpassad", "Söder"),
        School("Västergårdens skola", "F-6", "Väster"), School("Kvarnbyskolan", "F-6", "Väster"),
        School("Stensjöskolan", "F-6", "Väster"), School("Västerskolan", "7-9", "Väster"),
        School("Granlidens skola", "F-9", "Väster"),
    )
    students: int = 6000
    #: students of the anpassad grundskola (not part of the cohorts of the others)
    special_school_students: int = 45
    class_size: int = 25
    #: realistic mix (SCB: about 51 % boys among pupils); "unknown" is a small remainder
    gender_mix: tuple[tuple[str, float], ...] = (("male", 0.512), ("female", 0.486), ("unknown", 0.002))
    #: share of students reading Swedish as a second language (svenska som andraspråk)
    second_language_share: float = 0.09
    #: share of year 6–9 students without a modern language (they read more Swedish/English instead)
    no_language_share: float = 0.15

    previous_school_year: str = "2025/26"
    current_school_year: str = "2026/27"
    #: the assessment rounds of the two school years, oldest first; the last is "this term"
    rounds: tuple[Round, ...] = (
        Round("2025/26", "HT", 1, date(2025, 11, 14)),
        Round("2025/26", "VT", 2, date(2026, 4, 17)),
        Round("2026/27", "HT", 1, date(2026, 11, 13)),
    )
    #: subjects assessed each round (years 1–9); every subject gets a term grade in years 6 and 9
    assessed_subjects: tuple[str, ...] = (SVE, SVA, ENG, MAT)
    #: term grades (terminsbetyg) of years 6 and 9: (school year, term, round, date)
    grade_terms: tuple[Round, ...] = (
        Round("2025/26", "HT", 2, date(2025, 12, 19)),
        Round("2025/26", "VT", 4, date(2026, 6, 12)),
    )
    graded_years: tuple[int, ...] = (6, 9)
    #: forecasts (prognoser): years and subjects, and the windows (the last is "this window")
    forecast_years: tuple[int, ...] = (6, 7, 8, 9)
    forecast_subjects: tuple[str, ...] = (SVE, SVA, ENG, MAT)
    forecast_terms: tuple[tuple[str, str], ...] = (("2025/26", "HT"), ("2025/26", "VT"), ("2026/27", "HT"))
    #: teams already done with the coming window: their forecasts arrive early, so on time (the service
    #: flags a forecast late by when it receives it; every window above is past when the demo runs)
    early_window: tuple[str, str] = ("2026/27", "VT")
    early_schools: tuple[str, ...] = ("Centralskolan", "Tallbackens skola")
    #: shares simply not reported (a teacher forgot, a student was absent)
    missing_assessment_share: float = 0.02
    missing_forecast_share: float = 0.03

    dip_school: str = "Norrbergsskolan"
    dip_subject: str = MAT
    #: how far this term's mathematics results fall, on the latent ability scale (1.0 ≈ the pass share
    #: falls from about 85 % to about 55 %)
    dip_shift: float = 1.1
    gap_school: str = "Parkskolan"
    gap_subject: str = SVE
    gap_shift_boys: float = -1.0
    stale_school: str = "Kvarnbyskolan"
    #: the stale school's last round that was sent (index into `rounds`)
    stale_last_round: int = 0
    silent_team: tuple[str, str] = ("Hagaskolan", "7-9")

    lika_catalogue: str = "2026.2"
    lika_assessed_on: date = date(2026, 10, 2)
    lika_start_term: str = "HT 2026/27"
    lika_ahead: str = "Centralskolan"
    lika_behind: str = "Granlidens skola"
    lika_two_raters: str = "Solbackens skola"
    lika_drafts: tuple[str, ...] = ("Sjöängens skola", "Stensjöskolan")
    #: the action-plan statuses of the published plans' items, drawn in these proportions
    action_status_mix: tuple[tuple[str, float], ...] = (
        ("planned", 0.55), ("in_progress", 0.25), ("done", 0.15), ("dropped", 0.05))

    #: links printed at the end (path on the reporting service, what it shows)
    links: tuple[tuple[str, str], ...] = field(default=(
        ("/v1/results/assessments?level=organiser&organiser_id=2980", "the municipality's results"),
        ("/v1/results/assessments?level=school_unit&organiser_id=2980&subject_code=GRGRMAT01",
         "mathematics per school unit (find the dip)"),
        ("/v1/results/assessments?level=school_unit&organiser_id=2980&subject_code=GRGRSVE01&split=gender",
         "Swedish per school unit, girls and boys (find the gap)"),
        ("/v1/results/forecasts?level=school_unit&organiser_id=2980", "forecasts per school unit"),
        ("/v1/lika/school-units?organiser_id=2980", "LIKA per school unit"),
    ))

    def school(self, name: str) -> School:
        return next(s for s in self.schools if s.name == name)


STORY = Story()
