"""The coverage relaxation as a guide for the neighbourhood search (``matcher.lns``).

On the large town streets the search's coverage stalled about 1 % below the best plan over the
candidate lists (bench/README.md, "Large streets", 2026-11-27): windows grown around uncovered
orders rarely hold the chain of moves that frees the right helpers. The day-plan relaxation of
``matcher.bound`` (solved by GLOP: ~2 CPU s at 5,000 town orders, ~4 at 10,000) is almost
integral on those streets (99.5 % of its orders covered 0 or 1) and names that chain: the orders
it covers that the plan leaves open, and, for each order, the team it would send. The search
seeds windows at the orders the relaxation covers and the plan does not, and grows each window
over the orders whose plan *disagrees* with the relaxation's through the helpers either would
send (``Neighbourhoods.neighbourhood``); each window is still solved exactly by CP-SAT and taken
only when strictly better, so the guide changes which windows are tried, never what a step may
accept. The relaxation's optimum is also an upper bound on the weighted coverage of every plan
over the candidate lists (``matcher.bound``), reported as the coverage stage's bound.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from ortools.linear_solver import pywraplp

from matcher.bound import _Relaxation
from matcher.candidates import OrderContext
from matcher.model import Problem

# CPU seconds of building and solving the relaxation, per order (town streets, seed 0, GLOP:
# 2.1 CPU s at 5,000 orders, 4.0 at 10,000; pastoral 10,000: 3.2; bench/README.md).
GUIDE_CPU_PER_ORDER = 4.5e-4
GUIDE_SHARE = 0.7  # of the coverage stage's time, at most, for the relaxation (else no guide)
TEAM_AT = 0.5  # a helper is in the relaxation's team of an order when assigned above this


@dataclass(frozen=True)
class CoverageGuide:
    """The relaxation's optimum: its value (a bound on every plan's weighted coverage over the
    candidate lists), the orders it covers (above one half) and, per order, the helpers it sends
    (assigned above one half)."""

    bound: int
    covered: tuple[bool, ...]
    teams: tuple[frozenset[int], ...]

    def disagrees(self, order: int, team: list[int] | None) -> bool:
        """Whether a plan's ``team`` for ``order`` (None: not covered) differs from the
        relaxation's."""
        if not self.covered[order]:
            return team is not None
        return team is None or set(team) != self.teams[order]


def guide_cpu(orders: int) -> float:
    """CPU seconds the relaxation is expected to take for a street of ``orders`` orders."""
    return GUIDE_CPU_PER_ORDER * orders


def coverage_guide(
    problem: Problem, contexts: list[OrderContext], time_limit_s: float | None = None
) -> CoverageGuide | None:
    """The coverage relaxation's optimum over ``contexts``, or None when GLOP does not prove
    it optimal (within ``time_limit_s`` of solving, when given; the model's building is not
    limited: ``guide_cpu`` estimates the whole)."""
    relaxation = _Relaxation(problem, contexts)
    solver = relaxation.solver
    if time_limit_s is not None:
        solver.SetTimeLimit(max(1, int(1000 * time_limit_s)))
    solver.Maximize(relaxation.coverage)
    if solver.Solve() != pywraplp.Solver.OPTIMAL:
        return None
    value = solver.Objective().Value()
    covered = tuple(v.solution_value() > TEAM_AT for v in relaxation.covered)
    teams = tuple(
        frozenset(
            c.helper
            for k, c in enumerate(ctx.candidates)
            if relaxation.assign[ctx.index][k].solution_value() > TEAM_AT
        )
        for ctx in contexts
    )
    # Weights are integers, so every plan's coverage is too: the solver's tolerance (relative
    # 1e-6 at most, far above GLOP's) is added before rounding down.
    bound = math.floor(value + 1e-6 * max(1.0, abs(value)))
    return CoverageGuide(bound, covered, teams)


def within(deadline: float, orders: int, share: float) -> float | None:
    """The wall seconds the relaxation may take before ``deadline`` (a ``time.perf_counter``
    value) at ``share`` of a core, or None when its expected time is more than
    ``GUIDE_SHARE`` of what is left (a busy machine or a late preparation: no guide)."""
    left = deadline - time.perf_counter()
    expected = guide_cpu(orders) / max(share, 0.01)
    if expected > GUIDE_SHARE * left:
        return None
    return GUIDE_SHARE * left
