"""The two lexicographic objectives: weighted coverage, then a weighted cost.

Cost coefficients are integers in hundredths of a cost unit (``COST_SCALE``), so travel is exact
to 10 m and weights like 0.5 survive rounding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

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


class CostsByHelper(Protocol):
    """Per order (by ``OrderContext.index``), each candidate helper's ``pair_cost``: what a
    caller that builds many models over the same orders keeps (``PairCosts``, or a list)."""

    def __getitem__(self, order: int, /) -> Mapping[int, int]: ...


class PairCosts:
    """``pair_cost`` of every (order, candidate helper) of ``contexts``, each computed once, when
    first asked for: ``costs[i][helper]``. The orders' candidate lists must not change."""

    def __init__(
        self, problem: Problem, contexts: list[OrderContext], weights: ObjectiveWeights
    ) -> None:
        self.problem, self.contexts, self.weights = problem, contexts, weights
        self._known: list[dict[int, int] | None] = [None] * len(contexts)

    def __len__(self) -> int:
        return len(self.contexts)

    def __getitem__(self, i: int) -> dict[int, int]:
        known = self._known[i]
        if known is None:
            ctx, weights = self.contexts[i], self.weights
            known = {c.helper: pair_cost(self.problem, ctx, c, weights) for c in ctx.candidates}
            self._known[i] = known
        return known


def cost_expression(
    model: cp_model.CpModel,
    problem: Problem,
    contexts: list[OrderContext],
    v: Variables,
    weights: ObjectiveWeights,
    costs: CostsByHelper | None = None,
) -> cp_model.LinearExprT:
    """Weighted travel + continuity loss + preference misses + unfair load (to minimise).
    ``costs``: the orders' ``pair_cost`` by helper, when the caller keeps them (``PairCosts``)."""
    variables, coefficients = _cost_terms(model, problem, contexts, v, weights, costs)
    if not variables:
        return 0
    return cp_model.LinearExpr.weighted_sum(variables, coefficients)


def minimize_cost(
    model: cp_model.CpModel,
    problem: Problem,
    contexts: list[OrderContext],
    v: Variables,
    weights: ObjectiveWeights,
    costs: CostsByHelper | None = None,
) -> None:
    """``model.minimize(cost_expression(...))``, the objective written to the model at once
    (the same objective, without ``minimize``'s walk over it; each term's variable is a
    distinct model variable with a nonzero coefficient, so there is nothing to merge)."""
    variables, coefficients = _cost_terms(model, problem, contexts, v, weights, costs)
    model.clear_objective()
    objective = model.proto.objective
    objective.vars.extend([x.index for x in variables])
    objective.coeffs.extend(coefficients)
    objective.offset = 0
    objective.scaling_factor = 1.0


def _cost_terms(
    model: cp_model.CpModel,
    problem: Problem,
    contexts: list[OrderContext],
    v: Variables,
    weights: ObjectiveWeights,
    costs: CostsByHelper | None,
) -> tuple[list[cp_model.IntVar], list[int]]:
    """The cost's variables and their coefficients (``cost_expression``)."""
    variables: list[cp_model.IntVar] = []
    coefficients: list[int] = []
    for ctx in contexts:
        assign = v.assign[ctx.index]
        known = costs[ctx.index] if costs is not None else None
        for k, candidate in enumerate(ctx.candidates):
            if known is not None:
                cost = known[candidate.helper]
            else:
                cost = pair_cost(problem, ctx, candidate, weights)
            if cost:
                variables.append(assign[k])
                coefficients.append(cost)
    _fairness_terms(model, problem, v, weights, variables, coefficients)
    return variables, coefficients


def _fairness_terms(
    model: cp_model.CpModel,
    problem: Problem,
    v: Variables,
    weights: ObjectiveWeights,
    variables: list[cp_model.IntVar],
    coefficients: list[int],
) -> None:
    """A helper's k-th order of the day costs (k-1) fairness units: a convex penalty that spreads
    work over idle helpers. ``extra[j]`` counts the (j+2)-th order; since later ones cost more,
    the solver fills them in order and the linear relaxation stays exact. The terms go to
    ``variables`` and ``coefficients``."""
    unit = round(COST_SCALE * weights.fairness)
    if unit == 0:
        return
    for helper_index, pairs in v.load.items():
        most = min(len(pairs), problem.helpers[helper_index].max_orders)
        if most < 2:
            continue
        extra = [model.new_bool_var(f"extra_{helper_index}_{j}") for j in range(most - 1)]
        served = cp_model.LinearExpr.sum([v.assign[o][k] for o, k in pairs])
        model.add(cp_model.LinearExpr.sum(extra) >= served - 1)
        v.extra[helper_index] = extra
        variables.extend(extra)
        coefficients.extend((j + 1) * unit for j in range(len(extra)))


def plan_cost(
    problem: Problem,
    contexts: list[OrderContext],
    plans: Mapping[int, tuple[Sequence[int], int | None]],
    weights: ObjectiveWeights,
    costs: CostsByHelper | None = None,
) -> int:
    """A plan's cost as the cost stage counts it (scaled: ``COST_SCALE``): its visits'
    ``pair_cost`` and the fairness penalty of each helper's load (``_fairness_terms``: the k-th
    order of a day costs k-1 units). ``costs``: the orders' ``pair_cost`` by helper, when the
    caller keeps them (``PairCosts``)."""
    cost, load = 0, dict[int, int]()
    for i, (team, _) in plans.items():
        if costs is not None:
            known = costs[i]
            cost += sum(known[helper] for helper in team)
        else:
            by_helper = {c.helper: c for c in contexts[i].candidates}
            cost += sum(pair_cost(problem, contexts[i], by_helper[h], weights) for h in team)
        for helper in team:
            load[helper] = load.get(helper, 0) + 1
    unit = round(COST_SCALE * weights.fairness)
    return cost + unit * sum(n * (n - 1) // 2 for n in load.values())
