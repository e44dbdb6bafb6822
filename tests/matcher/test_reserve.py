"""The reserve (``matcher.reserve``): per order, the helpers a solve ranks next after its team."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from matcher.candidates import build_contexts
from matcher.cpsat.objective import pair_cost
from matcher.eligible import eligible_helpers
from matcher.generator import generate_street, preset
from matcher.model import Problem, replace
from matcher.params import SolveParams
from matcher.result import Status
from matcher.solve import solve, solve_greedy
from tests.matcher.strategies import problems

PARAMS = SolveParams(time_limit_s=5, workers=1, seed=0, reserve_size=4)


def _pair_costs(problem: Problem, order_id: str) -> dict[str, int]:
    """Every eligible helper's ``pair_cost`` for the order (all candidates, no nearest-N cut)."""
    _, contexts = build_contexts(problem, PARAMS.wait_boost, limit=None)
    (ctx,) = [c for c in contexts if c.order.id == order_id]
    return {
        problem.helpers[c.helper].id: pair_cost(problem, ctx, c, PARAMS.weights)
        for c in ctx.candidates
    }


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(prob=problems())
def test_a_reserve_holds_eligible_helpers_off_the_team_cheapest_first(prob: Problem) -> None:
    """Each order's reserve: at most ``reserve_size`` distinct helpers, each eligible for the
    order on their own account, none on its planned team, in ascending ``pair_cost``; every
    order with an eligible helper off its team has a reserve."""
    result = solve(prob, PARAMS)
    if result.status in (Status.INFEASIBLE, Status.UNKNOWN):  # no plan (conflicting pins)
        assert result.reserves == {}
        return
    eligible = {o.order: {e.helper for e in o.helpers} for o in eligible_helpers(prob, PARAMS)}
    for order in prob.orders:
        reserve = result.reserves.get(order.id, ())
        planned = result.assignment_of(order.id)
        team = set(planned.helpers if planned else ()) | set(order.pinned)
        assert len(reserve) == len(set(reserve)) <= PARAMS.reserve_size
        assert set(reserve) <= eligible[order.id] - team
        assert bool(reserve) == bool(eligible[order.id] - team)
        costs = _pair_costs(prob, order.id)
        ranked = [costs[h] for h in reserve]
        assert ranked == sorted(ranked)


def test_a_circle_member_outranks_a_nearer_stranger() -> None:
    """Continuity counts: a resident's circle member who is eligible but farther than the
    nearest helpers still makes the reserve, ahead of strangers who cost more."""
    problem = generate_street(preset("tiny", seed=0))
    result = solve(problem, PARAMS)
    for order in problem.orders:
        planned = result.assignment_of(order.id)
        team = set(planned.helpers if planned else ())
        options = next(o for o in eligible_helpers(problem, PARAMS) if o.order == order.id)
        strangers = [e.helper for e in options.helpers if e.helper not in team]
        if len(strangers) < 2 * PARAMS.reserve_size:
            continue
        farthest = strangers[-1]  # far beyond the nearest few looked at
        resident = problem.resident(order.resident)
        circled = replace(
            problem,
            residents=tuple(
                replace(r, circle=(*r.circle, farthest)) if r.id == resident.id else r
                for r in problem.residents
            ),
        )
        reserve = solve(circled, PARAMS).reserves[order.id]
        costs = _pair_costs(circled, order.id)
        assert farthest in reserve or all(costs[h] <= costs[farthest] for h in reserve)
        return
    pytest.skip("no order with enough eligible helpers in this instance")


def test_no_reserve_unless_asked_and_never_in_a_dump() -> None:
    """``reserve_size`` 0 (the default) ranks nobody; the greedy rule ranks like CP-SAT; the
    reserve is a hint, left out of the result's JSON (planner reports)."""
    problem = generate_street(preset("tiny", seed=1))
    assert solve(problem, PARAMS.model_copy(update={"reserve_size": 0})).reserves == {}
    greedy = solve_greedy(problem, PARAMS)
    assert greedy.reserves and "reserves" not in greedy.model_dump()
