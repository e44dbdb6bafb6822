"""Each weighted term of CP-SAT's objective, on a hand-made instance where it alone decides.

For every term the instance has two plans, A and B: with the term's default weight the solver
must pick A, with that weight set to 0 (every other weight unchanged) it must pick B. The cost
stage's objective must also equal an independent evaluation of the chosen plan
(``evaluated_cost``), which counts continuity with ``matcher.weights.continuity_misses`` per team,
as the figures do.

Distances: the resident is at the origin and a helper at ``at(x)`` is ``x`` km east of it, so a
visit costs ``2 * 1.3 * x`` round-trip km (great-circle km x the default detour 1.3). With the
default weights (travel 1, continuity 2, fairness 0.5, preference 1):

- travel: ann, a stranger at 0.5 km (1.3 km + 2 for the miss = 3.3), against bo, of the circle,
  at 2 km (5.2 km; 2.6 km one way, within the default 3 km radius): travel picks ann; without
  travel, bo costs nothing and ann a miss;
- continuity: bo of the circle at 1 km (2.6) against ann at 0.5 km (1.3 + 2 = 3.3);
- preference: a resident preferring women, ann (man) at 0.5 km (1.3 + 1 = 2.3) against bo
  (woman) at 0.8 km (2.08);
- fairness: two chats, ann at 0.5 km for both (2.6 + 0.5 for her second order = 3.1) against ann
  and bo at 0.6 km sharing them (1.3 + 1.56 = 2.86);
- wait boost (coverage stage): one helper for two orders, a resident of weight 1.05 (105) against
  one of weight 1 who has waited a day (110 with the default 10 % a day, 100 without).
"""

from __future__ import annotations

from collections import Counter

import pytest

from matcher.metrics import summarize
from matcher.model import Gender, Problem
from matcher.params import ObjectiveWeights, SolveParams
from matcher.result import Result, Status
from matcher.solve import solve
from matcher.travel import TravelTable
from matcher.verify import assert_valid
from matcher.weights import continuity_misses
from tests.factories import at, helper, order, problem, resident

PARAMS = SolveParams(time_limit_s=5, workers=1, seed=0)
DEFAULT = ObjectiveWeights()


def solved(prob: Problem, params: SolveParams) -> Result:
    """CP-SAT's proven optimal plan for ``prob``, checked by ``matcher.verify`` and against an
    independent evaluation of its cost."""
    result = solve(prob, params)
    assert result.status is Status.OPTIMAL, result.message
    assert_valid(prob, result, params.wait_boost)
    cost = result.stages[-1]
    assert cost.name == "cost"
    visits = sum(len(a.helpers) for a in result.assignments)
    # each pair's cost is rounded to 1/100 in the model
    assert cost.objective == pytest.approx(
        evaluated_cost(prob, result, params.weights), abs=0.005 * visits + 1e-9
    )
    return result


def evaluated_cost(prob: Problem, result: Result, weights: ObjectiveWeights) -> float:
    """The plan's weighted cost as README states it, computed without the solver's model."""
    table = TravelTable(prob)
    load: Counter[str] = Counter()
    cost = 0.0
    for assignment in result.assignments:
        order_ = prob.order(assignment.order)
        resident_ = prob.resident(order_.resident)
        misses, _ = continuity_misses(resident_.circle, assignment.helpers)
        cost += weights.continuity * misses
        for helper_id in assignment.helpers:
            helper_ = prob.helper(helper_id)
            leg = table.leg(helper_, order_)
            assert leg is not None
            cost += weights.travel * leg.km_round_trip
            preferred = resident_.preferred_gender
            cost += weights.preference * (preferred is not None and helper_.gender != preferred)
            load[helper_id] += 1
    cost += weights.fairness * sum(n * (n - 1) / 2 for n in load.values())
    return cost


def with_weight(term: str, value: float) -> SolveParams:
    """``PARAMS`` with one objective weight changed."""
    return PARAMS.model_copy(update={"weights": DEFAULT.model_copy(update={term: value})})


def team(result: Result, order_id: str = "o1") -> tuple[str, ...]:
    assignment = result.assignment_of(order_id)
    assert assignment is not None, f"{order_id} unmatched: {result.unmatched}"
    return assignment.helpers


def one_chat(*helpers_at: tuple[str, float], **resident_fields: object) -> Problem:
    """Resident ``r1`` at the origin orders one chat (``o1``); each helper is ``(id, km east)``,
    ``ann`` a man and everybody else a woman."""
    helpers = [
        helper(
            h,
            "companionship",
            where=at(km),
            gender=Gender.MALE if h == "ann" else Gender.FEMALE,
        )
        for h, km in helpers_at
    ]
    return problem(helpers, [resident("r1", **resident_fields)], [order("o1", "r1")])


