"""The two lexicographic objectives: weighted coverage, then a weighted cost.

Cost coefficients are integers in hundredths of a cost unit (``COST_SCALE``), so travel is exact
to 10 m and weights like 0.5 survive rounding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ortools.sat.python import cp_model

from matcher.candidates import Candidate, OrderContext
from matcher.cpsat.variables import Variables
from matcher.model import Problem
from matcher.params import ObjectiveWeights
from matcher.weights import continuity_units

COST_SCALE = 100


def coverage_expression(contexts: list[OrderContext], v: Variables) -> cp_model.LinearExprT:
    """Priority-weighted number of covered orders (to maximise)."""
    return sum(ctx.weight * v.covered[ctx.index] for ctx in contexts)


def pair_cost(
    problem: Problem, ctx: OrderContext, candidate: Candidate, weights: ObjectiveWeights
) -> int:
    """Scaled cost of sending ``candidate`` to the order: travel, continuity, preference.

    Continuity counts ``matcher.weights.continuity_units`` for this one member: a miss of the
    resident's circle, as the figures count it, scaled by the circle's pair weights."""
    resident = problem.resident(ctx.order.resident)
    units = continuity_units(resident, problem.helpers[candidate.helper].id)
    cost = weights.travel * candidate.leg.km_round_trip + weights.continuity * units
    if candidate.gender_mismatch:
        cost += weights.preference
    return round(COST_SCALE * cost)


def cost_expression(
    model: cp_model.CpModel,
    problem: Problem,
    contexts: list[OrderContext],
    v: Variables,
    weights: ObjectiveWeights,
) -> cp_model.LinearExprT:
    """Weighted travel + continuity loss + preference misses + unfair load (to minimise)."""
    terms: list[cp_model.LinearExprT] = []
    for ctx in contexts:
        for k, candidate in enumerate(ctx.candidates):
            cost = pair_cost(problem, ctx, candidate, weights)
            if cost:
                terms.append(cost * v.assign[ctx.index][k])
    terms.extend(_fairness_terms(model, problem, v, weights))
    return sum(terms)


def _fairness_terms(
    model: cp_model.CpModel, problem: Problem, v: Variables, weights: ObjectiveWeights
) -> list[cp_model.LinearExprT]:
    """A helper's k-th order of the day costs (k-1) fairness units: a convex penalty that spreads
    work over idle helpers. ``extra[j]`` counts the (j+2)-th order; since later ones cost more,
    the solver fills them in order and the linear relaxation stays exact."""
    unit = round(COST_SCALE * weights.fairness)
    if unit == 0:
        return []
    terms: list[cp_model.LinearExprT] = []
    for helper_index, pairs in v.load.items():
        most = min(len(pairs), problem.helpers[helper_index].max_orders)
        if most < 2:
            continue
        extra = [model.new_bool_var(f"extra_{helper_index}_{j}") for j in range(most - 1)]
        model.add(sum(extra) >= sum(v.assign[o][k] for o, k in pairs) - 1)
        v.extra[helper_index] = extra
        terms.extend((j + 1) * unit * e for j, e in enumerate(extra))
    return terms


def plan_cost(
    problem: Problem,
    contexts: list[OrderContext],
    plans: Mapping[int, tuple[Sequence[int], int | None]],
    weights: ObjectiveWeights,
) -> int:
    """A plan's cost as the cost stage counts it (scaled: ``COST_SCALE``): its visits'
    ``pair_cost`` and the fairness penalty of each helper's load (``_fairness_terms``: the k-th
    order of a day costs k-1 units)."""
    cost, load = 0, dict[int, int]()
    for i, (team, _) in plans.items():
        by_helper = {c.helper: c for c in contexts[i].candidates}
        for helper in team:
            cost += pair_cost(problem, contexts[i], by_helper[helper], weights)
            load[helper] = load.get(helper, 0) + 1
    unit = round(COST_SCALE * weights.fairness)
    return cost + unit * sum(n * (n - 1) // 2 for n in load.values())
