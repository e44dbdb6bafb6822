"""The search for capacity-only days (``matcher.gap_search``): valid plans, never worse than
the start, the known optimum on small GAP instances, the same plan for the same seed, and the
matcher's own cost (fairness included)."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import time
from pathlib import Path

import numpy as np
import pytest

from matcher import gap_lp, gap_search
from matcher.candidates import build_contexts
from matcher.cpsat.objective import COST_SCALE
from matcher.lns import plan_value
from matcher.params import ObjectiveWeights, SolveParams
from matcher.read import GapInstance, gap_assignment, gap_cost, gap_to_problem, read_gap_file
from matcher.regret import regret_plan
from matcher.result import Status
from matcher.solve import solve
from matcher.verify import assert_valid

DATE = dt.date(2026, 1, 5)
WEIGHTS = ObjectiveWeights(travel=1, continuity=0, fairness=0, preference=0)
GAP1 = Path(__file__).resolve().parents[1] / "data" / "gap1.txt"
GAP1_OPTIMA = (261, 269, 256, 274, 251)  # min sense, OR-Library gap1 (bench/README.md)


def _params(seed: int = 0, weights: ObjectiveWeights = WEIGHTS) -> SolveParams:
    return SolveParams(time_limit_s=20, workers=2, seed=seed, candidate_limit=None, weights=weights)


def _random(seed: int, agents: int = 3, jobs: int = 8) -> GapInstance:
    """A tight random instance: capacities about 80 % of an even share of the work."""
    rng = random.Random(seed)
    resource = tuple(tuple(rng.randint(5, 25) for _ in range(jobs)) for _ in range(agents))
    cost = tuple(tuple(rng.randint(10, 50) for _ in range(jobs)) for _ in range(agents))
    share = sum(min(resource[i][j] for i in range(agents)) for j in range(jobs)) / agents
    capacity = tuple(round(share * 1.25) for _ in range(agents))
    return GapInstance(f"r{seed}", agents, jobs, cost, resource, capacity)


def _brute(instance: GapInstance) -> tuple[int, int]:
    """(most jobs assigned, least cost among those) over every assignment."""
    best = (0, 0)
    for choice in itertools.product(range(-1, instance.agents), repeat=instance.jobs):
        load = [0] * instance.agents
        for j, i in enumerate(choice):
            if i >= 0:
                load[i] += instance.resource[i][j]
        if any(load[i] > instance.capacity[i] for i in range(instance.agents)):
            continue
        cost = sum(instance.cost[i][j] for j, i in enumerate(choice) if i >= 0)
        best = max(best, (sum(i >= 0 for i in choice), -cost))
    return best[0], -best[1]


@pytest.fixture
def neighbourhoods_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No whole-model solve first: the descent and the neighbourhoods do all the work."""
    monkeypatch.setattr(gap_search, "WHOLE_CELLS", 0)


def test_gap1_reaches_the_published_optima_proven() -> None:
    """Through ``solve``, every gap1 problem ends at its min-sense optimum, proven optimal and
    valid."""
    for instance, optimum in zip(read_gap_file(GAP1), GAP1_OPTIMA, strict=True):
        problem = gap_to_problem(instance, DATE)
        result = solve(problem, _params())
        assert_valid(problem, result)
        assert gap_cost(instance, gap_assignment(instance, result)) == optimum
        assert result.status is Status.OPTIMAL


@pytest.mark.usefixtures("neighbourhoods_only")
def test_neighbourhoods_reach_the_brute_force_optimum_and_stop() -> None:
    """Without the whole-model solve, the search still reaches the brute-force optimum of tiny
    tight instances, never below the start's coverage nor above its cost, and stops with a
    proof once a neighbourhood of every helper is solved exactly."""
    for seed in range(4):
        instance = _random(seed)
        problem = gap_to_problem(instance, DATE)
        params = _params(seed)
        _, contexts = build_contexts(problem, params.wait_boost, None)
        start = regret_plan(problem, contexts, WEIGHTS)
        assert start is not None
        start_value = plan_value(problem, contexts, start, WEIGHTS)
        result = solve(problem, params)
        assert_valid(problem, result)
        agent_of = gap_assignment(instance, result)
        jobs, cost = _brute(instance)
        assert result.covered_orders == jobs
        assert result.covered_orders >= len(start)
        if jobs == instance.jobs:
            assert gap_cost(instance, agent_of) == cost <= start_value[1] / COST_SCALE
            assert result.status is Status.OPTIMAL
        assert result.runtime_s < params.time_limit_s


@pytest.mark.usefixtures("neighbourhoods_only")
def test_search_never_returns_worse_than_its_start_and_repeats_for_a_seed() -> None:
    """On a larger random instance the searched plan is valid, no worse than the regret start,
    and the same seed gives the same plan (the search stops on its proof, not the clock)."""
    instance = _random(11, agents=4, jobs=24)
    problem = gap_to_problem(instance, DATE)
    _, contexts = build_contexts(problem, 0.1, None)
    start = regret_plan(problem, contexts, WEIGHTS)
    assert start is not None
    start_coverage, start_cost = plan_value(problem, contexts, start, WEIGHTS)
    first, second = (solve(problem, _params(seed=5)) for _ in range(2))
    assert_valid(problem, first)
    assert first.weighted_coverage >= start_coverage
    if first.weighted_coverage == start_coverage:
        assert first.stages[-1].objective <= start_cost / COST_SCALE
    assert first.status is Status.OPTIMAL  # stopped on its proof
    assert first.assignments == second.assignments


