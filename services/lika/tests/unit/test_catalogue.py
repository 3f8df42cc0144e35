"""The shipped catalogue files: schema, rules, ids stable across versions."""

from __future__ import annotations

import copy
from importlib import resources

import jsonschema
import pytest

from styrkedja_lika.domain import (
    AREA_ORDER,
    RATED_SCALE,
    Area,
    Catalogue,
    CatalogueInvalid,
    CatalogueLibrary,
    OwnerRole,
    Rating,
    SchoolForm,
    available_versions,
    catalogue_schema,
    check_catalogue_rules,
    check_version_stability,
    find_dependency_cycle,
    load_catalogue,
    parse_catalogue,
    read_catalogue_data,
    schema_problems,
)

VERSIONS = available_versions()


def test_two_versions_are_shipped() -> None:
    assert VERSIONS == ("2026.1", "2026.2")


def test_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(catalogue_schema())


def test_every_catalogue_file_in_the_package_is_loaded() -> None:
    names = sorted(p.name for p in resources.files("styrkedja_lika.catalogue").iterdir() if p.name.endswith(".yaml"))
    assert names == [f"lika-{v}.yaml" for v in VERSIONS]


@pytest.mark.parametrize("version", VERSIONS)
def test_file_validates_against_schema(version: str) -> None:
    data = read_catalogue_data(version)
    jsonschema.validate(data, catalogue_schema(), cls=jsonschema.Draft202012Validator)
    assert data["version"] == version


@pytest.mark.parametrize("version", VERSIONS)
def test_file_keeps_every_catalogue_rule(version: str) -> None:
    catalogue = load_catalogue(version)
    assert check_catalogue_rules(catalogue) == []
    assert find_dependency_cycle(catalogue) is None


@pytest.mark.parametrize("version", VERSIONS)
def test_every_indicator_has_a_descriptor_for_every_level(version: str) -> None:
    for ind in load_catalogue(version).indicators:
        assert set(ind.levels) == set(RATED_SCALE), ind.id
        assert all(ind.levels[r].strip() for r in RATED_SCALE), ind.id
        # descriptors of one indicator differ from each other
        assert len(set(ind.levels.values())) == len(RATED_SCALE), ind.id


@pytest.mark.parametrize("version", VERSIONS)
def test_every_level_below_achieved_has_an_activity(version: str) -> None:
    for ind in load_catalogue(version).indicators:
        for rating in RATED_SCALE[:-1]:
            assert ind.activities_for(rating), f"{ind.id} has no activity for {rating}"
        assert ind.activities_for(Rating.ACHIEVED) == ()


@pytest.mark.parametrize("version", VERSIONS)
def test_ids_unique_and_prefixed(version: str) -> None:
    catalogue = load_catalogue(version)
    ids = [i.id for i in catalogue.indicators]
    assert len(ids) == len(set(ids))
    activity_ids = [a.id for i in catalogue.indicators for a in i.activities]
    assert len(activity_ids) == len(set(activity_ids))
    for ind in catalogue.indicators:
        assert ind.id.startswith(f"{ind.school_form.code}-{ind.area.code}-")
        for act in ind.activities:
            assert act.id.startswith(ind.id + "-A")


@pytest.mark.parametrize("version", VERSIONS)
def test_six_to_ten_indicators_per_school_form_and_area(version: str) -> None:
    catalogue = load_catalogue(version)
    for form in SchoolForm:
        for area in AREA_ORDER:
            assert 6 <= len(catalogue.indicators_for(form, area)) <= 10, (form, area)


@pytest.mark.parametrize("version", VERSIONS)
def test_activities_have_priority_owner_and_known_prerequisites(version: str) -> None:
    catalogue = load_catalogue(version)
    for ind in catalogue.indicators:
        for act in ind.activities:
            assert act.priority in (1, 2, 3)
            assert isinstance(act.owner, OwnerRole)
            for req in act.requires:
                assert catalogue.activity(req).id == req
                assert catalogue.indicator(catalogue.activity(req).indicator_id).school_form is ind.school_form
    # all five owner roles are used, and there are cross-indicator prerequisites
    assert {a.owner for i in catalogue.indicators for a in i.activities} == set(OwnerRole)
    cross = [
        (a.id, r) for i in catalogue.indicators for a in i.activities for r in a.requires
        if catalogue.activity(r).indicator_id != i.id
    ]
    assert len(cross) >= 10


def test_one_to_one_rollout_requires_the_network(cat1: Catalogue) -> None:
    rollout = cat1.activity("GR-INF-02-A3")
    assert "GR-INF-01-A3" in rollout.requires
    assert cat1.activity("GY-INF-02-A3").requires == ("GY-INF-01-A3",)


