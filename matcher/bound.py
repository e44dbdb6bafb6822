"""Linear-programming bounds that certify how good a plan is (GLOP, shipped with OR-Tools).

The relaxation keeps every linear rule of the CP-SAT model (teams, lead and language, daily order
and minute limits, pins, at-most-one over fixed-time visits sharing a minute) and replaces
no-overlap by an energy cut: a helper's visits that can only fall inside one availability window
cannot take more minutes than the window has. Its optimum is therefore a valid upper bound on
weighted coverage and, with coverage held at a given level, a valid lower bound on the cost.
With ``candidate_limit=None`` the bounds hold for the full problem, not only the restricted one.
"""

from __future__ import annotations

from dataclasses import dataclass

from ortools.linear_solver import pywraplp

from matcher.candidates import OrderContext, build_contexts
from matcher.cpsat.constraints import overlapping_fixed
from matcher.cpsat.objective import COST_SCALE, pair_cost
from matcher.model import Problem
from matcher.params import SolveParams


@dataclass(frozen=True)
class LpBounds:
    coverage_upper: float  # no plan covers more weighted demand than this
    cost_lower: float | None  # no plan with coverage >= the given level costs less than this
    runtime_s: float


def lp_bounds(
    problem: Problem,
    params: SolveParams,
    coverage_level: float | None = None,
    contexts: list[OrderContext] | None = None,
) -> LpBounds:
    """LP bounds for ``problem``: the coverage upper bound, and if ``coverage_level`` is given,
    the cost lower bound among plans covering at least that much weighted demand."""
    if contexts is None:
        _, contexts = build_contexts(problem, params.wait_boost, params.candidate_limit)
    lp = _Relaxation(problem, contexts)
    coverage = lp.solve_coverage()
    cost = None
    if coverage_level is not None:
        cost = lp.solve_cost(coverage_level, params)
    return LpBounds(coverage, cost, lp.runtime_s)


class _Relaxation:
    def __init__(self, problem: Problem, contexts: list[OrderContext]) -> None:
        self.problem, self.contexts = problem, contexts
        self.solver = pywraplp.Solver.CreateSolver("GLOP")
        self.runtime_s = 0.0
        s = self.solver
        self.covered = [s.NumVar(0, 1, "") for _ in contexts]
        self.assign = [[s.NumVar(0, 1, "") for _ in ctx.candidates] for ctx in contexts]
        self.load: dict[int, list[tuple[int, int]]] = {}
        for ctx in contexts:
            for k, candidate in enumerate(ctx.candidates):
                self.load.setdefault(candidate.helper, []).append((ctx.index, k))
        self._teams()
        self._limits()
        self._time()
        self.coverage = sum(ctx.weight * self.covered[ctx.index] for ctx in contexts)

    def _teams(self) -> None:
        s = self.solver
        for ctx in self.contexts:
            x, c = self.assign[ctx.index], self.covered[ctx.index]
            if not ctx.team_possible(ctx.candidates):
                c.SetUb(0)
            s.Add(s.Sum(x) == ctx.team * c)
            if ctx.needs_lead:
                s.Add(s.Sum([x[k] for k, d in enumerate(ctx.candidates) if d.has_lead]) >= c)
            if ctx.needs_language:
                s.Add(s.Sum([x[k] for k, d in enumerate(ctx.candidates) if d.speaks]) >= c)
            if ctx.pinned:
                c.SetLb(1)
                for k, candidate in enumerate(ctx.candidates):
                    if candidate.helper in ctx.pinned:
                        x[k].SetLb(1)

    def _limits(self) -> None:
        s = self.solver
        for helper_index, pairs in self.load.items():
            helper = self.problem.helpers[helper_index]
            xs = [self.assign[o][k] for o, k in pairs]
            if len(pairs) > helper.max_orders:
                s.Add(s.Sum(xs) <= helper.max_orders)
            minutes = [self._minutes(o, k) for o, k in pairs]
            room = helper.max_minutes - helper.committed_minutes
            if sum(minutes) > room:
                s.Add(s.Sum([m * x for m, x in zip(minutes, xs, strict=True)]) <= room)

    def _time(self) -> None:
        s = self.solver
        for helper_index, pairs in self.load.items():
            timed = [(o, k) for o, k in pairs if self.contexts[o].timed]
            fixed = [(o, k) for o, k in timed if _is_fixed(self.contexts[o])]
            for clique in overlapping_fixed(self.contexts, fixed):
                s.Add(s.Sum([self.assign[o][k] for o, k in clique]) <= 1)
            windows = self.problem.helpers[helper_index].availability
            for window in windows:
                inside = [(o, k) for o, k in timed if self._only_in(o, k, window.start, window.end)]
                minutes = [self._minutes(o, k) for o, k in inside]
                if sum(minutes) > window.length:
                    s.Add(
                        s.Sum(
                            [
                                m * self.assign[o][k]
                                for m, (o, k) in zip(minutes, inside, strict=True)
                            ]
                        )
                        <= window.length
                    )

    def _minutes(self, o: int, k: int) -> int:
        ctx = self.contexts[o]
        return ctx.duration + ctx.candidates[k].leg.minutes_round_trip

    def _only_in(self, o: int, k: int, begin: int, end: int) -> bool:
        """Every allowed start of this visit puts it inside [begin, end]."""
        ctx, candidate = self.contexts[o], self.contexts[o].candidates[k]
        leg = candidate.leg
        return all(
            begin <= first - leg.minutes_out and last + ctx.duration + leg.minutes_back <= end
            for first, last in candidate.starts or ()
        )

    def solve_coverage(self) -> float:
        self.solver.Maximize(self.coverage)
        return self._run()

    def solve_cost(self, coverage_level: float, params: SolveParams) -> float:
        s, weights = self.solver, params.weights
        s.Add(self.coverage >= coverage_level)
        terms = []
        for ctx in self.contexts:
            has_circle = bool(self.problem.resident(ctx.order.resident).circle)
            for k, candidate in enumerate(ctx.candidates):
                cost = pair_cost(ctx, candidate, weights, has_circle)
                if cost:
                    terms.append(cost * self.assign[ctx.index][k])
        unit = round(COST_SCALE * weights.fairness)
        if unit:
            for helper_index, pairs in self.load.items():
                most = min(len(pairs), self.problem.helpers[helper_index].max_orders)
                extra = [s.NumVar(0, 1, "") for _ in range(most - 1)]
                if extra:
                    s.Add(s.Sum(extra) >= s.Sum([self.assign[o][k] for o, k in pairs]) - 1)
                    terms.extend((j + 1) * unit * e for j, e in enumerate(extra))
        s.Minimize(s.Sum(terms))
        return self._run() / COST_SCALE

    def _run(self) -> float:
        status = self.solver.Solve()
        self.runtime_s += self.solver.wall_time() / 1000
        if status != pywraplp.Solver.OPTIMAL:
            raise RuntimeError(f"LP relaxation ended with status {status}")
        return self.solver.Objective().Value()


def _is_fixed(ctx: OrderContext) -> bool:
    return ctx.start_range is not None and ctx.start_range[0] == ctx.start_range[1]