@pytest.mark.usefixtures("neighbourhoods_only")
def test_cost_stage_counts_the_matchers_cost_with_fairness() -> None:
    """With the default weights (fairness included) the cost stage's objective is the
    matcher's own cost of the returned plan, and the plan is valid."""
    instance = _random(3, agents=3, jobs=12)
    problem = gap_to_problem(instance, DATE)
    params = _params(weights=ObjectiveWeights())
    result = solve(problem, params)
    assert_valid(problem, result)
    _, contexts = build_contexts(problem, params.wait_boost, None)
    column = {h.id: k for k, h in enumerate(problem.helpers)}
    index = {c.order.id: c.index for c in contexts}
    plans = {index[a.order]: ([column[a.helpers[0]]], None) for a in result.assignments}
    _, cost = plan_value(problem, contexts, plans, params.weights)
    assert result.stages[-1].name == "cost"
    assert result.stages[-1].objective == pytest.approx(cost / COST_SCALE)


def test_gap_shaped_only_for_capacity_only_days() -> None:
    """The search takes GAP-shaped days and declines timed streets."""
    from matcher.generator import generate_street, preset

    problem = gap_to_problem(_random(0), DATE)
    _, contexts = build_contexts(problem, 0.1, None)
    assert gap_search.gap_shaped(contexts, len(problem.helpers))
    street = generate_street(preset("tiny", seed=0))
    _, contexts = build_contexts(street, 0.1, 4)
    assert not gap_search.gap_shaped(contexts, len(street.helpers))


def _arrays(instance: GapInstance) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(cost, minutes, eligible, room) with orders as rows, helpers as columns."""
    cost = np.array(instance.cost, dtype=np.int64).T
    minutes = np.array(instance.resource, dtype=np.int64).T
    return cost, minutes, np.ones_like(cost, dtype=bool), np.array(instance.capacity, np.int64)


def _optimal_plan(instance: GapInstance) -> np.ndarray:
    """A column per job from ``solve`` (gap1: proven optimal)."""
    result = solve(gap_to_problem(instance, DATE), _params())
    return np.array(gap_assignment(instance, result), dtype=np.int64)


def test_lp_bound_is_below_the_gap1_optima_and_close() -> None:
    """On gap1 the LP relaxation's bound never exceeds the published optimum, and its prices'
    reduced costs are non-negative with a zero in every row."""
    for instance, optimum in zip(read_gap_file(GAP1), GAP1_OPTIMA, strict=True):
        cost, minutes, eligible, room = _arrays(instance)
        plan = _optimal_plan(instance)
        lp = gap_lp.solve_lp(cost, minutes, eligible, room, plan, time.perf_counter() + 60)
        assert lp is not None and lp.exact
        assert optimum * 0.9 <= lp.bound <= optimum + 1e-6
        assert (lp.reduced >= -1e-9).all()
        assert np.isclose(lp.reduced.min(axis=1), 0).all()


def test_lagrangian_bound_is_valid_for_any_prices() -> None:
    """For random capacity prices the Lagrangian value is at most the brute-force optimum of
    tiny tight instances that can assign every job."""
    rng = random.Random(7)
    checked = 0
    for seed in range(6):
        instance = _random(seed, agents=3, jobs=7)
        jobs, optimum = _brute(instance)
        if jobs < instance.jobs:
            continue
        cost, minutes, eligible, room = _arrays(instance)
        for _ in range(20):
            prices = np.array([rng.uniform(0, 3) for _ in range(instance.agents)])
            bound, _ = gap_lp.lagrangian(cost, minutes, eligible, room, prices)
            assert bound <= optimum + 1e-9
        checked += 1
    assert checked >= 2


def test_cost_stage_bound_is_the_lp_bound_and_below_the_optimum() -> None:
    """Without the whole-model solve, the cost stage's bound on gap1 problems is the LP's
    (above each job at its cheapest agent) and never above the published optimum."""
    for instance, optimum in list(zip(read_gap_file(GAP1), GAP1_OPTIMA, strict=True))[:3]:
        cheapest = sum(min(col) for col in zip(*instance.cost, strict=True))
        problem = gap_to_problem(instance, DATE)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(gap_search, "WHOLE_CELLS", 0)
            patch.setattr(gap_search, "MAX_STEPS", 4)
            result = solve(problem, _params())
        assert_valid(problem, result)
        stage = result.stages[-1]
        assert cheapest < stage.bound <= optimum + 1e-6
        assert stage.bound <= stage.objective + 1e-9


@pytest.mark.usefixtures("neighbourhoods_only")
def test_search_on_the_core_is_never_worse_than_its_start() -> None:
    """With the sub-solves restricted to a core of one pair per job by reduced cost (the
    tightest), a fixed number of steps still returns a valid plan no worse than the regret
    start, the same one for the same seed."""
    instance = _random(11, agents=6, jobs=30)
    problem = gap_to_problem(instance, DATE)
    _, contexts = build_contexts(problem, 0.1, None)
    start = regret_plan(problem, contexts, WEIGHTS)
    assert start is not None
    start_coverage, start_cost = plan_value(problem, contexts, start, WEIGHTS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(gap_search, "CORE_RANK", 1)
        patch.setattr(gap_search, "MAX_STEPS", 20)
        first, second = (solve(problem, _params(seed=3)) for _ in range(2))
    assert_valid(problem, first)
    assert first.weighted_coverage >= start_coverage
    if first.weighted_coverage == start_coverage:
        assert first.stages[-1].objective <= start_cost / COST_SCALE
    assert first.assignments == second.assignments