@pytest.mark.parametrize("version", VERSIONS)
def test_national_test_tag_marks_indicators_in_grundskola_and_gymnasieskola(version: str) -> None:
    catalogue = load_catalogue(version)
    assert "digitala_nationella_prov" in catalogue.tags
    for form in (SchoolForm.COMPULSORY_SCHOOL, SchoolForm.UPPER_SECONDARY_SCHOOL):
        tagged = [i for i in catalogue.indicators_for(form) if "digitala_nationella_prov" in i.tags]
        assert len(tagged) >= 5
        assert {i.area for i in tagged} >= {Area.LEADERSHIP, Area.INFRASTRUCTURE, Area.COMPETENCE, Area.USE}
    # förskolan skriver inga nationella prov
    assert not any("digitala_nationella_prov" in i.tags for i in catalogue.indicators_for(SchoolForm.PRESCHOOL))


def test_labels_are_swedish(cat1: Catalogue) -> None:
    assert [cat1.scale_labels[r] for r in Rating] == [
        "ej planerad", "planerad", "påbörjad", "nästan där", "uppnådd", "ej relevant",
    ]
    assert [cat1.area_labels[a] for a in AREA_ORDER] == ["Ledning", "Infrastruktur", "Kompetens", "Användning"]
    assert cat1.school_form_labels[SchoolForm.PRESCHOOL] == "Förskola"


def test_catalogue_counts(cat1: Catalogue, cat2: Catalogue) -> None:
    expected = {
        SchoolForm.PRESCHOOL: [6, 6, 6, 6],
        SchoolForm.COMPULSORY_SCHOOL: [7, 7, 7, 7],
        SchoolForm.UPPER_SECONDARY_SCHOOL: [7, 6, 6, 7],
    }
    for catalogue in (cat1, cat2):
        for form, counts in expected.items():
            assert [len(catalogue.indicators_for(form, a)) for a in AREA_ORDER] == counts
        assert len(catalogue.indicators) == 78
        assert catalogue.activity_count == 313


# --------------------------------------------------------------------------- versions


def test_ids_are_stable_across_versions(library: CatalogueLibrary, cat1: Catalogue, cat2: Catalogue) -> None:
    assert list(library) == ["2026.1", "2026.2"]
    assert library.latest is cat2
    assert cat2.previous_version == "2026.1"
    old, new = {i.id for i in cat1.indicators}, {i.id for i in cat2.indicators}
    assert old - new == {"GR-ANV-06"}
    assert new - old == {"GR-ANV-08"}
    assert [r.id for r in cat2.retired] == ["GR-ANV-06"]
    assert cat2.retired[0].replaced_by == ("GR-KOM-04",)
    for ind_id in old & new:
        a, b = cat1.indicator(ind_id), cat2.indicator(ind_id)
        assert (a.school_form, a.area) == (b.school_form, b.area)
    # texts were reworded under the same id
    assert cat1.indicator("GR-INF-01").title != cat2.indicator("GR-INF-01").title
    assert cat1.indicator("GR-KOM-04").description != cat2.indicator("GR-KOM-04").description
    assert check_version_stability([cat1, cat2]) == []


def test_dropping_an_indicator_without_retiring_it_is_caught(cat1: Catalogue) -> None:
    data = read_catalogue_data("2026.2")
    data["retired"] = []
    cat2 = parse_catalogue(data)
    problems = check_version_stability([cat1, cat2])
    assert any("GR-ANV-06" in p and "without being listed as retired" in p for p in problems)
    with pytest.raises(CatalogueInvalid):
        CatalogueLibrary([cat1, cat2])


def test_reusing_a_retired_id_is_caught(cat1: Catalogue, cat2: Catalogue) -> None:
    data = read_catalogue_data("2026.2")
    data["version"], data["previous_version"] = "2026.3", "2026.2"
    data["retired"] = []
    new = next(i for i in data["indicators"] if i["id"] == "GR-ANV-08")
    new["id"] = "GR-ANV-06"
    for act in new["activities"]:
        act["id"] = act["id"].replace("GR-ANV-08", "GR-ANV-06")
    dropped_08 = {"id": "GR-ANV-08", "reason": "test"}
    data["retired"] = [dropped_08]
    cat3 = parse_catalogue(data)
    problems = check_version_stability([cat1, cat2, cat3])
    assert any("GR-ANV-06" in p and "must not be reused" in p for p in problems)


def test_moving_an_indicator_to_another_area_is_caught(cat1: Catalogue, cat2: Catalogue) -> None:
    moved = cat2.model_copy(
        update={
            "indicators": tuple(
                i.model_copy(update={"area": Area.COMPETENCE}) if i.id == "GR-ANV-01" else i for i in cat2.indicators
            )
        }
    )
    assert cat2.indicator("GR-ANV-01").area is Area.USE  # the original is untouched (no shared index)
    assert moved.indicator("GR-ANV-01").area is Area.COMPETENCE
    problems = check_version_stability([cat1, moved])
    assert any(p.startswith("GR-ANV-01: changed school form or area") for p in problems)


# --------------------------------------------------------------------------- schema and rule violations


@pytest.fixture
def data() -> dict:
    return copy.deepcopy(read_catalogue_data("2026.1"))


def _indicator(data: dict, ind_id: str) -> dict:
    return next(i for i in data["indicators"] if i["id"] == ind_id)


def test_schema_rejects_missing_level_descriptor(data: dict) -> None:
    del _indicator(data, "GR-LED-01")["levels"]["STARTED"]
    problems = schema_problems(data)
    assert any("'STARTED' is a required property" in p for p in problems)
    with pytest.raises(CatalogueInvalid) as exc:
        parse_catalogue(data)
    assert exc.value.version == "2026.1"


