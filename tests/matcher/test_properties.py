"""Hypothesis properties of both solvers on small random problems (``tests.matcher.strategies``).

Every property runs derandomized, so CI sees the same examples on every run. CP-SAT is pinned to
one worker and seed 0 wherever exact values are compared.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, example, given, settings

from matcher.model import Problem, TimeWindow, replace
from matcher.params import SolveParams
from matcher.result import Reason, Result, Status
from matcher.solve import solve, solve_greedy
from matcher.verify import assert_valid
from matcher.weights import order_weight
from tests.factories import at, helper, order, problem, resident
from tests.matcher.brute_force import best_weighted_coverage
from tests.matcher.strategies import problems, tiny_problems

PARAMS = SolveParams(time_limit_s=5, workers=1, seed=0)

# Generating a problem costs a few ms and solving it with CP-SAT a few more: with these counts the
# whole file takes about 17 s on one core (the suite must stay under 5 minutes on 2 cores);
# QUNBANG_THOROUGH=1 (by hand, e.g. after a change to the matcher) runs four times as many.
SCALE = 4 if os.environ.get("QUNBANG_THOROUGH") == "1" else 1
PROPERTY = settings(
    max_examples=100 * SCALE,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
EXACT = settings(PROPERTY, max_examples=300 * SCALE)


def _pin_beyond_radius() -> Problem:
    """Found by these properties: h1 is pinned to an order 1.95 km away, beyond their 1 km radius,
    and the pin was accepted because h0's 3 km radius was checked instead."""
    return problem(
        [helper("h0", radius_km=3.0), helper("h1", "companionship", where=at(1.5), radius_km=1.0)],
        [resident("r1")],
        [order("o1", "r1", pinned=("h1",))],
    )


def _greedy_misses_pin() -> Problem:
    """Found by these properties: greedy cannot staff pinned o1 (it only tries h0's earliest start,
    when h1 is not free) and covers the heavier o2 instead; the optimum covers o1 alone, at 09:00
    with h0 and h1, so greedy's coverage is no lower bound for CP-SAT."""
    return problem(
        [
            helper("h0", "companionship", "nursing", "physician"),
            helper("h1", "nursing", availability=(TimeWindow(start=540, end=600),)),
        ],
        [resident("r1"), resident("r2")],
        [
            order(
                "o1",
                "r1",
                "HOMECARE",
                window=TimeWindow(start=480, end=600),
                flexible_start=True,
                pinned=("h0",),
            ),
            order("o2", "r2", window=TimeWindow(start=510, end=570), priority=2),
        ],
    )


def _run(solver: str, prob: Problem) -> Result:
    return solve(prob, PARAMS) if solver == "cpsat" else solve_greedy(prob, PARAMS)


# ----------------------------------------------------------------------------- validity


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("solver", ["cpsat", "greedy"])
@PROPERTY
@given(prob=problems(travel="geo"))
@example(prob=_pin_beyond_radius())
def test_valid_with_geo_travel(solver: str, prob: Problem) -> None:
    """Both solvers return results the independent checker accepts, with geo travel."""
    assert_valid(prob, _run(solver, prob), PARAMS.wait_boost)


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("solver", ["cpsat", "greedy"])
@PROPERTY
@given(prob=problems(travel="matrix"))
def test_valid_with_matrix_travel(solver: str, prob: Problem) -> None:
    """Both solvers return results the independent checker accepts, with matrix travel."""
    assert_valid(prob, _run(solver, prob), PARAMS.wait_boost)


# ----------------------------------------------------------------------------- optimality


@pytest.mark.slow
@pytest.mark.timeout(180)
@PROPERTY
@given(prob=problems())
def test_cpsat_covers_at_least_greedy(prob: Problem) -> None:
    """CP-SAT's weighted coverage is never below the greedy hand rule's."""
    cpsat, greedy = solve(prob, PARAMS), solve_greedy(prob, PARAMS)
    assert cpsat.weighted_coverage >= greedy.weighted_coverage, (cpsat, greedy)


@pytest.mark.slow
@pytest.mark.timeout(180)
@EXACT
@given(prob=tiny_problems())
@example(prob=_pin_beyond_radius())
@example(prob=_greedy_misses_pin())
def test_cpsat_coverage_is_the_brute_force_optimum(prob: Problem) -> None:
    """CP-SAT proves the brute-force optimum on tiny problems; INFEASIBLE iff the pins are."""
    best = best_weighted_coverage(prob, PARAMS.wait_boost)
    result = solve(prob, PARAMS)
    if best is None:
        assert result.status is Status.INFEASIBLE, result
        return
    assert result.status is not Status.INFEASIBLE, result.message
    assert result.stages[0].status is Status.OPTIMAL, result.stages
    assert result.weighted_coverage == best, (result.weighted_coverage, best, result.assignments)


