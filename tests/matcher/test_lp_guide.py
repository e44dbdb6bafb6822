"""The coverage relaxation as the search's guide (``matcher.lp_guide``): a valid bound, windows
over the orders where plan and relaxation disagree, and a guided search that keeps every
guarantee (verified plans, never below the plan it starts from nor the hand rule's km per covered
order)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given

import matcher.lns as lns
import matcher.lp_guide as lp_guide
import matcher.solve as solve_module
from matcher.cpsat.objective import COST_SCALE
from matcher.generator import generate_street, preset
from matcher.lns import Neighbourhoods, plan_value
from matcher.lp_guide import Guide, cost_guide, coverage_guide
from matcher.model import Problem
from matcher.params import SolveParams
from matcher.result import Status
from matcher.solve import prepare, solve
from matcher.verify import assert_valid
from tests.matcher.strategies import problems
from tests.matcher.test_lns import PROPERTY, _check_not_worse

PARAMS = SolveParams(time_limit_s=3, workers=1, seed=0)


def test_disagrees() -> None:
    guide = Guide(10, (True, False), (frozenset({1, 2}), frozenset()))
    assert not guide.disagrees(0, [2, 1])
    assert guide.disagrees(0, [1, 3])
    assert guide.disagrees(0, None)
    assert not guide.disagrees(1, None)
    assert guide.disagrees(1, [4])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_guides_bound_is_above_the_proven_optimum(seed: int) -> None:
    """On the candidate lists the solve uses, the guide's bound is never below CP-SAT's proven
    optimal weighted coverage (the whole model of a tiny street), and it is a whole number."""
    problem = generate_street(preset("tiny", seed=seed))
    params = SolveParams(time_limit_s=20, workers=1, seed=0)
    result = solve(problem, params)
    assert result.stages[0].status is Status.OPTIMAL
    _, contexts, _ = prepare(problem, params)
    guide = coverage_guide(problem, contexts)
    assert guide is not None
    assert guide.bound == int(guide.bound)
    assert guide.bound >= result.weighted_coverage
    assert len(guide.covered) == len(guide.teams) == len(contexts)
    for ctx in contexts:
        helpers = {c.helper for c in ctx.candidates}
        assert guide.teams[ctx.index] <= helpers


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_cost_guides_bound_is_below_the_proven_optimum(seed: int) -> None:
    """At CP-SAT's proven optimal coverage of a tiny street (the whole model), the cost guide's
    bound is never above CP-SAT's proven least cost, nor above the cost of any plan covering as
    much (the hand rule's, when it does)."""
    problem = generate_street(preset("tiny", seed=seed))
    params = SolveParams(time_limit_s=20, workers=1, seed=0)
    result = solve(problem, params)
    assert [s.status for s in result.stages] == [Status.OPTIMAL, Status.OPTIMAL]
    _, contexts, greedy = prepare(problem, params)
    guide = cost_guide(problem, contexts, result.weighted_coverage, params)
    assert guide is not None
    assert guide.bound <= result.stages[1].objective + 1e-9
    hand = plan_value(problem, contexts, greedy.assignments, params.weights)
    lower = cost_guide(problem, contexts, hand[0], params)
    assert lower is not None and lower.bound <= hand[1] / COST_SCALE + 1e-9


def _guided_search(seed: int) -> tuple[Problem, list, dict, Neighbourhoods]:
    problem = generate_street(preset("tiny", seed=seed))
    _, contexts, greedy = prepare(problem, PARAMS)
    search = Neighbourhoods(
        problem, contexts, PARAMS, greedy.assignments, window=4, travel_reference=greedy.assignments
    )
    return problem, contexts, dict(greedy.assignments), search


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_guided_window_holds_the_disagreeing_orders_first(seed: int) -> None:
    """A guided window starts at its seed and then takes only orders whose plan disagrees with
    the guide, reached through a helper of an order already in it, before any other order."""
    problem, contexts, plans, search = _guided_search(seed)
    guide = coverage_guide(problem, contexts)
    assert guide is not None
    search.guide, search.guided = guide, True
    for ctx in contexts:
        for helper in guide.teams[ctx.index]:
            search.guide_orders_of.setdefault(helper, []).append(ctx.index)
    seeds = [c.index for c in contexts if guide.covered[c.index] and c.index not in plans]
    for seed_order in seeds:
        window = search.neighbourhood(seed_order)
        assert window[0] == seed_order and len(window) <= search.window
        chosen, seen = [seed_order], {seed_order}
        search._disagreeing(chosen, seen)
        assert window[: len(chosen)] == chosen[: search.window]
        for order in chosen[1:]:
            planned = plans.get(order)
            assert guide.disagrees(order, planned[0] if planned else None)


@pytest.mark.parametrize(("seed", "workers"), [(0, 1), (1, 1), (2, 2)])
def test_the_guided_search_never_lowers_coverage(
    monkeypatch: pytest.MonkeyPatch, seed: int, workers: int
) -> None:
    """Run with the guide (windows of four orders): the guide is solved, its bound is at least
    the plan's coverage, the plan covers at least its start, keeps the hand rule's km per covered
    order and passes the verifier."""
    monkeypatch.setattr(solve_module, "LARGE_ORDERS", 0)
    monkeypatch.setattr(lns, "WINDOW_ORDERS", 4)
    problem = generate_street(preset("tiny", seed=seed))
    params = PARAMS.model_copy(update={"workers": workers})
    _, contexts, greedy = prepare(problem, params)
    search = Neighbourhoods(
        problem, contexts, params, greedy.assignments, travel_reference=greedy.assignments
    )
    start = plan_value(problem, contexts, greedy.assignments, params.weights)
    outcome = search.run(time.perf_counter() + 5, time.perf_counter(), guided=True)
    assert outcome.coverage_bound is not None and outcome.coverage_bound == search.coverage_bound
    coverage, cost = plan_value(problem, contexts, outcome.plans, params.weights)
    assert [coverage, cost] == search.value
    assert start[0] <= outcome.coverage_after_phase <= coverage <= outcome.coverage_bound
    if outcome.cost_bound is not None:  # the cost relaxation's, at the coverage stage's level
        assert outcome.cost_bound <= cost / COST_SCALE + 1e-9
    km = sum(lns._km(contexts, outcome.plans, i) for i in outcome.plans)
    reference = sum(lns._km(contexts, greedy.assignments, i) for i in greedy.assignments)
    assert km * len(greedy.assignments) <= reference * len(outcome.plans) + 1e-9
    result = _check_not_worse(problem, params)
    assert result.stages[0].bound >= result.weighted_coverage


def test_no_guide_when_it_would_take_too_much_of_the_time() -> None:
    """The relaxation is skipped when its expected time is above its share of what is left
    (a busy machine, a late preparation)."""
    now = time.perf_counter()
    assert lp_guide.within(now + 100.0, 5000, 1.0) is not None
    assert lp_guide.within(now + 100.0, 5000, 0.01) is None
    assert lp_guide.within(now + 1.0, 10_000, 1.0) is None


@PROPERTY
@given(problems())
def test_the_guided_large_path_is_never_worse_than_the_hand_rule(
    monkeypatch: pytest.MonkeyPatch, prob: Problem
) -> None:
    """Through the guided search on random problems (pins, teams, languages, matrix travel):
    valid plans, at least the hand rule's coverage, no more km per covered order, and a
    reported coverage bound never below the plan's coverage."""
    monkeypatch.setattr(solve_module, "LARGE_ORDERS", 0)
    monkeypatch.setattr(lns, "WINDOW_ORDERS", 3)
    result = _check_not_worse(prob, PARAMS)
    if result.status is not Status.INFEASIBLE and result.stages:
        assert_valid(prob, result)
        assert result.stages[0].bound >= result.weighted_coverage


def test_about_one_core_keeps_the_unguided_time_split(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the process had about one core while the coverage relaxation was found (here it
    waits 0.3 s without CPU, one search thread working meanwhile), the coverage stage keeps the
    unguided share of the time and the cost relaxation is not solved; the plan still covers at
    least its start."""
    slow = lp_guide.coverage_guide

    def waiting(*args: object) -> Guide | None:
        *given, built = args

        def built_then_wait() -> None:  # the windows start, the relaxation takes 0.3 s more
            built()  # type: ignore[operator]
            time.sleep(0.3)

        return slow(*given, built_then_wait)  # type: ignore[arg-type]

    monkeypatch.setattr(lns, "coverage_guide", waiting)
    problem = generate_street(preset("tiny", seed=0))
    _, contexts, greedy = prepare(problem, PARAMS)
    search = Neighbourhoods(
        problem, contexts, PARAMS, greedy.assignments, travel_reference=greedy.assignments
    )
    began = time.perf_counter()
    outcome = search.run(began + 4, began, guided=True)
    assert search.cores is not None and search.cores < lns.GUIDE_CORES
    assert outcome.coverage_bound is not None and outcome.cost_bound is None
    assert outcome.phase_s[0] <= lns.COVERAGE_SHARE * 4 + 0.5
    start = plan_value(problem, contexts, greedy.assignments, PARAMS.weights)
    assert plan_value(problem, contexts, outcome.plans, PARAMS.weights)[0] >= start[0]