def test_travel_weight_picks_the_nearer_helper() -> None:
    """Travel makes a near stranger beat a far circle member; at 0, the circle member wins."""
    prob = one_chat(("ann", 0.5), ("bo", 2.0), circle=("bo",))
    assert team(solved(prob, PARAMS)) == ("ann",)
    assert team(solved(prob, with_weight("travel", 0))) == ("bo",)


def test_continuity_weight_picks_the_circle_member() -> None:
    """Continuity makes a circle member beat a nearer stranger; at 0, the nearer one wins. The
    continuity rate of the figures follows the same plans (1 with the circle member, 0 without)."""
    prob = one_chat(("ann", 0.5), ("bo", 1.0), circle=("bo",))
    familiar = solved(prob, PARAMS)
    assert team(familiar) == ("bo",)
    assert summarize(prob, familiar).continuity_rate == 1.0
    stranger = solved(prob, with_weight("continuity", 0))
    assert team(stranger) == ("ann",)
    assert summarize(prob, stranger).continuity_rate == 0.0


def test_continuity_costs_nothing_without_a_circle() -> None:
    """A resident with no circle yet has nothing to miss: the nearest helper serves, and the cost
    is travel alone, whatever the continuity weight."""
    prob = one_chat(("ann", 0.5), ("bo", 1.0))
    for weight in (DEFAULT.continuity, 0):
        result = solved(prob, with_weight("continuity", weight))
        assert team(result) == ("ann",)
        assert result.stages[-1].objective == pytest.approx(1.3, abs=0.01)


def test_continuity_counts_each_member_of_a_team() -> None:
    """Continuity is charged per visiting member outside the circle: for a two-person visit,
    two nearer strangers lose to one circle member and one stranger (one miss less saves 2,
    more than the 1.3 km extra travel); at 0, the two nearest go."""
    helpers = [
        helper("ann", "nursing", "physician", where=at(0.5)),
        helper("cy", "nursing", where=at(0.5)),
        helper("bo", "nursing", where=at(1.0)),
    ]
    prob = problem(helpers, [resident("r1", circle=("bo",))], [order("o1", "r1", "HOMECARE")])
    familiar = solved(prob, PARAMS)
    assert team(familiar) == ("ann", "bo")
    assert summarize(prob, familiar).continuity_rate == 0.5
    assert team(solved(prob, with_weight("continuity", 0))) == ("ann", "cy")


def test_preference_weight_picks_the_preferred_gender() -> None:
    """The preferred gender makes a farther woman beat a nearer man; at 0, the man wins."""
    prob = one_chat(("ann", 0.5), ("bo", 0.8), preferred_gender=Gender.FEMALE)
    assert team(solved(prob, PARAMS)) == ("bo",)
    assert team(solved(prob, with_weight("preference", 0))) == ("ann",)


def test_fairness_weight_spreads_orders() -> None:
    """Fairness makes a second helper take one of two chats; at 0, the nearest takes both."""
    prob = problem(
        [
            helper("ann", "companionship", where=at(0.5)),
            helper("bo", "companionship", where=at(0.6)),
        ],
        [resident("r1"), resident("r2")],
        [order("o1", "r1"), order("o2", "r2")],
    )

    def loads(result: Result) -> dict[str, int]:
        return dict(Counter(h for a in result.assignments for h in a.helpers))

    assert loads(solved(prob, PARAMS)) == {"ann": 1, "bo": 1}
    assert loads(solved(prob, with_weight("fairness", 0))) == {"ann": 2}


def test_wait_boost_favours_the_order_that_waited() -> None:
    """In the coverage stage, a day's wait lifts an order above a slightly heavier resident's;
    without the boost, the heavier resident's order is covered."""
    prob = problem(
        [helper("ann", "companionship", where=at(0.5), max_orders=1)],
        [resident("r1", priority_weight=1.05), resident("r2")],
        [order("o1", "r1"), order("o2", "r2", days_waited=1)],
    )
    waited = solved(prob, PARAMS)
    assert [a.order for a in waited.assignments] == ["o2"]
    assert waited.weighted_coverage == 110
    fresh = solved(prob, PARAMS.model_copy(update={"wait_boost": 0}))
    assert [a.order for a in fresh.assignments] == ["o1"]
    assert fresh.weighted_coverage == 105


def test_coverage_comes_before_any_cost() -> None:
    """The cost stage never gives up coverage the first stage reached: at a travel weight of 1000
    the far helper still takes the heavier order so that the only cleaner, ann, can clean. (The
    hand rule, CP-SAT's hint, sends ann to the heavier order and leaves the cleaning, so its
    coverage alone would not hold both orders.)"""
    prob = problem(
        [
            helper("ann", "companionship", "cleaning", where=at(0.5), max_orders=1),
            helper("bo", "companionship", where=at(2.0)),
        ],
        [resident("r1"), resident("r2")],
        [order("o1", "r1", priority=2), order("o2", "r2", "CLEAN")],
    )
    result = solved(prob, with_weight("travel", 1000))
    assert (team(result, "o1"), team(result, "o2")) == (("bo",), ("ann",))
    assert result.weighted_coverage == 300
