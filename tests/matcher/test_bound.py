"""LP bounds and day plans: valid bounds around CP-SAT's proven optimum, no feasible plan missed."""

from __future__ import annotations

from functools import cache

import pytest

from matcher.bound import lp_bounds
from matcher.candidates import build_contexts
from matcher.dayplans import day_plans
from matcher.generator import generate_street, preset
from matcher.model import Problem
from matcher.params import SolveParams
from matcher.result import Result, Status
from matcher.solve import solve
from matcher.verify import assert_valid

PARAMS = SolveParams(time_limit_s=20, workers=1, seed=0, candidate_limit=None)


@cache
def tiny(seed: int) -> tuple[Problem, Result]:
    problem = generate_street(preset("tiny", seed=seed))
    result = solve(problem, PARAMS)
    assert_valid(problem, result)
    return problem, result


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_coverage_bound_is_above_the_proven_optimum(seed: int) -> None:
    """The LP coverage bound is never below CP-SAT's proven optimal weighted coverage."""
    problem, result = tiny(seed)
    assert result.stages[0].status is Status.OPTIMAL
    bounds = lp_bounds(problem, PARAMS)
    assert bounds.coverage_upper is not None
    assert bounds.coverage_upper >= result.weighted_coverage - 1e-6
    assert bounds.coverage_upper <= result.weighted_demand + 1e-6


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cost_bound_is_below_the_plan_cost(seed: int) -> None:
    """At CP-SAT's coverage level, the LP cost bound never exceeds CP-SAT's stage-2 cost."""
    problem, result = tiny(seed)
    stage2 = result.stages[1]
    bounds = lp_bounds(problem, PARAMS, coverage_level=result.weighted_coverage)
    assert bounds.cost_lower is not None
    assert bounds.cost_lower <= stage2.objective + 1e-6


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_day_plans_contain_every_helpers_actual_day(seed: int) -> None:
    """Each helper's set of visits in a verified solution is one of their enumerated day plans."""
    problem, result = tiny(seed)
    _, contexts = build_contexts(problem, PARAMS.wait_boost, PARAMS.candidate_limit)
    index = {h.id: i for i, h in enumerate(problem.helpers)}
    order_index = {o.id: i for i, o in enumerate(problem.orders)}
    visits: dict[int, set[tuple[int, int]]] = {}
    load: dict[int, list[tuple[int, int]]] = {}
    for ctx in contexts:
        for k, candidate in enumerate(ctx.candidates):
            load.setdefault(candidate.helper, []).append((ctx.index, k))
    for assignment in result.assignments:
        o = order_index[assignment.order]
        positions = {c.helper: k for k, c in enumerate(contexts[o].candidates)}
        for helper_id in assignment.helpers:
            helper = index[helper_id]
            visits.setdefault(helper, set()).add((o, positions[helper]))
    assert visits, "the tiny street should have some covered orders"
    for helper, day in visits.items():
        plans = day_plans(problem, contexts, helper, load[helper], limit=100_000)
        assert plans is not None
        assert frozenset(day) in {frozenset(p) for p in plans}


def test_infeasible_pins_give_no_bound() -> None:
    """A relaxation that cannot keep the pins reports no bound instead of raising."""
    from tests.factories import helper, order, problem, resident, window

    broken = problem(
        [helper("h1", "companionship", availability=(window(9, 10),))],
        [resident("r1")],
        [order("o1", "r1", window=window(14, 15), pinned=("h1",))],
    )
    bounds = lp_bounds(broken, PARAMS)
    assert bounds.coverage_upper is None
