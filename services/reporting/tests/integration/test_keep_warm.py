"""Keeping the disclosure decisions warm (`access.warm`) and deciding off the loop never shows a figure
with a decision taken on other data: after a batch that adds a small group, the first read — warmed or
not, with the warming running alongside concurrent reads — withholds it, and what warming and the reads
decided is what a cold recomputation on the same state decides.

The organiser of `test_one_decision` (north 5 girls, south 10+10, east 27+3); the batch adds an area
`west` whose one school unit has 3 girls (small: withheld for a politician, and a complement with it)."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from uuid import uuid5

import pytest

from styrkedja_devstack.testing import service_client
from styrkedja_kit.auth import Level
from styrkedja_reporting.access import decision, warm
from styrkedja_reporting.results.disclose import state_version

from .test_directory import NS, Feeder, unit
from .test_figures import result
from .test_one_decision import ORG, _figure, _headers, _results, fed  # noqa: F401  (fed: the fixture)

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

POLITICIAN = frozenset(Level)
COMPONENTS = [("assessment", "2026/27", "GRGRMAT01")]


def west() -> list:
    events = [unit("area", "west", ORG, ORG), unit("school_unit", "su-west", ORG, "west", code="44444444"),
              unit("group", "7A", ORG, "su-west", code="44444444", year=7)]
    for i in range(3):
        events.append(result(uuid5(NS, f"one-west-{i}"), 1, "C", ORG, "44444444", "7A", f"s-west-{i}",
                             gender="female", year=7, on=date(2026, 10, 1)))
    return events


@pytest.fixture
def fresh_caches(monkeypatch):
    """This test's decisions only: every cache of `access.decision` empty at its start."""
    for name in ("_DECISIONS", "_BY_ROWS", "_ASKED"):
        monkeypatch.setattr(decision, name, type(getattr(decision, name))())
    monkeypatch.setattr(decision, "_IN_FLIGHT", {})


async def _hidden_areas(client, headers) -> dict[str, frozenset[str]]:
    views = {"gender-gap": await _figure(client, headers, "gender-gap", "assessed"),
             "coverage": await _figure(client, headers, "coverage", "with_result"),
             "trend": await _figure(client, headers, "trend", "assessed")}
    return {name: frozenset(a for a, n in view.items() if n is None) for name, view in views.items()}


async def _cold(database, settings) -> decision.TreeDecision:
    """The decision on the current state taken from nothing (every cache emptied)."""
    decision._DECISIONS.clear()
    decision._BY_ROWS.clear()
    async with database.sessions() as session:
        return await decision.decision_for(session, COMPONENTS, POLITICIAN, settings.disclosure_rules(), asked=False)


def _same(a: decision.TreeDecision, b: decision.TreeDecision) -> None:
    assert (a.disclosure.withheld, a.disclosure.outcome_withheld, a.disclosure.cells) == (
        b.disclosure.withheld, b.disclosure.outcome_withheld, b.disclosure.cells)


async def test_the_first_read_after_a_batch_is_warm_and_withholds_the_new_small_group(
        fed, bare_client, token_issuer, settings, fresh_caches):  # noqa: F811
    politician = _headers(token_issuer, "politician")
    before = await _hidden_areas(bare_client, politician)
    assert all("north" in hidden for hidden in before.values())
    async with fed.sessions() as session:
        old = await state_version(session)
    assert await warm.warm_once(fed, old) == old  # nothing new: nothing warmed

    await Feeder(fed)(west())
    warmed = warm.WARMED._value.get()
    version = await warm.warm_once(fed, old)
    assert version != old and warm.WARMED._value.get() > warmed
    async with fed.sessions() as session:
        assert await state_version(session) == version
        solved = decision.SOLVED[0]
        kept = await decision.decision_for(session, COMPONENTS, POLITICIAN, settings.disclosure_rules(), asked=False)
    assert decision.SOLVED[0] == solved  # warm: nothing decided by the reader
    assert kept.withheld(decision.pass_slice("GRGRMAT01", 7, ("2026/27", "HT")), "area", "west", "female")

    after = await _hidden_areas(bare_client, politician)
    assert decision.SOLVED[0] == solved
    assert all({"north", "west"} <= hidden for hidden in after.values()), after
    assert len(set(after.values())) == 1
    _same(kept, await _cold(fed, settings))


