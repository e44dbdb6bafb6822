"""Linear-programming bounds that certify how good a plan is (GLOP, shipped with OR-Tools).

The relaxation is over helpers' day plans (see ``matcher.dayplans``): each helper picks at most
one plan, fractionally, and an order is covered by team-size many helper visits with a lead-skill
holder and a speaker of the resident's language. Helpers with too many plans fall back to compact
rows (order and minute limits, at-most-one over visits they can never do together). Only the
shared start of a team is relaxed, so the optimum is a valid upper bound on weighted coverage
and, with coverage held at a given level, a valid lower bound on the cost. With
``candidate_limit=None`` the bounds hold for the full problem, not only the restricted one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ortools.linear_solver import pywraplp

from matcher.candidates import OrderContext, build_contexts
from matcher.cpsat.constraints import conflict_cliques
from matcher.cpsat.objective import COST_SCALE, pair_cost
from matcher.dayplans import day_plans
from matcher.model import Problem
from matcher.params import ObjectiveWeights, SolveParams

PLAN_LIMIT = 5000  # per helper; beyond it the helper gets compact rows
# Coverage units given up per unit of cost by ``solve_coverage_cheaply``'s tie-break: small
# enough that no order's team (a few cost units) outweighs one unit of weight, large enough
# for GLOP's tolerances to see (town 10,000: 16 units of an objective of 2.5 million).
TIE_BREAK = 1e-3


@dataclass(frozen=True)
class LpBounds:
    coverage_upper: float | None  # no plan covers more weighted demand than this
    cost_lower: float | None  # no plan with coverage >= the given level costs less than this
    runtime_s: float
    plan_columns: int


def lp_bounds(
    problem: Problem,
    params: SolveParams,
    coverage_level: float | None = None,
    contexts: list[OrderContext] | None = None,
) -> LpBounds:
    """LP bounds for ``problem``: the coverage upper bound, and if ``coverage_level`` is given,
    the cost lower bound among plans covering at least that much weighted demand. A bound is
    None when the relaxation is infeasible (pins that cannot all be kept)."""
    began = time.perf_counter()
    if contexts is None:
        _, contexts = build_contexts(problem, params.wait_boost, params.candidate_limit)
    lp = _Relaxation(problem, contexts)
    coverage = lp.solve_coverage()
    cost = None
    if coverage_level is not None and coverage is not None:
        cost = lp.solve_cost(coverage_level, params)
    return LpBounds(coverage, cost, time.perf_counter() - began, lp.plan_columns)


class _Relaxation:
    def __init__(self, problem: Problem, contexts: list[OrderContext]) -> None:
        self.problem, self.contexts = problem, contexts
        self.solver = pywraplp.Solver.CreateSolver("GLOP")
        self.plan_columns = 0
        self.plan_sizes: dict[int, list[tuple[int, pywraplp.Variable]]] = {}
        s = self.solver
        self.covered = [s.NumVar(0, 1, "") for _ in contexts]
        self.assign = [[s.NumVar(0, 1, "") for _ in ctx.candidates] for ctx in contexts]
        self.load: dict[int, list[tuple[int, int]]] = {}
        for ctx in contexts:
            for k, candidate in enumerate(ctx.candidates):
                self.load.setdefault(candidate.helper, []).append((ctx.index, k))
        self._teams()
        for helper, visits in self.load.items():
            plans = day_plans(problem, contexts, helper, visits, PLAN_LIMIT)
            if plans is None:
                self._compact(helper, visits)
            else:
                self._plans(helper, visits, plans)

    def _row(
        self, lower: float, upper: float, terms: list[tuple[pywraplp.Variable, float]]
    ) -> None:
        """lower <= sum of coefficient * variable <= upper, set row by row (the solver's
        expression API costs about as much as the rest of the building)."""
        row = self.solver.Constraint(lower, upper)
        for var, coefficient in terms:
            row.SetCoefficient(var, coefficient)

    def _teams(self) -> None:
        inf = self.solver.infinity()
        for ctx in self.contexts:
            x, c = self.assign[ctx.index], self.covered[ctx.index]
            if not ctx.team_possible(ctx.candidates):
                c.SetUb(0)
            self._row(0, 0, [(var, 1) for var in x] + [(c, -ctx.team)])
            if ctx.needs_lead:
                held = [(x[k], 1) for k, d in enumerate(ctx.candidates) if d.has_lead]
                self._row(0, inf, [*held, (c, -1)])
            if ctx.needs_language:
                held = [(x[k], 1) for k, d in enumerate(ctx.candidates) if d.speaks]
                self._row(0, inf, [*held, (c, -1)])
            if ctx.pinned:
                c.SetLb(1)
                for k, candidate in enumerate(ctx.candidates):
                    if candidate.helper in ctx.pinned:
                        x[k].SetLb(1)

    def _plans(
        self, helper: int, visits: list[tuple[int, int]], plans: list[tuple[tuple[int, int], ...]]
    ) -> None:
        s = self.solver
        chosen = [s.NumVar(0, 1, "") for _ in plans]
        self.plan_sizes[helper] = [(len(p), var) for p, var in zip(plans, chosen, strict=True)]
        self.plan_columns += len(plans)
        self._row(-s.infinity(), 1, [(var, 1) for var in chosen])
        containing: dict[tuple[int, int], list[pywraplp.Variable]] = {v: [] for v in visits}
        for plan, var in zip(plans, chosen, strict=True):
            for visit in plan:
                containing[visit].append(var)
        for (o, k), vars_ in containing.items():
            self._row(0, 0, [(self.assign[o][k], 1)] + [(var, -1) for var in vars_])

    def _compact(self, helper: int, visits: list[tuple[int, int]]) -> None:
        s = self.solver
        person = self.problem.helpers[helper]
        xs = [self.assign[o][k] for o, k in visits]
        s.Add(s.Sum(xs) <= person.max_orders)
        minutes = [self._minutes(o, k) for o, k in visits]
        s.Add(
            s.Sum([m * x for m, x in zip(minutes, xs, strict=True)])
            <= person.max_minutes - person.committed_minutes
        )
        for clique in conflict_cliques(self.problem, self.contexts, helper, visits):
            s.Add(s.Sum([self.assign[o][k] for o, k in clique]) <= 1)

    def _minutes(self, o: int, k: int) -> int:
        ctx = self.contexts[o]
        return ctx.duration + ctx.candidates[k].leg.minutes_round_trip

    def coverage_objective(self) -> None:
        """Maximise weighted coverage (``solve_coverage`` solves it; a caller may change the
        solver first, e.g. integral columns)."""
        self._objective(self._coverage_terms(), maximize=True)

    def solve_coverage(self) -> float | None:
        self.coverage_objective()
        return self._run()

    def solve_coverage_cheaply(self, weights: ObjectiveWeights) -> float | None:
        """The coverage relaxation with its cost (``weights``) as a tie-break: the LP maximises
        weighted coverage less ``TIE_BREAK`` per unit of cost, so among its optima of (almost)
        the same coverage it picks a cheap one, the one a plan rounded from it should follow
        (``matcher.lp_guide``). Returns a valid upper bound on weighted coverage: the optimum
        plus ``TIE_BREAK`` times the most any solution can cost (``_cost_terms``)."""
        terms, most = self._cost_terms(weights)
        tie = -TIE_BREAK / COST_SCALE
        self._objective(
            self._coverage_terms() + [(var, tie * cost) for var, cost in terms], maximize=True
        )
        value = self._run()
        if value is None:
            return None
        return value + TIE_BREAK * most / COST_SCALE

    def solve_cost(self, coverage_level: float, params: SolveParams) -> float | None:
        self._row(coverage_level, self.solver.infinity(), self._coverage_terms())
        self._objective(self._cost_terms(params.weights)[0], maximize=False)
        value = self._run()
        return None if value is None else value / COST_SCALE

    def _coverage_terms(self) -> list[tuple[pywraplp.Variable, float]]:
        return [(self.covered[ctx.index], ctx.weight) for ctx in self.contexts]

    def _objective(self, terms: list[tuple[pywraplp.Variable, float]], maximize: bool) -> None:
        """Set the objective coefficient by coefficient (the expression API costs seconds at
        10,000 orders); each column is named once."""
        objective = self.solver.Objective()
        objective.Clear()
        for var, coefficient in terms:
            objective.SetCoefficient(var, coefficient)
        if maximize:
            objective.SetMaximization()
        else:
            objective.SetMinimization()

    def _cost_terms(
        self, weights: ObjectiveWeights
    ) -> tuple[list[tuple[pywraplp.Variable, float]], int]:
        """The plan's cost (scaled) over the relaxation's columns, as (column, coefficient):
        each visit's ``pair_cost`` and the load penalty (exact over day plans; over compact
        rows, the k-th order of a helper's day costs k-1 units through added columns). Also
        an upper bound on that cost over every solution: each order's dearest team, each
        helper's heaviest possible day."""
        s, terms, most = self.solver, list[tuple[pywraplp.Variable, float]](), 0
        for ctx in self.contexts:
            costs = []
            for k, candidate in enumerate(ctx.candidates):
                cost = pair_cost(self.problem, ctx, candidate, weights)
                costs.append(cost)
                if cost:
                    terms.append((self.assign[ctx.index][k], cost))
            costs.sort()
            most += sum(costs[-ctx.team :]) if ctx.team else 0
        unit = round(COST_SCALE * weights.fairness)
        if unit:
            for helper, visits in self.load.items():
                n = min(len(visits), self.problem.helpers[helper].max_orders)
                most += unit * (n * (n - 1) // 2)
                if helper in self.plan_sizes:  # exact: a plan of n orders costs n(n-1)/2 units
                    terms.extend(
                        (var, unit * (size * (size - 1) // 2))
                        for size, var in self.plan_sizes[helper]
                        if size > 1
                    )
                    continue
                extra = [s.NumVar(0, 1, "") for _ in range(n - 1)]
                if extra:
                    load = [(self.assign[o][k], -1.0) for o, k in visits]
                    self._row(-1, s.infinity(), [(e, 1.0) for e in extra] + load)
                    terms.extend((e, (j + 1) * unit) for j, e in enumerate(extra))
        return terms, most

    def _run(self) -> float | None:
        if self.solver.Solve() != pywraplp.Solver.OPTIMAL:
            return None
        return self.solver.Objective().Value()


def cost_lower_bound(
    problem: Problem,
    contexts: list[OrderContext],
    coverage_level: float,
    weights: ObjectiveWeights,
) -> float:
    """A lower bound on the cost of any plan (over these candidate lists) covering at least
    ``coverage_level`` weighted demand: each order costs at least its
    team's cheapest members; helpers' limits are dropped, so the cheapest way to reach the
    level is a fractional covering knapsack, solved exactly by taking orders in order of cost
    per unit of weight. Pinned orders are always covered. Valid, quick and weaker than the
    LP of ``lp_bounds``."""
    forced, items = 0.0, []
    level = coverage_level
    for ctx in contexts:
        if not ctx.team_possible(ctx.candidates):
            continue
        costs = sorted(pair_cost(problem, ctx, c, weights) for c in ctx.candidates)
        cheapest = float(sum(costs[: ctx.team]))
        if ctx.pinned:
            forced += cheapest
            level -= ctx.weight
        else:
            items.append((cheapest / ctx.weight if ctx.weight else 0.0, cheapest, ctx.weight))
    total = forced
    for _, cheapest, weight in sorted(items):
        if level <= 0:
            break
        take = min(1.0, level / weight) if weight else 1.0
        total += take * cheapest
        level -= weight
    return total / COST_SCALE
