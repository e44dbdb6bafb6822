"""A certificate of how good a plan is against the **full** problem: every eligible helper for
every order, not only the candidate lists CP-SAT works with (``SolveParams.candidate_limit``).

Two bounds, each valid whichever eligible helpers a plan uses:

- ``coverage_bound``: no plan covers more weighted demand. The least of: the orders a full team
  could serve at all (``coverable``); the linear relaxation of the full problem (``lp``); and,
  when pricing shows no helper outside the candidate lists could raise the relaxation, CP-SAT's
  own bound over the candidate lists (``candidates``).
- ``cost_bound``: no plan covering at least the plan's weighted coverage costs less (the cost
  stage's objective: travel, continuity, preference and load, ``matcher.cpsat.objective``). The
  linear relaxation (``lp``), or CP-SAT's bound over the candidate lists when every helper outside
  them is dearer than the relaxation's margin (``candidates``).

The relaxation (``_Lp``) has, per order, a covered share and a share per helper visit, team rows,
lead-skill and language rows, pins; per helper, the day's order and minute limits, the load
penalty (exact in the relaxation, as in CP-SAT), and at-most-one rows over the candidate visits a
helper can never do together. Start times and overlaps of visits outside the candidate lists are
dropped: a relaxation, never a tightening. It starts on the candidate lists; helper visits outside
them are priced against its duals (reduced cost, vectorised over every eligible helper) and the
ones that could improve it are added, round after round (column generation). Should the time run
out first, the bound stays valid: the visits not yet added can improve it by at most team size
times the best reduced cost per order, or the day's order limit times the best one per helper,
whichever sum is less (the Lagrangian correction).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from ortools.linear_solver import pywraplp

from matcher.candidates import Candidate, Eligibility, OrderContext
from matcher.cpsat.constraints import conflict_cliques
from matcher.cpsat.objective import COST_SCALE, pair_cost
from matcher.model import Problem
from matcher.params import ObjectiveWeights
from matcher.result import BoundMethod, PlanCertificate, Stage, Status
from matcher.travel import Leg
from matcher.weights import continuity_units

Plan = tuple[list[int], int | None]  # helper indices, start (as ``matcher.cpsat.solver.Plan``)

# Columns added per order and round, and rounds at most: measured on 1,500-order streets
# (bench/certify_bench.py), the relaxation settles in a few rounds.
ADD_PER_ORDER = 2
MAX_ROUNDS = 12
EPS = 1e-6
# Seconds the nightly run and scenario runs give the certificate after the solve: on 1,500-order
# streets the pricing rounds settle within it (bench/README.md, "Certified plans").
CERTIFY_S = 5.0

log = logging.getLogger("qunbang.matcher.certificate")


def certify(
    problem: Problem,
    weights: ObjectiveWeights,
    eligibility: Eligibility,
    contexts: list[OrderContext],
    plans: Mapping[int, Plan],
    candidate_bounds: tuple[float, float] | None = None,
    time_limit_s: float = 10.0,
) -> PlanCertificate:
    """Bound the full problem around ``plans`` (a plan over ``contexts``' candidates).

    ``eligibility`` must be the one ``contexts`` were built with (its ranking of every eligible
    helper per order is reused). ``candidate_bounds``: CP-SAT's (coverage upper, cost lower)
    bounds over exactly these candidate lists, cost at coverage at least the plan's, or None.
    ``time_limit_s`` caps the pricing rounds; the bounds are valid whenever they stop.
    """
    began = time.perf_counter()
    coverage = sum(contexts[i].weight for i in plans)
    cost = _plan_cost(problem, contexts, plans, weights)
    pool = _Pool(problem, weights, eligibility, contexts)
    coverable = sum(ctx.weight for ctx in contexts if pool.team_possible(ctx))

    # Half the time for the coverage rounds, the rest for the cost rounds (each stage solves at
    # least once): the cost stage's first solve, with a new objective, takes the longest.
    lp = _Lp(problem, contexts, weights, pool)
    upper, rounds, converged, best_out = lp.coverage_bound(began + time_limit_s / 2)
    coverage_bound, coverage_method = coverable, BoundMethod.COVERABLE
    if upper is not None and math.floor(upper + EPS) < coverage_bound:
        coverage_bound, coverage_method = math.floor(upper + EPS), BoundMethod.LP
    if candidate_bounds is not None and converged and upper is not None:
        # A plan using only listed visits covers at most CP-SAT's bound; one using a visit
        # outside the lists at most the relaxation's value plus that visit's reduced cost.
        combined = math.floor(candidate_bounds[0] + EPS)
        if best_out > -math.inf:
            combined = max(combined, math.floor(upper + min(0.0, best_out) + EPS))
        if combined < coverage_bound:
            coverage_bound, coverage_method = combined, BoundMethod.CANDIDATES
    coverage_bound = max(coverage_bound, coverage)  # the plan itself is possible

    lower, more_rounds, cost_converged, cheapest_out = lp.cost_bound(coverage, began + time_limit_s)
    rounds += more_rounds
    cost_bound, cost_method = 0.0, BoundMethod.LP
    if lower is not None:
        cost_bound = max(0.0, lower - EPS)
    if candidate_bounds is not None and cost_converged and lower is not None:
        combined_cost = candidate_bounds[1]
        if cheapest_out < math.inf:
            combined_cost = min(combined_cost, lower + max(0.0, cheapest_out) - EPS)
        if combined_cost > cost_bound:
            cost_bound, cost_method = combined_cost, BoundMethod.CANDIDATES
    cost_bound = min(cost_bound, cost)
    coverage_gap = (coverage_bound - coverage) / coverage_bound if coverage_bound else 0.0
    cost_gap = (cost - cost_bound) / cost_bound if cost_bound > EPS else (1.0 if cost else 0.0)
    return PlanCertificate(
        coverage=coverage,
        coverage_bound=coverage_bound,
        coverage_gap=coverage_gap,
        coverage_method=coverage_method,
        cost=cost,
        cost_bound=math.floor(cost_bound * 1e4) / 1e4,  # rounded down: still a lower bound
        cost_gap=cost_gap,
        cost_method=cost_method,
        within=max(coverage_gap, cost_gap),
        columns=lp.column_count,
        eligible=pool.eligible,
        rounds=rounds,
        converged=converged and cost_converged,
        runtime_s=time.perf_counter() - began,
    )


def _plan_cost(
    problem: Problem,
    contexts: list[OrderContext],
    plans: Mapping[int, Plan],
    weights: ObjectiveWeights,
) -> float:
    """The plan's cost as the cost stage counts it, in cost units."""
    cost, load = 0, dict[int, int]()
    for i, (team, _) in plans.items():
        by_helper = {c.helper: c for c in contexts[i].candidates}
        for helper in team:
            cost += pair_cost(problem, contexts[i], by_helper[helper], weights)
            load[helper] = load.get(helper, 0) + 1
    unit = round(COST_SCALE * weights.fairness)
    cost += unit * sum(n * (n - 1) // 2 for n in load.values())
    return cost / COST_SCALE


@dataclass
class _Eligible:
    """Every eligible helper of one order (``Eligibility.ranked``), with the per-visit facts
    the relaxation needs, as arrays."""

    helpers: np.ndarray
    km: np.ndarray
    minutes: np.ndarray  # the visit's minutes: service plus round trip
    lead: np.ndarray
    speaks: np.ndarray
    cost: np.ndarray  # scaled, as ``pair_cost`` for a helper outside the resident's circle


class _Pool:
    """Every eligible helper visit of the full problem, per order."""

    def __init__(
        self,
        problem: Problem,
        weights: ObjectiveWeights,
        eligibility: Eligibility,
        contexts: list[OrderContext],
    ) -> None:
        self.problem, self.eligibility = problem, eligibility
        genders = np.array([h.gender or "" for h in problem.helpers])
        self.orders: list[_Eligible] = []
        for ctx in contexts:
            indices, km, minutes = eligibility.ranked(ctx)
            resident = problem.resident(ctx.order.resident)
            lead = eligibility.lead_mask(ctx.item)[indices]
            if resident.language is None:
                speaks = np.ones(len(indices), dtype=bool)
            else:
                speaks = eligibility.speaker_mask(resident.language)[indices]
            # Circle members are always candidates (``matcher.candidates``): everyone priced
            # here from outside the lists is charged the outsider's continuity units.
            outsider = continuity_units(resident, "") if resident.circle else 0.0
            cost = weights.travel * km + weights.continuity * outsider
            if resident.preferred_gender is not None:
                cost = cost + weights.preference * (genders[indices] != resident.preferred_gender)
            self.orders.append(
                _Eligible(
                    helpers=indices,
                    km=km,
                    minutes=ctx.duration + minutes,
                    lead=lead,
                    speaks=speaks,
                    cost=np.round(COST_SCALE * cost),
                )
            )
        self.eligible = sum(len(e.helpers) for e in self.orders)
        self.max_orders = np.array([h.max_orders for h in problem.helpers], dtype=float)

    def team_possible(self, ctx: OrderContext) -> bool:
        """Whether any full team (with lead and language) of eligible helpers exists."""
        e = self.orders[ctx.index]
        if len(e.helpers) < ctx.team:
            return False
        return (not ctx.needs_lead or bool(e.lead.any())) and (
            not ctx.needs_language or bool(e.speaks.any())
        )

    def candidate(self, ctx: OrderContext, position: int) -> Candidate:
        e = self.orders[ctx.index]
        leg = Leg(float(e.km[position]), int(e.minutes[position]) - ctx.duration)
        return self.eligibility.candidate(ctx, int(e.helpers[position]), leg)


class _Lp:
    """The relaxation, grown by pricing (see the module docstring)."""

    def __init__(
        self,
        problem: Problem,
        contexts: list[OrderContext],
        weights: ObjectiveWeights,
        pool: _Pool,
    ) -> None:
        self.problem, self.contexts, self.weights, self.pool = problem, contexts, weights, pool
        s = self.solver = pywraplp.Solver.CreateSolver("GLOP")
        self.covered = [s.NumVar(0, 1, "") for _ in contexts]
        self.team_row = []
        self.lead_row: dict[int, pywraplp.Constraint] = {}
        self.language_row: dict[int, pywraplp.Constraint] = {}
        for ctx in contexts:
            c = self.covered[ctx.index]
            if not pool.team_possible(ctx):
                c.SetUb(0)
            self.team_row.append(_row(s, 0, 0, [(c, -ctx.team)]))
            if ctx.needs_lead:
                self.lead_row[ctx.index] = _row(s, 0, s.infinity(), [(c, -1)])
            if ctx.needs_language:
                self.language_row[ctx.index] = _row(s, 0, s.infinity(), [(c, -1)])
            if ctx.pinned:
                c.SetLb(1)
        # per helper: orders row, minutes row, and the load penalty's row and extras
        self.orders_row: dict[int, pywraplp.Constraint] = {}
        self.minutes_row: dict[int, pywraplp.Constraint] = {}
        self.load_row: dict[int, pywraplp.Constraint] = {}
        self.extras: dict[int, list[pywraplp.Variable]] = {}
        self.assign: dict[tuple[int, int], tuple[pywraplp.Variable, int]] = {}  # -> var, cost
        self.column_count = 0
        self.minimising = False
        # per order: which of its eligible helpers (pool positions) have a column, which are
        # on its candidate list
        self.inside = [np.zeros(len(e.helpers), dtype=bool) for e in pool.orders]
        self.listed = [
            np.isin(e.helpers, [c.helper for c in ctx.candidates])
            for e, ctx in zip(pool.orders, contexts, strict=True)
        ]
        for o, listed in enumerate(self.listed):
            self.inside[o] |= listed
        for ctx in contexts:
            for candidate in ctx.candidates:
                var = self._add_column(ctx, candidate, candidate.helper in ctx.pinned)
                self.assign[(ctx.index, candidate.helper)] = var
        self._cliques()
        self.coverage = s.Sum([ctx.weight * self.covered[ctx.index] for ctx in contexts])
        self.level_row: pywraplp.Constraint | None = None

    def _helper_rows(self, helper: int) -> None:
        s, person = self.solver, self.problem.helpers[helper]
        self.orders_row[helper] = s.Constraint(-s.infinity(), person.max_orders)
        room = person.max_minutes - person.committed_minutes
        self.minutes_row[helper] = s.Constraint(-s.infinity(), room)
        # A helper's k-th order costs k-1 load units: extras filled in order (convex), exact.
        self.load_row[helper] = row = s.Constraint(-1, s.infinity())
        self.extras[helper] = extras = [s.NumVar(0, 1, "") for _ in range(person.max_orders - 1)]
        for extra in extras:
            row.SetCoefficient(extra, 1)
        if self.minimising:
            self._load_costs(extras)

    def _load_costs(self, extras: list[pywraplp.Variable]) -> None:
        unit = round(COST_SCALE * self.weights.fairness)
        for j, extra in enumerate(extras):
            self.solver.Objective().SetCoefficient(extra, (j + 1) * unit)

    def _add_column(
        self, ctx: OrderContext, candidate: Candidate, pinned: bool = False
    ) -> tuple[pywraplp.Variable, int]:
        helper = candidate.helper
        if helper not in self.orders_row:
            self._helper_rows(helper)
        var = self.solver.NumVar(1 if pinned else 0, 1, "")
        self.team_row[ctx.index].SetCoefficient(var, 1)
        if ctx.index in self.lead_row and candidate.has_lead:
            self.lead_row[ctx.index].SetCoefficient(var, 1)
        if ctx.index in self.language_row and candidate.speaks:
            self.language_row[ctx.index].SetCoefficient(var, 1)
        self.orders_row[helper].SetCoefficient(var, 1)
        self.minutes_row[helper].SetCoefficient(
            var, ctx.duration + candidate.leg.minutes_round_trip
        )
        self.load_row[helper].SetCoefficient(var, -1)
        self.column_count += 1
        cost = pair_cost(self.problem, ctx, candidate, self.weights)
        if self.minimising:
            self.solver.Objective().SetCoefficient(var, cost)
        return var, cost

    def _cliques(self) -> None:
        """At most one of the candidate visits a helper can never do together."""
        s = self.solver
        load: dict[int, list[tuple[int, int]]] = {}
        for ctx in self.contexts:
            for k, candidate in enumerate(ctx.candidates):
                load.setdefault(candidate.helper, []).append((ctx.index, k))
        for helper, visits in load.items():
            for clique in conflict_cliques(self.problem, self.contexts, helper, visits):
                columns = [
                    (self.assign[(o, self.contexts[o].candidates[k].helper)][0], 1)
                    for o, k in clique
                ]
                _row(s, -s.infinity(), 1, columns)

    # ------------------------------------------------------------------------- pricing

    def _duals(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per helper (all of the problem's): duals of the orders, minutes and load rows."""
        count = len(self.problem.helpers)
        orders, minutes, load = np.zeros(count), np.zeros(count), np.zeros(count)
        for helper, row in self.orders_row.items():
            orders[helper] = row.dual_value()
            minutes[helper] = self.minutes_row[helper].dual_value()
            load[helper] = self.load_row[helper].dual_value()
        return orders, minutes, load

    def _price(self, with_cost: bool) -> tuple[list[tuple[int, int]], float, float]:
        """Reduced costs of every eligible visit not in the relaxation. Returns the visits that
        improve it (most improving first, ``ADD_PER_ORDER`` per order), the Lagrangian
        correction (what the visits not added could still improve it by, in objective units), the
        least improvement-free margin over visits outside the candidate lists (best_out)."""
        orders, minutes, load = self._duals()
        sign = 1.0 if with_cost else -1.0  # improvement = -rc (max) or rc < 0 (min)
        chosen: list[tuple[int, int]] = []
        correction, best_out = 0.0, -math.inf if not with_cost else math.inf
        by_helper = np.zeros(len(self.problem.helpers))  # each helper's best improvement
        for ctx in self.contexts:
            e = self.pool.orders[ctx.index]
            if not len(e.helpers) or self.covered[ctx.index].ub() == 0:
                continue
            used = np.zeros(len(e.helpers), dtype=np.float64)
            used += self.team_row[ctx.index].dual_value()
            if ctx.index in self.lead_row:
                used += e.lead * self.lead_row[ctx.index].dual_value()
            if ctx.index in self.language_row:
                used += e.speaks * self.language_row[ctx.index].dual_value()
            h = e.helpers
            used += orders[h] + e.minutes * minutes[h] - load[h]
            reduced = (e.cost if with_cost else 0.0) - used
            inside, out_of_lists = self.inside[ctx.index], ~self.listed[ctx.index]
            if out_of_lists.any():
                values = reduced[out_of_lists]
                best_out = (
                    min(best_out, float(values.min()))
                    if with_cost
                    else max(best_out, float(values.max()))
                )
            gain = -sign * reduced  # > 0: the visit would improve the relaxation
            gain[inside] = 0.0
            top = float(gain.max())
            if top > EPS:
                correction += ctx.team * top
                np.maximum.at(by_helper, h, gain)
                for position in np.argsort(-gain)[:ADD_PER_ORDER].tolist():
                    if gain[position] > EPS:
                        chosen.append((ctx.index, position))
        # The visits not added improve the relaxation by at most sum(gain x visit): at most
        # team size x best gain per order, and at most max_orders x best gain per helper.
        per_helper = float(np.dot(by_helper, self.pool.max_orders))
        return chosen, min(correction, per_helper), best_out  # best_out +-inf: none outside

    def _grow(
        self, maximise: bool, deadline: float, scale: float
    ) -> tuple[float | None, int, bool, float]:
        """Solve, price, add improving visits, repeat; returns (bound, rounds, converged,
        best_out), the bound including the correction for visits never added."""
        rounds = 0
        while True:
            if self.solver.Solve() != pywraplp.Solver.OPTIMAL:
                return None, rounds, False, 0.0
            value = self.solver.Objective().Value()
            chosen, correction, best_out = self._price(with_cost=not maximise)
            rounds += 1
            log.debug(
                "round %d: relaxation %.2f, correction %.2f, %d visits to add, %d columns",
                rounds,
                value / scale,
                correction / scale,
                len(chosen),
                self.column_count,
            )
            if not chosen:
                return value / scale, rounds, True, best_out / scale
            if rounds >= MAX_ROUNDS or time.perf_counter() > deadline:
                bound = value + correction if maximise else value - correction
                return bound / scale, rounds, False, best_out / scale
            for o, position in chosen:
                ctx = self.contexts[o]
                candidate = self.pool.candidate(ctx, position)
                self.assign[(o, candidate.helper)] = self._add_column(ctx, candidate)
                self.inside[o][position] = True

    def coverage_bound(self, deadline: float) -> tuple[float | None, int, bool, float]:
        self.solver.Maximize(self.coverage)
        return self._grow(True, deadline, 1.0)

    def cost_bound(
        self, coverage_level: int, deadline: float
    ) -> tuple[float | None, int, bool, float]:
        s = self.solver
        s.Add(self.coverage >= coverage_level - EPS)
        objective = s.Objective()
        objective.Clear()
        self.minimising = True
        for var, cost in self.assign.values():
            objective.SetCoefficient(var, cost)
        for extras in self.extras.values():
            self._load_costs(extras)
        objective.SetMinimization()
        return self._grow(False, deadline, COST_SCALE)


def _row(
    solver: pywraplp.Solver,
    lower: float,
    upper: float,
    terms: Sequence[tuple[pywraplp.Variable, float]],
) -> pywraplp.Constraint:
    row = solver.Constraint(lower, upper)
    for var, coefficient in terms:
        row.SetCoefficient(var, coefficient)
    return row


def candidate_bounds(stages: tuple[Stage, ...]) -> tuple[float, float] | None:
    """CP-SAT's (coverage upper, cost lower) bounds over the candidate lists, from a solve's
    stages, when both stages found a plan (a stage without one reports no valid bound)."""
    found = (Status.OPTIMAL, Status.FEASIBLE)
    named = {s.name: s for s in stages}
    coverage, cost = named.get("coverage"), named.get("cost")
    if coverage is None or cost is None or coverage.status not in found:
        return None
    if cost.status not in found:
        return None
    return coverage.bound, cost.bound


def priced_candidates(
    problem: Problem,
    weights: ObjectiveWeights,
    eligibility: Eligibility,
    contexts: list[OrderContext],
    time_limit_s: float,
) -> int:
    """Add to ``contexts``' candidate lists the eligible visits that pricing brings into the full
    problem's coverage relaxation (those that could raise the coverage bound), so CP-SAT can use
    them. Returns how many were added. An experiment for bench/certify_bench.py ``--priced``."""
    pool = _Pool(problem, weights, eligibility, contexts)
    lp = _Lp(problem, contexts, weights, pool)
    lp.coverage_bound(time.perf_counter() + time_limit_s)
    added = 0
    for ctx in contexts:
        new = np.flatnonzero(lp.inside[ctx.index] & ~lp.listed[ctx.index])
        for position in new.tolist():
            ctx.candidates.append(pool.candidate(ctx, position))
            added += 1
    return added
