"""``bench/mip_plan_bench.py``: the day-plan MIP's best solution made a plan. On tiny streets,
where CP-SAT proves the optimum over the same candidate lists, the MIP's bound is never below
that optimum, the plan never above it, and the plan keeps every hard rule."""

from __future__ import annotations

import pytest

from bench.mip_plan_bench import teams_plan
from matcher.generator import generate_street, preset
from matcher.params import SolveParams
from matcher.result import Status
from matcher.solve import _result, prepare, solve
from matcher.verify import verify


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_the_teams_plan_lies_between_the_optimum_and_the_bound(seed: int) -> None:
    problem = generate_street(preset("tiny", seed=seed))
    params = SolveParams(time_limit_s=20, workers=1, seed=0)
    optimum = solve(problem, params)
    assert optimum.stages[0].status is Status.OPTIMAL
    eligibility, contexts, _ = prepare(problem, params)
    bound, optimal, plans = teams_plan(problem, params, contexts, 30.0)
    assert bound is not None and optimal
    covered = sum(contexts[i].weight for i in plans)
    assert covered > 0, "the tiny street has orders to cover"
    assert covered <= optimum.weighted_coverage <= bound + 1e-6
    as_result = _result(
        problem, params, "cpsat", eligibility, contexts, plans, Status.FEASIBLE, (), 0.0
    )
    assert verify(problem, as_result) == []