@pytest.mark.slow
@pytest.mark.timeout(180)
@PROPERTY
@given(prob=tiny_problems(pin_one_in=3))
def test_infeasible_exactly_when_pins_conflict(prob: Problem) -> None:
    """With many pinned orders, CP-SAT is INFEASIBLE exactly when no plan honours every pin."""
    best = best_weighted_coverage(prob, PARAMS.wait_boost)
    result = solve(prob, PARAMS)
    assert (best is None) == (result.status is Status.INFEASIBLE), (best, result)
    if best is not None:
        assert result.weighted_coverage == best, (result.weighted_coverage, best)


# ----------------------------------------------------------------------------- determinism


@pytest.mark.slow
@pytest.mark.timeout(180)
@PROPERTY
@given(prob=problems())
def test_cpsat_is_deterministic(prob: Problem) -> None:
    """The same problem solved twice with one worker and seed 0 gives the same assignments."""
    first, second = solve(prob, PARAMS), solve(prob, PARAMS)
    assert first.assignments == second.assignments
    assert first.status is second.status


# ----------------------------------------------------------------------------- explanations


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("solver", ["cpsat", "greedy"])
@PROPERTY
@given(prob=problems())
def test_unmatched_orders_are_explained(solver: str, prob: Problem) -> None:
    """Unmatched orders have a Reason and its facts (the order's item and team; counts that
    narrow stage by stage); OUTRANKED names a covered, heavier order and its item."""
    result = _run(solver, prob)
    covered = {a.order for a in result.assignments}
    for entry in result.unmatched:
        assert entry.reason in set(Reason), entry
        order, params = prob.order(entry.order), entry.params
        assert (params.item, params.team) == (order.item, prob.team_size(order)), entry
        assert params.skilled is not None and params.in_reach is not None, entry
        assert 0 <= params.in_reach <= params.skilled <= len(prob.helpers), entry
        assert (params.rival_item is not None) == (entry.reason is Reason.OUTRANKED), entry
        if entry.reason is not Reason.OUTRANKED:
            assert entry.outranked_by is None, entry
            continue
        assert entry.outranked_by in covered, entry
        weight = order_weight(prob, prob.order(entry.order), PARAMS.wait_boost)
        rival = order_weight(prob, prob.order(entry.outranked_by), PARAMS.wait_boost)
        assert rival > weight, (entry, weight, rival)


# ----------------------------------------------------------------------------- the oracle itself


def _two_chats(flexible: bool) -> Problem:
    """One helper; two one-hour chats whose windows overlap; the second weighs twice as much."""
    return problem(
        [helper("h1", "companionship")],
        [resident("r1"), resident("r2", priority_weight=2.0)],
        [
            order("o1", "r1", window=TimeWindow(start=540, end=660), flexible_start=flexible),
            order("o2", "r2", window=TimeWindow(start=570, end=690), flexible_start=flexible),
        ],
    )


def test_brute_force_takes_the_heavier_of_two_clashing_orders() -> None:
    """Fixed starts 30 min apart clash for one helper: the optimum is the heavier order alone."""
    assert best_weighted_coverage(_two_chats(flexible=False)) == 200


def test_brute_force_fits_flexible_orders_one_after_another() -> None:
    """Flexible windows let one helper do both chats back to back (travel is 0 min)."""
    assert best_weighted_coverage(_two_chats(flexible=True)) == 300


def test_brute_force_reports_impossible_pins() -> None:
    """A helper pinned to two clashing fixed-time orders makes the problem infeasible."""
    base = _two_chats(flexible=False)
    pinned = tuple(replace(o, pinned=("h1",)) for o in base.orders)
    assert best_weighted_coverage(replace(base, orders=pinned)) is None


def test_brute_force_refuses_off_grid_times() -> None:
    """Times off the 10-minute grid would make the grid search inexact, so they are refused."""
    prob = problem(
        [helper("h1", "companionship", where=at(1.5))],
        [resident("r1")],
        [order("o1", "r1", window=TimeWindow(start=545, end=660), flexible_start=True)],
    )
    with pytest.raises(ValueError, match="grid"):
        best_weighted_coverage(prob)


def test_continuity_is_one_definition_for_objective_and_figures() -> None:
    """The objective's continuity cost (per candidate not in the circle) and the figures'
    continuity rate both count ``matcher.weights.continuity_misses``: a team of one circle member
    and one stranger misses once; a resident without a circle misses nothing."""
    from matcher.weights import continuity_misses

    assert continuity_misses(("h1", "h2"), ("h1", "h9")) == (1, 2)
    assert continuity_misses((), ("h1", "h9")) == (0, 0)
    assert continuity_misses(("h1",), ("h1",)) == (0, 1)
