"""Subject names: the contracts' subject list is their one source (reporting, the dashboard and the
demo read `subject_name`)."""

from __future__ import annotations

from styrkedja_contracts.subjects import is_known_subject_code, subject_list, subject_name


def test_a_listed_code_has_its_name_on_the_list() -> None:
    assert subject_name("GRGRMAT01") == "Matematik"
    assert subject_name("GRGRMSP01") == "Moderna språk"
    assert subject_name("GRSAMAT01") == "Matematik"
    assert subject_name("SVA") == "Svenska som andraspråk"
    assert all(subject_name(code) == s.name for code, s in subject_list().subjects.items())


def test_a_modern_language_code_of_betygskatalogen_is_named_by_its_prefix_and_stays_unknown() -> None:
    assert subject_name("GRGRM2SPA") == "Moderna språk, språkval"
    assert subject_name("GRGRM1GER") == "Moderna språk, elevens val"
    assert not is_known_subject_code("GRGRM2SPA")


def test_an_unknown_code_shows_as_itself() -> None:
    assert subject_name("GRGRXYZ01") == "GRGRXYZ01"
    assert subject_name("") == ""
