"""The search for capacity-only days (``matcher.gap_search``): valid plans, never worse than
the start, the known optimum on small GAP instances, the same plan for the same seed, and the
matcher's own cost (fairness included)."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from pathlib import Path

import pytest

from matcher import gap_search
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
