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

The cost stage is guided the same way by the relaxation of the least cost at the plan's coverage
(``cost_guide``; at 5,000 town orders, 5 CPU s of cost windows from the same plan: -10.3 % guided
against -8.0 %, 4.3 % above that relaxation's optimum against 7.1 %), whose optimum is a lower
bound on the cost of every plan over the lists covering at least that much, reported as the cost
stage's bound.

Being almost integral, a relaxation also names a plan: ``rounded_plan`` books the teams it sends
(one-order moves of ``matcher.moves``, so every hard rule holds) and then every open order a team
fits. The search takes it when it is better than its own (``Neighbourhoods._replace``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from matcher.bound import _Relaxation
from matcher.candidates import OrderContext
from matcher.cpsat.objective import CostsByHelper
from matcher.model import Problem
from matcher.moves import OrderMoves
from matcher.params import ObjectiveWeights, SolveParams
from matcher.single import Plan

# CPU seconds of building and solving the relaxation, per order (town streets, seed 0, GLOP:
# 2.1 CPU s at 5,000 orders, 4.0 at 10,000; pastoral 10,000: 3.2; bench/README.md).
GUIDE_CPU_PER_ORDER = 4.5e-4
# ... and of the least cost at a coverage level, by GLOP's dual simplex (``COST_LP_PARAMETERS``;
# town 5,000: 1.1 + 1.5 CPU s, town 10,000: 1.8 + 3.2, pastoral 10,000: 1.6 + 2.6; the default
# primal simplex took 2.1, 6.1 and 4.7 CPU s to solve; bench/README.md, 2026-11-27 02:20)
COST_GUIDE_CPU_PER_ORDER = 5.3e-4
COST_LP_PARAMETERS = "use_dual_simplex: true"
GUIDE_SHARE = 0.7  # of the coverage stage's time, at most, for the relaxation (else no guide)
TEAM_AT = 0.5  # a helper is in the relaxation's team of an order when assigned above this


@dataclass(frozen=True)
class Guide:
    """A relaxation's optimum: its bound (``coverage_guide``: on every plan's weighted coverage
    over the candidate lists, a whole number; ``cost_guide``: on the cost of every plan over the
    lists at the level's coverage or more), the orders it covers (above one half) and, per
    order, the helpers it sends (assigned above one half)."""

    bound: float
    covered: tuple[bool, ...]
    teams: tuple[frozenset[int], ...]

    def disagrees(self, order: int, team: list[int] | None) -> bool:
        """Whether a plan's ``team`` for ``order`` (None: not covered) differs from the
        relaxation's."""
        if not self.covered[order]:
            return team is not None
        return team is None or set(team) != self.teams[order]


def _limit(relaxation: _Relaxation, until: float | None) -> bool:
    """Limit the solve to end by ``until`` (a ``time.perf_counter`` value; the model's building
    is not limited, ``within`` estimates the whole); False when that time has already passed."""
    if until is None:
        return True
    left = until - time.perf_counter()
    if left <= 0.01:
        return False
    relaxation.solver.SetTimeLimit(max(1, int(1000 * left)))
    return True


def coverage_guide(
    problem: Problem,
    contexts: list[OrderContext],
    until: float | None = None,
    weights: ObjectiveWeights | None = None,
    built: Callable[[], None] | None = None,
) -> Guide | None:
    """The coverage relaxation's optimum over ``contexts``, or None when GLOP does not prove
    it optimal by ``until`` (a ``time.perf_counter`` value, when given). With ``weights``, the
    cheapest such optimum (``_Relaxation.solve_coverage_cheaply``: cost as a tie-break), the
    one ``rounded_plan`` rounds to a plan; its bound is then looser by at most the tie-break's
    share (town 10,000: +14 on 2.5 million). ``built``: called once the model is built, before
    GLOP solves it (the building holds the interpreter, the solve does not)."""
    relaxation = _Relaxation(problem, contexts)
    if built is not None:
        built()
    if not _limit(relaxation, until):
        return None
    if weights is None:
        value = relaxation.solve_coverage()
    else:
        value = relaxation.solve_coverage_cheaply(weights)
    if value is None:
        return None
    # Weights are integers, so every plan's coverage is too: the solver's tolerance (relative
    # 1e-6 at most, far above GLOP's) is added before rounding down.
    return _read(relaxation, math.floor(value + 1e-6 * max(1.0, abs(value))))


def cost_guide(
    problem: Problem,
    contexts: list[OrderContext],
    level: float,
    params: SolveParams,
    until: float | None = None,
    built: Callable[[], None] | None = None,
) -> Guide | None:
    """The relaxation of the least cost (``params.weights``) over ``contexts`` among plans
    covering at least ``level``, or None when GLOP does not prove it optimal by ``until`` (or
    the level cannot be reached). ``built``: as for ``coverage_guide``."""
    relaxation = _Relaxation(problem, contexts)
    if built is not None:
        built()
    if not _limit(relaxation, until):
        return None
    relaxation.solver.SetSolverSpecificParametersAsString(COST_LP_PARAMETERS)
    value = relaxation.solve_cost(level, params)
    if value is None:
        return None
    return _read(relaxation, value - 1e-6 * max(1.0, abs(value)))


def _read(relaxation: _Relaxation, bound: float) -> Guide:
    contexts = relaxation.contexts
    covered = tuple(v.solution_value() > TEAM_AT for v in relaxation.covered)
    teams = tuple(
        frozenset(
            c.helper
            for k, c in enumerate(ctx.candidates)
            if relaxation.assign[ctx.index][k].solution_value() > TEAM_AT
        )
        for ctx in contexts
    )
    return Guide(bound, covered, teams)


def within(
    deadline: float, orders: int, share: float, cpu_per_order: float = GUIDE_CPU_PER_ORDER
) -> float | None:
    """When a relaxation must be solved by (a ``time.perf_counter`` value): ``GUIDE_SHARE``
    of the time left before ``deadline``; None when its expected time at ``share`` of a core
    (``cpu_per_order``) is more than that (a busy machine or a late preparation: no guide)."""
    now = time.perf_counter()
    left = deadline - now
    expected = cpu_per_order * orders / max(share, 0.01)
    if expected > GUIDE_SHARE * left:
        return None
    return now + GUIDE_SHARE * left


def rounded_plan(
    problem: Problem,
    contexts: list[OrderContext],
    guide: Guide,
    weights: ObjectiveWeights,
    costs: CostsByHelper | None = None,
    until: float | None = None,
) -> dict[int, Plan] | None:
    """A plan rounded from a relaxation (``coverage_guide``, best with its cost tie-break, or
    ``cost_guide``): each order it covers booked with the team it sends, at the team's cheapest
    start around the visits booked before (pinned orders first, then the orders with the fewest
    starts; a pinned order the team does not fit gets its cheapest team that fits, any other
    waits for the next pass); then each order still open, heaviest first, given a team that
    fits, or one that fits once one other order moves. Every booking is a one-order move of
    ``matcher.moves``, so the plan keeps every hard rule. None when a pinned order cannot be
    planned (the relaxation holds pins, so only a booking order that strands one) or ``until``
    (a ``time.perf_counter`` value) passes first.

    On the large town streets the relaxation is almost integral (town 10,000: of the 9,438
    orders it covers, 9,310 wholly by whole helpers), and the plan rounded from it in 0.5 CPU s
    covers 0.27 % below the MIP bound, where 15 s of windows from the hand rule's plan
    reached 1.2 % (bench/README.md, "Plans rounded from the relaxations")."""
    moves = OrderMoves(problem, contexts, {}, weights, costs)
    plans: dict[int, Plan] = {}
    visits_of: dict[int, set[int]] = {}

    def take(changes: list[tuple[int, Plan | None, Plan]]) -> None:
        for order, old, new in changes:
            moves.move(order, old, new)
            for helper in old[0] if old else ():
                visits_of[helper].discard(order)
            plans[order] = (list(new[0]), new[1])
            for helper in new[0]:
                visits_of.setdefault(helper, set()).add(order)

    def late() -> bool:
        return until is not None and time.perf_counter() >= until

    covered = [c.index for c in contexts if guide.covered[c.index]]
    covered.sort(key=lambda i: (not contexts[i].pinned, _starts(contexts[i], guide.teams[i]), i))
    for order in covered:
        if late():
            return None
        found = moves.best_among(order, guide.teams[order])
        if found is None and contexts[order].pinned:
            found = moves.best(order, None)
        if found is not None:
            take([(order, None, found[0])])
    if any(c.pinned and c.index not in plans for c in contexts):
        return None
    still_open = [c.index for c in contexts if c.index not in plans]
    still_open.sort(key=lambda i: (-contexts[i].weight, i))
    for order in still_open:
        if late():
            return None
        if not contexts[order].team_possible(contexts[order].candidates):
            continue
        changes = moves.insertion(order, plans, visits_of)
        if changes is not None:
            take(changes)
    return plans


def _starts(ctx: OrderContext, team: frozenset[int]) -> int:
    """How many starts the order's visit has with ``team`` (the fewest of any member's; every
    candidate's when the team is empty), for booking the tightest orders first."""
    spans = [
        sum(last - first + 1 for first, last in c.starts)
        for c in ctx.candidates
        if c.starts is not None and (not team or c.helper in team)
    ]
    return min(spans, default=1 << 30)
