"""A problem of one order is solved by enumeration (``matcher.single``): the same optimum as the
CP-SAT model it replaces, over the same candidates, on random small problems and on orders of
the generated demo street with every eligible helper a candidate."""

from __future__ import annotations

import os
import time
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.cpsat.solver import run_cpsat
from matcher.generator import generate_street, preset
from matcher.model import MatrixTravel, Order, Problem, TimeWindow, replace
from matcher.params import SolveParams
from matcher.result import Result, Status
from matcher.solve import prepare, solve
from matcher.verify import verify
from tests.factories import at, helper, order, problem, resident
from tests.matcher.strategies import problems

SCALE = 4 if os.environ.get("QUNBANG_THOROUGH") == "1" else 1
PARAMS = SolveParams(time_limit_s=5, workers=1, seed=0)


def _model_optimum(problem: Problem, params: SolveParams) -> tuple[float, float] | None:
    """Coverage and cost of the CP-SAT model's optimum (both stages proven); None when the
    model cannot be solved as one order here (a pin the hand rule cannot keep)."""
    _eligibility, contexts, greedy = prepare(problem, params)
    if greedy.pin_errors or any(c.pin_errors for c in contexts):
        return None
    began = time.perf_counter()
    outcome = run_cpsat(problem, contexts, params, greedy.assignments, began, hint_is_plan=True)
    stages = outcome.stages
    assert [s.status for s in stages] == [Status.OPTIMAL, Status.OPTIMAL], stages
    return stages[0].objective, stages[1].objective


def _check_same_optimum(problem: Problem, params: SolveParams) -> Result:
    result = solve(problem, params)
    assert verify(problem, result) == []
    expected = _model_optimum(problem, params)
    if expected is None:
        return result
    assert result.status is Status.OPTIMAL
    coverage, cost = expected
    assert result.weighted_coverage == pytest.approx(coverage)
    stages = {s.name: s for s in result.stages}
    assert stages["coverage"].objective == pytest.approx(coverage)
    assert stages["cost"].objective == pytest.approx(cost)
    return result


@settings(
    max_examples=150 * SCALE,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(problems(pin_one_in=4), st.data())
def test_one_order_has_the_models_optimum(problem: Problem, data: st.DataObject) -> None:
    order = data.draw(st.sampled_from(problem.orders))
    _check_same_optimum(_alone(problem, order), PARAMS)


def _alone(problem: Problem, order: Order) -> Problem:
    """``problem`` with ``order`` as its only order (and only that order's travel legs)."""
    if isinstance(problem.travel, MatrixTravel):
        legs = tuple(leg for leg in problem.travel.legs if leg.order == order.id)
        return replace(problem, orders=(order,), travel=MatrixTravel(legs=legs))
    return replace(problem, orders=(order,))


@cache
def _street(name: str) -> Problem:
    return generate_street(preset(name))


@pytest.mark.parametrize("name", ["demo", "pastoral"])
@pytest.mark.parametrize("limit", [4, None])
def test_street_orders_have_the_models_optimum(name: str, limit: int | None) -> None:
    """Orders of generated streets (teams of two, lead skills, residents who speak Mongolian,
    circles) one at a time, with the nearest four or every eligible helper as candidates."""
    street = _street(name)
    params = PARAMS.model_copy(update={"candidate_limit": limit})
    covered = 0
    for one in street.orders[:: max(1, len(street.orders) // (15 * SCALE))]:
        result = _check_same_optimum(replace(street, orders=(one,)), params)
        covered += bool(result.assignments)
    assert covered > 0  # the street's orders are mostly coverable: the check compared teams


def test_a_team_of_two_waits_for_a_later_start_when_that_is_cheaper() -> None:
    """The hand rule takes the earliest start a full team can make (the two far helpers at
    8:00); the nearer pair free from 10:00 is cheaper, and the enumeration, which tries every
    start at which a helper becomes free, finds it as the model does."""
    late = (TimeWindow(start=600, end=720),)
    early = (TimeWindow(start=480, end=720),)
    far_early = helper("h_far", "companionship", where=at(2.0), availability=early)
    far_early2 = helper("h_far2", "companionship", where=at(2.2), availability=early)
    near_late = helper("h_late", "companionship", availability=late)
    near_late2 = helper("h_late2", "companionship", availability=late)
    p = problem(
        [far_early, far_early2, near_late, near_late2],
        [resident("r1")],
        [
            order(
                "o1", "r1", window=TimeWindow(start=480, end=700), flexible_start=True, team_size=2
            )
        ],
    )
    result = _check_same_optimum(p, PARAMS)
    assert result.assignments and set(result.assignments[0].helpers) == {"h_late", "h_late2"}
    assert result.assignments[0].start is not None and result.assignments[0].start >= 600