async def test_warming_alongside_concurrent_reads_agrees_with_a_cold_recomputation(
        fed, bare_client, token_issuer, settings, fresh_caches, monkeypatch):  # noqa: F811
    real = decision.protect_tree

    def slow(*args, **kwargs):  # the reads all arrive while the decision is taken (not a timing assertion)
        time.sleep(0.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(decision, "protect_tree", slow)
    politician = _headers(token_issuer, "politician")
    await _hidden_areas(bare_client, politician)  # asked: warmed after the batch
    async with fed.sessions() as session:
        old = await state_version(session)
    await Feeder(fed)(west())
    solved = decision.SOLVED[0]
    routes = [("gender-gap", "assessed"), ("coverage", "with_result"), ("trend", "assessed")] * 2
    got = await asyncio.gather(warm.warm_once(fed, old),
                               *(_figure(bare_client, politician, path, column) for path, column in routes))
    assert decision.SOLVED[0] - solved == 1  # one decision, however many asked at once
    hidden = [frozenset(a for a, n in view.items() if n is None) for view in got[1:]]
    assert len(set(hidden)) == 1 and {"north", "west"} <= hidden[0], hidden
    async with fed.sessions() as session:
        shared = await decision.decision_for(session, COMPONENTS, POLITICIAN, settings.disclosure_rules(), asked=False)
    _same(shared, await _cold(fed, settings))


async def test_a_decision_is_never_kept_under_a_version_whose_rows_it_was_not_taken_on(
        fed, settings, fresh_caches, monkeypatch):  # noqa: F811
    real = decision.components_read
    batches = [west()]

    async def read_after_a_batch(session, components, without=frozenset()):
        if batches:  # a batch commits between the read of the version and the read of the rows
            await Feeder(fed)(batches.pop())
        return await real(session, components, without)

    monkeypatch.setattr(decision, "components_read", read_after_a_batch)
    rules = settings.disclosure_rules()
    async with fed.sessions() as session:
        old = await state_version(session)
        await decision.decision_for(session, COMPONENTS, POLITICIAN, rules, old, asked=False)
    assert not [key for key in decision._DECISIONS if key[0] == old]  # taken on the new rows: not the old version's
    async with fed.sessions() as session:
        new = await decision.decision_for(session, COMPONENTS, POLITICIAN, rules, asked=False)
    assert new.withheld(decision.pass_slice("GRGRMAT01", 7, ("2026/27", "HT")), "area", "west", "female")


async def test_the_service_keeps_the_asked_decisions_warm_in_the_background(
        fed, token_issuer, settings, fresh_caches, monkeypatch):  # noqa: F811
    politician = _headers(token_issuer, "politician")
    real, rounds = warm.warm_once, []

    async def noted(db, last):  # the versions the background warming has finished a round on
        version = await real(db, last)
        rounds.append(version)
        return version

    monkeypatch.setattr(warm, "warm_once", noted)
    async with service_client("styrkedja_reporting", settings.model_copy(update={"decision_warm_seconds": 0.05,
                                                                                   "metrics_on_app_port": True})) \
            as client:
        await _hidden_areas(client, politician)
        warmed = warm.WARMED._value.get()
        await Feeder(fed)(west())
        async with fed.sessions() as session:
            fed_version = await state_version(session)
        # not the first warmed decision of a round (CI: the read came between two of one round's decisions, or after
        # a round on a version the batch's later commit moved past): a round finished on the version the batch left
        for _ in range(400):
            if fed_version in rounds:
                break
            await asyncio.sleep(0.05)
        assert warm.WARMED._value.get() > warmed
        solved = decision.SOLVED[0]
        after = await _hidden_areas(client, politician)
        assert decision.SOLVED[0] == solved  # the first read after the batch: warm
        assert all({"north", "west"} <= hidden for hidden in after.values()), after
        metrics = (await client.get("/metrics")).text
        assert "styrkedja_disclosure_decisions_warmed_total" in metrics


def _north_batch_before_the_decision(database, monkeypatch, module) -> list:
    """`module.decision_for` commits a batch (north's 5 girls become 15) before it decides, once; the list
    returned is empty once it has."""
    real = module.decision_for
    batches = [[result(uuid5(NS, f"one-north-more-{i}"), 1, "C", ORG, "11111111", "7A", f"s-north-more-{i}",
                       gender="female", year=7, on=date(2026, 10, 1)) for i in range(10)]]

    async def batch_first(session, *args, **kwargs):
        if batches:
            await Feeder(database)(batches.pop())
        return await real(session, *args, **kwargs)

    monkeypatch.setattr(module, "decision_for", batch_first)
    return batches


async def test_a_batch_committed_during_a_figure_read_never_pairs_its_cells_with_the_new_decision(
        fed, bare_client, token_issuer, fresh_caches, monkeypatch):  # noqa: F811
    """The figure's cells and the decision withholding them are one state: a batch that makes north's 5 girls
    15 commits between the route's read of the cells and its decision. Taken on the new rows, the decision
    withholds no complement of north (15 is not small), and the response's last guard (`withhold_small`) hides
    north's 5 alone: the organiser's 55, less south's 20 and east's 30, gives it away."""
    from styrkedja_reporting.figures import routes

    batches = _north_batch_before_the_decision(fed, monkeypatch, routes)
    gap = await _figure(bare_client, _headers(token_issuer, "politician"), "gender-gap", "assessed")
    # north withheld (small), and a complement with it: else the organiser's 55 (shown) less the others gives it
    assert not batches and gap["north"] is None and sum(n is None for n in gap.values()) >= 2, gap


async def test_a_batch_committed_during_a_results_read_never_pairs_its_cells_with_the_new_decision(
        fed, bare_client, token_issuer, fresh_caches, monkeypatch):  # noqa: F811
    """As the figures (above), the results endpoint: its cells and their decision are one state."""
    from styrkedja_reporting.results import read

    batches = _north_batch_before_the_decision(fed, monkeypatch, read)
    shown = await _results(bare_client, _headers(token_issuer, "politician"))
    assert not batches and shown["north"] is None and sum(n is None for n in shown.values()) >= 2, shown
