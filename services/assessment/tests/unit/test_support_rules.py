"""Rules and role restrictions of support interventions, for every kind (pure)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date

import pytest

from styrkedja_assessment.support.rules import (
    PRINCIPAL_DECIDES,
    CallerRole,
    Intervention,
    StoredInvestigation,
    check_intervention,
    check_investigation_basis,
    check_recorder,
    may_read_description,
    may_record,
)
from styrkedja_contracts.events.support import (
    DeciderRole,
    EvaluationOutcome,
    InterventionKind,
    InterventionStatus,
)

K = InterventionKind
S = InterventionStatus


def item(kind: InterventionKind, **overrides) -> Intervention:
    base = Intervention(kind=kind, status=S.decided, start_date=date(2026, 9, 1), evaluation_date=date(2026, 11, 1),
                        evaluation_outcome=None, decided_by_role=DeciderRole.principal, decided_on=date(2026, 9, 1),
                        investigation_id=uuid.uuid4() if kind is K.action_programme else None)
    return replace(base, **overrides)


def rules(found) -> set[tuple[str, str]]:
    return {(v.field, v.rule) for v in found}


@pytest.mark.parametrize("kind", list(K))
def test_a_principal_decision_passes_for_every_kind(kind):
    assert check_intervention(item(kind)) == []


@pytest.mark.parametrize("kind", [K.investigation, K.special_support, K.action_programme])
def test_only_the_principal_decides_investigations_special_support_and_programmes(kind):
    assert rules(check_intervention(item(kind, decided_by_role=DeciderRole.teacher))) == {
        ("decided_by_role", "principal_decides")}


def test_a_teacher_decides_extra_adaptations():
    assert check_intervention(item(K.extra_adjustment, decided_by_role=DeciderRole.teacher)) == []


@pytest.mark.parametrize("kind", list(K))
def test_a_decision_names_who_and_when_but_a_proposal_need_not(kind):
    found = rules(check_intervention(item(kind, decided_by_role=None, decided_on=None)))
    assert found == {("decided_by_role", "decision_names_decider"), ("decided_on", "decision_names_date")}
    assert check_intervention(item(kind, status=S.proposed, decided_by_role=None, decided_on=None)) == []


@pytest.mark.parametrize("kind", list(K))
@pytest.mark.parametrize("evaluation", [date(2026, 9, 1), date(2026, 8, 1)])
def test_the_evaluation_date_comes_after_the_start(kind, evaluation):
    assert ("evaluation_date", "evaluation_after_start") in rules(
        check_intervention(item(kind, evaluation_date=evaluation)))


@pytest.mark.parametrize("kind", list(K))
def test_an_outcome_belongs_to_an_evaluation(kind):
    assert rules(check_intervention(item(kind, evaluation_outcome=EvaluationOutcome.better))) == {
        ("evaluation_outcome", "outcome_needs_evaluation")}
    assert rules(check_intervention(item(kind, status=S.evaluated))) == {
        ("evaluation_outcome", "evaluated_needs_outcome")}
    for status in (S.evaluated, S.closed):
        assert check_intervention(item(kind, status=status, evaluation_outcome=EvaluationOutcome.worse)) == []


def test_an_action_programme_names_its_investigation():
    assert rules(check_intervention(item(K.action_programme, investigation_id=None))) == {
        ("investigation_id", "action_programme_needs_investigation")}


@pytest.mark.parametrize("kind", [K.extra_adjustment, K.investigation])
def test_only_programmes_and_special_support_rest_on_an_investigation(kind):
    assert rules(check_intervention(item(kind, investigation_id=uuid.uuid4()))) == {
        ("investigation_id", "investigation_basis_kind")}
    assert check_intervention(item(K.special_support, investigation_id=uuid.uuid4())) == []


def test_a_decided_intervention_does_not_start_before_its_decision():
    assert ("start_date", "starts_after_decision") in rules(
        check_intervention(item(K.special_support, decided_on=date(2026, 9, 2))))


def investigation(**overrides) -> StoredInvestigation:
    return replace(StoredInvestigation(K.investigation, S.decided, "2999", "s-1", False), **overrides)


@pytest.mark.parametrize(("stored", "rule"), [
    (None, "investigation_must_exist"),
    (investigation(removed=True), "investigation_must_exist"),
    (investigation(kind=K.extra_adjustment), "investigation_must_exist"),
    (investigation(student_id="s-2"), "investigation_of_same_student"),
    (investigation(organiser_id="1280"), "investigation_must_exist"),
    (investigation(status=S.proposed), "investigation_must_be_decided"),
])
def test_the_basis_must_be_a_decided_investigation_of_the_same_student(stored, rule):
    found = check_investigation_basis("2999", "s-1", stored)
    assert found is not None and (found.field, found.rule, found.status) == ("investigation_id", rule, 409)


@pytest.mark.parametrize("stored", [
    investigation(organiser_id="1280"), investigation(organiser_id="1280", kind=K.special_support),
    investigation(organiser_id="1280", status=S.proposed), investigation(organiser_id="1280", student_id="s-2"),
])
def test_another_organisers_record_is_no_basis_and_tells_nothing_of_it(stored):
    """Round 23c, failed on the old code: a token of organiser 2999 naming another organiser's record as the basis
    learnt that it exists, its kind ("names a special_support, not an investigation"), whether it is decided, or
    that it is "of another student": a probe of any id. Now it is answered as an id never stored."""
    found = check_investigation_basis("2999", "s-1", stored)
    never = check_investigation_basis("2999", "s-1", None)
    assert found is not None and never is not None
    assert (found.field, found.rule, found.status, found.message) == (
        never.field, never.rule, never.status, never.message)


@pytest.mark.parametrize("status", [S.decided, S.in_progress, S.evaluated, S.closed])
def test_a_decided_investigation_is_a_basis(status):
    assert check_investigation_basis("2999", "s-1", investigation(status=status)) is None


@pytest.mark.parametrize("kind", list(K))
def test_who_may_record_each_kind(kind):
    assert may_record(CallerRole.principal, kind)
    assert may_record(CallerRole.teacher, kind) is (kind is K.extra_adjustment)
    assert not may_record(CallerRole.student_health, kind)


def test_who_may_read_the_description():
    assert may_read_description(CallerRole.principal, teaches_student=False)
    assert may_read_description(CallerRole.student_health, teaches_student=False)
    assert may_read_description(CallerRole.teacher, teaches_student=True)
    assert not may_read_description(CallerRole.teacher, teaches_student=False)
    assert not may_read_description(CallerRole.platform, teaches_student=True)


# ------------------------------------------------------------- the caller's role (the token's, once tokens are on)

@pytest.mark.parametrize("kind", list(K))
def test_a_teacher_records_extra_adaptations_only_in_their_own_name(kind):
    own = item(kind, decided_by_role=DeciderRole.teacher)
    found = rules(check_recorder("teacher", own))
    if kind is K.extra_adjustment:
        assert found == set()
    else:
        assert found == {("kind", "role_may_record")}
        assert all(v.status == 403 for v in check_recorder("teacher", own))
    in_principals_name = rules(check_recorder("teacher", item(kind, decided_by_role=DeciderRole.principal)))
    assert ("decided_by_role", "decider_is_caller") in in_principals_name


@pytest.mark.parametrize("kind", list(K))
def test_the_principal_and_a_platform_record_every_kind(kind):
    assert check_recorder("principal", item(kind)) == []
    assert check_recorder("platform", item(kind)) == []
    # a platform names the decider; the principal-decides rule still applies to what it names
    named_teacher = item(kind, decided_by_role=DeciderRole.teacher)
    assert check_recorder("platform", named_teacher) == []
    assert (("decided_by_role", "principal_decides") in rules(check_intervention(named_teacher))) \
        == (kind in PRINCIPAL_DECIDES)
    # the principal records in their own name only
    assert rules(check_recorder("principal", named_teacher)) == {("decided_by_role", "decider_is_caller")}


@pytest.mark.parametrize("role", ["area_manager", "organiser_admin", "politician", "public", "student_health",
                                  "ops"])
def test_other_roles_record_no_support(role):
    for kind in K:
        assert rules(check_recorder(role, item(kind))) == {("kind", "role_may_record")}, (role, kind)


def test_no_known_caller_checks_nothing():
    assert check_recorder(None, item(K.action_programme, decided_by_role=DeciderRole.teacher)) == []
