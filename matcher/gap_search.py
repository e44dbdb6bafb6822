"""Search for capacity-only days: the generalized assignment problem (GAP) at scale.

When every order is untimed, needs one helper and has no pins, lead skill or language
(``matcher.regret.applies``), a day is a GAP: each order uses minutes of one helper's day and
costs that helper's pair cost. The whole CP-SAT model barely improves a good start on tight
instances of a thousand orders or more, so ``matcher.solve`` hands such days here instead:

1. **Whole model first, when small** (at most ``WHOLE_CELLS`` order-helper pairs): one exact
   CP-SAT solve of the whole day for up to ``WHOLE_SHARE`` of the time. Small days (OR-Library
   gap1-12) are proven optimal here and returned as such.
2. **Descent** by shift moves (an order to another helper with room, or an uncovered order to a
   helper with room) and swap moves (two orders of different helpers trade places), each taken
   when it strictly lowers the cost, evaluated for all orders at once with numpy.
3. **The LP relaxation** (``matcher.gap_lp``, column generation with GLOP, at most
   ``LP_SHARE`` of the time) once every order is covered: its Lagrangian bound is the cost
   stage's bound (a plan meeting it is optimal and ends the search); the LP-rounded plan
   (orders the LP assigns whole kept, the split ones inserted by the descent, the rest repaired
   by sub-solves) replaces the plan when better; the sub-solves below then use only each
   order's ``CORE_RANK`` cheapest pairs by reduced cost, and helpers are related by them.
4. **Large-neighbourhood search with exact sub-solves** (as in the GAP literature): free every
   order of a few helpers (chosen related by cost: helpers whose orders would be cheaper with
   each other, or at random), add the uncovered orders they could take, and re-solve that
   sub-GAP exactly with CP-SAT, every other helper's day as it stands. The sub-solve is hinted
   with the current plan and its result is kept only when strictly better (more weighted
   coverage, or as much for less cost), so the plan never gets worse. The number of helpers per
   step adapts: more while sub-solves finish proven, fewer when they run out of their
   deterministic time. With two workers, two disjoint neighbourhoods are solved side by side.

The objective is the matcher's own, lexicographic: weighted coverage, then the scaled cost of
``matcher.cpsat.objective`` (pair costs plus the fairness penalty of piled-up load). Every
sub-solve uses one CP-SAT worker, a seed drawn from ``SolveParams.seed`` and a deterministic
time limit, so a fixed seed gives the same sequence of plans; a busy machine makes fewer steps in
the time limit, never different ones.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from matcher.bound import cost_lower_bound
from matcher.candidates import OrderContext
from matcher.cpsat.objective import COST_SCALE, pair_cost
from matcher.cpsat.solver import TWO_WORKER_SUBSOLVERS, Plan, Progress
from matcher.gap_lp import solve_lp
from matcher.model import Problem
from matcher.params import SolveParams
from matcher.regret import MAX_CELLS, applies
from matcher.result import Stage, Status

log = logging.getLogger("qunbang.matcher.gap_search")

WHOLE_CELLS = 4_000  # order-helper pairs up to which the whole day is first solved exactly
WHOLE_SHARE = 0.3  # of the time limit, at most this much for that whole solve
STEP_DETERMINISTIC_S = 0.1  # CP-SAT deterministic time per sub-solve
MIN_HELPERS, MAX_HELPERS = 2, 12  # helpers freed per step
MAX_FREED = 320  # orders of the chosen helpers per step, at most
FREE_START, FREE_MIN = 80, 24  # of which freed (at random when more), adapting from 80
NEAR = 4  # an order's cheapest helpers, for relatedness
RELATED_SHARE = 0.75  # of the steps, this many pick helpers related by cost; the rest at random
DESCENT_EVERY = 25  # rounds of sub-solves between two descents
SETTLED_RETRIES = 8  # draws of a neighbourhood before solving one already proven
MARGIN_S = 0.3  # left at the end for building the result
LP_SHARE = 0.25  # of the time limit, at most this much for the LP relaxation
CORE_RANK = 6  # once priced, the sub-solves use each order's cheapest pairs by reduced cost
REPAIR_TRIES, REPAIR_S = 8, 0.5  # sub-solves to cover what the rounding left, deterministic s
MAX_STEPS: int | None = None  # a fixed number of sub-solves (comparing variants), else time
INFINITE = 1 << 40

Job = tuple[list[int], list[int], bool, int]  # helpers, orders, all their orders, seed


@dataclass
class GapOutcome:
    plans: dict[int, Plan]
    coverage: int
    cost: int  # scaled, as CP-SAT's cost stage counts it
    proven: bool  # the whole model was solved to optimality
    bound: float | None  # scaled lower bound on the cost from the whole solve, if any
    steps: int
    improved: int
    start_cost: int
    cheapest: int  # scaled: every order with a candidate at its cheapest helper
    lp_bound: float | None = None  # scaled: the LP relaxation's bound (every order covered)


def gap_shaped(contexts: list[OrderContext], helpers: int) -> bool:
    """True when ``search`` applies: a capacity-only day whose dense arrays are small enough."""
    return applies(contexts) and len(contexts) * max(helpers, 1) <= MAX_CELLS


class GapSearch:
    """Dense arrays of a capacity-only day and the plan being improved (``agent[o]`` = column of
    the helper of order ``o``, -1 when uncovered)."""

    def __init__(
        self,
        problem: Problem,
        contexts: list[OrderContext],
        params: SolveParams,
        start: Mapping[int, Plan],
    ) -> None:
        self.params = params
        self.helpers = sorted({c.helper for ctx in contexts for c in ctx.candidates})
        column = {h: j for j, h in enumerate(self.helpers)}
        n, m = len(contexts), len(self.helpers)
        self.n, self.m = n, m
        self.minutes = np.full((n, m), INFINITE, dtype=np.int64)
        self.cost = np.full((n, m), INFINITE, dtype=np.int64)
        for ctx in contexts:
            for candidate in ctx.candidates:
                j = column[candidate.helper]
                self.minutes[ctx.index, j] = ctx.duration + candidate.leg.minutes_round_trip
                self.cost[ctx.index, j] = pair_cost(problem, ctx, candidate, params.weights)
        self.eligible = self.cost < INFINITE
        people = [problem.helpers[h] for h in self.helpers]
        self.room = np.array([p.max_minutes - p.committed_minutes for p in people], np.int64)
        self.max_orders = np.array([p.max_orders for p in people], dtype=np.int64)
        self.weight = np.array([c.weight for c in contexts], dtype=np.int64)
        self.unit = round(COST_SCALE * params.weights.fairness)
        self.agent = np.full(n, -1, dtype=np.int64)
        for o, (team, _) in start.items():
            self.agent[o] = column[team[0]]
        self.load = np.zeros(m, dtype=np.int64)
        self.count = np.zeros(m, dtype=np.int64)
        covered = np.flatnonzero(self.agent >= 0)
        np.add.at(self.load, self.agent[covered], self.minutes[covered, self.agent[covered]])
        np.add.at(self.count, self.agent[covered], 1)
        ranked = np.argsort(np.where(self.eligible, self.cost, INFINITE), axis=1, kind="stable")
        self.near = ranked[:, : min(NEAR, m)]
        self.rng = random.Random(params.seed)
        self.steps = self.improved = 0
        self.helpers_per_step = 2.0
        self.free_per_step = float(FREE_START)
        self.version = np.zeros(m, dtype=np.int64)  # bumped whenever a helper's day changes
        self.settled: dict[tuple[int, ...], tuple[int, ...]] = {}  # proven sets, at versions
        self.allowed = self.eligible  # pairs the sub-solves may use (the core, once priced)
        self.lp_bound: float | None = None
        self.core_exact = True  # ``allowed`` holds every pair a better plan could use

    # ------------------------------------------------------------------ figures

    def value(self) -> tuple[int, int]:
        """(weighted coverage, scaled cost) of the current plan."""
        covered = np.flatnonzero(self.agent >= 0)
        cost = int(self.cost[covered, self.agent[covered]].sum())
        cost += self.unit * int((self.count * (self.count - 1) // 2).sum())
        return int(self.weight[covered].sum()), cost

    def plans(self) -> dict[int, Plan]:
        return {
            int(o): ([self.helpers[int(self.agent[o])]], None)
            for o in np.flatnonzero(self.agent >= 0)
        }

    def _assign(self, o: int, j: int) -> None:
        old = int(self.agent[o])
        if old == j:
            return
        self.version[[k for k in (old, j) if k >= 0]] += 1
        if old >= 0:
            self.load[old] -= self.minutes[o, old]
            self.count[old] -= 1
        if j >= 0:
            self.load[j] += self.minutes[o, j]
            self.count[j] += 1
        self.agent[o] = j

    # ------------------------------------------------------------------ the search

    def run(self, deadline: float, began: float, progress: Progress | None = None) -> GapOutcome:
        start_cost = self.value()[1]
        proven, bound = False, None
        self.proven = False  # a neighbourhood of every helper and order was solved exactly
        if self.m == 0:  # no order has a candidate: nothing to search
            proven = True
        elif self.n * self.m <= WHOLE_CELLS or self.m < MIN_HELPERS:
            limit = min(deadline, time.perf_counter() + WHOLE_SHARE * self.params.time_limit_s)
            proven, bound = self._whole(limit)
            self._report(progress, began)
        if not proven:
            self.descend(deadline)
            self._report(progress, began)
            lp_deadline = min(deadline, time.perf_counter() + LP_SHARE * self.params.time_limit_s)
            self._price(lp_deadline, deadline - MARGIN_S)
            self._report(progress, began)
            threads = max(1, min(self.params.workers, 2))
            rounds = 0
            with ThreadPoolExecutor(max_workers=threads) as pool:
                while time.perf_counter() < deadline - MARGIN_S and not self.proven:
                    if self._meets_lp() or (MAX_STEPS is not None and self.steps >= MAX_STEPS):
                        break
                    better = self.round(pool, threads, deadline - MARGIN_S)
                    if better is None:
                        break  # too few helpers for a neighbourhood
                    if better:
                        self._report(progress, began)
                    rounds += 1
                    if rounds % DESCENT_EVERY == 0 and self.descend(deadline - MARGIN_S):
                        self._report(progress, began)
        coverage, cost = self.value()
        # the steps keep covered orders covered: a proof of theirs holds when every order is
        full = coverage == int(self.weight[self.eligible.any(axis=1)].sum())
        proven = proven or (self.proven and full) or (full and self._meets_lp())
        cheapest = int(self.cost.min(axis=1, initial=INFINITE)[self.eligible.any(axis=1)].sum())
        return GapOutcome(
            self.plans(),
            coverage,
            cost,
            proven,
            bound,
            self.steps,
            self.improved,
            start_cost,
            cheapest,
            self.lp_bound if full else None,
        )

    def _price(self, lp_deadline: float, deadline: float) -> None:
        """The LP relaxation (``matcher.gap_lp``) when every order with a candidate is covered:
        its bound, and its reduced costs to pick each order's helpers in the sub-solves (the
        core: each order's ``CORE_RANK`` cheapest pairs by reduced cost, and its own) and to
        relate helpers."""
        rows = np.flatnonzero(self.eligible.any(axis=1))
        if CORE_RANK <= 0 or len(rows) == 0 or (self.agent[rows] < 0).any():
            return
        lp = solve_lp(
            self.cost[rows],
            self.minutes[rows],
            self.eligible[rows],
            self.room,
            self.agent[rows],
            lp_deadline,
        )
        if lp is None:
            return
        self.lp_bound = lp.bound
        self._round(rows, lp.value, lp.reduced, deadline)
        reduced = np.full((self.n, self.m), np.inf)
        reduced[rows] = lp.reduced
        ranked = np.argsort(reduced, axis=1, kind="stable")
        rank = np.empty_like(ranked)
        np.put_along_axis(rank, ranked, np.arange(self.m)[None, :], axis=1)
        self.allowed = self.eligible & (rank < CORE_RANK)
        # a plan cheaper than this one uses only pairs of reduced cost below the bound's gap
        useful = self.eligible.copy()
        useful[rows] &= lp.reduced < self.value()[1] - lp.bound
        self.core_exact = not (useful & ~self.allowed).any()
        self.near = ranked[:, : min(NEAR, self.m)]
        log.info(
            "gap LP: bound %.1f (exact %s) after %d rounds, %d columns",
            lp.bound / COST_SCALE,
            lp.exact,
            lp.rounds,
            lp.columns,
        )

    def _round(
        self, rows: np.ndarray, value: np.ndarray, reduced: np.ndarray, deadline: float
    ) -> None:
        """The LP-rounded plan: each order the LP assigns whole goes to that helper (within
        every capacity, as in the LP), the split ones (at most one per helper) are inserted by
        the descent, which then improves the whole. Kept when it covers as much weighted demand
        as the current plan for less cost, else the current plan is restored."""
        before = self.value()
        kept = self.agent.copy()
        versions = self.version.copy()
        whole = value.max(axis=1) > 1 - 1e-6
        for o in rows.tolist():
            self._assign(o, -1)
        for k, o in enumerate(rows.tolist()):
            if whole[k]:
                j = int(value[k].argmax())
                if self.minutes[o, j] <= self.room[j] - self.load[j] and (
                    self.count[j] < self.max_orders[j]
                ):
                    self._assign(o, j)
        self.descend(deadline)
        self._repair(rows, reduced, deadline)
        after = self.value()
        if (after[0], -after[1]) > (before[0], -before[1]):
            log.info("gap LP: rounded plan %d -> %d", before[1], after[1])
            return
        for o in range(self.n):
            self._assign(o, int(kept[o]))
        self.version = versions

    def _repair(self, rows: np.ndarray, reduced: np.ndarray, deadline: float) -> None:
        """Orders the rounding left uncovered: an exact sub-solve of the order with its helpers
        of least reduced cost and all their orders (more helpers on each try), coverage first;
        then the descent again."""
        for attempt in range(REPAIR_TRIES):
            missing = np.flatnonzero(self.agent[rows] < 0)
            if len(missing) == 0 or time.perf_counter() >= deadline:
                return
            k = int(missing[0])
            ranked = [j for j in np.argsort(reduced[k], kind="stable") if self.eligible[rows[k], j]]
            chosen = sorted(int(j) for j in ranked[: MIN_HELPERS + 1 + attempt])
            mine = np.flatnonzero(np.isin(self.agent, chosen))
            idle = (self.agent < 0) & self.eligible[:, chosen].any(axis=1)
            orders = sorted(set(mine.tolist()) | set(np.flatnonzero(idle).tolist()))
            seed = self.rng.randrange(1 << 30)
            solved = self._solve_sub(chosen, orders, deadline, seed, deterministic_s=REPAIR_S)
            if solved is not None:
                self._keep(orders, solved[0])
                self.descend(deadline)

    def _meets_lp(self) -> bool:
        """The plan covers every order and costs the LP bound rounded up: optimal (the costs are
        whole numbers, the bound is a float a little below the true one at worst)."""
        if self.lp_bound is None or (self.agent[self.eligible.any(axis=1)] < 0).any():
            return False
        return self.value()[1] < self.lp_bound + 1 - 1e-3

    def _report(self, progress: Progress | None, began: float) -> None:
        if progress is not None:
            progress("cost", self.value()[1] / COST_SCALE, 0.0, time.perf_counter() - began)

    def _whole(self, deadline: float) -> tuple[bool, float | None]:
        """Solve the whole day exactly (``params.workers`` workers) until ``deadline``; keep
        the result when better. Returns (proven optimal, scaled cost bound)."""
        solved = self._solve_sub(
            list(range(self.m)),
            list(range(self.n)),
            deadline,
            self.params.seed,
            workers=self.params.workers,
            keep_covered=False,
        )
        if solved is None:
            return False, None
        assignment, optimal, bound = solved
        before = self.value()
        kept = self.agent.copy()
        for o, j in assignment.items():
            self._assign(o, j)
        after = self.value()
        if (after[0], -after[1]) < (before[0], -before[1]):  # never worse than the start
            for o in range(self.n):
                self._assign(o, int(kept[o]))
            return False, None
        return optimal, bound

    def descend(self, deadline: float) -> bool:
        """Shift and swap moves, each strictly better, until none is left (or the deadline)."""
        improved = False
        while time.perf_counter() < deadline:
            moved = self._insert_pass() + self._shift_pass(deadline) + self._swap_pass(deadline)
            if not moved:
                break
            improved = True
        return improved

    def _insert_pass(self) -> int:
        moved = 0
        for o in np.flatnonzero(self.agent < 0)[np.argsort(-self.weight[self.agent < 0])]:
            fits = self.eligible[o] & (self.minutes[o] <= self.room - self.load)
            fits &= self.count < self.max_orders
            if fits.any():
                delta = self.cost[o] + self.unit * self.count
                self._assign(int(o), int(np.argmin(np.where(fits, delta, INFINITE))))
                moved += 1
        return moved

    def _shift_pass(self, deadline: float) -> int:
        moved = 0
        for o in np.flatnonzero(self.agent >= 0):
            if moved % 64 == 0 and time.perf_counter() > deadline:
                break
            j = int(self.agent[o])
            delta = self.cost[o] - self.cost[o, j] + self.unit * (self.count - self.count[j] + 1)
            fits = self.eligible[o] & (self.minutes[o] <= self.room - self.load)
            fits &= self.count < self.max_orders
            fits[j] = False
            delta = np.where(fits, delta, 0)
            k = int(np.argmin(delta))
            if delta[k] < 0:
                self._assign(int(o), k)
                moved += 1
        return moved

    def _swap_pass(self, deadline: float) -> int:
        moved = 0
        covered = np.flatnonzero(self.agent >= 0)
        for step, o in enumerate(covered):
            if step % 64 == 0 and time.perf_counter() > deadline:
                break
            j = int(self.agent[o])
            other = self.agent[covered]
            slack = self.room - self.load
            delta = (
                self.cost[o, other]
                + self.cost[covered, j]
                - self.cost[o, j]
                - self.cost[covered, other]
            )
            fits = (other != j) & self.eligible[o, other] & self.eligible[covered, j]
            fits &= self.minutes[o, other] - self.minutes[covered, other] <= slack[other]
            fits &= self.minutes[covered, j] - self.minutes[o, j] <= slack[j]
            delta = np.where(fits, delta, 0)
            best = int(np.argmin(delta))
            if delta[best] < 0:
                partner, k = int(covered[best]), int(other[best])
                self._assign(int(o), k)
                self._assign(partner, j)
                moved += 1
        return moved

    # ------------------------------------------------------------------ neighbourhoods

    def round(self, pool: ThreadPoolExecutor, threads: int, deadline: float) -> bool | None:
        """``threads`` disjoint neighbourhoods solved side by side; each strictly better result
        is kept (they touch different helpers and orders, so together they are better too)."""
        taken: set[int] = set()
        jobs: list[Job] = []
        for _ in range(threads):
            chosen = self._choose(taken)
            for _retry in range(SETTLED_RETRIES):
                if self.settled.get(tuple(chosen)) != tuple(self.version[chosen].tolist()):
                    break
                self._adapt(True)  # every small set is settled: grow
                chosen = self._choose(taken)
            if len(chosen) < MIN_HELPERS:
                break
            taken.update(chosen)
            orders, whole = self._orders_of(chosen, jobs)
            jobs.append((chosen, orders, whole, self.rng.randrange(1 << 30)))
        if not jobs:
            return None
        futures = [pool.submit(self._solve_sub, h, o, deadline, s) for h, o, _, s in jobs]
        results = [f.result() for f in futures]
        better = False
        for (chosen, orders, whole, _), solved in zip(jobs, results, strict=True):
            self.steps += 1
            if solved is None:
                self._adapt(False)
                continue
            assignment, optimal, _ = solved
            self._adapt(optimal)
            if self._keep(orders, assignment):
                self.improved += 1
                better = True
            if optimal and whole:  # nothing better here until one of these days changes
                self.settled[tuple(chosen)] = tuple(self.version[chosen].tolist())
                self.proven = self.proven or (len(chosen) == self.m and self.core_exact)
        return better

    def _adapt(self, optimal: bool) -> None:
        step = 0.1 if optimal else -0.3
        self.helpers_per_step = min(MAX_HELPERS, max(MIN_HELPERS, self.helpers_per_step + step))
        free = self.free_per_step + 4 if optimal else self.free_per_step * 0.8
        self.free_per_step = min(MAX_FREED, max(FREE_MIN, free))

    def _choose(self, taken: set[int]) -> list[int]:
        """A few helpers: a seed at random, then helpers related to those chosen by cost (or at
        random), until ``helpers_per_step`` helpers or ``MAX_FREED`` orders."""
        free = [j for j in range(self.m) if j not in taken]
        if len(free) < MIN_HELPERS:
            return []
        size = min(len(free), round(self.helpers_per_step))
        related = self._relatedness() if self.rng.random() < RELATED_SHARE else None
        chosen = [self.rng.choice(free)]
        orders = int(self.count[chosen[0]])
        while len(chosen) < size:
            rest = [j for j in free if j not in chosen]
            if related is not None:
                score = related[chosen].sum(axis=0)[rest] + 0.1
                pick = self.rng.choices(rest, weights=score.tolist())[0]
            else:
                pick = self.rng.choice(rest)
            if len(chosen) >= MIN_HELPERS and orders + self.count[pick] > MAX_FREED:
                break
            chosen.append(pick)
            orders += int(self.count[pick])
        return sorted(chosen)

    def _relatedness(self) -> np.ndarray:
        """related[a, b]: orders of a with b among their cheapest helpers, and of b with a."""
        related = np.zeros((self.m, self.m), dtype=np.float64)
        covered = np.flatnonzero(self.agent >= 0)
        for k in range(self.near.shape[1]):
            np.add.at(related, (self.agent[covered], self.near[covered, k]), 1.0)
        related += related.T
        np.fill_diagonal(related, 0.0)
        return related

    def _orders_of(self, chosen: list[int], others: list[Job]) -> tuple[list[int], bool]:
        """The orders of ``chosen`` (at most ``free_per_step``, drawn at random when more) and
        the uncovered orders they could take (each in one neighbourhood of a round); and whether
        every order of ``chosen`` is among them."""
        mine = np.flatnonzero(np.isin(self.agent, chosen)).tolist()
        limit = round(self.free_per_step)
        whole = len(mine) <= limit
        if not whole:
            mine = sorted(self.rng.sample(mine, limit))
        idle = (self.agent < 0) & self.eligible[:, chosen].any(axis=1)
        for _, orders, _, _ in others:
            idle[orders] = False
        return sorted(mine + np.flatnonzero(idle).tolist()), whole

    def _keep(self, orders: list[int], assignment: dict[int, int]) -> bool:
        before = self.value()
        kept = {o: int(self.agent[o]) for o in orders}
        versions = self.version.copy()
        for o in orders:
            self._assign(o, assignment.get(o, -1))
        after = self.value()
        if (after[0], -after[1]) > (before[0], -before[1]):
            return True
        for o in orders:
            self._assign(o, kept[o])
        self.version = versions  # the same days as before
        return False

    # ------------------------------------------------------------------ the exact sub-solve

    def _solve_sub(
        self,
        chosen: list[int],
        orders: list[int],
        deadline: float,
        seed: int,
        workers: int = 1,
        keep_covered: bool = True,
        deterministic_s: float | None = None,
    ) -> tuple[dict[int, int], bool, float] | None:
        """The sub-GAP of ``orders`` over helpers ``chosen``, their other orders kept,
        lexicographic: coverage, then cost. ``keep_covered``: covered orders stay covered (the
        neighbourhood steps); else any order may be traded for a weightier one (a true optimum).
        Returns ({order: column or -1}, proven optimal, scaled cost bound) or None when nothing
        was found in time."""
        remaining = deadline - time.perf_counter()
        if remaining <= 0.02 or not orders:
            return None
        model = cp_model.CpModel()
        x: dict[tuple[int, int], cp_model.IntVar] = {}
        by_helper: dict[int, list[tuple[int, cp_model.IntVar]]] = {j: [] for j in chosen}
        cols = np.array(chosen, dtype=np.int64)
        big = 1 + int(
            sum(int(self.cost[o, cols][self.eligible[o, cols]].max(initial=0)) for o in orders)
        )
        big += self.unit * len(orders) * (len(orders) + self.n)
        # what the kept orders of each chosen helper use: minutes, orders
        freed = np.array(orders, dtype=np.int64)
        room, places, kept = {}, {}, {}
        for j in chosen:
            mine = freed[self.agent[freed] == j]
            kept[j] = int(self.count[j]) - len(mine)
            room[j] = int(self.room[j] - self.load[j] + self.minutes[mine, j].sum())
            places[j] = int(self.max_orders[j]) - kept[j]
        terms: list[cp_model.LinearExprT] = []
        for o in orders:
            row = []
            for j in chosen:
                usable = self.allowed[o, j] or self.agent[o] == j
                if usable and self.minutes[o, j] <= room[j] and places[j] > 0:
                    var = model.new_bool_var(f"x{o}_{j}")
                    x[o, j] = var
                    row.append(var)
                    by_helper[j].append((o, var))
                    # the fairness penalty of a helper's q-th order is unit * (q - 1)
                    terms.append((int(self.cost[o, j]) + self.unit * kept[j]) * var)
                    model.add_hint(var, int(self.agent[o]) == j)
            if self.agent[o] >= 0 and keep_covered:
                model.add_exactly_one(row)
            elif row:
                model.add_at_most_one(row)
                terms.append(-big * int(self.weight[o]) * sum(row))
        for j, pairs in by_helper.items():
            if not pairs:
                continue
            model.add(sum(int(self.minutes[o, j]) * v for o, v in pairs) <= room[j])
            most = min(len(pairs), places[j])
            if len(pairs) > most:
                model.add(sum(v for _, v in pairs) <= most)
            if self.unit and most >= 2:
                extra = [model.new_bool_var(f"e{j}_{t}") for t in range(most - 1)]
                model.add(sum(extra) >= sum(v for _, v in pairs) - 1)
                terms.extend((t + 1) * self.unit * e for t, e in enumerate(extra))
                load = max(0, int(sum(int(self.agent[o]) == j for o, _ in pairs)) - 1)
                for t, e in enumerate(extra):
                    model.add_hint(e, t < load)
        model.minimize(sum(terms))
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = workers
        solver.parameters.random_seed = seed
        solver.parameters.max_time_in_seconds = remaining
        if workers == 1:
            solver.parameters.max_deterministic_time = STEP_DETERMINISTIC_S
            solver.parameters.interleave_search = False
        elif workers == 2:
            solver.parameters.subsolvers.extend(TWO_WORKER_SUBSOLVERS)
        if deterministic_s is not None:
            solver.parameters.max_deterministic_time = deterministic_s
        code = solver.solve(model)
        if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return None
        assignment = {o: -1 for o in orders}
        for (o, j), var in x.items():
            if solver.boolean_value(var):
                assignment[o] = j
        covered_bonus = big * sum(int(self.weight[o]) for o in orders if assignment[o] >= 0)
        bound = float(solver.best_objective_bound) + covered_bonus
        return assignment, code == cp_model.OPTIMAL, bound


def search(
    problem: Problem,
    contexts: list[OrderContext],
    params: SolveParams,
    start: Mapping[int, Plan],
    began: float,
    progress: Progress | None = None,
) -> GapOutcome:
    """Improve ``start`` on a capacity-only day until ``params.time_limit_s`` after ``began``."""
    state = GapSearch(problem, contexts, params, start)
    outcome = state.run(began + params.time_limit_s, began, progress)
    log.info(
        "gap search: cost %d -> %d, %d of %d steps improved",
        outcome.start_cost,
        outcome.cost,
        outcome.improved,
        outcome.steps,
    )
    return outcome


def solve_day(
    problem: Problem,
    contexts: list[OrderContext],
    params: SolveParams,
    start: Mapping[int, Plan],
    began: float,
    progress: Progress | None = None,
) -> tuple[dict[int, Plan], Status, tuple[Stage, ...], str]:
    """``search`` from ``start``, as a solve's plans, status, stages and message: a coverage
    stage (optimal when every order with a candidate is covered) and a cost stage (optimal when
    the whole model was solved to optimality or the plan meets the LP bound; its bound otherwise
    is the LP relaxation's when every order is covered, else each covered order's cheapest
    helper)."""
    stage_began = time.perf_counter()
    outcome = search(problem, contexts, params, start, began, progress)
    elapsed = time.perf_counter() - stage_began
    coverable = sum(c.weight for c in contexts if c.candidates)
    full = outcome.coverage >= coverable
    cost = outcome.cost / COST_SCALE
    if full:
        bound = outcome.cheapest / COST_SCALE  # each order at its cheapest helper
        if outcome.lp_bound is not None:  # the LP relaxation's, far tighter
            bound = max(bound, outcome.lp_bound / COST_SCALE)
    else:
        bound = cost_lower_bound(problem, contexts, outcome.coverage, params.weights)
    proven = outcome.proven
    bound = cost if proven else min(bound, cost)
    stages = (
        Stage(
            name="coverage",
            sense="max",
            status=Status.OPTIMAL if full or proven else Status.FEASIBLE,
            objective=outcome.coverage,
            bound=coverable,
            gap=abs(coverable - outcome.coverage) / max(outcome.coverage, 1),
            runtime_s=0.0,
        ),
        Stage(
            name="cost",
            sense="min",
            status=Status.OPTIMAL if proven else Status.FEASIBLE,
            objective=cost,
            bound=bound,
            gap=0.0 if proven else abs(cost - bound) / max(abs(cost), 1e-9),
            runtime_s=elapsed,
        ),
    )
    message = (
        "capacity-only day: proven optimal (the whole model solved, or the plan meets the LP bound)"
        if proven
        else (
            f"capacity-only day: search by helpers' neighbourhoods, {outcome.improved} of "
            f"{outcome.steps} steps improved the plan"
        )
    )
    return outcome.plans, Status.OPTIMAL if proven else Status.FEASIBLE, stages, message
