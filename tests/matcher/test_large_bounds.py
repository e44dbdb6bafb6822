"""The offline bounds of ``bench/large_street_bench.py`` (the day-plan model of ``matcher.bound``
as an LP and with integral columns, solved by HiGHS): on tiny streets, where CP-SAT proves the
optimum of the whole model over the same candidate lists, the coverage bounds are never below
the optimal coverage and the cost bounds at that coverage never above the least cost."""

from __future__ import annotations

import pytest

from bench.large_street_bench import offline_bounds
from matcher.generator import generate_street, preset
from matcher.params import SolveParams
from matcher.result import Status
from matcher.solve import prepare, solve


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("how", ["lp", "mip"])
def test_offline_bounds_hold_at_the_proven_optimum(seed: int, how: str) -> None:
    problem = generate_street(preset("tiny", seed=seed))
    params = SolveParams(time_limit_s=20, workers=1, seed=0)
    result = solve(problem, params)
    assert [s.status for s in result.stages] == [Status.OPTIMAL, Status.OPTIMAL]
    _, contexts, _ = prepare(problem, params)
    coverage, cost, _ = offline_bounds(
        problem, params, contexts, result.weighted_coverage, how, 30.0, f"tiny/{seed}", cache=None
    )
    assert coverage is not None and cost is not None
    assert coverage >= result.weighted_coverage - 1e-6
    assert cost <= result.stages[1].objective + 1e-6
    if how == "mip":  # the integral model is at least as tight as its LP
        lp_coverage, lp_cost, _ = offline_bounds(
            problem, params, contexts, result.weighted_coverage, "lp", 30.0, "", cache=None
        )
        assert lp_coverage is not None and lp_cost is not None
        assert coverage <= lp_coverage + 1e-6
        assert cost >= lp_cost - 1e-6
