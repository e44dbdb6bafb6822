"""Large-neighbourhood search over CP-SAT: improve a plan one neighbourhood of orders at a time.

Used for streets too large for one CP-SAT model in the time given (``LARGE_ORDERS``). Starting
from a valid plan (the hand rule's), each step frees a *window* of orders that compete for the
same helpers (a breadth-first walk over the order-helper candidate graph from a seed order),
keeps every other order as planned, and solves that small model exactly as the full one is
modelled (the same ``matcher.cpsat.constraints`` and objective terms): covered orders of the
plan that share a helper with the window stay fixed inside it, so the helpers' day limits,
overlaps and load penalties are exact. The window's objective is lexicographic, weighted
coverage first and cost second (one objective with coverage scaled above any cost the window
can have). A window's new plan is taken only when it is strictly better than the current plan,
so the plan never gets worse, whatever the time limit or the machine's load: every step is a
small solve bounded by deterministic time, so a busy machine makes fewer steps, not worse ones.
Windows are small enough that CP-SAT proves their optimum without its presolve, probing and
symmetry detection, which are switched off (``window_parameters``: 1.5-2.3 times the steps
per CPU second).

Two phases, reported as the two stages of a solve: ``coverage`` seeds windows at uncovered
orders (where coverage can grow; those windows solve for coverage alone, their cost being left
to later steps, which makes about 1.5 times the coverage per CPU second; sweeps repeat over the
orders still open, with the windows' walks shuffled, while they improve), then, for the rest of
its share of the time, at orders anywhere on the street (windows solved coverage first, then
cost), ``cost`` then sweeps windows over the whole street (smaller ones:
``COST_WINDOW_ORDERS``) with each window's coverage held (at least the plan's) and its cost
minimised: a cost step is taken only when it lowers the cost, so the cost stage's plan never
costs more than the coverage stage's and every step it takes is an improvement. Its
first sweep seeds at the orders whose team costs most above their cheapest possible team.

Time is split by what the steps take, not by fixed shares alone (``Neighbourhoods.run``): the
coverage stage has at most half of the search and stops while the cost stage still has time
for a few steps as long as the last ones took; with little time in all (a busy machine after a
long preparation) the coverage stage is skipped and the cost stage solves small windows; and
a cost stage that found nothing cheaper by the deadline goes on with small windows (about
10 ms of CPU each, cheaper in 85-100 % of tries at the costliest orders) until one step is
cheaper, ``GRACE_S`` past the deadline at most. ``finish_times`` leaves the result after the
search the wall time its CPU needs at the share of a core the process got (``solve`` measures
it over the preparation), so the whole solve keeps its limit on a busy machine too.

Moves without a model (``matcher.moves``) work around the windows: sweeps inserting the open
orders a team fits (or fits once one other order moves) at the coverage stage's start, after each
of its sweeps, at its end and in the cost stage's last ``INSERT_S``; and, before the cost
windows, sweeps re-planning each order at its cheapest team and start, the first with two-order
moves (``MOVE_SWEEPS``, ``PAIR_SWEEPS``). Each is taken under the same rule as a step: more
coverage or less cost, within the travel cap.

Guided by relaxations (``matcher.lp_guide``; ``run(guided=True)``, as ``solve`` calls it): when
its expected time is a small part of the coverage stage's, the coverage relaxation is solved in a
thread beside the unguided windows, and the coverage stage (then 0.6 of the search) sweeps windows
seeded at the orders the relaxation covers and the plan leaves open, grown over the orders whose
plan disagrees with the relaxation's; the cost stage likewise with the relaxation of the least
cost at the plan's coverage. Both only while the process has two cores (measured while the
coverage relaxation runs, ``GUIDE_CORES``): with about one, the relaxations' time is the
windows' and the split stays the unguided one. The relaxations' optima are the stages' bounds.
The guides only choose windows: what a step may accept is unchanged, so are the guarantees above.

Rounded from the relaxations (``matcher.lp_guide.rounded_plan``): the coverage relaxation is
solved with cost as a tie-break (``matcher.bound``: its cheapest optimum, travel counted twice so
the plan keeps within the travel cap), and once found, the plan rounded from it (its teams booked
as one-order moves, then every open order a team fits; brought within the travel cap when above
it: ``_within_cap``) replaces the search's plan when it covers more (town 10,000: 0.27 % below
the MIP bound in 0.4 s, where 15 s of windows had reached 1.2 %); the coverage stage then sweeps
the guided windows once and leaves the rest of its time to the cost stage. Likewise the cost
relaxation's plan (least cost at the plan's coverage: it covers a little less for much less) is
rounded, a search of its own brings its coverage back with windows seeded at its open orders, and
it replaces the plan when it then covers as much for less. Each replacement is taken under the
same rule as a step (better, within the travel cap), between sweeps, so the guarantees hold. Cost
sweeps that find nothing cheaper double their windows (up to ``WIDEST_COST_WINDOW`` orders)
rather than stop early.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from ortools.sat.python import cp_model

from matcher.candidates import Candidate, OrderContext
from matcher.cpsat.objective import (
    COST_SCALE,
    CostsByHelper,
    PairCosts,
    coverage_expression,
    minimize_cost,
    plan_cost,
)
from matcher.cpsat.solver import Plan, Progress, add_hard_rules, add_plan_hint
from matcher.cpsat.variables import Variables, make_variables
from matcher.heap import freeze_heap
from matcher.lp_guide import (
    COST_GUIDE_CPU_PER_ORDER,
    Guide,
    cost_guide,
    coverage_guide,
    rounded_plan,
    within,
)
from matcher.model import Problem
from matcher.moves import OrderMoves
from matcher.params import ObjectiveWeights, SolveParams

log = logging.getLogger("qunbang.matcher.lns")

LARGE_ORDERS = 2500  # above this many orders, ``solve`` searches by neighbourhoods
WINDOW_ORDERS = 60  # orders freed per step (bench/README.md: 40-150 measured)
STEP_DETERMINISTIC_S = 0.25  # CP-SAT deterministic time per solve of a step (~ idle seconds)
# The cost stage's windows: smaller, more steps (at fixed CPU, town 5,000: cost -9.5 % in 4 CPU s
# against -5.1 % with the coverage stage's windows; bench/README.md, "Large streets").
COST_WINDOW_ORDERS = 30
COST_DETERMINISTIC_S = 0.1
REPAIR_SHARE = 0.5  # of the cost stage's time left, at most, for ``_cheaper_from``
WIDEST_COST_WINDOW = 120  # orders, when sweeps of smaller cost windows find nothing cheaper
COVERAGE_SHARE = 0.5  # of the search time, at most this much seeds at uncovered orders
GUIDED_COVERAGE_SHARE = 0.6  # ... when guided by the coverage relaxation (its time included)
# Cores the process used while the coverage relaxation was solved beside the windows, at least,
# for the guided time split (``GUIDED_COVERAGE_SHARE``) and the cost relaxation: with about one
# core, the relaxations' time is the windows' (bench/README.md, "Relaxation-guided windows").
GUIDE_CORES = 1.4
THREADS = 2  # windows solved side by side (at most ``SolveParams.workers``)
FINISH_SHARE = 0.06  # of the time limit, kept after the search for the result (explanations)
FINISH_MIN_S = 0.6  # ... and at least this many seconds
EXPLAIN_SLACK_S = 0.25  # the explanations' steps stop this long before the limit
# The result after the search, in CPU seconds per order (explanations without their steps, the
# cost bound, the ``Result``: ~0.35-0.55 s at 10,000 orders) and, when reserves are asked for
# (``matcher.reserve``), per order and per order and place: 0.74 CPU s at 10,000 town orders
# for 3 places, 1.5 for 8 (the nightly's); bench/README.md, "Large streets".
RESULT_CPU_PER_ORDER = 5e-5
RESERVE_CPU_PER_ORDER = 3e-5
RESERVE_CPU_PER_PLACE = 1.5e-5
RESULT_SHARE_MARGIN = 1.5  # the result's single thread got less of a core than preparation did
WIND_DOWN_S = 0.3  # windows in flight when the search stops: at least this long,
WIND_DOWN_CPU_S = 0.1  # or this much CPU at the process's share of a core
STEP_CPU_S = 0.2  # a window step's CPU seconds before any is measured (60 orders, 0.25 s)
COST_FLOOR_STEPS = 4  # the coverage stage stops while the cost stage has this many steps' time
QUICK_WINDOW = 20  # orders freed per step when the search has little time (~10 ms of CPU)
QUICK_DETERMINISTIC_S = 0.05
QUICK_BELOW_STEPS = 6  # little time: less than this many (full) steps' time in all
STEP_WALL_WEIGHT = 0.2  # of the last step in the running mean of a step's wall time
# Past the coverage stage's time, at most, for one sweep of one-order moves inserting the
# orders still open (town 10,000: 35 of 906 after a 20 s solve, +0.17 % coverage, 0.08 CPU s)
INSERT_S = 0.25
PAIR_SWEEPS = 1  # of those, the first ones with two-order moves (``OrderMoves.cheaper_by_moving``)
MOVE_SWEEPS = 3  # one-order moves' sweeps in a row at most (later ones find ~0.1 % each)
# The coverage relaxation's tie-break counts travel this many times its weight, so the plan
# rounded from it keeps within the travel cap (town 10,000: 0.812 km per covered order against
# the hand rule's 0.842; at the plan's own weights 0.857, refused; bench/README.md).
TIE_TRAVEL = 2.0
GRACE_S = 0.5  # past the search's deadline, at most, for the cost stage's first improving step


def window_parameters(solver: cp_model.CpSolver) -> None:
    """CP-SAT's settings for a window's model: no presolve, probing or symmetry detection. A
    window is small (30-60 free orders) and CP-SAT proves its optimum either way in nearly every
    step; those passes took most of a step's solve, so without them a step costs less and the
    search makes 1.5-2.3 times the steps per CPU second, the coverage and cost they reach
    improving with them (town 10,000, 8 CPU s of cost windows from the hand rule's plan: -10.1 %
    against -7.6 %; of coverage windows: +40,065 against +25,305; bench/README.md, "Large
    streets", 2026-11-27 04:40). What a step may accept is unchanged."""
    solver.parameters.cp_model_presolve = False
    solver.parameters.cp_model_probing_level = 0
    solver.parameters.symmetry_level = 0


def finish_times(
    began: float, limit_s: float, result_cpu_s: float = 0.0, share: float = 1.0
) -> tuple[float, float]:
    """When the search stops and when the explanations of unmatched orders stop adding steps
    (``time.perf_counter`` values), so the whole solve (preparation, search, explanation)
    keeps within ``limit_s`` of ``began``: ``result_cpu_s`` is the CPU the result takes after
    the explanations' steps (``result_cpu``), ``share`` the part of a core the process gets
    (measured over the preparation), so that work takes ``result_cpu_s / share`` seconds."""
    cheap = RESULT_SHARE_MARGIN * result_cpu_s / max(share, 0.01)
    wind_down = max(WIND_DOWN_S, WIND_DOWN_CPU_S / max(share, 0.01))
    reserve = max(FINISH_MIN_S, FINISH_SHARE * limit_s, cheap + wind_down + EXPLAIN_SLACK_S)
    end = began + limit_s
    return end - reserve, end - max(min(EXPLAIN_SLACK_S, reserve / 2), cheap)


def result_cpu(orders: int, reserve_size: int) -> float:
    """CPU seconds of a result after the search, steps of explanations aside."""
    reserve = RESERVE_CPU_PER_ORDER + RESERVE_CPU_PER_PLACE * reserve_size if reserve_size else 0
    return orders * (RESULT_CPU_PER_ORDER + reserve)


@dataclass
class LnsOutcome:
    plans: dict[int, Plan]
    coverage_plan_cost: int  # scaled cost of the plan when the coverage phase ended
    coverage_after_phase: int
    cost: int  # scaled cost of the final plan
    steps: int = 0
    improved: int = 0
    phase_s: list[float] = field(default_factory=list)  # seconds of each phase
    coverage_bound: float | None = None  # the relaxation's, when the search was guided by it
    cost_bound: float | None = None  # the cost relaxation's (cost units), when guided by it
    moves: int = 0  # order moves taken (``matcher.moves``), not counted in ``improved``
    rounded: bool = False  # a plan rounded from a relaxation was taken (``_replace``)


def plan_value(
    problem: Problem,
    contexts: list[OrderContext],
    plans: Mapping[int, Plan],
    weights: ObjectiveWeights,
    costs: CostsByHelper | None = None,
) -> tuple[int, int]:
    """(weighted coverage, scaled cost) of a plan, as the CP-SAT objectives count them.
    ``costs``: the orders' ``pair_cost`` by helper, when the caller keeps them (``PairCosts``)."""
    coverage = sum(contexts[i].weight for i in plans)
    return coverage, plan_cost(problem, contexts, plans, weights, costs)


class Neighbourhoods:
    """Improves ``plans`` in place, one window at a time, until the deadline."""

    def __init__(
        self,
        problem: Problem,
        contexts: list[OrderContext],
        params: SolveParams,
        plans: Mapping[int, Plan],
        window: int | None = None,
        step_deterministic_s: float | None = None,
        travel_reference: Mapping[int, Plan] | None = None,
        costs: PairCosts | None = None,
    ) -> None:
        """``travel_reference``: a plan (the hand rule's) whose km per covered order the search
        never exceeds; ``plans`` must not exceed it either (it may be the same plan).
        ``costs``: the ``pair_cost``s another search over the same orders keeps."""
        self.problem, self.contexts, self.params = problem, contexts, params
        self.plans: dict[int, Plan] = {i: (list(t), s) for i, (t, s) in plans.items()}
        self.cap: TravelCap | None = None
        if travel_reference:
            self.cap = TravelCap(
                metres=sum(_metres(contexts, travel_reference, i) for i in travel_reference),
                km=sum(_km(contexts, travel_reference, i) for i in travel_reference),
                orders=len(travel_reference),
            )
        self.window = window or WINDOW_ORDERS
        self.step_dt = step_deterministic_s or STEP_DETERMINISTIC_S
        self.orders_of: dict[int, list[int]] = {}
        for ctx in contexts:
            for candidate in ctx.candidates:
                self.orders_of.setdefault(candidate.helper, []).append(ctx.index)
        # Each (order, helper)'s ``pair_cost``, computed once for the whole search.
        self.costs = costs if costs is not None else PairCosts(problem, contexts, params.weights)
        # Each (order, helper)'s round trip in km and in whole metres, when first asked for.
        self.legs: list[dict[int, tuple[float, int]] | None] = [None] * len(contexts)
        self.rng = random.Random(params.seed)
        self.steps = self.improved = self.collisions = 0
        self.moves = 0  # one-order moves taken (``order_moves``), counted in ``improved`` too
        self.threads = max(1, min(params.workers, THREADS))
        self.lock = threading.Lock()
        self.version = 0
        self.changed: dict[int, int] = {}  # helper -> version of the last change to their day
        # Kept up to date step by step, so a step costs its window, not the street:
        self.visits_of: dict[int, set[int]] = {}  # helper -> planned orders
        for i, (team, _) in self.plans.items():
            for helper in team:
                self.visits_of.setdefault(helper, set()).add(i)
        self.value = list(plan_value(problem, contexts, self.plans, params.weights, self.costs))
        self.metres = sum(self._metres(self.plans, i) for i in self.plans)
        self.km = sum(self._km(self.plans, i) for i in self.plans)
        self.shuffle_walks = False  # walk a window's candidates in random order
        self.guide: Guide | None = None  # the relaxation guiding now (``matcher.lp_guide``)
        self.coverage_bound: float | None = None  # the coverage relaxation's, when solved
        self.cost_bound: float | None = None  # the cost relaxation's (cost units), when solved
        self.cores: float | None = None  # CPU over wall time while the coverage relaxation ran
        self.guided = False  # windows grow over the orders whose plan disagrees with the guide
        self.guide_orders_of: dict[int, list[int]] = {}  # helper -> orders the guide sends to
        self.step_wall = STEP_CPU_S  # a step's wall time, measured (``run``)
        self.rounded = False  # a plan rounded from a relaxation was taken (``_replace``)

    # ------------------------------------------------------------------ the search

    def run(
        self,
        deadline: float,
        began: float,
        progress: Progress | None = None,
        share: float = 1.0,
        guided: bool = False,
    ) -> LnsOutcome:
        """Search until ``deadline`` (a ``time.perf_counter`` value). ``share``: the part of a
        core the process got so far (``solve`` measures it over the preparation), the first
        guess of a step's wall time until steps are measured.

        ``guided``: the coverage stage first solves the coverage relaxation
        (``matcher.lp_guide``, when its expected time is a small part of the stage's) and
        sweeps windows at the orders it covers and the plan does not, grown over the orders
        where plan and relaxation disagree, while they improve; then as without a guide. When
        that relaxation was solved, the cost stage likewise solves the relaxation of the least
        cost at the plan's coverage (when its time fits) and first sweeps windows at the
        orders where plan and relaxation disagree, costliest first.

        The time is split by what the steps take: the coverage stage has at most
        ``COVERAGE_SHARE`` of it and stops while the cost stage still has time for
        ``COST_FLOOR_STEPS`` steps (as long as the steps so far took); with less than
        ``QUICK_BELOW_STEPS`` steps' time in all, the coverage stage is skipped and the cost
        stage solves small windows (``QUICK_WINDOW``). If the cost stage has found nothing
        cheaper by the deadline, it goes on with small windows, costliest orders first, until
        one step is cheaper or ``GRACE_S`` past the deadline (or now, if later)."""
        phase_began = time.perf_counter()
        self.step_wall = STEP_CPU_S / max(share, 0.01)
        available = max(0.0, deadline - phase_began)
        quick = available < QUICK_BELOW_STEPS * self.step_wall
        open_orders = [
            c.index
            for c in sorted(self.contexts, key=lambda c: (-c.weight, c.index))
            if c.index not in self.plans and c.team_possible(c.candidates)
        ]
        relax_by = None  # when the relaxation must be solved by, when the search is guided
        if guided and not quick and open_orders:
            until = phase_began + GUIDED_COVERAGE_SHARE * available
            relax_by = within(min(until, deadline), len(self.contexts), share)
        share_of_search = COVERAGE_SHARE if relax_by is None else GUIDED_COVERAGE_SHARE
        coverage_until = phase_began + (0.0 if quick else share_of_search * available)
        coverage_until = min(coverage_until, deadline)
        coverage_ran = coverage_until > phase_began
        if coverage_ran:  # the open orders one move can cover, first
            self._insert_sweeps(open_orders, coverage_until, progress, began)
            open_orders = [i for i in open_orders if i not in self.plans]
        if relax_by is not None:
            unguided_until = min(deadline, phase_began + COVERAGE_SHARE * available)
            guide = self._guided(
                lambda built: coverage_guide(
                    self.problem, self.contexts, relax_by, self._tie_break(), built
                ),
                "coverage",
                coverage_until,
                deadline,
                open_orders,
                lambda g: [i for i in open_orders if g.covered[i] and i not in self.plans],
                progress,
                began,
                unguided_until,
            )
            self.coverage_bound = guide.bound if guide else None
            if not self._two_cores():
                coverage_until = min(coverage_until, unguided_until)
            if self.rounded:  # within reach of the relaxation's bound: the rest is the cost's
                coverage_until = min(coverage_until, time.perf_counter())
            open_orders = [i for i in open_orders if i not in self.plans]
        while open_orders and self._coverage_time(coverage_until, deadline):
            before = self.improved
            self._sweep(open_orders, coverage_until, "coverage", progress, began, deadline)
            self._insert_sweeps(open_orders, coverage_until, progress, began)
            if self.improved == before:
                break  # a whole sweep found no more coverage
            open_orders = [i for i in open_orders if i not in self.plans]
            self.shuffle_walks = True  # the next sweep's windows differ
        street = [c.index for c in self.contexts]
        while self._coverage_time(coverage_until, deadline):
            # The rest of the coverage share: windows anywhere, coverage first (a window away
            # from any open order can still free the helpers that cover one more).
            self.shuffle_walks = True
            self.rng.shuffle(street)
            before = self.improved
            self._sweep(street, coverage_until, "street", progress, began, deadline)
            if self.improved == before:
                break
        if coverage_ran:  # open orders a team fits now, or once one moves
            still_open = [c.index for c in self.contexts if c.index not in self.plans]
            until = max(coverage_until, time.perf_counter()) + INSERT_S
            self._insert_sweeps(still_open, min(until, deadline), progress, began)
        coverage, cost_after_coverage = self.value
        phases = [time.perf_counter() - phase_began]
        if progress is not None:  # the cost stage starts from the coverage stage's plan
            elapsed = time.perf_counter() - began
            progress("cost", cost_after_coverage / COST_SCALE, 0.0, elapsed)
        phase_began = time.perf_counter()
        improved_by_coverage = self.improved
        order = self._costliest_first()
        self._move_sweeps(order, deadline, progress, began)
        if quick or deadline - phase_began < QUICK_BELOW_STEPS * self.step_wall:
            self._narrow(QUICK_WINDOW, QUICK_DETERMINISTIC_S)
        else:
            self._narrow(COST_WINDOW_ORDERS, COST_DETERMINISTIC_S)
            cost_by = None
            if self.coverage_bound is not None and self._two_cores():
                cost_by = within(deadline, len(self.contexts), share, COST_GUIDE_CPU_PER_ORDER)
            if cost_by is not None:
                level = coverage
                guide = self._guided(
                    lambda built: cost_guide(
                        self.problem, self.contexts, level, self.params, cost_by, built
                    ),
                    "cost",
                    deadline,
                    None,
                    order,
                    lambda g: [i for i in order if g.disagrees(i, self._team(i))],
                    progress,
                    began,
                )
                self.cost_bound = guide.bound if guide else None
        inserting = coverage_ran
        self._cost_sweeps(
            order, deadline - (INSERT_S if inserting else 0.0), progress, began, widen=True
        )
        if inserting:  # the cost stage's cheaper teams leave room for more (town 10,000: +0.1 %)
            still_open = [c.index for c in self.contexts if c.index not in self.plans]
            self._insert_sweeps(still_open, deadline, progress, began)
        if self.improved == improved_by_coverage:
            self._first_cost_step(
                order, max(deadline, time.perf_counter()) + GRACE_S, progress, began
            )
        phases.append(time.perf_counter() - phase_began)
        cost = cost_after_coverage
        if self.improved > improved_by_coverage:  # else the plan is the coverage stage's
            cost = self.value[1]
        return LnsOutcome(
            self.plans,
            cost_after_coverage,
            coverage,
            cost,
            self.steps,
            self.improved - self.moves,
            phases,
            self.coverage_bound,
            self.cost_bound,
            self.moves,
            self.rounded,
        )

    def cost_sweeps(self, deadline: float, began: float, progress: Progress | None = None) -> None:
        """Cost windows only (each window's coverage held, its cost minimised; a step taken
        only when cheaper), of ``QUICK_WINDOW`` orders at ``QUICK_DETERMINISTIC_S``, costliest
        orders first, sweep after sweep until ``deadline`` or a sweep finds nothing cheaper:
        the cost stage after ``matcher.cpsat.solver.narrow_cost`` on town streets, where from
        its plan 3 s of these windows took 0.7 % off the cost and 3 s of CP-SAT's whole model
        0.06 % (bench/README.md, "Certified plans", ``towncost``)."""
        self._narrow(QUICK_WINDOW, QUICK_DETERMINISTIC_S)
        self._cost_sweeps(self._costliest_first(), deadline, progress, began)

    def _cost_sweeps(
        self,
        order: list[int],
        deadline: float,
        progress: Progress | None,
        began: float,
        widen: bool = False,
    ) -> None:
        """Cost windows over ``order``, sweep after sweep (shuffled after each), until
        ``deadline`` or a whole sweep finds nothing cheaper: a local optimum. With ``widen``,
        a local optimum doubles the windows (orders and deterministic time) up to
        ``WIDEST_COST_WINDOW`` orders and the sweeps go on: the plan is a local optimum of
        the widest windows only (pastoral 5,000 from the rounded plan: 30-order windows
        stopped 5 s before the deadline)."""
        while time.perf_counter() < deadline - 0.05:
            before = self.improved
            self._sweep(order, deadline, "cost", progress, began)
            if self.improved == before:
                if not widen or self.window >= WIDEST_COST_WINDOW:
                    break
                self.window = min(WIDEST_COST_WINDOW, 2 * self.window)
                self.step_dt *= 2
            self.rng.shuffle(order)

    def _insert_sweeps(
        self, seeds: list[int], until: float, progress: Progress | None, began: float
    ) -> None:
        """One-order moves inserting the orders of ``seeds`` still open, sweep after sweep,
        until one inserts none (at most ``MOVE_SWEEPS``) or ``until``; each sweep that does
        reports the coverage."""
        moves = self._order_moves()  # kept up to date by the sweeps' own moves
        for _ in range(MOVE_SWEEPS):
            still_open = [i for i in seeds if i not in self.plans]
            if not self.order_moves(still_open, until, insert=True, moves=moves):
                return
            self._report(progress, "coverage", began)

    def _move_sweeps(
        self, order: list[int], deadline: float, progress: Progress | None, began: float
    ) -> None:
        """One-order moves over ``order``, sweep after sweep, until one takes none (at most
        ``MOVE_SWEEPS``) or ``deadline``: the cheap part of a cost stage's local optimum, before
        its windows. Each sweep that takes a move reports the cost."""
        moves = self._order_moves()  # kept up to date by the sweeps' own moves
        for sweep in range(MOVE_SWEEPS):
            if not self.order_moves(order, deadline - 0.05, pairs=sweep < PAIR_SWEEPS, moves=moves):
                return
            self._report(progress, "cost", began)

    def _two_cores(self) -> bool:
        """Whether the process had two cores while the coverage relaxation ran (or it ran too
        briefly to tell)."""
        return self.cores is None or self.cores >= GUIDE_CORES

    def _team(self, order: int) -> list[int] | None:
        planned = self.plans.get(order)
        return planned[0] if planned else None

    def _guided(
        self,
        relax: Callable[[Callable[[], None]], Guide | None],
        stage: str,
        until: float,
        deadline: float | None,
        seeds: list[int],
        guided_seeds: Callable[[Guide], list[int]],
        progress: Progress | None,
        began: float,
        one_core_until: float | None = None,
    ) -> Guide | None:
        """A relaxation (``relax``, GLOP) in a thread of its own while windows at ``seeds`` are
        solved for ``stage`` as without a guide on the other threads (one at least; GLOP's
        solve releases the interpreter), then sweeps of guided windows at ``guided_seeds``
        while they improve, until ``until`` (and, for coverage, the cost stage's floor before
        ``deadline``). Returns the relaxation's optimum, None when it was not found in time.

        With ``one_core_until``, the process's cores while the relaxation ran are measured
        (``cores``: CPU over wall time, over 0.2 s at least), and with fewer than
        ``GUIDE_CORES`` the guided sweeps stop by ``one_core_until`` instead."""
        found: list[Guide | None] = []
        ready, built = threading.Event(), threading.Event()

        def solve_relaxation() -> None:
            try:
                found.append(relax(built.set))
            finally:
                built.set()
                ready.set()

        def time_left() -> bool:
            if deadline is None:
                return time.perf_counter() < until - 0.05
            return self._coverage_time(until, deadline)

        threading.Thread(target=solve_relaxation, daemon=True).start()
        # Building the model is Python, as the windows' models are: they wait for it, so the
        # relaxation is ready sooner, and the cores are measured while GLOP solves beside them.
        built.wait(max(0.0, until - time.perf_counter()))
        freeze_heap()  # the relaxation's columns live until it is read (``matcher.heap``)
        wall, cpu = time.perf_counter(), time.process_time()
        threads, self.threads = self.threads, max(1, self.threads - 1)
        try:
            while seeds and not ready.is_set() and time_left():
                before = self.improved
                self._sweep(seeds, until, stage, progress, began, deadline, ready)
                if self.improved == before:
                    break
                if stage == "coverage":
                    seeds = [i for i in seeds if i not in self.plans]
                else:
                    self.rng.shuffle(seeds)
                self.shuffle_walks = True
        finally:
            self.threads = threads
        ready.wait(max(0.0, until - time.perf_counter()))
        if one_core_until is not None:
            wall = time.perf_counter() - wall
            if wall >= 0.2:
                self.cores = (time.process_time() - cpu) / wall
            if not self._two_cores():
                until = min(until, one_core_until)
        guide = found[0] if found else None
        if guide is None:
            return None
        # No window is in flight (the sweeps have returned): the plan may be replaced.
        if stage == "coverage":
            self._adopt(guide, until)
        else:
            now = time.perf_counter()
            self._cheaper_from(guide, now + REPAIR_SHARE * max(0.0, until - now), began)
        self.guide, self.guide_orders_of = guide, {}
        for ctx in self.contexts:
            for helper in guide.teams[ctx.index]:
                self.guide_orders_of.setdefault(helper, []).append(ctx.index)
        self.guided = True
        try:
            while time_left():
                chosen = guided_seeds(guide)
                if not chosen:
                    break
                before = self.improved
                self._sweep(chosen, until, stage, progress, began, deadline)
                if self.improved == before or (stage == "coverage" and self.rounded):
                    break  # from the rounded plan, one sweep: the cost stage needs the time
                self.shuffle_walks = True
        finally:
            self.guided = False
        return guide

    def _tie_break(self) -> ObjectiveWeights:
        """The coverage relaxation's tie-break: the cost stage's weights, travel ``TIE_TRAVEL``
        times."""
        w = self.params.weights
        return ObjectiveWeights(
            travel=TIE_TRAVEL * w.travel,
            continuity=w.continuity,
            fairness=w.fairness,
            preference=w.preference,
        )

    def _adopt(self, guide: Guide, until: float) -> bool:
        """Take the plan rounded from the coverage relaxation (``lp_guide.rounded_plan``) in
        place of the search's when it is better (more coverage, or as much for less cost) and
        within the travel cap; True when taken."""
        plans = rounded_plan(
            self.problem, self.contexts, guide, self.params.weights, self.costs, until
        )
        if plans is None:
            return False
        return self._replace(self._within_cap(self._search_from(plans), until), cheaper=False)

    def _search_from(self, plans: Mapping[int, Plan]) -> Neighbourhoods:
        """A search of its own from ``plans``, under this one's travel cap and threads and
        sharing its ``pair_cost``s; its running figures are what ``_replace`` takes."""
        other = Neighbourhoods(self.problem, self.contexts, self.params, plans, costs=self.costs)
        other.cap, other.threads = self.cap, self.threads
        return other

    def _within_cap(self, other: Neighbourhoods, until: float) -> Neighbourhoods:
        """``other`` (from ``_search_from``) brought within the travel cap when above it:
        one-order moves that take no more km (as the search makes them, one sweep, costliest
        orders first), then, while still above, the orders dropped that lose the least weight
        per km they bring down (town 5,000 seed 1: the rounded plan at 0.812 km per covered
        order against the hand rule's 0.799, 25,000 weight ahead of the search's plan)."""
        cap = self.cap
        if cap is None:
            return other

        def excess(search: Neighbourhoods) -> float:  # km above the cap's rate
            return search.km - cap.km * len(search.plans) / cap.orders

        if excess(other) <= 0:
            return other
        moves = other._order_moves()
        plans = other.plans
        other.order_moves(sorted(plans, key=lambda i: -moves.cost(i, plans[i])), until, moves=moves)
        left = excess(other)
        if left <= 0:
            return other
        rate = cap.km / cap.orders
        kept = dict(other.plans)
        gains = sorted(
            (i for i in kept if not self.contexts[i].pinned),
            key=lambda i: -(other._km(kept, i) - rate) / max(1, self.contexts[i].weight),
        )
        for i in gains:
            if left <= 1e-9:
                break
            gain = other._km(kept, i) - rate
            if gain <= 0:
                break
            del kept[i]
            left -= gain
        return self._search_from(kept)

    def _cheaper_from(self, guide: Guide, until: float, began: float) -> bool:
        """The plan rounded from the cost relaxation at the plan's coverage covers a little
        less for much less (pastoral 5,000: 0.26 % less coverage, 4.9 % less cost). A search
        of its own (the same rules, the travel cap included) sweeps windows seeded at its open
        orders, heaviest first, each solved for coverage and then cost, until it covers as much
        as the plan (or a sweep covers no more, or ``until``); its plan is taken when it then
        covers at least as much for less (``_replace``). True when taken."""
        plans = rounded_plan(
            self.problem, self.contexts, guide, self.params.weights, self.costs, until
        )
        if plans is None:
            return False
        other = self._search_from(plans)
        if self.cap is not None and other.km * self.cap.orders > self.cap.km * len(plans):
            return False  # above the travel cap: no window of it could be taken
        seeds = [
            c.index
            for c in sorted(self.contexts, key=lambda c: (-c.weight, c.index))
            if c.index not in plans and c.team_possible(c.candidates)
        ]
        while seeds and other.value[0] < self.value[0] and time.perf_counter() < until - 0.05:
            before = other.improved
            other._sweep(seeds, until, "street", None, began)
            if other.improved == before:
                break
            seeds = [i for i in seeds if i not in other.plans]
        self.steps += other.steps
        return self._replace(other, cheaper=True)

    def _replace(self, other: Neighbourhoods, cheaper: bool) -> bool:
        """Take ``other``'s plan (a search from ``_search_from``) and its running figures in
        place of this search's when better: more coverage, or as much for less cost (with
        ``cheaper``: at least as much coverage for less cost, so the cost stage's plan never
        costs more than the coverage stage's), and within the travel cap. Only between sweeps:
        it changes every helper's day. True when taken."""
        value = other.value
        if cheaper:
            if value[0] < self.value[0] or value[1] >= self.value[1]:
                return False
        elif (value[0], -value[1]) <= (self.value[0], -self.value[1]):
            return False
        # The km summed afresh (the running sum may differ in its last bits) for the cap.
        km = sum(other._km(other.plans, i) for i in other.plans)
        cap = self.cap
        if cap is not None and km * cap.orders - cap.km * len(other.plans) > 1e-9:
            return False
        with self.lock:
            touched = set(self.visits_of)
            self.plans.clear()
            self.plans.update(other.plans)
            self.visits_of.clear()
            self.visits_of.update(other.visits_of)
            self.value = list(value)
            self.km, self.metres = km, other.metres
            self.version += 1
            for helper in touched | set(self.visits_of):
                self.changed[helper] = self.version
            self.improved += 1
            self.rounded = True
        return True

    def _narrow(self, window: int, deterministic_s: float) -> None:
        """Windows of at most ``window`` orders, solved for at most ``deterministic_s``."""
        self.window = min(self.window, window)
        self.step_dt = min(self.step_dt, deterministic_s)

    def _coverage_time(self, until: float, deadline: float) -> bool:
        """Whether the coverage stage may take another step: before ``until``, and leaving the
        cost stage ``COST_FLOOR_STEPS`` steps of the length measured so far."""
        now = time.perf_counter()
        return now < until - 0.05 and deadline - now > COST_FLOOR_STEPS * self.step_wall

    def _first_cost_step(
        self, order: list[int], until: float, progress: Progress | None, began: float
    ) -> None:
        """Small cost windows, on one thread, at the costliest orders first, until one is
        cheaper (``until`` at the latest): the cost stage's first improving step."""
        self._narrow(QUICK_WINDOW, QUICK_DETERMINISTIC_S)
        visited: set[int] = set()
        improved = self.improved
        for seed in order:
            if self.improved > improved or time.perf_counter() >= until - 0.02:
                return
            if seed in visited:
                continue
            if self.step(seed, until, visited, "cost"):
                self._report(progress, "cost", began)

    def _costliest_first(self) -> list[int]:
        """Every order, those whose planned team costs most above the order's cheapest possible
        team first (where a cheaper plan is likeliest), then the unplanned ones."""
        excess: dict[int, int] = {}
        for i, (team, _) in self.plans.items():
            ctx = self.contexts[i]
            costs = self.costs[i]
            cheapest = sum(sorted(costs.values())[: ctx.team])
            excess[i] = sum(costs[h] for h in team) - cheapest
        return sorted((c.index for c in self.contexts), key=lambda i: (-excess.get(i, -1), i))

    def _sweep(
        self,
        seeds: list[int],
        until: float,
        stage: str,
        progress: Progress | None,
        began: float,
        deadline: float | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        """Steps at the seeds in turn, skipping orders already in a window of this sweep (and,
        for coverage, orders already planned), on ``self.threads`` threads. With ``deadline``
        (the coverage stage's sweeps), no step starts once the cost stage's floor is reached
        (``_coverage_time``); with ``stop``, none once it is set."""
        visited: set[int] = set()
        pending = iter(seeds)

        def next_seed() -> int | None:
            with self.lock:
                for seed in pending:
                    if seed in visited or (stage == "coverage" and seed in self.plans):
                        continue
                    return seed
                return None

        def work() -> None:
            while (
                time.perf_counter() < until - 0.05
                if deadline is None
                else self._coverage_time(until, deadline)
            ):
                seed = next_seed()
                if seed is None or (stop is not None and stop.is_set()):
                    return
                if self.step(seed, until, visited, stage):
                    self._report(progress, "cost" if stage == "cost" else "coverage", began)

        if self.threads == 1:
            work()
            return
        workers = [threading.Thread(target=work) for _ in range(self.threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    def _report(self, progress: Progress | None, stage: str, began: float) -> None:
        if progress is None:
            return
        with self.lock:
            coverage, cost = self.value
        value = coverage if stage == "coverage" else cost / COST_SCALE
        progress(stage, value, 0.0 if stage == "cost" else value, time.perf_counter() - began)

    # ------------------------------------------------------------------ one step

    def neighbourhood(self, seed: int) -> list[int]:
        """Up to ``window`` orders reached from ``seed`` through shared candidate helpers,
        nearest in the candidate graph first. In the guided sweeps (``guided``), first the
        orders whose plan disagrees with the guide's, reached through the helpers the plan or
        the guide sends to an order of the window."""
        chosen, seen = [seed], {seed}
        if self.guided and self.guide is not None:
            self._disagreeing(chosen, seen)
            if len(chosen) >= self.window:
                return chosen
        queue = deque(chosen)
        while queue and len(chosen) < self.window:
            order = queue.popleft()
            candidates = self.contexts[order].candidates
            if self.shuffle_walks:
                candidates = self.rng.sample(candidates, len(candidates))
            for candidate in candidates:
                for other in self.orders_of[candidate.helper]:
                    if other not in seen:
                        seen.add(other)
                        chosen.append(other)
                        queue.append(other)
                        if len(chosen) >= self.window:
                            return chosen
        return chosen

    def _disagreeing(self, chosen: list[int], seen: set[int]) -> None:
        """Grow ``chosen`` (breadth first) by the orders whose plan disagrees with the guide,
        reached from an order of it through a helper its plan or the guide's team holds."""
        guide = self.guide
        assert guide is not None
        queue = deque(chosen)
        while queue:
            order = queue.popleft()
            helpers = sorted(guide.teams[order].union(self._team(order) or ()))
            if self.shuffle_walks:
                self.rng.shuffle(helpers)
            for helper in helpers:
                reached = sorted(self.visits_of.get(helper, ()))
                for other in reached + self.guide_orders_of.get(helper, []):
                    if other in seen:
                        continue
                    if not guide.disagrees(other, self._team(other)):
                        continue
                    seen.add(other)
                    chosen.append(other)
                    queue.append(other)
                    if len(chosen) >= self.window:
                        return

    def step(self, seed: int, deadline: float, visited: set[int], stage: str = "coverage") -> bool:
        """Re-solve the window around ``seed``; keep the result when strictly better (then
        True). The window's orders join ``visited``.

        Threads solve windows side by side; a result is dropped when another thread changed,
        meanwhile, the visits of any of its candidate helpers (every helper whose day the
        window's model describes), so each kept change was made on the plan as it stands."""
        with self.lock:
            free = self.neighbourhood(seed)
            visited.update(free)
            self.steps += 1
            freed = [i for i in free if i in self.plans]
            outside_metres = self.metres - sum(self._metres(self.plans, i) for i in freed)
            helpers = {c.helper for o in free for c in self.contexts[o].candidates}
            fixed = {o for h in helpers for o in self.visits_of.get(h, ())}.difference(free)
            window = Neighbourhood(
                self.problem,
                self.contexts,
                self.plans,
                free,
                self.params.weights,
                self.cap,
                (outside_metres, sorted(fixed)),
                self.costs,
            )
            snapshot = self.version
        objective = {"coverage": "coverage", "cost": "cost"}.get(stage, "both")
        solving = time.perf_counter()
        better = window.solve(self.params, deadline, self.step_dt, objective)
        took = time.perf_counter() - solving
        with self.lock:  # a running mean of the last steps' wall time
            self.step_wall += STEP_WALL_WEIGHT * (took - self.step_wall)
        if better is None:
            return False
        with self.lock:
            if any(self.changed.get(h, -1) > snapshot for h in window.helpers):
                self.collisions += 1
                return False
            old = {i: self.plans[i] for i in window.originals if i in self.plans}
            new = {i: p for i, p in old.items() if i not in window.freed} | better
            km = self.km + sum(self._km(new, i) for i in better)
            km -= sum(self._km(old, i) for i in old if i in window.freed)
            orders = len(self.plans) + len(new) - len(old)
            if self.cap is not None:
                # The window model holds the cap in whole metres; check it again in exact km.
                capped = self._capped_km(km, orders, window.freed, better)
                if capped is None:
                    return False
                km = capped
            self.improved += 1
            # The orders of ``old`` hold every visit of the window's helpers, and the other
            # helpers' visits among them do not change: the difference is the plan's.
            weights, costs = self.params.weights, self.costs
            # ``old`` is the window's plan as it was hinted (a change to any of its orders since
            # would have changed a helper of the window): its value is the window's.
            before = window.known_value
            after = plan_value(self.problem, self.contexts, new, weights, costs)
            self.value = [
                self.value[0] + after[0] - before[0],
                self.value[1] + after[1] - before[1],
            ]
            self.km = km
            self.metres += sum(self._metres(new, i) for i in better)
            self.metres -= sum(self._metres(old, i) for i in old if i in window.freed)
            for order in free:
                planned = self.plans.pop(order, None)
                for helper in planned[0] if planned else ():
                    self.visits_of[helper].discard(order)
            self.plans.update(better)
            for order, (team, _) in better.items():
                for helper in team:
                    self.visits_of.setdefault(helper, set()).add(order)
            self.version += 1
            for helper in window.helpers:
                self.changed[helper] = self.version
        return True

    def _capped_km(
        self, km: float, orders: int, freed: set[int], better: Mapping[int, Plan]
    ) -> float | None:
        """The plan's km once the ``freed`` orders are planned as ``better``, or None when that
        plan (of ``orders`` covered orders, ``km`` by the running sum) has more km per covered
        order than the cap (summed afresh over the whole plan when the running sum is too
        close to call)."""
        assert self.cap is not None
        excess = km * self.cap.orders - self.cap.km * orders
        if abs(excess) < 1e-6 * self.cap.km * orders + 1e-9:
            trial = {i: p for i, p in self.plans.items() if i not in freed} | dict(better)
            km = sum(self._km(trial, i) for i in trial)
            excess = km * self.cap.orders - self.cap.km * orders
        return None if excess > 1e-9 else km

    def order_moves(
        self,
        seeds: list[int],
        until: float,
        insert: bool = False,
        pairs: bool = False,
        moves: OrderMoves | None = None,
    ) -> int:
        """One-order moves (``matcher.moves``) at ``seeds`` in turn, until ``until``: each
        planned order re-planned at its cheapest team and start with every other visit held,
        taken when that costs less (and keeps within the travel cap); with ``insert``, each
        unplanned order given a team when one fits, or else when one fits once another order is
        moved off one of its candidates (``OrderMoves.insert_by_moving``). Returns the moves
        taken. Never beside the window threads: between sweeps. ``moves``: the helpers' days of
        the plan as it stands (``_order_moves``), when the caller has them."""
        if moves is None:
            moves = self._order_moves()
        taken = 0
        for order in seeds:
            if time.perf_counter() >= until:
                break
            old = self.plans.get(order)
            if old is None and not insert:
                continue
            changes: list[tuple[int, Plan | None, Plan]] | None = None
            if old is None:
                changes = moves.insertion(order, self.plans, self.visits_of)
            else:
                found = moves.best(order, old)
                if found is not None and found[1] < moves.cost(order, old):
                    changes = [(order, old, found[0])]
                elif pairs:
                    paired = moves.cheaper_by_moving(order, self.plans, self.visits_of)
                    changes = paired[0] if paired is not None else None
            if changes is not None and self._take(moves, changes):
                taken += len(changes)
        return taken

    def _order_moves(self) -> OrderMoves:
        """Every helper's day as the plan books it now, for one-order moves."""
        return OrderMoves(self.problem, self.contexts, self.plans, self.params.weights, self.costs)

    def _take(self, moves: OrderMoves, changes: list[tuple[int, Plan | None, Plan]]) -> bool:
        """Make ``changes`` (order, old plan or None, new plan; in turn) in the plan, its
        running figures and ``moves``' days, unless the plan would then exceed the travel cap
        (or come too close to it to call: not worth a recount of the plan's km)."""
        added = sum(self._km({o: new}, o) for o, _, new in changes)
        removed = sum(self._km(self.plans, o) for o, old, _ in changes if old)
        inserted = sum(old is None for _, old, _ in changes)
        km, orders = self.km + added - removed, len(self.plans) + inserted
        # No more km over as many orders keeps within the cap the plan keeps within.
        if self.cap is not None and (inserted or added > removed):
            excess = km * self.cap.orders - self.cap.km * orders
            if excess > -1e-6 * self.cap.km * orders - 1e-9:
                return False
        with self.lock:
            for order, old, new in changes:
                before = moves.cost(order, old) if old is not None else 0
                moves.move(order, old, new)
                self._apply_move(order, old, new, before - moves.cost(order, new))
            self.km = km
        return True

    def _apply_move(self, order: int, old: Plan | None, new: Plan, saving: int) -> None:
        """Take one order's move into the plan and its running figures (km aside)."""
        self.improved += 1
        self.moves += 1
        if old is None:
            self.value[0] += self.contexts[order].weight
        self.value[1] -= saving
        self.metres += self._metres({order: new}, order)
        if old is not None:
            self.metres -= self._metres(self.plans, order)
            for helper in old[0]:
                self.visits_of[helper].discard(order)
        self.plans[order] = (list(new[0]), new[1])
        for helper in new[0]:
            self.visits_of.setdefault(helper, set()).add(order)
        self.version += 1
        for helper in {*new[0], *(old[0] if old else ())}:
            self.changed[helper] = self.version

    def _leg_of(self, i: int) -> dict[int, tuple[float, int]]:
        """Order ``i``'s round trips by helper: km, and whole metres as ``_metres`` rounds them."""
        legs = self.legs[i]
        if legs is None:
            legs = {c.helper: _round_trip(c) for c in self.contexts[i].candidates}
            self.legs[i] = legs
        return legs

    def _km(self, plans: Mapping[int, Plan], i: int) -> float:
        """``_km`` with the round trips kept: the same sum, in the same order."""
        legs = self._leg_of(i)
        return sum([legs[h][0] for h in plans[i][0]])

    def _metres(self, plans: Mapping[int, Plan], i: int) -> int:
        """``_metres`` with the round trips kept."""
        legs = self._leg_of(i)
        return sum(legs[h][1] for h in plans[i][0])


def _round_trip(candidate: Candidate) -> tuple[float, int]:
    km = candidate.leg.km_round_trip
    return km, round(1000 * km)


@dataclass(frozen=True)
class TravelCap:
    """The reference plan's travel: no plan may have more km per covered order."""

    metres: int  # sum of its visits' round trips, each in whole metres
    km: float
    orders: int


def _members(contexts: list[OrderContext], plans: Mapping[int, Plan], i: int) -> list[Candidate]:
    by_helper = {c.helper: c for c in contexts[i].candidates}
    return [by_helper[h] for h in plans[i][0]]


def _km(contexts: list[OrderContext], plans: Mapping[int, Plan], i: int) -> float:
    return sum([_round_trip(c)[0] for c in _members(contexts, plans, i)])


def _metres(contexts: list[OrderContext], plans: Mapping[int, Plan], i: int) -> int:
    return sum(_round_trip(c)[1] for c in _members(contexts, plans, i))


class WindowModel(cp_model.CpModel):
    """A ``CpModel`` without the camel-case aliases it makes of its methods on every creation
    (``_add_pre_pep8_methods``: about a millisecond per window, for names nothing here uses);
    the model is the same."""

    def _add_pre_pep8_methods(self) -> None:
        pass


def _renumbered(ctx: OrderContext, index: int, candidates: list[Candidate]) -> OrderContext:
    """``ctx`` as order ``index`` of a window's model, with these candidates (a shallow copy)."""
    view = object.__new__(OrderContext)
    view.__dict__.update(ctx.__dict__)
    view.index, view.candidates = index, candidates
    return view


class Neighbourhood:
    """One neighbourhood's CP-SAT model: the freed orders and, fixed, the planned orders that
    share a helper with them."""

    def __init__(
        self,
        problem: Problem,
        contexts: list[OrderContext],
        plans: Mapping[int, Plan],
        free: list[int],
        weights: ObjectiveWeights,
        cap: TravelCap | None = None,
        known: tuple[int, list[int]] | None = None,
        costs: CostsByHelper | None = None,
    ) -> None:
        """``known``: the metres of the plan's orders outside the window and the fixed orders
        (those sharing a helper with it), when the caller keeps them (else computed here);
        ``costs``: the orders' ``pair_cost`` by helper, when the caller keeps them
        (``PairCosts``; else computed here)."""
        self.problem, self.weights, self.cap = problem, weights, cap
        self.freed = free_set = set(free)
        self.outside_orders = len(plans) - sum(1 for i in free if i in plans)
        self.helpers = helpers = {c.helper for o in free for c in contexts[o].candidates}
        if known is None:
            outside = [i for i in plans if i not in free_set]
            self.outside_metres = sum(_metres(contexts, plans, i) for i in outside)
            fixed = sorted(
                i for i, (team, _) in plans.items() if i not in free_set and helpers & set(team)
            )
        else:
            self.outside_metres, fixed = known
        self.originals = free + fixed
        self.free_count = len(free)
        # The window's orders renumbered 0, 1, ... (``_renumbered``: a shallow copy, as
        # ``dataclasses.replace`` would make, at a fifth of its time).
        self.sub: list[OrderContext] = [
            _renumbered(contexts[o], k, list(contexts[o].candidates)) for k, o in enumerate(free)
        ]
        for k, o in enumerate(fixed, start=len(free)):
            team, start = plans[o]
            by_helper = {c.helper: c for c in contexts[o].candidates}
            ctx = contexts[o]
            members = [by_helper[h] for h in team]
            if start is not None:
                # The start is fixed: so are the members' start ranges, which the conflict
                # cliques read (wider ranges would let a fixed visit overlap another one).
                members = [replace(c, starts=((start, start),)) for c in members]
            fixed_ctx = _renumbered(ctx, k, members)
            fixed_ctx.pinned = tuple(team)
            fixed_ctx.start_range = None if start is None else (start, start)
            self.sub.append(fixed_ctx)
        self.known_value = (0, 0)  # the hint's (coverage, cost), once ``solve`` counted them
        self.hint: dict[int, Plan] = {
            k: plans[o] for k, o in enumerate(self.originals) if o in plans
        }
        self.costs: CostsByHelper | None = None
        if costs is not None:
            self.costs = [costs[o] for o in self.originals]

    def solve(
        self,
        params: SolveParams,
        deadline: float,
        deterministic_limit: float,
        objective: str = "both",
    ) -> dict[int, Plan] | None:
        """The freed orders' new plans (original order indices) when strictly better, else None.

        Two solves, lexicographic like the full model: the window's coverage (at least the
        plan's), then its cost with that coverage held (at least as good as the plan's). With
        ``objective="cost"`` only the second, at the plan's coverage: a plan is returned only
        when it costs less (and covers at least as much); with ``"coverage"`` only the first: a
        plan is returned only when it covers more (its cost is left to the cost stage)."""
        if deadline - time.perf_counter() <= 0.05:
            return None
        model = WindowModel()
        v = make_variables(model, self.sub)
        add_hard_rules(model, self.problem, self.sub, v)
        coverage = coverage_expression(self.sub, v)
        known_coverage, known_cost = plan_value(
            self.problem, self.sub, self.hint, self.weights, self.costs
        )
        self.known_value = (known_coverage, known_cost)
        known = self.hint
        if self.cap is not None:
            self._add_cap(model, v)
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        solver.parameters.random_seed = params.seed
        solver.parameters.max_deterministic_time = deterministic_limit
        window_parameters(solver)
        reached = known_coverage
        if objective != "cost":
            model.add(coverage >= known_coverage)
            model.maximize(coverage)
            add_plan_hint(model, self.sub, v, known)
            solver.parameters.max_time_in_seconds = max(0.01, deadline - time.perf_counter())
            code = solver.solve(model)
            if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                return None
            reached = round(solver.objective_value)
            if reached > known_coverage:
                known = self._read(solver, v, every_order=True)
                _, known_cost = plan_value(self.problem, self.sub, known, self.weights, self.costs)
        if objective == "coverage":
            return self._originals(known) if reached > known_coverage else None
        model.add(coverage >= reached)
        minimize_cost(model, self.problem, self.sub, v, self.weights, self.costs)
        add_plan_hint(model, self.sub, v, known)
        remaining = deadline - time.perf_counter()
        if remaining > 0.05:
            solver.parameters.max_time_in_seconds = remaining
            code = solver.solve(model)
            if code in (cp_model.OPTIMAL, cp_model.FEASIBLE) and (
                solver.objective_value < known_cost - 0.5
            ):
                return self._originals(self._read(solver, v))
        return self._originals(known) if reached > known_coverage else None

    def _add_cap(self, model: cp_model.CpModel, v: Variables) -> None:
        """(outside metres + window metres) / (outside orders + window orders) may not exceed
        the reference's metres per order, as one linear constraint over the freed orders."""
        cap = self.cap
        assert cap is not None
        variables: list[cp_model.IntVar] = []
        coefficients: list[int] = []
        for k in range(self.free_count):
            for j, c in enumerate(self.sub[k].candidates):
                variables.append(v.assign[k][j])
                coefficients.append(cap.orders * round(1000 * c.leg.km_round_trip))
            variables.append(v.covered[k])
            coefficients.append(-cap.metres)
        terms = cp_model.LinearExpr.weighted_sum(variables, coefficients)
        model.add(terms <= cap.metres * self.outside_orders - cap.orders * self.outside_metres)

    def _originals(self, plans: Mapping[int, Plan]) -> dict[int, Plan]:
        return {self.originals[k]: plan for k, plan in plans.items() if k < self.free_count}

    def _read(
        self, solver: cp_model.CpSolver, v: Variables, every_order: bool = False
    ) -> dict[int, Plan]:
        plans: dict[int, Plan] = {}
        # The solution's values by variable index: what ``boolean_value`` reads, read at once.
        solution = list(solver.response_proto.solution)
        for k in range(len(self.sub) if every_order else self.free_count):
            if not solution[v.covered[k].index]:
                continue
            ctx = self.sub[k]
            assign = v.assign[k]
            team = [c.helper for j, c in enumerate(ctx.candidates) if solution[assign[j].index]]
            start = v.start[k]
            if start is None:
                plans[k] = (team, None)
            else:
                plans[k] = (team, start if isinstance(start, int) else int(solver.value(start)))
        return plans