def test_schema_rejects_priority_out_of_range_and_bad_owner(data: dict) -> None:
    acts = _indicator(data, "GR-LED-01")["activities"]
    acts[0]["priority"] = 4
    acts[1]["owner"] = "JANITOR"
    problems = schema_problems(data)
    assert any("priority" in p and "4 is greater than the maximum of 3" in p for p in problems)
    assert any("'JANITOR' is not one of" in p for p in problems)


def test_schema_rejects_bad_indicator_id_and_activity_for_achieved(data: dict) -> None:
    _indicator(data, "GR-LED-02")["id"] = "GR-XXX-02"
    _indicator(data, "GR-LED-03")["activities"][0]["from_level"] = "ACHIEVED"
    problems = schema_problems(data)
    assert any("'GR-XXX-02' does not match" in p for p in problems)
    assert any("'ACHIEVED' is not one of" in p for p in problems)


def test_schema_requires_the_national_test_tag(data: dict) -> None:
    data["tags"] = [t for t in data["tags"] if t["id"] != "digitala_nationella_prov"]
    assert schema_problems(data)


def test_rules_reject_dependency_cycle(data: dict) -> None:
    _indicator(data, "GR-INF-01")["activities"][2]["requires"] = ["GR-INF-02-A3"]  # GR-INF-02-A3 requires GR-INF-01-A3
    with pytest.raises(CatalogueInvalid) as exc:
        parse_catalogue(data)
    assert any("dependency cycle" in p and "GR-INF-01-A3" in p and "GR-INF-02-A3" in p for p in exc.value.problems)


def test_rules_reject_longer_cycle_and_self_dependency(build_catalogue) -> None:
    P, L = OwnerRole.PRINCIPAL, Rating.NOT_PLANNED
    cat = build_catalogue([
        ("GR-LED-01", Area.LEADERSHIP, [("GR-LED-01-A1", L, 1, P, ["GR-LED-02-A1"])]),
        ("GR-LED-02", Area.LEADERSHIP, [("GR-LED-02-A1", L, 1, P, ["GR-LED-03-A1"])]),
        ("GR-LED-03", Area.LEADERSHIP, [("GR-LED-03-A1", L, 1, P, ["GR-LED-01-A1"]),
                                        ("GR-LED-03-A2", L, 1, P, ["GR-LED-03-A2"])]),
    ])
    assert find_dependency_cycle(cat) == ["GR-LED-01-A1", "GR-LED-02-A1", "GR-LED-03-A1", "GR-LED-01-A1"]
    problems = check_catalogue_rules(cat)
    assert "GR-LED-03-A2: requires itself" in problems


def test_rules_reject_duplicates_unknown_and_cross_form_requires(data: dict) -> None:
    dup = copy.deepcopy(_indicator(data, "GR-LED-01"))
    data["indicators"].append(dup)
    _indicator(data, "GR-LED-02")["activities"][0]["requires"] = ["GR-LED-99-A1"]
    _indicator(data, "GR-LED-03")["activities"][0]["requires"] = ["FO-LED-01-A1"]
    with pytest.raises(CatalogueInvalid) as exc:
        parse_catalogue(data)
    problems = exc.value.problems
    assert "GR-LED-01: indicator id is not unique" in problems
    assert "GR-LED-01-A1: activity id is not unique" in problems
    assert "GR-LED-02-A1: requires unknown activity GR-LED-99-A1" in problems
    assert "GR-LED-03-A1: requires FO-LED-01-A1 of another school form" in problems
    assert "GR-LED: 8 indicators, expected 6–10" not in problems  # 8 is within 6–10


def test_rules_reject_level_without_activity_and_wrong_prefix(data: dict) -> None:
    ind = _indicator(data, "GR-KOM-02")
    ind["activities"] = [a for a in ind["activities"] if a["from_level"] != "ALMOST_THERE"]
    ind["activities"].append(dict(ind["activities"][0], id="GR-KOM-02-A9", from_level="NOT_PLANNED"))
    _indicator(data, "GY-KOM-02")["area"] = "anvandning"  # id says KOM
    with pytest.raises(CatalogueInvalid) as exc:
        parse_catalogue(data)
    problems = exc.value.problems
    assert "GR-KOM-02: no activity for level ALMOST_THERE" in problems
    assert any(p.startswith("GY-KOM-02: id must start with GY-ANV-") for p in problems)


def test_rules_reject_too_few_indicators_and_undeclared_tag(data: dict) -> None:
    data["indicators"] = [i for i in data["indicators"] if i["id"] not in {"FO-LED-05", "FO-LED-06"}]
    _indicator(data, "GY-ANV-01")["tags"] = ["okand_tagg"]
    with pytest.raises(CatalogueInvalid) as exc:
        parse_catalogue(data)
    problems = exc.value.problems
    assert "FO-LED: 4 indicators, expected 6–10" in problems
    assert "GY-ANV-01: tag 'okand_tagg' is not declared in tags" in problems
