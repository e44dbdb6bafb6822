"""Integral bounds on the **full** problem (every eligible helper visit) with HiGHS's MIP solver.

The model is the full problem with the visits' start times dropped, and nothing else relaxed:
per order a covered flag and a 0/1 variable per eligible helper visit (``Eligibility.ranked``,
not only the candidate lists), team size exactly when covered, a lead-skill holder and a speaker
of the resident's language, pins; per helper the day's order and minute limits and at-most-one
over visits the helper can never do together (``never_apart_pairs``: no order of the two fits
their start ranges; and the visits longer than half the day's room; the other pairs too long
together are the minute row's business); for cost, the load penalty (exact, as in CP-SAT) and
the cost of each visit (``pair_cost``). Every plan of the full problem is a solution of it, so
HiGHS's dual bound is an upper bound on weighted coverage and, with coverage held at a level, a
lower bound on the cost of every plan covering at least as much (what is relaxed: the team's
shared start, the availability windows' and no-overlap's timing beyond those pairwise conflicts).

Unlike the linear relaxation of ``matcher.certificate`` (which stays 0.1-0.3 % above coverage
CP-SAT proves optimal on the candidate lists, and 3-5 % below their least cost: its own gap),
HiGHS's cuts and branching close these gaps on the 1,500-order pastoral streets in a few seconds
(bench/README.md, "Certified plans"). A plan is given to HiGHS as its first solution: with
``search`` its heuristics look for better ones (``matcher.certificate.widen`` puts the best one's
visits on CP-SAT's lists), without, it only proves. Weights and scaled costs are integers, so the
coverage bound is rounded down to a multiple of the weights' greatest common divisor (and HiGHS
stopped once its bound is within one such step of its best solution) and the cost bound up to a
whole cost hundredth. The bounds are as exact as HiGHS's floating-point arithmetic (tolerances
1e-6, tiny against a weight step of 1 or more); a run stopped by the time limit gives HiGHS's dual
bound then, still valid. HiGHS (``highspy``) is the MIP solver: CP-SAT found no proof on the same
36,000 visits in 300 s (bench/README.md); HiGHS's presolve is off (it cost 4.5-13 s on these
models and saved nothing).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from matcher.candidates import Candidate, OrderContext
from matcher.cpsat.constraints import cliques_of, conflict_cliques, never_apart_pairs
from matcher.cpsat.objective import COST_SCALE, pair_cost
from matcher.model import Problem
from matcher.params import ObjectiveWeights

Plan = tuple[list[int], int | None]  # helper indices, start (as ``matcher.cpsat.solver.Plan``)
INF = math.inf
# ``FullMip.cost_support``: a visit the relaxation holds above this much is in the support.
SUPPORT_EPS = 1e-6


@dataclass(frozen=True)
class MipBound:
    """HiGHS's dual bound (None when it found none in time, or the relaxation is infeasible),
    whether HiGHS proved its optimum, and the seconds the run took."""

    bound: float | None
    proven: bool
    runtime_s: float
    values: np.ndarray | None = None  # HiGHS's best solution, by column


def available() -> bool:
    """Whether HiGHS (``highspy``) can be imported."""
    try:
        from highspy import _core  # noqa: F401
    except ImportError:
        return False
    return True


class FullMip:
    """The full problem without start times (module docstring), built once for both bounds."""

    def __init__(
        self,
        problem: Problem,
        weights: ObjectiveWeights,
        lists: list[OrderContext],
        free: frozenset[tuple[int, int]] = frozenset(),
        full_cliques: bool = False,
    ) -> None:
        """``lists``: every order's context with **every** eligible helper as a candidate, or
        (a relaxation: ``matcher.certificate.core_mip``) with enough of them, where the ``free``
        visits, (order, helper), count in none of their helper's rows (day limits, cliques,
        load). ``full_cliques``: every pair a helper can never do both of in a clique row
        (``conflict_cliques``, as the relaxation has them), not only the timing ones."""
        self.problem, self.weights, self.lists = problem, weights, lists
        self.free = free
        orders = len(lists)
        self.column = [np.arange(0)] * orders  # per order: column of each candidate
        lower: list[float] = [1.0 if ctx.pinned else 0.0 for ctx in lists]
        upper: list[float] = [1.0 if ctx.team_possible(ctx.candidates) else 0.0 for ctx in lists]
        cost: list[float] = [0.0] * orders
        visits: dict[int, list[tuple[int, int]]] = {}
        for ctx in lists:
            first = len(lower)
            for k, candidate in enumerate(ctx.candidates):
                lower.append(1.0 if candidate.helper in ctx.pinned else 0.0)
                upper.append(1.0)
                cost.append(float(pair_cost(problem, ctx, candidate, weights)))
                if (ctx.index, candidate.helper) not in free:
                    visits.setdefault(candidate.helper, []).append((ctx.index, k))
            self.column[ctx.index] = np.arange(first, len(lower))
        self.visits = visits
        self.weight = np.array([ctx.weight for ctx in lists], dtype=float)
        self.step = weight_step(lists)
        rows = _Rows()
        for ctx in lists:
            columns = self.column[ctx.index]
            rows.add(0.0, 0.0, [ctx.index, *columns.tolist()], [-ctx.team] + [1] * len(columns))
            for needed, has in (
                (ctx.needs_lead, [c.has_lead for c in ctx.candidates]),
                (ctx.needs_language, [c.speaks for c in ctx.candidates]),
            ):
                if needed:
                    chosen = columns[np.array(has, dtype=bool)].tolist()
                    rows.add(0.0, INF, [ctx.index, *chosen], [-1] + [1] * len(chosen))
        for helper, pairs in visits.items():
            person = problem.helpers[helper]
            columns_of = [int(self.column[o][k]) for o, k in pairs]
            if len(pairs) > person.max_orders:
                rows.add(-INF, person.max_orders, columns_of, [1] * len(pairs))
            minutes = [lists[o].duration + lists[o].candidates[k].leg.minutes_round_trip
                       for o, k in pairs]  # fmt: skip
            room = person.max_minutes - person.committed_minutes
            if sum(minutes) > room:
                rows.add(-INF, room, columns_of, minutes)
            if full_cliques:
                cliques = conflict_cliques(problem, lists, helper, pairs)
            else:
                cliques = _cliques(problem, lists, helper, pairs, minutes, room)
            for clique in cliques:
                rows.add(-INF, 1.0, [int(self.column[o][k]) for o, k in clique], [1] * len(clique))
        self.rows = rows
        self.lower, self.upper, self.cost = lower, upper, cost
        self.eligible = len(lower) - orders

    def coverage_bound(
        self, plans: Mapping[int, Plan], time_limit_s: float, threads: int, search: bool = False
    ) -> MipBound:
        """The largest weighted coverage of the model, proven or HiGHS's bound at the limit,
        from the solution ``plans``; ``search``: with HiGHS's heuristics, to find better
        solutions too (else it only proves)."""
        objective = [-w for w in self.weight.tolist()] + [0.0] * self.eligible
        start = self._solution(plans, with_extras=False)
        found = _run(
            self.lower,
            self.upper,
            objective,
            self.rows,
            start,
            time_limit_s,
            threads,
            search,
            self.step,
        )
        if found.bound is None:
            return found
        # Round down to the weights' lattice: every plan's coverage is a multiple of ``step``.
        return replace(found, bound=floor_to_step(-found.bound, self.step))

    def cost_bound(
        self,
        level: int,
        plans: Mapping[int, Plan],
        time_limit_s: float,
        threads: int,
        search: bool = False,
    ) -> MipBound:
        """The least cost (cost units) of the model's solutions covering at least ``level``,
        from the solution ``plans`` (``search`` as for ``coverage_bound``)."""
        lower, upper, objective, rows, with_extras = self._cost_model(level)
        start = self._solution(plans, with_extras=with_extras)
        found = _run(lower, upper, objective, rows, start, time_limit_s, threads, search)
        if found.bound is None:
            return found
        return replace(found, bound=math.ceil(found.bound - 1e-6) / COST_SCALE)

    def cost_support(
        self, level: int, time_limit_s: float, threads: int
    ) -> tuple[dict[int, set[int]], float] | None:
        """Per order, the helpers of the visits an optimum of the cost model's **linear
        relaxation** at ``level`` holds (value above ``SUPPORT_EPS``), with the relaxation's
        value (cost units: a lower bound on the cost of every plan over these lists covering at
        least ``level``); None when HiGHS did not solve it in ``time_limit_s`` (or it is
        infeasible). A small set of visits holding a plan almost as cheap as the lists' least
        cost (``matcher.cpsat.solver.narrow_cost``). Adding the two cheapest other visits of
        the orders where the relaxation is fractional found cheaper plans offline (town 0:
        2,441.75 against 2,456.22) but under load the larger narrow model did not finish in its
        share, so the support is the relaxation's alone (bench/README.md, "Certified plans",
        ``towncost``)."""
        lower, upper, objective, rows, _ = self._cost_model(level)
        found = _run(lower, upper, objective, rows, None, time_limit_s, threads, False, relax=True)
        if found.values is None:
            return None
        x = found.values
        support: dict[int, set[int]] = {}
        for ctx in self.lists:
            held = np.flatnonzero(x[self.column[ctx.index]] > SUPPORT_EPS).tolist()
            if held:
                support[ctx.index] = {ctx.candidates[k].helper for k in held}
        assert found.bound is not None  # an optimum: its value
        return support, found.bound / COST_SCALE

    def _cost_model(self, level: int) -> tuple[list[float], list[float], list[float], _Rows, bool]:
        """The columns' bounds, the objective and the rows of the least cost at ``level``
        (the load penalty's extras appended), and whether there are extras."""
        lower, upper = list(self.lower), list(self.upper)
        objective = list(self.cost)  # the covered flags cost nothing
        rows = self.rows.copy()
        rows.add(level, INF, list(range(len(self.lists))), self.weight.tolist())
        unit = round(COST_SCALE * self.weights.fairness)
        if unit:  # the k-th order of a helper's day costs k-1 units; extras filled in order
            for helper, pairs in self.visits.items():
                most = min(len(pairs), self.problem.helpers[helper].max_orders)
                if most < 2:
                    continue
                extras = list(range(len(lower), len(lower) + most - 1))
                lower.extend([0.0] * len(extras))
                upper.extend([1.0] * len(extras))
                objective.extend(float((j + 1) * unit) for j in range(len(extras)))
                columns = [int(self.column[o][k]) for o, k in pairs]
                rows.add(-1.0, INF, extras + columns, [1] * len(extras) + [-1] * len(columns))
        return lower, upper, objective, rows, bool(unit)

    def plans_of(self, values: np.ndarray) -> dict[int, Plan]:
        """A solution of the model as plans (no starts: the model has none)."""
        return {
            o: ([c.helper for c in candidates], None)
            for o, candidates in self.visits_of(values).items()
        }

    def visits_of(self, values: np.ndarray) -> dict[int, list[Candidate]]:
        """Per order, the candidates a solution of the model sends."""
        chosen: dict[int, list[Candidate]] = {}
        for ctx in self.lists:
            for k in np.flatnonzero(values[self.column[ctx.index]] > 0.5).tolist():
                chosen.setdefault(ctx.index, []).append(ctx.candidates[k])
        return chosen

    def _solution(self, plans: Mapping[int, Plan], with_extras: bool) -> list[float] | None:
        """The plan as a solution of the model (extras last, in ``cost_bound``'s order), None
        if it sends a helper the model has no column for (a core built before the plan's
        lists grew)."""
        values = [0.0] * len(self.lower)
        load: dict[int, int] = {}  # visits in the helper's rows (free ones are not)
        for o, (team, _) in plans.items():
            values[o] = 1.0
            position = {c.helper: k for k, c in enumerate(self.lists[o].candidates)}
            for helper in team:
                if helper not in position:
                    return None
                values[int(self.column[o][position[helper]])] = 1.0
                if (o, helper) not in self.free:
                    load[helper] = load.get(helper, 0) + 1
        if with_extras:
            for helper, pairs in self.visits.items():
                most = min(len(pairs), self.problem.helpers[helper].max_orders)
                if most >= 2:
                    used = max(0, load.get(helper, 0) - 1)
                    values.extend([1.0] * used + [0.0] * (most - 1 - used))
        return values


def _cliques(
    problem: Problem,
    lists: list[OrderContext],
    helper: int,
    pairs: list[tuple[int, int]],
    minutes: list[int],
    room: int,
) -> list[list[tuple[int, int]]]:
    """At-most-one rows of the helper's visits: those never apart in time (greedy cliques), and
    those longer than half the day's room (any two exceed it). The other pairs too long together
    are the minute row's business (the full ``conflict_cliques`` costs more to build than it
    saves HiGHS: bench/README.md)."""
    if problem.helpers[helper].max_orders < 2:
        return []
    cliques = cliques_of(pairs, never_apart_pairs(lists, pairs))
    long = [visit for visit, m in zip(pairs, minutes, strict=True) if 2 * m > room]
    if len(long) >= 2:
        cliques.append(long)
    return cliques


def weight_step(lists: Sequence[OrderContext]) -> int:
    """The weights' divisor: every plan's weighted coverage is a multiple of it."""
    return math.gcd(*(ctx.weight for ctx in lists)) or 1


def floor_to_step(value: float, step: int) -> int:
    """The largest multiple of ``step`` at most ``value`` (up to the solvers' tolerance, 1e-6
    of a step): a bound on a coverage, which is a multiple of the weights' divisor ``step``."""
    return math.floor(value / step + 1e-6) * step


def full_lists(contexts: list[OrderContext], outside: list[list[Candidate]]) -> list[OrderContext]:
    """Each order's context with its candidates followed by ``outside[o]``: every other eligible
    helper."""
    return [
        replace(ctx, candidates=list(ctx.candidates) + more)
        for ctx, more in zip(contexts, outside, strict=True)
    ]


class _Rows:
    """A row-wise sparse matrix with row bounds, for HiGHS."""

    def __init__(self) -> None:
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.starts: list[int] = []
        self.index: list[int] = []
        self.value: list[float] = []

    def add(self, lower: float, upper: float, columns: list[int], values: list[Any]) -> None:
        self.lower.append(lower)
        self.upper.append(upper)
        self.starts.append(len(self.index))
        self.index.extend(columns)
        self.value.extend(values)

    def copy(self) -> _Rows:
        rows = _Rows()
        rows.lower, rows.upper = list(self.lower), list(self.upper)
        rows.starts, rows.index, rows.value = list(self.starts), list(self.index), list(self.value)
        return rows


def _run(
    lower: list[float],
    upper: list[float],
    objective: list[float],
    rows: _Rows,
    start: list[float] | None,
    time_limit_s: float,
    threads: int,
    heuristics: bool,
    step: float = 0.0,
    relax: bool = False,
) -> MipBound:
    """Minimise ``objective`` over 0/1 columns with HiGHS from the solution ``start``; without
    ``heuristics`` HiGHS only proves (``start`` is the solution to beat). ``relax``: over
    [0, 1] columns instead (the linear relaxation; its optimum is both bound and values)."""
    import highspy
    from highspy import cb
    from highspy._core import _Highs

    began = time.perf_counter()
    if time_limit_s <= 0:
        return MipBound(None, False, 0.0)
    # The binding's own class: ``highspy.Highs`` adds Python callbacks and, creating them, prints
    # HiGHS's banner on the process's standard output (where a command's JSON may be going).
    h = _Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", 0.0)
    # HiGHS's presolve costs more than it saves here (module docstring): off.
    h.setOptionValue("presolve", "off")
    h.setOptionValue("threads", threads)
    if not heuristics:
        h.setOptionValue("mip_heuristic_effort", 0.0)
        for name in ("feasibility_jump", "rins", "rens", "root_reduced_cost"):
            h.setOptionValue(f"mip_heuristic_run_{name}", False)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(lower), len(rows.lower)
    lp.col_cost_ = np.array(objective, dtype=float)
    lp.col_lower_ = np.array(lower, dtype=float)
    lp.col_upper_ = np.array(upper, dtype=float)
    lp.row_lower_ = np.array(rows.lower, dtype=float)
    lp.row_upper_ = np.array(rows.upper, dtype=float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.array([*rows.starts, len(rows.index)], dtype=np.int32)
    lp.a_matrix_.index_ = np.array(rows.index, dtype=np.int32)
    lp.a_matrix_.value_ = np.array(rows.value, dtype=float)
    if not relax:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * len(lower)
    if h.passModel(lp) != highspy.HighsStatus.kOk:
        return MipBound(None, False, time.perf_counter() - began)
    if start is not None:
        solution = highspy.HighsSolution()
        solution.col_value = start
        h.setSolution(solution)
    if step:
        # Every solution's objective is a multiple of ``step`` (the weights' lattice): once the
        # dual bound is within a step of the best solution, no better one exists. HiGHS goes on
        # branching to close the last fraction; the MIP callback stops it there.
        def interrupt(kind: Any, message: str, out: Any, into: Any, data: Any) -> None:
            if out.mip_dual_bound > out.mip_primal_bound - step + 1e-6:
                into.user_interrupt = True

        h.setCallback(interrupt, None)
        h.startCallback(cb.HighsCallbackType.kCallbackMipInterrupt)
    ran = h.run()
    if ran == highspy.HighsStatus.kError and h.getModelStatus() == highspy.HighsModelStatus.kNotset:
        # HiGHS's thread pool is made once per process: a different count is refused. Run on
        # the pool as it is (0: whatever it has).
        h.setOptionValue("threads", 0)
        ran = h.run()
    if ran == highspy.HighsStatus.kError:
        return MipBound(None, False, time.perf_counter() - began)
    status = h.getModelStatus()
    if relax:  # an LP: its optimum, or nothing
        if status != highspy.HighsModelStatus.kOptimal:
            return MipBound(None, False, time.perf_counter() - began)
        value = float(h.getInfo().objective_function_value)
        relaxed = np.array(h.getSolution().col_value)
        return MipBound(value, True, time.perf_counter() - began, relaxed)
    bound = h.getInfo().mip_dual_bound
    if status == highspy.HighsModelStatus.kInfeasible or not math.isfinite(bound):
        return MipBound(None, False, time.perf_counter() - began)
    info = h.getInfo()
    proven = status == highspy.HighsModelStatus.kOptimal or bool(
        step and info.primal_solution_status and bound > info.objective_function_value - step + 1e-6
    )
    values = np.array(h.getSolution().col_value) if info.primal_solution_status else None
    return MipBound(float(bound), proven, time.perf_counter() - began, values)
